"""AIO-P as an evaluator: a trained predictor file scores any ``Buildable`` space and task.

Each architecture is built (on the meta device), turned into a computational
graph (cached per (space, task) under ``$NASFRAME_CACHE/graphs``) and scored
by the saved model. The prediction is in the units of the task the model was
calibrated on (``AIOPPredictor.calibrate``), else of its pre-training task;
either way higher is better. The cost of a query is its real wall time. A model pre-trained on
several families (``experiments/aiop_families.py --save-model``) scores any space the same way;
its size input is standardised with the calibration archs' FLOPs, so calibrate it on the space
it will score.
"""
from __future__ import annotations

import time
from typing import Sequence

from nasframe.core.evaluator import Evaluation, Evaluator, Objective, checked
from nasframe.core.space import Buildable
from nasframe.errors import ConfigError
from nasframe.graphs.cache import GraphCache


class AIOPEvaluator(Evaluator):
    requires = (Buildable,)

    def __init__(self, space, model: str | None = None, dataset: str | None = None, root=None, path=None,
                 predictor=None, **_):
        from nasframe.predictors.adapters import AIOPPredictor

        if predictor is None and not model:
            raise ConfigError("evaluator=aiop needs a trained model file: set evaluator.model=PATH "
                              "(experiments/aiop_transfer.py --save-model PATH writes one)")
        self.space = space
        self.task = dataset
        self.model_path = model
        self.predictor = predictor or AIOPPredictor.load(model)
        self.cache = GraphCache(space, dataset)
        calibrated = self.predictor.target_scaler is not None
        self.objectives = (Objective("aiop_pred", "max", "task units" if calibrated else "source units",
                                     f"AIO-P predicted performance on {space.name}/{dataset}"),)

    def evaluate(self, archs: Sequence) -> list[Evaluation]:
        out = []
        for arch in archs:
            start = time.perf_counter()
            try:
                graph = self.cache.get(arch)
                value = float(self.predictor.predict([graph])[0])
                failure = None
            except Exception as e:  # a network the graph builder cannot handle is a recorded failure
                value, failure = float("nan"), f"AIO-P could not score {arch}: {e}"
            out.append(checked({"aiop_pred": value}, self.objectives, cost=time.perf_counter() - start,
                               failure=failure))
        self.cache.flush()
        return out

    def describe(self) -> dict:
        p = self.predictor
        return {"evaluator": "aiop", "model": str(self.model_path), "task": self.task,
                "adapters": list(p.net.adapters), "scaling": p.scaling,
                "pretrained_on": sorted(p.family_scalers), "size_input": p.size_input,
                "calibrated": p.target_scaler is not None}
