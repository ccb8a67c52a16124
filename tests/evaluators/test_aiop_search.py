"""evaluator=aiop end to end: an REA search on a TransNAS micro task scored by a saved AIO-P model."""
import math

import numpy as np
import pytest

from nasframe.graphs import GraphCache, build_graph
from nasframe.predictors.adapters import AIOPPredictor
from nasframe.spaces.transnas import TransNASMicroSpace

TASK = "room_layout"  # a pooled head: cheap graphs


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    """A small model on real TNB micro graphs: pre-trained, one K-adapter, calibrated to the target."""
    space = TransNASMicroSpace()
    root = tmp_path_factory.mktemp("graphs")
    archs = [space[i * 211] for i in range(16)]
    g = GraphCache(space, TASK, root=root).many(archs, progress=False)
    y = np.array([-1.0 + 0.1 * np.log10(x.flops) for x in g])  # a label that depends on the network
    p = AIOPPredictor(epochs=3, adapter_epochs=2, seed=0)
    p.pretrain(g[:12], y[:12])
    p.add_adapter("class_object", g[:12], 40 + 10 * y[:12])
    p.calibrate(g[12:], y[12:])
    return p.save(tmp_path_factory.mktemp("model") / "aiop_tnb.pt")


def test_rea_search_on_a_transnas_micro_task_from_a_saved_model(model_file, tmp_path):
    from nasframe.api import search

    budget = 12
    result = search(["space=transnas_micro", "strategy=rea", "evaluator=aiop", f"evaluator.model={model_file}",
                     f"benchmark.task={TASK}", f"budget.queries={budget}", "strategy.population_size=5",
                     "strategy.sample_size=3", "seed=3"], out_dir=tmp_path / "run", progress=False, plot=False)
    s, hist = result.summary, result.history
    assert s["status"] == "complete" and s["queries"] == budget and len(hist) == budget
    assert s["evaluator"]["evaluator"] == "aiop" and s["evaluator"]["model"] == str(model_file)
    assert s["evaluator"]["task"] == TASK and s["evaluator"]["adapters"] == ["class_object"]
    assert s["evaluator"]["calibrated"] is True
    values = [h["values"]["aiop_pred"] for h in hist]
    assert all(math.isfinite(v) for v in values)
    assert all(h["cost"] > 0 for h in hist)  # the real wall time of building + scoring each graph
    assert s["sim_seconds"] == pytest.approx(sum(h["cost"] for h in hist))
    assert s["values"]["aiop_pred"] == max(values)  # REA recommends the best it saw
    # the recorded values are the saved model's predictions on each network's graph
    space, p = TransNASMicroSpace(), AIOPPredictor.load(model_file)
    for h in hist[:3]:
        pred = p.predict([build_graph(space, space.parse(h["arch"]), TASK)])[0]
        assert h["values"]["aiop_pred"] == pytest.approx(pred, rel=1e-6)
    assert len({h["arch"] for h in hist}) > 5  # a search, not one network scored twelve times
