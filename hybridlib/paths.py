"""Where hybridlib writes what it generates, and where its checkout is.

The studies write three folders under one *workspace* folder:

- ``data/``: the generated stand-in datasets (one folder per preset size, reused);
- ``runs/``: the training runs' checkpoints and loss logs, ``runs/<study>/<preset>/<configuration>/``;
- ``results/``: the small outputs (tables, figures, provenance, executed notebooks),
  ``results/<study>/<preset>/`` unless a study's OUT_DIR says otherwise, and the benchmarks'
  tables, ``results/benchmarks/``.

The workspace is, checked at each call (so a test or a notebook can change it):

1. the environment variable ``HYBRIDLIB_HOME`` when it is set and not empty (``~`` expanded,
   made absolute against the current folder);
2. else the checkout, when hybridlib runs from one (the folder above ``hybridlib/`` holds
   ``pyproject.toml`` and ``hybridlib/``: a clone, or ``pip install -e .``);
3. else the current working folder (``pip install .``: nothing is written beside
   site-packages).

:data:`REPOSITORY_ROOT` is the folder above the package: the checkout's ``notebooks/``,
``docs/``, ``README.md`` and git history when :func:`in_checkout` is true.
"""

from __future__ import annotations

import os
from pathlib import Path

HOME_VARIABLE = "HYBRIDLIB_HOME"

REPOSITORY_ROOT = Path(__file__).resolve().parents[1]


def in_checkout() -> bool:
    """True when the package sits in a checkout (``REPOSITORY_ROOT`` holds ``pyproject.toml`` and ``hybridlib/``)."""
    return (REPOSITORY_ROOT / "pyproject.toml").is_file() and (REPOSITORY_ROOT / "hybridlib").is_dir()


def workspace_root() -> Path:
    """The folder that ``data/``, ``runs/`` and ``results/`` hang off (see the module docstring)."""
    home = os.environ.get(HOME_VARIABLE, "")
    if home:
        return Path(home).expanduser().resolve()
    if in_checkout():
        return REPOSITORY_ROOT
    return Path.cwd()


def data_root() -> Path:
    """``<workspace>/data``: the generated stand-in datasets."""
    return workspace_root() / "data"


def runs_root() -> Path:
    """``<workspace>/runs``: training runs (checkpoints, loss logs)."""
    return workspace_root() / "runs"


def results_root() -> Path:
    """``<workspace>/results``: tables, figures, provenance, benchmark tables."""
    return workspace_root() / "results"


def shown(path: str | Path) -> str:
    """A path as files and messages that get committed show it: relative to the checkout where
    it lies inside it, else absolute."""
    path = Path(path).absolute()
    return str(path.relative_to(REPOSITORY_ROOT)) if path.is_relative_to(REPOSITORY_ROOT) else str(path)
