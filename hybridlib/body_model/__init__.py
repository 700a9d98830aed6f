"""SMPL-layout body models: the embedded open model and licensed SMPL files."""

from hybridlib.body_model.body_model import (
    LSP_JOINT_NAMES,
    OPEN_BODY_MODEL,
    OPEN_BODY_MODEL_LITE,
    SMPL_JOINT_NAMES,
    BodyModel,
    BodyModelError,
    BodyModelOutput,
    load_body_model_arrays,
)

__all__ = [
    "BodyModel",
    "BodyModelError",
    "BodyModelOutput",
    "LSP_JOINT_NAMES",
    "OPEN_BODY_MODEL",
    "OPEN_BODY_MODEL_LITE",
    "SMPL_JOINT_NAMES",
    "load_body_model_arrays",
]
