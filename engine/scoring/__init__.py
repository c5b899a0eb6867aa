"""Headline scoring: compile the data, run the kernels, explain the result."""

from engine.scoring.scorer import Scorer, ShockBatch
from engine.scoring.shock import EventHit, Shock, ShockLeg

__all__ = ["EventHit", "Scorer", "Shock", "ShockBatch", "ShockLeg"]
