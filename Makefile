# negneglect: `make demo` runs the pipeline end to end on CPU, `make test` checks everything.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
STAMP := $(VENV)/.setup-done
export NEGNEGLECT_PROGRESS ?= 1

.PHONY: setup demo test sync-check nbtest pytest readme clean-runs

setup: $(STAMP)  ## build .venv from nothing (idempotent)

$(STAMP): pyproject.toml constraints/cpu.txt scripts/setup.sh
	bash scripts/setup.sh $(VENV)
	touch $(STAMP)

demo: setup  ## the main job: the most complete end-to-end path on CPU
	$(BIN)/negneglect demo

test: setup sync-check nbtest pytest  ## export/clean sync, notebook tests, pytest

sync-check: setup  ## nbdev-export and nbdev-clean must leave the tree unchanged; README must match index.ipynb
	PATH=$(BIN):$$PATH bash scripts/check_sync.sh

nbtest: setup
	$(BIN)/nbdev-test --n-workers 1

pytest: setup
	$(BIN)/pytest -q tests

readme: setup  ## regenerate README.md from nbs/index.ipynb
	$(PY) scripts/make_readme.py

clean-runs:
	rm -rf runs
