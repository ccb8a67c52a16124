"""Loading the pickles inside official benchmark files without running their code.

Benchmark files (NB201 ``.pth``, NATS pickles, NASLib pickles, the
TransNAS-Bench-101 ``.pth``) hold only dicts, lists and numbers, so they are
unpickled with an allow-list; tensors (trained weights in some archives) are
dropped. ``NASFRAME_TRUST_PICKLES=1`` switches to plain ``pickle``/``torch.load``
for files the user trusts.
"""
from __future__ import annotations

import bz2
import os
import pickle
import zipfile
from contextlib import contextmanager
from pathlib import Path

from nasframe.errors import DataError

def trusted() -> bool:
    return os.environ.get("NASFRAME_TRUST_PICKLES", "") not in ("", "0")


def fix_hint(path: Path) -> str:
    return (f"re-download it (python -m nasframe.data download <name>, which resumes and checks it) "
            f"or check it with: python -m nasframe.data verify {path}")


class _Dropped:
    """Stands in for trained weights (torch storages/tensors) in a -full archive: never rebuilt."""

    def __new__(cls, *args, **kwargs):
        return super().__new__(cls)

    def __init__(self, *args, **kwargs):
        pass

    def __setstate__(self, state):
        pass


def _allowed_globals() -> dict:
    import collections
    import numpy

    allowed = {("collections", "OrderedDict"): collections.OrderedDict,
               ("collections", "defaultdict"): collections.defaultdict,
               ("_codecs", "encode"): __import__("codecs").encode,
               ("numpy", "dtype"): numpy.dtype, ("numpy", "ndarray"): numpy.ndarray}
    for name in ("list", "dict", "tuple", "set", "frozenset", "int", "float", "str", "bytes", "bool", "complex"):
        allowed[("builtins", name)] = getattr(__import__("builtins"), name)
    try:  # numpy 2 moved numpy.core to numpy._core; old pickles name either
        from numpy._core import multiarray
    except ImportError:
        from numpy.core import multiarray
    scalar, reconstruct = multiarray.scalar, multiarray._reconstruct
    import numpy.dtypes

    for name in dir(numpy.dtypes):  # how numpy >= 1.25 pickles a dtype
        if name.endswith("DType"):
            allowed[("numpy.dtypes", name)] = getattr(numpy.dtypes, name)
    for mod in ("numpy.core.multiarray", "numpy._core.multiarray"):
        allowed[(mod, "scalar")] = scalar
        allowed[(mod, "_reconstruct")] = reconstruct
    return allowed


class _SafeUnpickler(pickle.Unpickler):
    def __init__(self, fh, path):
        super().__init__(fh)
        self.path = path
        self.allowed = _allowed_globals()

    def find_class(self, module, name):
        if (module, name) in self.allowed:
            return self.allowed[(module, name)]
        if module == "torch" or module.startswith("torch."):
            return _Dropped
        raise DataError(f"{self.path} contains an object of type {module}.{name}, which nasframe does not load "
                        "from pickles; if you trust this file, set NASFRAME_TRUST_PICKLES=1 and load it again")

    def persistent_load(self, pid):
        return None  # torch storages referenced by id: weights we do not need


def _open_maybe_bz2(path: Path):
    with open(path, "rb") as f:
        compressed = f.read(3) == b"BZh"
    return bz2.open(path, "rb") if compressed else open(path, "rb")


# what unpickling a damaged file raises
_DAMAGED = (EOFError, OSError, zipfile.BadZipFile, pickle.UnpicklingError, ValueError, TypeError, AttributeError,
            IndexError, KeyError, ImportError)


@contextmanager
def _reading(path: Path):
    """Turn the ways reading a big benchmark file fails into one ``DataError`` with the fix."""
    try:
        yield
    except DataError:
        raise
    except MemoryError:
        raise DataError(f"not enough memory to read {path}; convert it once on a larger machine "
                        "(python -m nasframe.data convert) and copy the cached table") from None
    except _DAMAGED as e:
        raise DataError(f"{path} is truncated or corrupt ({type(e).__name__}: {first_line(e)}); "
                        f"{fix_hint(path)}") from None


def load_pickle(path: Path):
    with _reading(path), _open_maybe_bz2(path) as fh:
        if trusted():
            return pickle.load(fh)
        return _SafeUnpickler(fh, path).load()


TORCH_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C  # first pickle of torch.save's pre-1.6 format


def load_torch_file(path: Path):
    """A torch.save file without torch: its pickle read by the allow-listed C unpickler.

    NB201's files hold only dicts and numbers, so tensors (none expected) are
    skipped. ``torch.load(weights_only=True)`` would be as safe but its unpickler
    is pure Python: on a 104 MB file in the official layout it took 72.6 s,
    this reader 5.7 s (same machine, same load), which matters for the 4.7 GB v1_1.
    """
    if trusted():
        import torch

        try:
            return torch.load(path, map_location="cpu", weights_only=False)
        except Exception as e:  # torch raises many types for damaged files
            raise DataError(f"{path} is truncated or corrupt ({type(e).__name__}: {first_line(e)}); "
                            f"{fix_hint(path)}") from None
    with _reading(path):
        with open(path, "rb") as fh:
            zipped = fh.read(4) == b"PK\x03\x04"  # torch >= 1.6 writes a zip archive
            if not zipped:
                fh.seek(0)
                if _SafeUnpickler(fh, path).load() != TORCH_LEGACY_MAGIC:
                    raise DataError(f"{path} is not a file written by torch.save; is it an official benchmark .pth?")
                _SafeUnpickler(fh, path).load()  # protocol version
                _SafeUnpickler(fh, path).load()  # system info
                return _SafeUnpickler(fh, path).load()
        with zipfile.ZipFile(path) as archive:
            name = next((n for n in archive.namelist() if n.endswith("data.pkl")), None)
            if name is None:
                raise DataError(f"{path} is a zip file but not one written by torch.save (no data.pkl)")
            with archive.open(name) as fh:
                return _SafeUnpickler(fh, path).load()


def first_line(e: Exception) -> str:
    text = str(e).strip().splitlines()
    return text[0][:200] if text else "no detail"
