"""The run folder: history, summary, checkpoint and config of one search.

Layout of a run folder::

    config.json      the resolved config the run started with
    history.jsonl    one line per query (search and pre-training phases)
    checkpoint.pkl   strategy + RNG state after the last tell (atomic writes)
    summary.json     written once, when the run completes
    best_so_far.png  anytime plot

A folder without ``summary.json`` is an unfinished run: the report skips it
and ``resume=true`` continues it.
"""
from __future__ import annotations

import functools
import hashlib
import json
import os
import pickle
import sys
import tempfile
from pathlib import Path

from nasframe.errors import ConfigError, NasframeError

# keys of the config that may differ between a run and its resumption
RUNTIME_KEYS = ("resume", "progress", "plot")


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write via a temporary file and rename, so readers never see half a file.

    No fsync: this protects against a killed process (the page cache
    survives it), which is what resume is for; fsync per query made long
    sweeps I/O-bound.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_json(path: Path, obj) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n").encode())


def comparable_config(config: dict) -> dict:
    """What must not change between a run and its resumption (the budget may grow: ``budget_change``)."""
    return {k: v for k, v in config.items() if k not in RUNTIME_KEYS and k not in ("hydra", "budget")}


def budget_change(old: dict, new: dict, where: Path) -> bool:
    """Whether resuming with ``new`` extends the recorded budget; a reduced budget is refused.

    A run continued with a larger budget asks exactly what an uninterrupted run with that
    budget would have asked next (strategies never see the budget), so it ends the same.
    """
    before, after = old.get("budget") or {}, new.get("budget") or {}
    if before == after:
        return False
    for key in sorted(set(before) | set(after)):
        b, a = before.get(key), after.get(key)
        if b == a:
            continue
        if key not in ("queries", "seconds"):
            raise ConfigError(f"cannot resume {where}: budget.{key} changed from {b} to {a}; "
                              "resume with the original settings or start a new run folder")
        if a is not None and (b is None or a < b):  # smaller, or from unbounded to bounded
            raise ConfigError(f"cannot resume {where} with budget.{key}={a}: it was started with {b}; "
                              "a budget can be extended on resume, not reduced")
    return True


LEDGER_KEYS = ("phase", "index", "arch")


def parse_record(raw: bytes, path: Path, line: int) -> dict:
    """One complete ledger line; damage is one sentence naming the file and line."""
    try:
        record = json.loads(raw)
    except ValueError as e:  # JSONDecodeError, or bytes that are not UTF-8
        detail = f"{e.msg} at column {e.colno}" if isinstance(e, json.JSONDecodeError) else "not UTF-8 text"
        record, problem = None, f"is not valid JSON ({detail})"
    else:
        problem = "is not a ledger record (it lacks phase, index or arch)"
    if isinstance(record, dict) and all(k in record for k in LEDGER_KEYS):
        return record
    raise NasframeError(f"{path}, line {line} {problem}; the ledger was damaged outside nasframe: restore it, "
                        f"or delete line {line} and every line after it and rerun with resume=true "
                        "(those queries are then evaluated again)")


def read_history(path: Path) -> list[dict]:
    """Complete lines of a history file (a line cut by a kill is dropped)."""
    records = []
    if not Path(path).exists():
        return records
    with open(path, "rb") as f:
        for line, raw in enumerate(f, start=1):
            if not raw.endswith(b"\n"):
                break  # the process died mid-write
            records.append(parse_record(raw, Path(path), line))
    return records


def notice(text: str) -> None:
    print("nasframe: " + text, file=sys.stderr)


def writing(method):
    """A run-folder write that fails (disk full, quota, read-only) is one sentence saying resume works.

    Every file is written atomically or appended line by line, so what is on disk
    when the write fails is a consistent prefix of the run.
    """
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except NasframeError:
            raise
        except OSError as e:
            raise NasframeError(f"cannot write to the run folder {self.dir} ({e.strerror or e}); every query "
                                "recorded so far is kept: free space (or fix the folder) and rerun with "
                                "resume=true to continue") from None
    return wrapper


LOCK_NAME = ".lock"


def lock_folder(folder: Path):
    """An exclusive lock on the run folder (held until the returned descriptor is closed), or None
    where there is no ``fcntl``. The kernel drops it when the process dies, kill -9 included."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock
        return None
    fd = os.open(folder / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        pid = os.read(fd, 32).decode(errors="replace").strip() or "?"
        os.close(fd)
        raise ConfigError(f"another nasframe process (pid {pid}) is running in the run folder {folder}; wait "
                          "for it to finish or choose another folder with hydra.run.dir=DIR (workers of one "
                          "shared search each need their own folder)") from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return fd


def remove_stale_temporaries(folder: Path, names) -> list[Path]:
    """Temporary files of atomic writes a killed process left behind (only ours, by name)."""
    stale = [p for p in folder.glob(".*.tmp") if any(p.name.startswith(f".{n}.") for n in names)]
    for p in stale:
        p.unlink(missing_ok=True)
    return stale


class Ledger:
    def __init__(self, out_dir: str | os.PathLike):
        self.dir = Path(out_dir)
        self.history_path = self.dir / "history.jsonl"
        self.summary_path = self.dir / "summary.json"
        self.checkpoint_path = self.dir / "checkpoint.pkl"
        self.config_path = self.dir / "config.json"
        self.plot_path = self.dir / "best_so_far.png"
        self._file = None
        self._pending: list[bytes] = []  # recorded lines after the checkpoint, not yet replayed
        self._offset = 0  # bytes of history the run has confirmed or written
        self._lock = None  # descriptor holding the run-folder lock while open

    # ------------------------------------------------------------- opening

    @writing
    def open(self, config: dict, resume: bool, check=None):
        """Prepare the folder; return ``(checkpoint or None, recorded history)``.

        Refuses to overwrite a finished or unfinished run unless resuming,
        refuses to resume a run whose config differs (a larger budget is
        allowed), and refuses a folder another process is running in.
        ``check(history, checkpoint)`` may refuse the recorded state before
        anything in the folder is rewritten.
        """
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            probe = self.dir / ".write_probe"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as e:
            raise ConfigError(f"cannot write to the run folder {self.dir} ({e.strerror}); "
                              "choose another one with hydra.run.dir=DIR") from None
        self._lock = lock_folder(self.dir)
        try:
            return self._open_locked(config, resume, check)
        except BaseException:
            self.close()
            raise

    def _open_locked(self, config: dict, resume: bool, check=None):
        remove_stale_temporaries(self.dir, [p.name for p in (self.history_path, self.checkpoint_path,
                                                             self.config_path, self.summary_path)])
        started = self.config_path.exists() or self.history_path.exists()
        if self.summary_path.exists() and not resume:
            raise ConfigError(f"{self.dir} already holds a finished run; choose another folder "
                              "with hydra.run.dir=DIR or delete it (or add resume=true to extend its budget)")
        if started and not resume:
            raise ConfigError(f"{self.dir} holds an unfinished run; add resume=true to continue it "
                              "or choose another folder with hydra.run.dir=DIR")
        checkpoint, history, extended = None, [], False
        if resume and started:
            if self.config_path.exists():
                old = self.recorded_config()
                if comparable_config(old) != comparable_config(config):
                    diff = sorted(k for k in set(old) | set(config)
                                  if k not in RUNTIME_KEYS and k != "budget" and old.get(k) != config.get(k))
                    raise ConfigError(f"cannot resume {self.dir}: the config changed ({', '.join(diff)}); "
                                      "resume with the original settings or start a new run folder")
                extended = budget_change(old, config, self.dir)
            history = read_history(self.history_path)
            checkpoint = self.load_checkpoint(len(history))
            if check is not None:
                check(history, checkpoint)
        atomic_write_json(self.config_path, config)
        if extended:  # a finished run resumed with a larger budget is unfinished again until it completes
            self.summary_path.unlink(missing_ok=True)
        # Rewrite history with complete lines only. The runner re-appends the
        # lines after the checkpoint as it replays them; they stay on disk
        # meanwhile (``append`` steps over each one it rewrites unchanged), so
        # a kill during the replay loses nothing.
        lines = [self._line(r) for r in history]
        keep = checkpoint["records"] if checkpoint else 0
        atomic_write_bytes(self.history_path, b"".join(lines))
        self._pending, self._offset = lines[keep:], sum(map(len, lines[:keep]))
        self._digest = hashlib.sha256(b"".join(lines[:keep]))
        self._file = open(self.history_path, "ab")
        return checkpoint, history

    def recorded_config(self) -> dict:
        try:
            config = json.loads(self.config_path.read_text())
        except (OSError, ValueError) as e:
            raise NasframeError(f"{self.config_path} is unreadable ({e}); restore it, or delete it to resume "
                                "without checking that the config is unchanged") from None
        if not isinstance(config, dict):
            raise NasframeError(f"{self.config_path} is not a run config; restore it, or delete it to resume "
                                "without checking that the config is unchanged")
        return config

    def load_checkpoint(self, recorded: int | None = None):
        """The checkpoint, or None (resume from the ledger alone) when it is missing, damaged or
        ahead of the ledger: the ledger holds every answer, so nothing is lost either way."""
        if not self.checkpoint_path.exists():
            return None
        try:
            with open(self.checkpoint_path, "rb") as f:
                state = pickle.load(f)
            problem = None if isinstance(state, dict) and isinstance(state.get("records"), int) \
                else "not a nasframe checkpoint"
        except Exception as e:  # written atomically, so this is damage from outside (a cut copy, a bad disk)
            problem = f"unreadable: {type(e).__name__}"
        if problem is None and recorded is not None and state["records"] > recorded:
            problem = f"it covers {state['records']} queries, the ledger only {recorded}"
        if problem is None:
            return state
        notice(f"checkpoint {self.checkpoint_path} is not usable ({problem}); resuming from the ledger alone, "
               f"which replays every recorded query without evaluating it again")
        return None

    # ------------------------------------------------------------- writing

    @staticmethod
    def _line(record: dict) -> bytes:
        return (json.dumps(record, sort_keys=True) + "\n").encode()

    @writing
    def append(self, record: dict) -> None:
        line = self._line(record)
        if self._pending:
            if line == self._pending[0]:  # a replayed record, already on disk
                self._pending.pop(0)
                self._offset += len(line)
                self._digest.update(line)
                return
            # the run went another way than the recorded one: its unreplayed tail goes
            self._file.flush()
            os.truncate(self.history_path, self._offset)
            self._pending = []
        self._file.write(line)
        self._file.flush()
        self._offset += len(line)
        self._digest.update(line)

    def digest(self) -> str:
        """SHA-256 of the history lines confirmed or written so far (a checkpoint records it, so a
        resume can tell that the lines it covers were not edited since)."""
        return self._digest.hexdigest()

    @classmethod
    def digest_of(cls, records: list[dict]) -> str:
        return hashlib.sha256(b"".join(cls._line(r) for r in records)).hexdigest()

    @writing
    def save_checkpoint(self, state: dict) -> None:
        atomic_write_bytes(self.checkpoint_path, pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL))

    @writing
    def finish(self, summary: dict) -> None:
        self.close_history()
        atomic_write_json(self.summary_path, summary)
        self.close()

    @writing
    def write_with(self, write, *args, **kwargs):
        """Another file of the run folder (the plot), with the same one-sentence failure."""
        return write(*args, **kwargs)

    def close_history(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def close(self) -> None:
        self.close_history()
        if self._lock is not None:
            os.close(self._lock)  # releases the run-folder lock
            self._lock = None
