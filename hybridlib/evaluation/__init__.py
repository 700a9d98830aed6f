"""Evaluation: the paper's validation losses, PCK, silhouette IoU, plausibility and 3D errors."""

from hybridlib.evaluation.evaluate import (
    EvaluationConfig,
    evaluate,
    evaluate_checkpoint,
    evaluate_spin_checkpoint,
    evaluate_trivial,
    load_trained,
)

__all__ = [
    "EvaluationConfig",
    "evaluate",
    "evaluate_checkpoint",
    "evaluate_spin_checkpoint",
    "evaluate_trivial",
    "load_trained",
]
