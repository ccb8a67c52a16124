"""K-Adapters on a frozen GNN backbone, and the AIO-P predictor built from them.

An adapter pairs each backbone GraphConv layer with an adapter layer whose
input is ``[backbone layer output || previous adapter output]`` (64 wide; the
first adapter layer sees the node embedding), mean-pools its last layer next
to the backbone's, and predicts from the 64-wide concatenation with a new MLP.
Several adapters (one per knowledge task) are averaged at inference.

``AIOPPredictor`` holds the whole pipeline: ``pretrain`` the base regressor,
``add_adapter`` per knowledge task with the backbone frozen, ``calibrate`` the
label scaling on a few target architectures (zero-shot transfer), optionally
``finetune`` on them (backbone GNN layers and adapter heads train; node
embedding and adapter bodies stay frozen), then ``predict`` in task units.
"""
from __future__ import annotations

import copy
import logging
import math
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch import nn

from nasframe.graphs.extract import ComputeGraph
from nasframe.predictors.base import Predictor, seeded
from nasframe.predictors.gnn import (HIDDEN, GraphBatch, GraphConv, GNNRegressor, PackedGraphs, readout,
                                     regressor_head)
from nasframe.predictors.scaling import LabelScaler

log = logging.getLogger(__name__)

# fine-tuning lengths (epochs) that cross-validated fine-tuning chooses from (always with 0 and the maximum)
FINETUNE_CHECKPOINTS = (0, 10, 25, 50)
# how cross-validation scores a fine-tuning length (AIOPPredictor.finetune)
SELECTIONS = ("srcc", "loss", "centred")


class KAdapter(nn.Module):
    def __init__(self, layers: int = 6, size_input: bool = False):
        super().__init__()
        self.size_input = size_input
        self.layers = nn.ModuleList(GraphConv(2 * HIDDEN, HIDDEN) for _ in range(layers))
        self.head = regressor_head(2 * HIDDEN + int(size_input))

    def forward(self, b: GraphBatch, base: list[torch.Tensor]) -> torch.Tensor:
        """``base`` = the backbone's node embedding and its layer outputs."""
        h = base[0]
        for layer, hb in zip(self.layers, base[1:]):
            h = torch.tanh(layer(torch.cat([hb, h], dim=1), b.adj))
        return self.head(readout(b, base[-1], h, size_input=self.size_input)).reshape(-1)


class AIOPNet(nn.Module):
    """Base regressor plus named K-adapters."""

    def __init__(self, size_input: bool = False):
        super().__init__()
        self.size_input = size_input
        self.base = GNNRegressor(size_input)
        self.adapters = nn.ModuleDict()

    def forward(self, b: GraphBatch, use: Sequence[str] | None = None) -> torch.Tensor:
        """Scaled prediction: the base head without adapters, else the mean of the adapters in ``use``."""
        names = list(self.adapters) if use is None else list(use)
        hs = self.base.backbone(b)
        if not names:
            return self.base.head(readout(b, hs[-1], size_input=self.size_input)).reshape(-1)
        return torch.stack([self.adapters[n](b, hs) for n in names]).mean(0)


def _fit(net: nn.Module, params: list, data: PackedGraphs, y: np.ndarray, *, threads: int = 1, **kw) -> dict:
    """``_train`` with torch limited to ``threads`` threads: graph batches are many small
    operations, and on a shared CPU extra threads mostly wait for each other."""
    before = torch.get_num_threads()
    torch.set_num_threads(max(1, int(threads)))
    try:
        return _train(net, params, data, y, **kw)
    finally:
        torch.set_num_threads(before)


def _train(net: nn.Module, params: list, data: PackedGraphs, y: np.ndarray, *, forward, epochs: int,
           batch_size: int, lr: float, clip: float, seed: int, dev: tuple | None = None, desc: str = "",
           progress: bool = False, extra_loss=None, on_epoch=None) -> dict:
    """Adam on MSE of scaled labels; keeps the best-dev weights when ``dev`` = (PackedGraphs, y) is given;
    ``on_epoch(epoch)`` runs after every epoch."""
    rng = np.random.default_rng(seed)
    opt = torch.optim.Adam(params, lr=lr)
    yt = torch.as_tensor(y, dtype=torch.float32)
    best, best_state, history = math.inf, None, []
    steps = list(data.batches(batch_size, index=np.arange(len(data))))
    cached = [data.batch(i) for i in steps] if len(data) <= 5000 or batch_size > 1 else None
    from tqdm import tqdm

    bar = tqdm(range(epochs), desc=desc, disable=not progress, unit="epoch")
    for epoch in bar:
        net.train()
        total = 0.0
        for k in rng.permutation(len(steps)):
            b = cached[k] if cached is not None else data.batch(steps[k])
            opt.zero_grad()
            loss = torch.mean((forward(b) - yt[steps[k]]) ** 2)
            if extra_loss is not None:
                loss = loss + extra_loss()
            loss.backward()
            if clip:
                torch.nn.utils.clip_grad_norm_(params, clip)
            opt.step()
            total += float(loss.detach()) * len(steps[k])
        record = {"epoch": epoch + 1, "train_mse": total / len(data)}
        if dev is not None:
            net.eval()
            with torch.no_grad():
                dev_mse = float(torch.mean((forward(dev[0]) - torch.as_tensor(dev[1], dtype=torch.float32)) ** 2))
            record["dev_mse"] = dev_mse
            if dev_mse < best:
                best, best_state = dev_mse, copy.deepcopy(net.state_dict())
        history.append(record)
        if on_epoch is not None:
            on_epoch(epoch + 1)
            net.train()
        bar.set_postfix({k: f"{v:.4f}" for k, v in record.items() if k != "epoch"})
    if best_state is not None:
        net.load_state_dict(best_state)
    net.eval()
    return {"history": history, "best_dev_mse": best if best_state is not None else None}


class AIOPPredictor(Predictor):
    """AIO-P: ``fit``/``predict`` on lists of ``ComputeGraph`` (labels in task units)."""

    def __init__(self, scaling: str = "stand_flops", epochs: int = 40, adapter_epochs: int = 100,
                 finetune_epochs: int = 100, batch_size: int = 32, lr: float = 1e-4, clip: float = 5.0,
                 dev_fraction: float = 0.1, seed: int = 0, progress: bool = False, threads: int = 1,
                 size_input: bool = False):
        self.scaling = scaling
        # size_input: the heads also read the graph's log10 GFLOPs, standardised within its family
        # (pre-training group / knowledge task / calibration set), so "bigger than its siblings" means
        # the same in every family whatever its absolute FLOPs range
        self.size_input = bool(size_input)
        self.epochs, self.adapter_epochs, self.finetune_epochs = int(epochs), int(adapter_epochs), int(finetune_epochs)
        self.batch_size, self.lr, self.clip = int(batch_size), float(lr), float(clip)
        self.dev_fraction, self.seed, self.progress = float(dev_fraction), int(seed), progress
        self.threads = int(threads)  # torch threads while training and predicting
        with seeded(self.seed):
            self.net = AIOPNet(self.size_input)
        self.size_stats: dict[str, tuple[float, float]] = {}  # log10 GFLOPs mean/std: "source", "target", groups
        self.source_scaler = LabelScaler(scaling)  # the pre-training labels
        self.adapter_scalers: dict[str, LabelScaler] = {}
        self.family_scalers: dict[str, LabelScaler] = {}  # per pre-training group (pretrain(groups=...))
        self.target_scaler: LabelScaler | None = None  # set by calibrate(); else the source scaler
        self.use: list[str] | None = None  # adapters used by predict (None = all)
        self.log: dict = {}

    # ------------------------------------------------------------ size input

    @staticmethod
    def _log_flops(gflops) -> np.ndarray:
        return np.log10(np.maximum(np.asarray(gflops, dtype=np.float64), 1e-12))

    @classmethod
    def _stats(cls, gflops) -> tuple[float, float]:
        v = cls._log_flops(gflops)
        return float(v.mean()), float(v.std()) if v.std() > 1e-9 else 1.0

    def _pack(self, graphs, stats=None) -> PackedGraphs:
        """Pack graphs; for a size-input network attach the standardised log-FLOPs (``stats`` = (mean, std),
        scalars or per graph; default the calibrated target's, else the pre-training set's)."""
        data = graphs if isinstance(graphs, PackedGraphs) else PackedGraphs(graphs)
        if self.size_input:
            mean, std = stats if stats is not None else self.size_stats.get("target", self.size_stats.get("source"))
            data.log_flops_z = (self._log_flops(data.gflops) - mean) / std
        return data

    # ------------------------------------------------------------ training stages

    def _split(self, n: int, seed: int):
        idx = np.random.default_rng(seed).permutation(n)
        n_dev = int(round(self.dev_fraction * n)) if n >= 20 else 0
        return idx[n_dev:], idx[:n_dev]

    def fit(self, x: Sequence[ComputeGraph], y) -> "AIOPPredictor":
        return self.pretrain(x, y)

    def pretrain(self, graphs: Sequence[ComputeGraph], y, epochs: int | None = None,
                 groups: Sequence[str] | None = None) -> "AIOPPredictor":
        """Train the base regressor (all of it) on scaled labels; best-dev checkpoint.

        ``groups`` (one name per graph, e.g. the family) scales each group's labels with its own
        statistics (AIO-P standardises every task separately), so families with different metrics
        and ranges share one unitless target; predictions are then unitless (``family_scalers``
        keeps each group's scaler) until ``calibrate`` gives the target's units.
        """
        data, y = PackedGraphs(graphs), np.asarray(y, dtype=np.float64)
        train, dev = self._split(len(y), self.seed)
        self.size_stats["source"] = self._stats(data.gflops[train])
        size_mean, size_std = np.full(len(y), self.size_stats["source"][0]), np.full(len(y), self.size_stats["source"][1])
        if groups is None:
            self.source_scaler.fit(y[train], data.gflops[train])
            z = self.source_scaler.transform(y, data.gflops)
        else:
            groups = np.asarray(groups)
            if len(groups) != len(y):
                raise ValueError(f"pretrain got {len(groups)} group names for {len(y)} graphs")
            z = np.empty_like(y)
            is_train = np.zeros(len(y), dtype=bool)
            is_train[train] = True
            self.family_scalers = {}
            for name in dict.fromkeys(groups.tolist()):
                own = groups == name
                fit_on = own & is_train if (own & is_train).any() else own
                sc = LabelScaler(self.scaling).fit(y[fit_on], data.gflops[fit_on])
                z[own] = sc.transform(y[own], data.gflops[own])
                self.family_scalers[name] = sc
                self.size_stats[f"group:{name}"] = stats = self._stats(data.gflops[own])  # FLOPs need no label
                size_mean[own], size_std[own] = stats
            self.source_scaler = LabelScaler("none")
        tr = self._pack([graphs[i] for i in train], (size_mean[train], size_std[train]))
        dv = None
        if len(dev):
            dv = (self._pack([graphs[i] for i in dev], (size_mean[dev], size_std[dev])).batch(), z[dev])
        params = list(self.net.base.parameters())
        with seeded(self.seed + 1):
            self.log["pretrain"] = _fit(self.net, params, tr, z[train], forward=lambda b: self.net(b, use=[]),
                                        epochs=epochs or self.epochs, batch_size=self.batch_size, lr=self.lr,
                                        clip=self.clip, seed=self.seed, dev=dv, desc="pretrain",
                                        progress=self.progress, threads=self.threads)
        return self

    def add_adapter(self, name: str, graphs: Sequence[ComputeGraph], y, epochs: int | None = None) -> "AIOPPredictor":
        """Train a new K-adapter on a knowledge task; every other weight stays frozen."""
        data, y = PackedGraphs(graphs), np.asarray(y, dtype=np.float64)
        scaler = LabelScaler(self.scaling).fit(y, data.gflops)
        z = scaler.transform(y, data.gflops)
        stats = self.size_stats[f"adapter:{name}"] = self._stats(data.gflops)
        with seeded(self.seed + 2 + len(self.net.adapters)):
            adapter = KAdapter(size_input=self.size_input)
        self.net.adapters[name] = adapter
        base_state = {k: v.clone() for k, v in self.net.base.state_dict().items()}
        self.net.base.requires_grad_(False)
        for other in self.net.adapters.values():
            other.requires_grad_(other is adapter)
        base = self.net.base

        def forward(b):
            with torch.no_grad():
                hs = base.backbone(b)
            return adapter(b, hs)

        train, dev = self._split(len(y), self.seed + 7)
        dv = (self._pack([graphs[i] for i in dev], stats).batch(), z[dev]) if len(dev) else None
        with seeded(self.seed + 3):
            self.log[f"adapter/{name}"] = _fit(self.net, list(adapter.parameters()),
                                                self._pack([graphs[i] for i in train], stats), z[train],
                                                forward=forward,
                                                epochs=epochs or self.adapter_epochs, batch_size=self.batch_size,
                                                lr=self.lr, clip=self.clip, seed=self.seed, dev=dv,
                                                desc=f"adapter {name}", progress=self.progress, threads=self.threads)
        self.net.base.requires_grad_(True)
        assert all(torch.equal(v, base_state[k]) for k, v in self.net.base.state_dict().items())
        self.adapter_scalers[name] = scaler
        return self

    def calibrate(self, graphs: Sequence[ComputeGraph], y, use: Sequence[str] | None = None,
                  scaling: str | None = None, standardise_output: bool = False) -> "AIOPPredictor":
        """Zero-shot transfer: the target's label statistics from a few labelled architectures
        (with ``scaling``, default the predictor's own).

        ``standardise_output`` also gives the network's own output mean 0 and std 1 on these
        architectures (an affine map folded into the output layer of every head in use; its
        scale is positive, so the ranking is the zero-shot one). On a family unlike the
        pre-training ones the unitless output can sit several units off: the labels' mean and
        std alone then leave the predictions offset, and fine-tuning with MSE starts by moving
        the whole network to undo that offset rather than to rank the 20 better.
        """
        data = PackedGraphs(graphs)
        self.size_stats["target"] = self._stats(data.gflops)  # the family's FLOPs spread, from the same archs
        self.target_scaler = LabelScaler(scaling or self.scaling).fit(np.asarray(y, dtype=np.float64), data.gflops)
        self.use = None if use is None else list(use)
        if standardise_output:
            raw = self.predict_scaled(data)
            mean, std = float(raw.mean()), float(raw.std())
            with torch.no_grad():
                for head in self._heads():
                    last = head[-1]
                    last.weight.div_(std if std > 1e-12 else 1.0)
                    last.bias.sub_(mean).div_(std if std > 1e-12 else 1.0)
            self.log["calibrate"] = {"output_mean": mean, "output_std": std}
        return self

    def _heads(self) -> list[nn.Sequential]:
        """The heads whose (mean) output is the prediction: the adapters in use, else the base head."""
        use = list(self.net.adapters) if self.use is None else self.use
        return [self.net.adapters[n].head for n in use] or [self.net.base.head]

    def finetune(self, graphs: Sequence[ComputeGraph], y, epochs: int | None = None, mode: str = "full",
                 adaproxy_lambda: float = 1e-3, select_folds: int = 0, select: str = "srcc",
                 l2sp: float = 0.0) -> "AIOPPredictor":
        """Fine-tune on the calibration architectures (batch 1).

        ``full``: backbone GNN layers and base/adapter heads train, node embedding and
        adapter bodies stay frozen (everything trains when there are no adapters).
        ``adaproxy``: only a scale ``alpha`` and a sparse vector ``b`` on the final
        layer's weights train, ``w <- (alpha + b) * w`` with an L1 penalty on ``b``.

        ``select_folds`` = k > 1 chooses how long to fine-tune (0 up to ``epochs``, from
        ``FINETUNE_CHECKPOINTS``) by k-fold cross-validation on these same architectures:
        the count whose pooled out-of-fold predictions rank best (Spearman; ties to the
        shorter). 100 epochs at batch 1 on 20 graphs can overfit and undo the zero-shot
        ranking; 0 keeps the zero-shot model. Only the calibration labels are used.
        ``select="centred"`` pools the out-of-fold predictions after standardising each fold
        model's output by its own mean and std on all the calibration graphs (no labels): the
        fold models then share one scale, so the pooled SRCC no longer favours 0 epochs (the
        only length at which the fold models are one model) for offsets that are not ranking.
        ``select="loss"`` is the paper's fixed schedule with early stopping instead: every
        epoch from 0 to ``epochs`` is a candidate and the pooled out-of-fold MSE (scaled
        units) decides. ``log["finetune_cv"]["why"]`` says in words why the length won
        (in particular when it is 0: flat folds, or fine-tuning not generalising), for both
        selections (one cross-validation serves both: ``log["finetune_cv"]["choices"]``).

        ``l2sp`` > 0 adds ``l2sp * sum((w - w_pretrained)^2)`` over the trained weights to every
        step's loss (L2-SP: a prior centred on the weights fine-tuning starts from, so 20 labels
        refine the transferred model instead of replacing it).
        """
        if self.target_scaler is None:
            self.calibrate(graphs, y, self.use)
        epochs = self.finetune_epochs if epochs is None else int(epochs)  # 0 = keep the zero-shot model
        if mode not in ("full", "adaproxy"):
            from nasframe.errors import ConfigError

            raise ConfigError(f"unknown fine-tuning mode '{mode}'; choose full or adaproxy")
        if select not in SELECTIONS:
            from nasframe.errors import ConfigError

            raise ConfigError(f"unknown fine-tuning length selection '{select}'; choose one of {', '.join(SELECTIONS)}")
        if l2sp < 0 or (l2sp and mode != "full"):
            from nasframe.errors import ConfigError

            raise ConfigError(f"l2sp={l2sp} is not usable with mode '{mode}'; give l2sp >= 0, and > 0 only with "
                              "mode full")
        if select_folds and select_folds > 1:
            epochs = self._cv_epochs(graphs, np.asarray(y, dtype=np.float64), epochs, mode, adaproxy_lambda,
                                     int(select_folds), select, l2sp)
        if epochs > 0:
            self._finetune(graphs, y, epochs, mode, adaproxy_lambda, l2sp=l2sp)
        else:  # no earlier fine-tuning's history may stand in for this call's
            self.log["finetune"] = {}
        self.log["finetune"]["epochs"] = epochs
        return self

    def _finetune(self, graphs, y, epochs: int, mode: str, adaproxy_lambda: float, on_epoch=None,
                  l2sp: float = 0.0) -> None:
        data = self._pack(graphs)
        z = self.target_scaler.transform(np.asarray(y, dtype=np.float64), data.gflops)
        use = list(self.net.adapters) if self.use is None else self.use
        heads = self._heads()
        self.net.requires_grad_(False)
        extra = None
        if mode == "full":
            self.net.base.backbone.layers.requires_grad_(True)
            for h in heads:
                h.requires_grad_(True)
            if not use:
                self.net.base.requires_grad_(True)
            params = [p for p in self.net.parameters() if p.requires_grad]
            if l2sp:
                start = [p.detach().clone() for p in params]
                extra = lambda: l2sp * sum(((p - p0) ** 2).sum() for p, p0 in zip(params, start))
        else:
            params, extra = _adaproxy(heads, adaproxy_lambda)
        with seeded(self.seed + 4):
            self.log["finetune"] = _fit(self.net, params, data, z, forward=lambda b: self.net(b, use=use),
                                        epochs=epochs, batch_size=1, lr=self.lr, clip=self.clip, seed=self.seed,
                                        desc="finetune", progress=self.progress, threads=self.threads,
                                        extra_loss=extra, on_epoch=on_epoch)
        if mode == "adaproxy":
            _adaproxy_bake(heads)
        self.net.requires_grad_(True)

    def _cv_epochs(self, graphs, y: np.ndarray, epochs: int, mode: str, lam: float, folds: int,
                   select: str = "srcc", l2sp: float = 0.0) -> int:
        """Fine-tuning length by k-fold cross-validation on the calibration set (see ``finetune``)."""
        from scipy.stats import spearmanr

        n = len(y)
        folds = min(folds, n)
        if n < 4:
            return epochs  # too few to hold any out
        every = list(range(epochs + 1))  # out-of-fold predictions after every epoch serve both selections
        oof = {e: np.full(n, np.nan) for e in every}
        centred = {e: np.full(n, np.nan) for e in every}  # each fold model standardised on all n graphs
        order = np.random.default_rng(self.seed + 5).permutation(n)
        z = self.target_scaler.transform(y, PackedGraphs(graphs).gflops)
        every_graph = self._pack(graphs)
        held_sets = []
        for k in range(folds):
            held = order[k::folds]
            held_sets.append(held)
            fit = np.setdiff1d(order, held)
            clone = copy.deepcopy(self)
            clone.progress = False

            def record(epoch, clone=clone, held=held):
                if epoch in oof:
                    p = clone.predict_scaled(every_graph)
                    oof[epoch][held] = p[held]
                    centred[epoch][held] = (p[held] - p.mean()) / (p.std() or 1.0)

            record(0)
            clone._finetune([graphs[i] for i in fit], y[fit], epochs, mode, lam, on_epoch=record, l2sp=l2sp)
        checkpoints = [e for e in FINETUNE_CHECKPOINTS if e < epochs] + [epochs]
        srcc = {e: float(np.nan_to_num(spearmanr(oof[e], y)[0], nan=-1.0)) for e in checkpoints}
        srcc_centred = {e: float(np.nan_to_num(spearmanr(centred[e], y)[0], nan=-1.0)) for e in checkpoints}
        mse = {e: float(np.mean((oof[e] - z) ** 2)) for e in every}
        # the mean of the per-fold SRCCs ranks within one model at a time; the pooled SRCC also
        # compares predictions of different fold models, whose offsets differ once they are trained
        within = {e: float(np.mean([np.nan_to_num(spearmanr(oof[e][h], y[h])[0], nan=0.0) for h in held_sets]))
                  for e in checkpoints}
        by = {"srcc": srcc, "loss": {e: -v for e, v in mse.items()}, "centred": srcc_centred}
        choice = {k: max(v, key=lambda e, v=v: (v[e], -e)) for k, v in by.items()}
        best = choice[select]
        self.log["finetune_cv"] = {"folds": folds, "select": select, "srcc": srcc, "mse": mse,
                                   "srcc_centred": srcc_centred, "l2sp": l2sp,
                                   "within_fold_srcc": within, "epochs": best, "choices": choice,
                                   "why": {k: _length_note(choice[k], by[k], within, k) for k in by}}
        return best

    # ------------------------------------------------------------ inference

    def predict_scaled(self, graphs: Sequence[ComputeGraph] | PackedGraphs, batch_size: int = 256) -> np.ndarray:
        data = self._pack(graphs)
        self.net.eval()
        out = []
        before = torch.get_num_threads()
        torch.set_num_threads(self.threads)
        try:
            with torch.no_grad():
                for idx in data.batches(batch_size):
                    out.append(self.net(data.batch(idx), use=self.use if self.net.adapters else []).numpy())
        finally:
            torch.set_num_threads(before)
        return np.concatenate(out).astype(np.float64)

    def predict(self, x: Sequence[ComputeGraph], scaler: LabelScaler | None = None) -> np.ndarray:
        """Predictions in task units (the calibrated target's, else the pre-training task's)."""
        data = x if isinstance(x, PackedGraphs) else PackedGraphs(x)
        scaler = scaler or self.target_scaler or self.source_scaler
        return scaler.inverse(self.predict_scaled(data), data.gflops)

    # ------------------------------------------------------------ persistence

    def state_dict(self) -> dict:
        return {"config": {"scaling": self.scaling, "epochs": self.epochs, "adapter_epochs": self.adapter_epochs,
                           "finetune_epochs": self.finetune_epochs, "batch_size": self.batch_size, "lr": self.lr,
                           "clip": self.clip, "dev_fraction": self.dev_fraction, "seed": self.seed,
                           "size_input": self.size_input},
                "size_stats": self.size_stats,
                "adapters": list(self.net.adapters), "net": self.net.state_dict(),
                "source_scaler": self.source_scaler.state_dict(),
                "adapter_scalers": {k: v.state_dict() for k, v in self.adapter_scalers.items()},
                "family_scalers": {k: v.state_dict() for k, v in self.family_scalers.items()},
                "target_scaler": None if self.target_scaler is None else self.target_scaler.state_dict(),
                "use": self.use, "log": self.log}

    def save(self, path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(self.state_dict(), path)
        return path

    @classmethod
    def load(cls, path, progress: bool = False) -> "AIOPPredictor":
        from nasframe.errors import DataError, DataNotFound

        path = Path(path).expanduser()
        if not path.exists():
            raise DataNotFound(f"no AIO-P model at {path}; train one with experiments/aiop_transfer.py "
                               "--save-model or point the evaluator's model at an existing file")
        try:
            state = torch.load(path, map_location="cpu", weights_only=False)
            self = cls(**state["config"], progress=progress)
            for name in state["adapters"]:
                self.net.adapters[name] = KAdapter(size_input=self.size_input)
            self.net.load_state_dict(state["net"])
        except Exception as e:
            raise DataError(f"{path} is not a readable AIO-P model ({e}); re-train or re-save it") from None
        self.source_scaler = LabelScaler(**state["source_scaler"])
        self.adapter_scalers = {k: LabelScaler(**v) for k, v in state["adapter_scalers"].items()}
        self.family_scalers = {k: LabelScaler(**v) for k, v in state.get("family_scalers", {}).items()}
        self.target_scaler = LabelScaler(**state["target_scaler"]) if state["target_scaler"] else None
        self.use, self.log = state["use"], state.get("log", {})
        self.size_stats = {k: tuple(v) for k, v in state.get("size_stats", {}).items()}
        self.net.eval()
        return self


def _length_note(best: int, scores: dict, within: dict, select: str, flat: float = 0.02) -> str:
    """Why cross-validation chose ``best`` epochs, in one sentence."""
    what = {"srcc": "pooled out-of-fold SRCC", "loss": "pooled out-of-fold MSE",
            "centred": "pooled out-of-fold SRCC of the centred fold models"}[select]
    value = (lambda e: f"{-scores[e]:.3f}") if select == "loss" else (lambda e: f"{scores[e]:.3f}")
    spread = max(scores.values()) - min(scores.values())
    if spread < flat:
        return (f"flat folds: every length from 0 to {max(scores)} epochs scores within {spread:.3f} on the {what}; "
                f"{best} epochs is the best of them" + (" (the zero-shot model: fine-tuning changes nothing "
                                                        "the folds can see)" if best == 0 else ""))
    runner = max((e for e in scores if e != best), key=lambda e: scores[e])
    text = f"{best} epochs: {what} {value(best)} vs {value(runner)} for the next best ({runner} epochs)"
    if best == 0:
        top = max(within, key=lambda e: (within[e], -e))
        if select == "centred":
            text += "; training did not rank the held-out folds better than the zero-shot model"
        elif top > 0 and within[top] > within[0]:
            text += (f"; within each fold {top} epochs ranks better (mean per-fold SRCC {within[top]:.3f} vs "
                     f"{within[0]:.3f}), but the pooled score compares fold models whose offsets differ once "
                     "trained, which only the untrained model escapes")
        else:
            text += (f"; fine-tuning on 4/5 of the archs did not rank the held-out fifth better (mean per-fold "
                     f"SRCC {within[0]:.3f} at 0 epochs, at most {within[top]:.3f} trained)")
    return text


def _adaproxy(heads: Sequence[nn.Sequential], lam: float):
    """AdaProxy parameters for the last linear layer of each head: ``w' = (alpha + b) * w``."""
    params, penalties = [], []
    for head in heads:
        last = head[-1]
        alpha = nn.Parameter(torch.ones(()))
        b = nn.Parameter(torch.zeros_like(last.weight))
        w0 = last.weight.detach().clone()
        del last.weight
        last.register_parameter("alpha_", alpha)
        last.register_parameter("b_", b)
        last.w0_ = w0
        last.register_forward_pre_hook(_adaproxy_hook)
        params += [alpha, b]
        penalties.append(b)
    return params, (lambda: lam * sum(p.abs().sum() for p in penalties))


def _adaproxy_hook(module, inputs):
    module.weight = (module.alpha_ + module.b_) * module.w0_


def _adaproxy_bake(heads: Sequence[nn.Sequential]) -> None:
    """Fold the learned scaling back into an ordinary weight."""
    for head in heads:
        last = head[-1]
        w = ((last.alpha_ + last.b_) * last.w0_).detach()
        last._forward_pre_hooks.clear()
        del last.alpha_, last.b_, last.w0_
        if "weight" in last.__dict__:
            del last.__dict__["weight"]
        last.weight = nn.Parameter(w)
