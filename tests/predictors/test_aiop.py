"""AIO-P predictor: sizes, GraphConv, batching, scaling, freezing, learning, persistence, evaluator."""
import copy

import numpy as np
import pytest
import torch

from nasframe.graphs.extract import ComputeGraph
from nasframe.predictors.adapters import AIOPPredictor, KAdapter
from nasframe.predictors.gnn import GNNRegressor, GraphConv, NodeEmbedding, PackedGraphs, n_params
from nasframe.predictors.scaling import LabelScaler


def random_graph(rng, i, n_min=8, n_max=30):
    n = int(rng.integers(n_min, n_max))
    nw = int(rng.integers(1, n // 2))
    ops = rng.integers(5, 27, n)
    ops[:nw] = rng.choice([3, 4, 8], nw)
    kernel = np.zeros((n, 2), dtype=np.int64)
    kernel[:nw] = rng.choice([1, 3, 5], (nw, 1)).repeat(2, 1)
    edges = np.array(sorted({(int(a), b) for b in range(1, n) for a in rng.choice(b, min(b, 2), replace=False)}))
    return ComputeGraph(ops.astype(np.int64), rng.random((n, 6)).astype(np.float32), kernel,
                        (rng.random(n) < 0.3).astype(np.int64) * (np.arange(n) < nw), edges, nw,
                        float(rng.uniform(10, 500)), f"g{i}")


@pytest.fixture(scope="module")
def graphs():
    rng = np.random.default_rng(0)
    return [random_graph(rng, i) for i in range(160)]


def target(graphs):  # a learnable label: share of weighted nodes
    return np.array([g.n_weighted / g.n_nodes for g in graphs]) * 50 + 40


def test_parameter_counts_match_the_reference():
    assert n_params(GNNRegressor()) == 18047
    assert n_params(KAdapter()) == 30049
    p = AIOPPredictor()
    p.net.adapters["a"] = KAdapter()
    # fine-tuning trains the base GNN layers and the adapter head
    trainable = n_params(p.net.base.backbone.layers) + n_params(p.net.adapters["a"].head)
    assert trainable == 12480 + 5281 == 17761


def test_node_embedding_is_32_wide_for_both_node_kinds(graphs):
    b = PackedGraphs(graphs[:3]).batch()
    h = NodeEmbedding()(b)
    assert h.shape == (b.ops.shape[0], 32)


def test_graphconv_equals_dense_reference():
    torch.manual_seed(0)
    layer = GraphConv(5, 4)
    h = torch.randn(6, 5)
    edges = torch.tensor([[0, 1], [0, 2], [1, 3], [2, 3], [3, 5], [4, 5], [0, 5]])
    a = torch.zeros(6, 6)
    a[edges[:, 1], edges[:, 0]] = 1
    sparse = torch.sparse_coo_tensor(torch.stack([edges[:, 1], edges[:, 0]]), torch.ones(len(edges)), (6, 6),
                                     check_invariants=False)
    dense = h @ layer.root.weight.T + (a @ h) @ layer.rel.weight.T + layer.rel.bias
    assert torch.allclose(layer(h, sparse.coalesce()), dense, atol=1e-6)


def test_batched_prediction_equals_one_graph_at_a_time(graphs):
    torch.manual_seed(1)
    net = GNNRegressor().eval()
    data = PackedGraphs(graphs[:7])
    with torch.no_grad():
        together = net(data.batch())
        alone = torch.cat([net(PackedGraphs([g]).batch()) for g in graphs[:7]])
    assert torch.allclose(together, alone, atol=1e-5)


def test_label_scaling_round_trip_and_known_value():
    y, f = np.array([0.9, 0.5, 0.7]), np.array([0.2, 1.5, 0.01])
    for mode in ("none", "stand", "stand_flops"):
        s = LabelScaler(mode).fit(y, f)
        assert np.allclose(s.inverse(s.transform(y, f), f), y, atol=1e-9)
    assert 0.9 / (np.log10(1.2) + 1) == pytest.approx(0.83397, abs=1e-5)
    s = LabelScaler("stand_flops").fit(np.array([0.9, 0.9]), np.array([0.2, 0.2]))
    assert s.mean == pytest.approx(0.83397, abs=1e-5)
    z = LabelScaler("stand").fit(y, f).transform(y, f)
    assert z.mean() == pytest.approx(0) and z.std() == pytest.approx(1)


def test_bad_scaling_mode_is_a_config_error():
    from nasframe.errors import ConfigError

    with pytest.raises(ConfigError):
        LabelScaler("minmax")


@pytest.mark.slow  # ~30 s on an idle machine
def test_pipeline_learns_freezes_and_round_trips(graphs, tmp_path):
    y = target(graphs)
    p = AIOPPredictor(epochs=25, adapter_epochs=10, finetune_epochs=3, lr=3e-3, batch_size=16, seed=3)
    p.pretrain(graphs[:120], y[:120])
    hist = p.log["pretrain"]["history"]
    assert hist[-1]["train_mse"] < hist[0]["train_mse"]
    from scipy.stats import spearmanr

    assert spearmanr(p.predict(graphs[120:]), y[120:])[0] > 0.5

    base = {k: v.clone() for k, v in p.net.base.state_dict().items()}
    p.add_adapter("task_a", graphs[:120], -y[:120] * 0.01)
    assert all(torch.equal(v, base[k]) for k, v in p.net.base.state_dict().items())  # backbone frozen

    p.calibrate(graphs[120:140], y[120:140])
    before = {k: v.clone() for k, v in p.net.state_dict().items()}
    p.finetune(graphs[120:140], y[120:140])
    after = p.net.state_dict()
    frozen = [k for k in after if k.startswith("base.backbone.embed") or
              (k.startswith("adapters.task_a.layers"))]
    trained = [k for k in after if k.startswith("base.backbone.layers") or k.startswith("adapters.task_a.head")]
    assert frozen and all(torch.equal(after[k], before[k]) for k in frozen)
    assert all(not torch.equal(after[k], before[k]) for k in trained)
    assert all(torch.equal(after[k], before[k]) for k in after if k.startswith("base.head"))

    pred = p.predict(graphs[140:])
    assert np.isfinite(pred).all()
    q = AIOPPredictor.load(p.save(tmp_path / "m.pt"))
    assert np.allclose(q.predict(graphs[140:]), pred)


def test_adaproxy_finetune_trains_only_the_output_scale(graphs):
    y = target(graphs)
    p = AIOPPredictor(epochs=2, adapter_epochs=2, finetune_epochs=2, seed=0)
    p.pretrain(graphs[:60], y[:60])
    p.add_adapter("a", graphs[:60], y[:60])
    before = {k: v.clone() for k, v in p.net.state_dict().items()}
    p.calibrate(graphs[60:80], y[60:80]).finetune(graphs[60:80], y[60:80], mode="adaproxy")
    after = p.net.state_dict()
    assert set(after) == set(before)
    changed = [k for k in after if not torch.equal(after[k], before[k])]
    assert changed == ["adapters.a.head.5.weight"]


def _calibrated(graphs, y):
    p = AIOPPredictor(epochs=3, adapter_epochs=3, finetune_epochs=12, lr=3e-3, seed=5)
    p.pretrain(graphs[:60], y[:60])
    p.add_adapter("a", graphs[:60], y[:60])
    return p.calibrate(graphs[60:80], y[60:80])


def test_cross_validated_finetuning_picks_the_best_length_and_then_trains_exactly_that(graphs):
    import copy

    from scipy.stats import spearmanr

    y = target(graphs)
    p = _calibrated(graphs, y)
    ref = copy.deepcopy(p)
    p.finetune(graphs[60:80], y[60:80], select_folds=4)
    cv = p.log["finetune_cv"]
    assert cv["folds"] == 4 and set(cv["srcc"]) == {0, 10, 12}  # checkpoints below the maximum, and the maximum
    best = max(cv["srcc"].values())
    assert cv["epochs"] == min(e for e, r in cv["srcc"].items() if r == best)  # ties go to the shorter
    assert p.log["finetune"]["epochs"] == cv["epochs"]
    # the final model is the plain fine-tune of the chosen length: CV only chooses, it leaves no trace
    if cv["epochs"]:
        ref.finetune(graphs[60:80], y[60:80], epochs=cv["epochs"])
    assert np.allclose(p.predict(graphs[80:]), ref.predict(graphs[80:]))
    # the pooled out-of-fold score at 0 epochs is the zero-shot model's own Spearman on the 20
    zero = _calibrated(graphs, y)
    assert cv["srcc"][0] == pytest.approx(spearmanr(zero.predict_scaled(graphs[60:80]), y[60:80])[0])


def test_cross_validation_choosing_zero_epochs_keeps_the_zero_shot_model(graphs, monkeypatch):
    y = target(graphs)
    p = _calibrated(graphs, y)
    before = {k: v.clone() for k, v in p.net.state_dict().items()}
    monkeypatch.setattr("nasframe.predictors.adapters.FINETUNE_CHECKPOINTS", (0,))
    monkeypatch.setattr(AIOPPredictor, "_finetune", lambda self, *a, **k: (_ for _ in ()).throw(AssertionError)
                        if not k.get("on_epoch") else None)  # folds may train; the final model must not
    # the folds record nothing past 0 epochs, so every longer length scores -1 and 0 wins
    p.finetune(graphs[60:80], y[60:80], select_folds=4)
    assert p.log["finetune_cv"]["epochs"] == 0 and p.log["finetune"]["epochs"] == 0
    assert all(torch.equal(v, before[k]) for k, v in p.net.state_dict().items())


def test_missing_model_file_is_a_clear_error(tmp_path):
    from nasframe.errors import DataNotFound

    with pytest.raises(DataNotFound, match="no AIO-P model"):
        AIOPPredictor.load(tmp_path / "nope.pt")


def test_evaluator_scores_nb201_archs_from_a_saved_model(graphs, tmp_path, monkeypatch):
    from nasframe.evaluators.aiop import AIOPEvaluator
    from nasframe.spaces.nb201 import NB201Space

    p = AIOPPredictor(epochs=1, seed=0)
    p.pretrain(graphs[:40], target(graphs[:40]))
    path = p.save(tmp_path / "aiop.pt")
    space = NB201Space()
    ev = AIOPEvaluator(space, model=str(path), dataset="cifar10")
    archs = [space[0], space[5]]
    out = ev.evaluate(archs)
    assert all(not e.failed and np.isfinite(e.values["aiop_pred"]) and e.cost > 0 for e in out)
    assert out[0].values != out[1].values
    assert ev.evaluate(archs[:1])[0].values == out[0].values  # cached graph, same score
    assert ev.describe()["model"] == str(path)


def test_evaluator_aiop_loads_a_multi_family_model_and_scores_any_buildable_space(graphs, tmp_path):
    """A size-input model pre-trained on several families, calibrated on DARTS graphs, scores DARTS
    archs through the CLI (evaluator=aiop) and TransNAS micro archs through the evaluator."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    from nasframe.evaluators.aiop import AIOPEvaluator
    from nasframe.graphs import build_graph
    from nasframe.spaces.darts import DartsSpace
    from nasframe.spaces.transnas import TransNASMicroSpace

    y = target(graphs[:60])
    p = AIOPPredictor(scaling="stand", epochs=2, seed=0, size_input=True)
    p.pretrain(graphs[:60], y, groups=["a"] * 30 + ["b"] * 30)
    darts = DartsSpace()
    calib = [darts.sample(np.random.default_rng(i)) for i in range(6)]
    p.calibrate([build_graph(darts, a, "cifar10") for a in calib], np.linspace(92, 94, 6))
    path = p.save(tmp_path / "multi.pt")

    micro = TransNASMicroSpace()
    ev = AIOPEvaluator(micro, model=str(path), dataset="class_object")
    out = ev.evaluate([micro[0], micro[100]])
    assert all(not e.failed and np.isfinite(e.values["aiop_pred"]) for e in out)
    assert ev.describe()["pretrained_on"] == ["a", "b"] and ev.describe()["size_input"]

    repo = Path(__file__).resolve().parents[2]
    env = {**os.environ, "NASFRAME_CACHE": str(tmp_path / "cache"),
           "PYTHONPATH": os.pathsep.join([str(repo), os.environ.get("PYTHONPATH", "")])}
    r = subprocess.run([sys.executable, "-m", "nasframe", "space=darts", "strategy=random", "evaluator=aiop",
                        f"evaluator.model={path}", "budget.queries=3", "progress=false", "plot=false",
                        f"hydra.run.dir={tmp_path / 'run'}"], cwd=repo, env=env, capture_output=True, text=True,
                       timeout=600, check=False)
    assert r.returncode == 0, r.stderr[-2000:]
    rows = [json.loads(x) for x in (tmp_path / "run" / "history.jsonl").read_text().splitlines() if x.strip()]
    values = [x["values"]["aiop_pred"] for x in rows if "values" in x]
    assert len(values) == 3 and all(np.isfinite(values)) and len(set(values)) == 3
    assert 85 < np.mean(values) < 100  # in the calibrated task's units (accuracy %)


def test_standardised_output_centres_the_calibration_set_and_keeps_the_ranking(graphs):
    """Issue 23 (micro): the zero-shot output sat several units off the target's standardised labels,
    so fine-tuning with MSE spent its first epochs moving the whole network to remove the offset."""
    y = target(graphs)
    plain = _calibrated(graphs, y)
    shifted = _calibrated(graphs, y)
    with torch.no_grad():  # a zero-shot output far off the calibration labels, as on micro
        shifted.net.adapters["a"].head[-1].bias.add_(4.0)
    std = copy.deepcopy(shifted).calibrate(graphs[60:80], y[60:80], standardise_output=True)
    on_calib = std.predict_scaled(graphs[60:80])
    assert on_calib.mean() == pytest.approx(0.0, abs=1e-5) and on_calib.std() == pytest.approx(1.0, abs=1e-5)
    # a positive affine map of the zero-shot output: the same ranking on every other graph
    a, b = plain.predict_scaled(graphs[80:]), std.predict_scaled(graphs[80:])
    assert np.corrcoef(a, b)[0, 1] == pytest.approx(1.0, abs=1e-6)
    z = std.target_scaler.transform(y[60:80], PackedGraphs(graphs[60:80]).gflops)
    assert np.mean((on_calib - z) ** 2) < np.mean((shifted.predict_scaled(graphs[60:80]) - z) ** 2) - 10


def test_centred_selection_ignores_offsets_between_fold_models(graphs, monkeypatch):
    """Fold models that differ from the zero-shot model only by a constant each: the pooled SRCC
    mixes those constants into the ranking and drops; the centred score removes them exactly."""
    y = target(graphs)
    p = _calibrated(graphs, y)

    def offset_only(self, graphs, y, epochs, mode, lam, on_epoch=None, l2sp=0.0):
        shift = 3.0 * (float(np.sum(y)) % 1.7)  # differs between the folds' training sets
        for e in range(1, epochs + 1):
            with torch.no_grad():
                self.net.adapters["a"].head[-1].bias.add_(shift / epochs)
            if on_epoch is not None:
                on_epoch(e)

    monkeypatch.setattr(AIOPPredictor, "_finetune", offset_only)
    p.finetune(graphs[60:80], y[60:80], select_folds=4, select="centred")
    cv = p.log["finetune_cv"]
    assert all(v == pytest.approx(cv["srcc_centred"][0], abs=1e-9) for v in cv["srcc_centred"].values())
    assert cv["srcc"][12] < cv["srcc"][0] - 0.05  # the pooled score is fooled by the offsets
    assert cv["srcc_centred"][0] == pytest.approx(cv["srcc"][0])  # at 0 epochs the fold models are one model
    assert cv["epochs"] == 0 and p.log["finetune"]["epochs"] == 0  # ties go to the shorter: keep zero-shot
    assert cv["why"]["centred"].startswith("flat folds")


def test_l2sp_keeps_fine_tuned_weights_near_the_pretrained_ones(graphs):
    y = target(graphs)
    start = _calibrated(graphs, y)
    w0 = torch.cat([q.detach().flatten() for q in start.net.base.backbone.layers.parameters()])

    def moved(l2sp):
        p = copy.deepcopy(start).finetune(graphs[60:80], y[60:80], epochs=4, l2sp=l2sp)
        w = torch.cat([q.detach().flatten() for q in p.net.base.backbone.layers.parameters()])
        return float(torch.linalg.norm(w - w0))

    free, held = moved(0.0), moved(10.0)
    assert 0 < held < 0.5 * free
    from nasframe.errors import ConfigError

    with pytest.raises(ConfigError, match="l2sp"):
        copy.deepcopy(start).finetune(graphs[60:80], y[60:80], epochs=1, l2sp=-1.0)
    with pytest.raises(ConfigError, match="l2sp"):
        copy.deepcopy(start).finetune(graphs[60:80], y[60:80], epochs=1, mode="adaproxy", l2sp=0.1)
    with pytest.raises(ConfigError, match="centred"):
        copy.deepcopy(start).finetune(graphs[60:80], y[60:80], epochs=1, select="pooled")
