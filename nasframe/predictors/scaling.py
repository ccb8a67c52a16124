"""Label scaling for cross-task transfer (AIO-P Eqs. 4 and 5).

``stand`` standardises the labels (Eq. 4); ``stand_flops`` first divides them
by ``log10(F + 1) + 1`` with F the network's GFLOPs (Eq. 5), then
standardises. ``none`` leaves them as they are. ``inverse`` maps predictions
back to task units. The statistics come from whatever set ``fit`` sees: the
pre-training split, a knowledge task's training split, or the 20 target
architectures of a transfer.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from nasframe.errors import ConfigError

MODES = ("none", "stand", "stand_flops")
log = logging.getLogger(__name__)


def flops_factor(gflops) -> np.ndarray:
    """Eq. 5's divisor ``log10(F + 1) + 1`` (F in GFLOPs)."""
    return np.log10(np.asarray(gflops, dtype=np.float64) + 1.0) + 1.0


@dataclass
class LabelScaler:
    mode: str = "stand_flops"
    mean: float = 0.0
    std: float = 1.0

    def __post_init__(self):
        if self.mode not in MODES:
            raise ConfigError(f"unknown label scaling '{self.mode}'; choose one of {', '.join(MODES)}")

    def _divided(self, y, gflops) -> np.ndarray:
        y = np.asarray(y, dtype=np.float64)
        return y / flops_factor(gflops) if self.mode == "stand_flops" else y

    def fit(self, y, gflops) -> "LabelScaler":
        if self.mode == "none":
            self.mean, self.std = 0.0, 1.0
            return self
        z = self._divided(y, gflops)
        if self.mode == "stand_flops" and np.any(np.asarray(y) < 0):
            # Eq. 5 was made for positive metrics (accuracy, AP, mIoU): dividing a negative
            # label by the FLOPs factor raises it for bigger networks, the opposite direction.
            log.warning("stand_flops (Eq. 5) fitted on negative labels: the FLOPs factor favours bigger networks "
                        "here, unlike on positive metrics; scaling='stand' avoids the sign flip")
        if len(z) == 0:
            raise ValueError("label scaling needs at least one labelled architecture")
        self.mean = float(z.mean())
        std = float(z.std())  # population std (ddof 0), as the reference
        self.std = std if std > 1e-12 else 1.0
        return self

    def transform(self, y, gflops) -> np.ndarray:
        return (self._divided(y, gflops) - self.mean) / self.std

    def inverse(self, p, gflops) -> np.ndarray:
        z = np.asarray(p, dtype=np.float64) * self.std + self.mean
        return z * flops_factor(gflops) if self.mode == "stand_flops" else z

    def state_dict(self) -> dict:
        return {"mode": self.mode, "mean": self.mean, "std": self.std}
