"""``python -m nasframe.data {list,download,verify,convert}``: benchmark files.

    list                       every supported file, its source and its state under the data root
    download NAME... [--url]   fetch (resumable), verify, then install under <root>/<benchmark>/
    verify NAME|PATH... [--record]
                               check SHA-256 against the registry or the local manifest
    convert NAME|PATH [--dataset D] [--space S]
                               build the cached table from an official file

The data root is ``--root``, else ``$NASFRAME_DATA``. Exit status: 0 done,
1 ``verify`` found no checksum to compare with (rerun with ``--record`` to
pin the file as it is), 2 an error (one line on stderr saying what to do).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from nasframe.data import fetch, registry
from nasframe.errors import ConfigError, DataError, NasframeError, report


def _root(args) -> Path:
    from nasframe.benchmarks import data_root

    root = data_root(args.root)
    if root is None:
        raise ConfigError("no data root: pass --root DIR or set NASFRAME_DATA")
    return root


def _target(arg: str, root: Path, unpacked: bool = False) -> tuple[Path, registry.BenchmarkFile | None]:
    """A registry name or official file name -> its place under root; an existing path -> itself.

    For an archive entry, ``unpacked`` picks the folder it unpacks to (what loaders read) over the
    archive itself (what checksums cover); either falls back to the other when only that exists.
    """
    path = Path(arg).expanduser()
    if path.exists() and (path.is_absolute() or arg.startswith(".") or "/" in arg):
        return path, registry.for_path(path)
    e = registry.entry(arg)
    dest = fetch.local_path(e, root)
    if e.extract_to:
        folder = dest.parent / e.extract_to
        if folder.exists() and (unpacked or not dest.exists()):
            dest = folder
    return dest, e


def cmd_list(args) -> int:
    root = None
    try:
        root = _root(args)
    except ConfigError:
        pass
    manifest = fetch.Manifest(root) if root else None
    print(f"data root: {root or '(none: pass --root or set NASFRAME_DATA)'}")
    rows = [("name", "file", "size", "sha256", "state", "source")]
    for e in registry.FILES:
        dest = fetch.local_path(e, root) if root else None
        state, known = "-", "unknown"
        if e.sha256:
            known = "registry"
        if dest is not None:
            part = fetch.part_path(dest)
            unpacked = dest.parent / e.extract_to if e.extract_to else None
            if dest.exists() or (unpacked is not None and unpacked.exists()):
                state = "present"
            elif part.exists():
                state = f"partial ({part.stat().st_size:,} B)"
            else:
                state = "missing"
            if known == "unknown" and manifest.get(dest):
                known = "recorded"
        rows.append((e.name, f"{e.benchmark}/{e.filename}", e.describe_size(), known, state,
                     e.url or f"by hand: {e.page}"))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)) + "  " + r[5])
    notes = [f"  {e.name}: {e.note}" for e in registry.FILES if e.note]
    print("\nnotes:\n" + "\n".join(notes))
    return 0


def cmd_download(args) -> int:
    root = _root(args)
    if args.url and len(args.names) != 1:
        raise ConfigError("--url applies to one file; name exactly one")
    for name in args.names:
        e = registry.entry(name)
        url = args.url or (f"{args.mirror.rstrip('/')}/{e.filename}" if args.mirror else None)
        path = fetch.download(e, root, url=url, force=args.force, progress=not args.quiet)
        print(f"{e.name}: {path}")
    return 0


def _root_of_file(path: Path) -> Path | None:
    """The data root a file sits under when laid out like shared/data (<root>/<benchmark>/<file>)."""
    folders = {f.benchmark for f in registry.FILES}
    for parent in Path(path).resolve().parents:
        if parent.name in folders:
            return parent.parent
    return None


def cmd_verify(args) -> int:
    given = _root_or_none(args)
    status = 0
    for arg in args.targets:
        named = not Path(arg).expanduser().exists()
        if named and given is None:
            raise ConfigError(f"'{arg}' is not a file here, and a registry name needs a data root: "
                              "pass --root DIR or set NASFRAME_DATA")
        path, e = _target(arg, given or Path("."))
        root = given or _root_of_file(path)
        if root is None:  # a file outside any data root: only the registry's checksum applies
            if args.record:
                raise ConfigError(f"{path} is not under a data root, so there is no manifest to record its "
                                  "checksum in; pass --root DIR")
            root = path.parent
        v = fetch.verify(path, root, e, record=args.record, progress=not args.quiet)
        if v.ok:
            print(f"{path}: OK (sha256 {v.sha256}, {v.origin})")
        else:
            print(f"{path}: sha256 {v.sha256}, no known checksum to compare with; "
                  f"rerun with --record to pin this file as it is")
            status = max(status, 1)
    return status


def cmd_convert(args) -> int:
    from nasframe.benchmarks import find_benchmark
    from nasframe.benchmarks.table import cache_dir

    given_path = Path(args.target).expanduser().exists()
    root = (_root_or_none(args) or Path(".")) if given_path else _root(args)  # a name needs a root
    path, e = _target(args.target, root, unpacked=True)
    if not path.exists():
        raise DataError(f"{path} does not exist; download it first: python -m nasframe.data download "
                        f"{e.name if e else args.target}")
    space_name = args.space or (e.space if e else None) or "nb201"
    space = _space(space_name)
    bench = find_benchmark(space, args.dataset or (e.dataset if e else None), path=path)
    t = bench.table
    print(f"converted {path}")
    print(f"  format {t.meta.get('format')}, sha256 {t.meta.get('sha256')}, cached in {cache_dir()}")
    for col, values in sorted(t.columns.items()):
        n = int((values == values).sum())  # non-NaN
        print(f"  {col:28s} {n:6d} / {t.size} values")
    return 0


def _root_or_none(args):
    try:
        return _root(args)
    except ConfigError:
        return None


def _space(name: str):
    """The space a loader needs, built from conf/space/<name>.yaml like a run does."""
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    from nasframe.compose import CONF_DIR

    conf = CONF_DIR / "space" / f"{name}.yaml"
    if not conf.exists():
        raise ConfigError(f"converting needs the '{name}' space (conf/space/{name}.yaml), which this "
                          f"installation does not have; pass --space with one of: "
                          f"{', '.join(sorted(p.stem for p in (CONF_DIR / 'space').glob('*.yaml')))}")
    return instantiate(OmegaConf.load(conf))


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m nasframe.data", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="\n\n".join(__doc__.split("\n\n")[1:]))
    p.add_argument("--root", help="data root (default: $NASFRAME_DATA)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="supported files and their state")
    d = sub.add_parser("download", help="fetch, verify and install files")
    d.add_argument("names", nargs="+", help="registry names (see list)")
    d.add_argument("--url", help="download from this URL instead of the official one (one file)")
    d.add_argument("--mirror", help="base URL of a mirror holding the files under their official names")
    d.add_argument("--force", action="store_true", help="download again even if the file is present")
    v = sub.add_parser("verify", help="check files against known checksums")
    v.add_argument("targets", nargs="+", help="registry names, official file names or paths")
    v.add_argument("--record", action="store_true",
                   help="where no checksum is known, record this file's in the local manifest")
    c = sub.add_parser("convert", help="build the cached table from an official file")
    c.add_argument("target", help="registry name, official file name or path")
    c.add_argument("--dataset", help="dataset/task to check the table against (default: the file's own)")
    c.add_argument("--space", help="space whose loader reads the file (default: from the registry, else nb201)")
    for sp in (d, v, c):  # --root/-q also after the sub-command
        sp.add_argument("--root", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        sp.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    return p


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    command = {"list": cmd_list, "download": cmd_download, "verify": cmd_verify, "convert": cmd_convert}
    try:
        return command[args.command](args)
    except NasframeError as e:
        report(e)
        return 2
    except KeyboardInterrupt:
        print("interrupted; a partial download is kept and resumes on the next run", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
