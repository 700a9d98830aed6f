"""SMPL-layout body models: the embedded open model and licensed SMPL files."""

from hybridlib.body_model.body_model import (
    OPEN_BODY_MODEL,
    OPEN_BODY_MODEL_LITE,
    BodyModel,
    BodyModelError,
    BodyModelOutput,
    load_body_model_arrays,
)

__all__ = [
    "BodyModel",
    "BodyModelError",
    "BodyModelOutput",
    "OPEN_BODY_MODEL",
    "OPEN_BODY_MODEL_LITE",
    "load_body_model_arrays",
]
