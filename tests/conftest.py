"""A small generated dataset shared by the tests (generated once per test session)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from hybridlib.data.generate import GeneratorConfig, generate_dataset

SMALL_CONFIG = GeneratorConfig(lsp=12, lspet=14, mosh=120, mosh_frames_per_file=50, seed=7)


@pytest.fixture(scope="session")
def small_config() -> GeneratorConfig:
    return SMALL_CONFIG


@pytest.fixture(scope="session")
def generated_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_dataset(tmp_path_factory.mktemp("generated"), SMALL_CONFIG, workers=1, progress=False)


@pytest.fixture(autouse=True)
def _seeded_global_random_state() -> None:
    """Every test starts from the same global torch and numpy random state, so a test that
    draws without its own generator sees the same numbers whichever tests ran before it."""
    torch.manual_seed(0)
    np.random.seed(0)
