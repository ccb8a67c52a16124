"""Benchmark files: the registry of supported files, downloads that resume and
verify before installing, checksums, and conversion to cached tables.

Command line: ``python -m nasframe.data {list,download,verify,convert}``.
"""
from nasframe.data.fetch import Manifest, download, local_path, verify
from nasframe.data.registry import FILES, REGISTRY, BenchmarkFile, entry

__all__ = ["FILES", "REGISTRY", "BenchmarkFile", "Manifest", "download", "entry", "local_path", "verify"]
