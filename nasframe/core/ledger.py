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

import json
import os
import pickle
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
    return {k: v for k, v in config.items() if k not in RUNTIME_KEYS and k != "hydra"}


def read_history(path: Path) -> list[dict]:
    """Complete lines of a history file (a line cut by a kill is dropped)."""
    records = []
    if not Path(path).exists():
        return records
    with open(path, "rb") as f:
        for raw in f:
            if not raw.endswith(b"\n"):
                break  # the process died mid-write
            records.append(json.loads(raw))
    return records


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

    # ------------------------------------------------------------- opening

    def open(self, config: dict, resume: bool):
        """Prepare the folder; return ``(checkpoint or None, recorded history)``.

        Refuses to overwrite a finished or unfinished run unless resuming, and
        refuses to resume a run whose config differs.
        """
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            probe = self.dir / ".write_probe"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as e:
            raise ConfigError(f"cannot write to the run folder {self.dir} ({e.strerror}); "
                              "choose another one with hydra.run.dir=DIR") from None
        started = self.config_path.exists() or self.history_path.exists()
        if self.summary_path.exists() and not resume:
            raise ConfigError(f"{self.dir} already holds a finished run; choose another folder "
                              "with hydra.run.dir=DIR or delete it")
        if started and not resume:
            raise ConfigError(f"{self.dir} holds an unfinished run; add resume=true to continue it "
                              "or choose another folder with hydra.run.dir=DIR")
        checkpoint, history = None, []
        if resume and started:
            if self.config_path.exists():
                old = json.loads(self.config_path.read_text())
                if comparable_config(old) != comparable_config(config):
                    diff = sorted(k for k in set(old) | set(config)
                                  if k not in RUNTIME_KEYS and old.get(k) != config.get(k))
                    raise ConfigError(f"cannot resume {self.dir}: the config changed ({', '.join(diff)}); "
                                      "resume with the original settings or start a new run folder")
            checkpoint = self.load_checkpoint()
            history = read_history(self.history_path)
        atomic_write_json(self.config_path, config)
        # Rewrite history with complete lines only. The runner re-appends the
        # lines after the checkpoint as it replays them; they stay on disk
        # meanwhile (``append`` steps over each one it rewrites unchanged), so
        # a kill during the replay loses nothing.
        lines = [self._line(r) for r in history]
        keep = checkpoint["records"] if checkpoint else 0
        atomic_write_bytes(self.history_path, b"".join(lines))
        self._pending, self._offset = lines[keep:], sum(map(len, lines[:keep]))
        self._file = open(self.history_path, "ab")
        return checkpoint, history

    def load_checkpoint(self):
        if not self.checkpoint_path.exists():
            return None
        try:
            with open(self.checkpoint_path, "rb") as f:
                return pickle.load(f)
        except Exception as e:  # a checkpoint is always written atomically; this is real damage
            raise NasframeError(f"checkpoint {self.checkpoint_path} is unreadable ({e}); "
                                "delete the run folder and start again") from None

    # ------------------------------------------------------------- writing

    @staticmethod
    def _line(record: dict) -> bytes:
        return (json.dumps(record, sort_keys=True) + "\n").encode()

    def append(self, record: dict) -> None:
        line = self._line(record)
        if self._pending:
            if line == self._pending[0]:  # a replayed record, already on disk
                self._pending.pop(0)
                self._offset += len(line)
                return
            # the run went another way than the recorded one: its unreplayed tail goes
            self._file.flush()
            os.truncate(self.history_path, self._offset)
            self._pending = []
        self._file.write(line)
        self._file.flush()
        self._offset += len(line)

    def save_checkpoint(self, state: dict) -> None:
        atomic_write_bytes(self.checkpoint_path, pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL))

    def finish(self, summary: dict) -> None:
        self.close()
        atomic_write_json(self.summary_path, summary)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
