"""The paper's studies as functions for the notebooks, their presets and provenance."""

from hybridlib.studies.presets import PRESETS, ParameterError, Preset, StudySettings, resolve_settings
from hybridlib.studies.runner import check_study_data
from hybridlib.studies.studies import StudyResult, run_lsp_ablation, run_lspet_vs_hmr, run_overfit_study

__all__ = [
    "PRESETS",
    "ParameterError",
    "Preset",
    "StudyResult",
    "StudySettings",
    "check_study_data",
    "resolve_settings",
    "run_lsp_ablation",
    "run_lspet_vs_hmr",
    "run_overfit_study",
]
