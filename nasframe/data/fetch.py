"""Download, resume and verify benchmark files.

A download is written to ``<file>.part`` (resumed with an HTTP ``Range``
request, guarded by ``If-Range`` so a changed file on the server restarts
instead of splicing), checked (length the server announced, size and SHA-256
where known), and only then renamed to its official name: a truncated or
corrupt download never sits where a loader would trust it. Where no checksum
is known, the first verified download records its SHA-256 in the local
manifest ``<root>/nasframe-manifest.json``; later downloads and ``verify``
are checked against it.
"""
from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
import shutil
import socket
import tarfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from nasframe.data.registry import BenchmarkFile
from nasframe.errors import DataError, DataNotFound

MANIFEST = "nasframe-manifest.json"
CHUNK = 1 << 20


def local_path(entry: BenchmarkFile, root: Path) -> Path:
    return Path(root) / entry.benchmark / entry.filename


def part_path(dest: Path) -> Path:
    return dest.with_name(dest.name + ".part")


# ---------------------------------------------------------------- manifest


class Manifest:
    """Checksums recorded on this machine, keyed by path relative to the data root."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.path = self.root / MANIFEST

    def _read(self) -> dict:
        if not self.path.exists():
            return {}
        try:
            return json.loads(self.path.read_text())
        except (OSError, ValueError) as e:
            raise DataError(f"the manifest {self.path} is unreadable ({e}); fix or delete it "
                            "(checksums recorded in it would then be recorded again)") from None

    def key(self, path: Path) -> str:
        try:
            return Path(path).resolve().relative_to(self.root.resolve()).as_posix()
        except ValueError:
            return Path(path).name

    def get(self, path: Path) -> dict | None:
        return self._read().get(self.key(path))

    def record(self, path: Path, sha256: str, size: int, source: str) -> None:
        data = self._read()
        data[self.key(path)] = {"sha256": sha256, "size": size, "source": source,
                                "recorded": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{MANIFEST}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
        os.replace(tmp, self.path)


def expected_checksum(entry: BenchmarkFile | None, path: Path, manifest: Manifest) -> tuple[str | None, str]:
    """(sha256, where it comes from: 'registry' | 'manifest' | 'unknown')."""
    if entry is not None and entry.sha256:
        return entry.sha256, "registry"
    rec = manifest.get(path)
    if rec:
        return rec["sha256"], "manifest"
    return None, "unknown"


def sha256_file(path: Path, progress: bool = True) -> str:
    from tqdm import tqdm

    path = Path(path)
    if path.is_dir():
        from nasframe.benchmarks.table import sha256_of

        return sha256_of(path)
    h = hashlib.sha256()
    with open(path, "rb") as f, tqdm(total=path.stat().st_size, unit="B", unit_scale=True,
                                     desc=f"sha256 {path.name}", disable=not progress or None, leave=False) as bar:
        while block := f.read(CHUNK):
            h.update(block)
            bar.update(len(block))
    return h.hexdigest()


# ---------------------------------------------------------------- verify


@dataclass
class Verified:
    path: Path
    sha256: str
    expected: str | None
    origin: str  # registry | manifest | unknown

    @property
    def ok(self) -> bool | None:
        return None if self.expected is None else self.sha256 == self.expected


def verify(path: Path, root: Path, entry: BenchmarkFile | None = None, record: bool = False,
           progress: bool = True) -> Verified:
    path = Path(path)
    if not path.exists():
        hint = f"; download it with: python -m nasframe.data download {entry.name}" if entry else ""
        raise DataNotFound(f"{path} does not exist{hint}")
    manifest = Manifest(root)
    expected, origin = expected_checksum(entry, path, manifest)
    digest = sha256_file(path, progress)
    if entry is not None and entry.size and path.is_file() and path.stat().st_size != entry.size:
        raise DataError(f"{path} has {path.stat().st_size:,} bytes, the official file has {entry.size:,}; "
                        f"it is truncated or a different file: delete it and download it again")
    if expected is not None and digest != expected:
        raise DataError(f"{path} does not match its {origin} checksum (sha256 {digest[:16]}..., expected "
                        f"{expected[:16]}...); it is corrupt or a different version: delete it and download it again")
    if expected is None and record:
        manifest.record(path, digest, _size(path), "verify --record")
        return Verified(path, digest, digest, "manifest")
    return Verified(path, digest, expected, origin)


def _size(path: Path) -> int:
    return path.stat().st_size if path.is_file() else sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


# ---------------------------------------------------------------- download


def download(entry: BenchmarkFile, root: Path, url: str | None = None, force: bool = False,
             progress: bool = True, timeout: float = 60.0) -> Path:
    """Fetch ``entry`` into ``root/<benchmark>/``; returns the verified file (or its unpacked folder)."""
    root = Path(root)
    dest = local_path(entry, root)
    url = url or entry.url
    if not force and entry.extract_to and _result(entry, dest).exists():
        return _result(entry, dest)  # already unpacked (the archive itself may have been deleted)
    if dest.exists() and not force:
        verify(dest, root, entry, progress=progress)  # raises if it does not match a known checksum
        _unpack(entry, dest)
        return _result(entry, dest)
    if url is None:
        raise DataError(f"{entry.filename} has no direct download link; get it from {entry.page} and put it at "
                        f"{dest}, then run: python -m nasframe.data verify {entry.name} --record")
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = part_path(dest)
    _fetch(url, part, entry, progress, timeout)
    _check_and_commit(entry, part, dest, root, url, progress)
    _unpack(entry, dest)
    return _result(entry, dest)


def _result(entry: BenchmarkFile, dest: Path) -> Path:
    return dest.parent / entry.extract_to if entry.extract_to else dest


def _fetch(url: str, part: Path, entry: BenchmarkFile, progress: bool, timeout: float) -> None:
    from tqdm import tqdm

    state_file = part.with_name(part.name + ".json")
    state = _read_state(state_file) if part.exists() else {}
    resumable = part.exists() and state.get("url") == url and "total" in state  # a download we started
    if part.exists() and not resumable:
        part.unlink()  # a leftover of unknown origin: never splice onto it
    if not resumable:
        state = {"url": url}
    offset = part.stat().st_size if resumable else 0
    request = urllib.request.Request(url, headers={"User-Agent": "nasframe-data"})
    if offset:
        request.add_header("Range", f"bytes={offset}-")
        if state.get("validator"):
            request.add_header("If-Range", state["validator"])
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as e:
        if e.code == 416 and offset and state.get("total") == offset:
            return  # the partial file is already complete
        if e.code == 416:
            part.unlink(missing_ok=True)
            state_file.unlink(missing_ok=True)
            raise DataError(f"the server refused to resume {entry.filename} (HTTP 416); the partial download was "
                            "deleted: run the same command again to start over") from None
        raise DataError(f"downloading {entry.filename} from {url} failed: HTTP {e.code} {e.reason}; "
                        f"check the link or get the file from {entry.page}") from None
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        raise DataError(f"cannot reach {url} ({reason}); check the network or get {entry.filename} from "
                        f"{entry.page}") from None
    with response:
        if "text/html" in (response.headers.get("Content-Type") or ""):
            raise DataError(f"{url} sent a web page instead of {entry.filename} (Google Drive does this for "
                            f"quota or consent pages); download it by hand from {entry.page} and put it at "
                            f"{part.with_suffix('')}, then run: python -m nasframe.data verify {entry.name} --record")
        length = response.headers.get("Content-Length")
        if response.status == 206:
            m = re.match(r"bytes (\d+)-(\d+)/(\d+|\*)", response.headers.get("Content-Range") or "")
            if not m or int(m.group(1)) != offset:
                raise DataError(f"the server answered the resume of {entry.filename} with a wrong range "
                                f"({response.headers.get('Content-Range')}); delete {part} and download again")
            total = int(m.group(3)) if m.group(3) != "*" else None
            mode = "ab"
        else:  # 200: a fresh start (first try, or the server ignored the range / the file changed)
            offset, mode = 0, "wb"
            total = int(length) if length is not None else None
        validator = response.headers.get("ETag") or response.headers.get("Last-Modified")
        state.update(total=total, validator=validator)
        _write_state(state_file, state)
        got = offset
        try:
            with open(part, mode) as out, tqdm(total=total, initial=offset, unit="B", unit_scale=True,
                                               desc=entry.filename, disable=not progress or None) as bar:
                while block := response.read(CHUNK):
                    out.write(block)
                    got += len(block)
                    bar.update(len(block))
        except (http.client.IncompleteRead, ConnectionError, socket.timeout, TimeoutError, OSError) as e:
            raise DataError(f"the download of {entry.filename} stopped at {got:,} of "
                            f"{f'{total:,}' if total else 'unknown'} bytes ({type(e).__name__}); the partial file "
                            f"{part.name} is kept: run the same command again to resume") from None
    if total is not None and got < total:
        raise DataError(f"the download of {entry.filename} stopped at {got:,} of {total:,} bytes (the connection "
                        f"closed early); the partial file {part.name} is kept: run the same command again to resume")


def _check_and_commit(entry: BenchmarkFile, part: Path, dest: Path, root: Path, url: str, progress: bool) -> None:
    state_file = part.with_name(part.name + ".json")
    state = _read_state(state_file)
    size = part.stat().st_size
    announced = state.get("total")

    def reject(why: str):
        part.unlink(missing_ok=True)
        state_file.unlink(missing_ok=True)
        raise DataError(f"the download of {entry.filename} is corrupt ({why}); it was deleted and nothing was "
                        f"installed: run the same command again, or get the file from {entry.page}")

    if announced is not None and size != announced:
        reject(f"{size:,} bytes on disk, the server announced {announced:,}")
    if entry.size and size != entry.size:
        reject(f"{size:,} bytes, the official file has {entry.size:,}")
    with open(part, "rb") as f:
        head = f.read(512).lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html")):
        reject("the server sent a web page, not the file")
    manifest = Manifest(root)
    expected, origin = expected_checksum(entry, dest, manifest)
    digest = sha256_file(part, progress)
    if expected is not None and digest != expected:
        reject(f"sha256 {digest[:16]}... does not match the {origin} checksum {expected[:16]}...")
    os.replace(part, dest)
    state_file.unlink(missing_ok=True)
    if expected is None:
        manifest.record(dest, digest, size, url)


def _unpack(entry: BenchmarkFile, archive: Path) -> None:
    if not entry.extract_to:
        return
    target = archive.parent / entry.extract_to
    if target.exists():
        return
    tmp = archive.parent / f".{entry.extract_to}.unpacking"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        with tarfile.open(archive) as tar:
            tar.extractall(tmp, filter="data")  # no absolute paths, links or devices out of the folder
    except (tarfile.TarError, OSError, EOFError) as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raise DataError(f"cannot unpack {archive} ({e}); delete it and download it again") from None
    inner = tmp / entry.extract_to
    os.replace(inner if inner.is_dir() else tmp, target)
    shutil.rmtree(tmp, ignore_errors=True)


def _read_state(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _write_state(path: Path, state: dict) -> None:
    path.write_text(json.dumps(state))
