"""``evaluator=train``: train the built network on an image dataset and score it.

Trains ``space.build(arch, task)`` (any Buildable space) with NAS-Bench-201's
recipe by default: SGD with Nesterov momentum 0.9, lr 0.1, weight decay 5e-4
on every parameter, a per-iteration cosine schedule to 0 over ``epochs``,
batch 256, random crop (padding 4 at 32x32, 2 at 16x16) + horizontal flip,
cross-entropy. The strategy sees the validation accuracy (%); the test accuracy
goes to the report only; the per-epoch curve (training loss, validation
accuracy: nothing from the test set) is a ``curve`` field of the ledger line;
``cost`` is the training seconds, so ``budget.seconds`` counts real time.

Data (``nasframe.datasets.load_dataset``) is read once, kept as uint8 tensors
on the device, and batches are cut, augmented and normalised there with
batched tensor ops: no per-image Python transforms, so the device is never
waiting on a loader. The epoch order and augmentation come from a generator
seeded by (seed, epoch), and each epoch starts from a torch seed derived the
same way: an epoch is a function of the state at its start, which makes
training deterministic on CPU and lets a resumed run finish with the same
accuracies as an uninterrupted one.

Resumable inside an architecture: after each epoch the model, optimiser,
scheduler (and AMP scaler) state are written atomically to
``<state_dir>/<key>/state.pt``; ``state_dir`` defaults to ``train_state`` in
the Hydra run folder, so ``resume=true`` continues the architecture that was
training from its last finished epoch. Each finished evaluation is recorded in
``results.json`` next to it, so an evaluation interrupted between training and
its ledger line is answered again identically without training.

Multi-fidelity (fidelity = epochs): ``evaluate_at(archs, epochs)`` trains the
first ``epochs`` epochs of the full ``evaluator.epochs`` schedule (the same
convention as the benchmark's per-epoch curves); a later call at a higher
fidelity continues from the saved state and charges only the extra seconds.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from nasframe.core.evaluator import Evaluation, Evaluator, MultiFidelity, Objective, checked
from nasframe.core.ledger import atomic_write_bytes, atomic_write_json
from nasframe.core.space import Buildable
from nasframe.errors import ConfigError, DataError

STATE_FILE, RESULTS_FILE = "state.pt", "results.json"


@dataclass(frozen=True)
class TrainedEvaluation(Evaluation):
    """An evaluation with its learning curve, written to the ledger line as ``curve``."""

    curve: dict = field(default_factory=dict)  # train_loss, val_acc per epoch (no test figures)

    def to_json(self) -> dict:
        return {**super().to_json(), "curve": self.curve}


@dataclass
class TrainResult:
    model: nn.Module
    epochs: int
    val_acc: float
    test_acc: float
    curve: dict
    seconds: float  # training seconds charged by this call
    failure: str | None = None


def resolve_device(spec: str = "auto", cuda_count: int | None = None) -> torch.device:
    """``auto`` (CUDA when present, honouring CUDA_VISIBLE_DEVICES), ``cpu``, ``cuda`` or ``cuda:N``."""
    count = torch.cuda.device_count() if cuda_count is None else int(cuda_count)
    text = str(spec).strip().lower()
    if text == "auto":
        return torch.device("cuda:0" if count > 0 else "cpu")
    if text == "cpu":
        return torch.device("cpu")
    if text == "cuda" or text.startswith("cuda:"):
        index = text.partition(":")[2] or "0"
        if not index.isdigit():
            raise ConfigError(f"evaluator.device '{spec}' is not auto, cpu, cuda or cuda:N")
        if int(index) >= count:
            visible = os.environ.get("CUDA_VISIBLE_DEVICES")
            raise ConfigError(f"evaluator.device={spec} but {count} CUDA device(s) are visible"
                              + (f" (CUDA_VISIBLE_DEVICES={visible})" if visible is not None else "")
                              + "; pick one of them or device=cpu")
        return torch.device(f"cuda:{int(index)}")
    raise ConfigError(f"evaluator.device '{spec}' is not auto, cpu, cuda or cuda:N")


def hydra_run_folder() -> Path | None:
    """The run folder when running under Hydra (the CLI, its launchers), else None."""
    try:
        from hydra.core.hydra_config import HydraConfig

        return Path(HydraConfig.get().runtime.output_dir)
    except Exception:  # ValueError when no Hydra app is running (API use)
        return None


def _derived_seed(*parts) -> int:
    return int.from_bytes(hashlib.sha256(":".join(map(str, parts)).encode()).digest()[:8], "little") >> 1


class TrainEvaluator(MultiFidelity, Evaluator):
    requires = (Buildable,)
    objectives = (Objective("val_acc", "max", "%", "validation accuracy after training"),)

    def __init__(self, space, dataset: str = "cifar10", root=None, task: str | None = None,
                 epochs: int = 200, batch_size: int = 256, lr: float = 0.1, momentum: float = 0.9,
                 nesterov: bool = True, weight_decay: float = 5e-4, crop_padding: int | None = None,
                 flip: bool = True, eval_batch_size: int = 512, seed: int = 0, split_seed: int = 0,
                 val_fraction: float = 0.2, test_fraction: float = 0.2, device: str = "auto",
                 amp: bool = True, channels_last: bool = True, threads: int | None = None,
                 checkpoint: bool = True, state_dir=None, keep_state: bool = False, path=None, **_ignored):
        if int(epochs) < 1 or int(batch_size) < 1 or int(eval_batch_size) < 1:
            raise ConfigError("evaluator.epochs, batch_size and eval_batch_size must be positive integers")
        if float(lr) <= 0:
            raise ConfigError(f"evaluator.lr must be positive, got {lr}")
        from nasframe.benchmarks import data_root

        root = data_root(root)
        if root is None:
            raise ConfigError("evaluator=train trains on images under data.root: set data.root=DIR (or "
                              "NASFRAME_DATA) to a folder holding cifar-10-batches-py/, cifar-100-python/, "
                              "ImageNet16/ or an ImageFolder <dataset>/train/<class>/*.png")
        self.space, self.root = space, root
        self.epochs, self.batch_size, self.eval_batch_size = int(epochs), int(batch_size), int(eval_batch_size)
        self.lr, self.momentum, self.nesterov = float(lr), float(momentum), bool(nesterov)
        self.weight_decay, self.flip, self.seed = float(weight_decay), bool(flip), int(seed)
        self.device = resolve_device(device)
        self.amp = bool(amp) and self.device.type == "cuda"
        self.channels_last = bool(channels_last) and self.device.type == "cuda"
        self.threads = int(threads) if threads else len(os.sched_getaffinity(0))
        self.checkpoint, self.keep_state = bool(checkpoint), bool(keep_state)
        self._state_dir = state_dir
        from nasframe.datasets import canonical_name, load_dataset

        self.data = load_dataset(root, dataset, split_seed=int(split_seed), val_fraction=float(val_fraction),
                                 test_fraction=float(test_fraction))
        self.task = task if task is not None else (
            self.data.name if self.data.name in ("cifar10", "cifar100", "imagenet16-120") else None)
        self.dataset_name = canonical_name(dataset)
        side = self.data.shape[-1]
        self.crop_padding = int(crop_padding) if crop_padding is not None else max(side // 8, 1)
        self._tensors = None
        self._check_head()

    # ------------------------------------------------------------ set-up

    @property
    def max_fidelity(self) -> int:
        return self.epochs

    @property
    def state_dir(self) -> Path | None:
        if not self.checkpoint:
            return None
        if self._state_dir is not None:
            return Path(self._state_dir)
        run = hydra_run_folder()
        return None if run is None else run / "train_state"

    def _check_head(self) -> None:
        """The built network must map the dataset's images to one logit per class."""
        arch = self.space.sample(np.random.default_rng(0))
        with torch.random.fork_rng(devices=[]):
            net = self.space.build(arch, self.task)
        net.eval()
        x = torch.zeros((2, *self.data.shape))
        try:
            with torch.no_grad():
                out = net(x)
        except RuntimeError as e:
            raise ConfigError(f"networks of space '{self.space.name}' do not accept the {self.data.shape} images "
                              f"of {self.data.name} ({e}); pick a space or task for that input size") from None
        if tuple(out.shape) != (2, self.data.num_classes):
            raise ConfigError(f"the network built for task '{self.task}' has {out.shape[-1]} outputs but "
                              f"{self.data.name} has {self.data.num_classes} classes; set evaluator.task to a "
                              f"task of the space with {self.data.num_classes} classes")

    def tensors(self) -> dict:
        """The splits as uint8 / int64 tensors on the device, and the normalisation."""
        if self._tensors is None:
            d = self.data
            self._tensors = {part: tuple(torch.from_numpy(np.ascontiguousarray(a)).to(self.device)
                                         for a in getattr(d, part)) for part in ("train", "val", "test")}
            self._tensors["mean"] = torch.tensor(d.mean, device=self.device).view(1, -1, 1, 1)
            self._tensors["std"] = torch.tensor(d.std, device=self.device).view(1, -1, 1, 1)
        return self._tensors

    def recipe(self) -> dict:
        """Everything a trained network depends on (the state folder's key)."""
        return {"dataset": self.data.name, "source_split": self.data.split, "task": self.task,
                "epochs": self.epochs, "batch_size": self.batch_size, "lr": self.lr, "momentum": self.momentum,
                "nesterov": self.nesterov, "weight_decay": self.weight_decay, "crop_padding": self.crop_padding,
                "flip": self.flip, "seed": self.seed, "amp": self.amp}

    def describe(self) -> dict:
        return {"evaluator": "train", "data": self.data.describe(), "recipe": self.recipe(),
                "device": str(self.device), "threads": self.threads if self.device.type == "cpu" else None,
                "channels_last": self.channels_last, "state_dir": "train_state in the run folder"
                if self._state_dir is None and self.checkpoint else str(self._state_dir)}

    # ------------------------------------------------------------ evaluation

    def evaluate_at(self, archs: Sequence, fidelity: int) -> list[Evaluation]:
        epochs = int(fidelity)
        if not self.min_fidelity <= epochs <= self.epochs:
            raise ConfigError(f"fidelity {fidelity} epochs is outside 1..{self.epochs} (evaluator.epochs)")
        return [self._evaluation(self.train(a, epochs)) for a in archs]

    def _evaluation(self, r: TrainResult) -> Evaluation:
        ev = checked({"val_acc": r.val_acc}, self.objectives, report={"test_acc": r.test_acc},
                     cost=r.seconds, failure=r.failure)
        kept = {f.name: getattr(ev, f.name) for f in fields(ev)}
        return TrainedEvaluation(**{**kept, "fidelity": r.epochs}, curve=r.curve)

    def key(self, arch) -> str:
        text = json.dumps({"arch": str(arch), **self.recipe()}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    # ------------------------------------------------------------ training

    def new_model(self, arch) -> nn.Module:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(_derived_seed(self.seed, "init", arch))
            model = self.space.build(arch, self.task)
        model = model.to(self.device)
        if self.channels_last:
            model = model.to(memory_format=torch.channels_last)
        return model

    def _optimiser(self, model, steps_per_epoch: int):
        opt = torch.optim.SGD(model.parameters(), lr=self.lr, momentum=self.momentum,
                              nesterov=self.nesterov and self.momentum > 0, weight_decay=self.weight_decay)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=self.epochs * steps_per_epoch, eta_min=0.0)
        return opt, sched

    def steps_per_epoch(self) -> int:
        n = len(self.data.train[1])
        full, rest = divmod(n, self.batch_size)
        return full + (1 if rest > 1 else 0)  # a last batch of one image cannot train BatchNorm

    def _batch(self, x_u8: torch.Tensor, gen: torch.Generator | None) -> torch.Tensor:
        t = self.tensors()
        x = x_u8.float().div_(255.0)
        if gen is not None:
            from nasframe.datasets import augment

            x = augment(x, gen, self.crop_padding, self.flip)
        x = (x - t["mean"]) / t["std"]
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return x

    def train_epoch(self, model, opt, sched, scaler, epoch: int) -> float:
        """One epoch; returns the mean training loss."""
        x_all, y_all = self.tensors()["train"]
        gen = torch.Generator().manual_seed(_derived_seed(self.seed, "epoch", epoch))
        torch.manual_seed(_derived_seed(self.seed, "torch", epoch))  # dropout etc. of spaces that have it
        order = torch.randperm(len(y_all), generator=gen).to(self.device)
        model.train()
        total, count = torch.zeros((), device=self.device), 0
        for step in range(self.steps_per_epoch()):
            idx = order[step * self.batch_size:(step + 1) * self.batch_size]
            x, y = self._batch(x_all[idx], gen), y_all[idx]
            with torch.autocast(self.device.type, dtype=torch.float16, enabled=self.amp):
                loss = F.cross_entropy(model(x), y)
            opt.zero_grad(set_to_none=True)
            if scaler is not None:
                scaler.scale(loss).backward()
                scaler.step(opt)
                scaler.update()
            else:
                loss.backward()
                opt.step()
            sched.step()
            total += loss.detach() * len(y)
            count += len(y)
        return float(total) / max(count, 1)

    @torch.no_grad()
    def accuracy(self, model, part: str) -> float:
        x_all, y_all = self.tensors()[part]
        if len(y_all) == 0:
            return float("nan")
        model.eval()
        correct = torch.zeros((), dtype=torch.int64, device=self.device)
        for i in range(0, len(y_all), self.eval_batch_size):
            x = self._batch(x_all[i:i + self.eval_batch_size], None)
            with torch.autocast(self.device.type, dtype=torch.float16, enabled=self.amp):
                pred = model(x).argmax(dim=1)
            correct += (pred == y_all[i:i + self.eval_batch_size]).sum()
        return 100.0 * int(correct) / len(y_all)

    def train(self, arch, epochs: int | None = None, progress: Callable[[int, dict], None] | None = None,
              folder: Path | None = None) -> TrainResult:
        """Train ``arch`` for the first ``epochs`` epochs of the schedule, resuming from saved state.

        ``folder`` overrides where this architecture's state goes (``python -m nasframe.train``).
        ``progress(epoch, {"train_loss", "val_acc"})`` is called after each epoch.
        """
        from nasframe.torchutil import torch_threads

        epochs = self.epochs if epochs is None else int(epochs)
        if folder is None and self.state_dir is not None:
            folder = self.state_dir / self.key(arch)
        results = _read_results(folder)
        if str(epochs) in results:  # finished before an interruption cut its ledger line
            return self._from_results(arch, results[str(epochs)], folder, epochs)
        threads = self.threads if self.device.type == "cpu" else None
        with torch.random.fork_rng(devices=[]), torch_threads(threads):
            model = self.new_model(arch)
            opt, sched = self._optimiser(model, self.steps_per_epoch())
            scaler = torch.amp.GradScaler("cuda") if self.amp else None
            curve, done, spent = {"train_loss": [], "val_acc": []}, 0, 0.0
            state = _load_state(folder, self.device) if folder is not None else None
            if state is not None and state["epoch"] > epochs:  # asked lower than it already trained: start over
                state = None
            if state is not None:
                model.load_state_dict(state["model"])
                opt.load_state_dict(state["optimiser"])
                sched.load_state_dict(state["scheduler"])
                if scaler is not None and state.get("scaler"):
                    scaler.load_state_dict(state["scaler"])
                curve, done, spent = state["curve"], state["epoch"], state["seconds"]
            charged_from = max((r["seconds_total"] for f, r in results.items() if int(f) <= done), default=0.0)
            failure = None
            for epoch in range(done, epochs):
                t0 = time.perf_counter()
                loss = self.train_epoch(model, opt, sched, scaler, epoch)
                val = self.accuracy(model, "val")
                if self.device.type == "cuda":
                    torch.cuda.synchronize(self.device)
                spent += time.perf_counter() - t0
                curve["train_loss"].append(loss)
                curve["val_acc"].append(val)
                if folder is not None:
                    _save_state(folder, {"epoch": epoch + 1, "model": model.state_dict(), "optimiser": opt.state_dict(),
                                         "scheduler": sched.state_dict(), "seconds": spent, "curve": curve,
                                         "scaler": scaler.state_dict() if scaler is not None else None,
                                         "arch": str(arch), "recipe": self.recipe()})
                if progress is not None:
                    progress(epoch + 1, {"train_loss": loss, "val_acc": val})
                if not np.isfinite(loss):
                    failure = f"training diverged: non-finite loss in epoch {epoch + 1}"
                    break
            test = self.accuracy(model, "test")
            val = curve["val_acc"][-1] if curve["val_acc"] else self.accuracy(model, "val")
        result = TrainResult(model, epochs, val, test, {k: list(v) for k, v in curve.items()},
                             spent - charged_from, failure)
        if folder is not None:
            results[str(epochs)] = {"val_acc": val, "test_acc": test, "seconds_total": spent,
                                    "seconds": result.seconds, "curve": result.curve, "failure": failure}
            atomic_write_json(folder / RESULTS_FILE, results)
            if epochs >= self.epochs and not self.keep_state:
                (folder / STATE_FILE).unlink(missing_ok=True)  # nothing left to continue
        return result

    def _from_results(self, arch, r: dict, folder: Path, epochs: int) -> TrainResult:
        state = _load_state(folder, self.device)
        model = self.new_model(arch)
        if state is not None and state["epoch"] == epochs:
            model.load_state_dict(state["model"])
        return TrainResult(model, epochs, r["val_acc"], r["test_acc"], r["curve"], r["seconds"], r.get("failure"))


def _read_results(folder: Path | None) -> dict:
    if folder is None or not (folder / RESULTS_FILE).is_file():
        return {}
    try:
        return json.loads((folder / RESULTS_FILE).read_text())
    except ValueError:
        raise DataError(f"{folder / RESULTS_FILE} is damaged; delete {folder} to retrain that architecture") from None


def _save_state(folder: Path, state: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    torch.save(state, buf)
    atomic_write_bytes(folder / STATE_FILE, buf.getvalue())


def _load_state(folder: Path | None, device) -> dict | None:
    path = None if folder is None else folder / STATE_FILE
    if path is None or not path.is_file():
        return None
    try:
        return torch.load(path, map_location=device, weights_only=True)
    except Exception as e:  # a damaged checkpoint must not be trained on silently
        raise DataError(f"{path} cannot be read ({type(e).__name__}); delete it to restart that architecture") from None

