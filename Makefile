# negneglect: `make demo` runs the pipeline end to end on CPU, `make test` checks everything.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
# one stamp per part of the environment, so that nothing is rebuilt needlessly (see scripts/setup.sh)
BASE := $(VENV)/.setup-base
DEV := $(VENV)/.setup-dev
SERVER := $(VENV)/.setup-server
export NEGNEGLECT_PROGRESS ?= 1

.PHONY: FORCE setup setup-demo demo test lint sync-check nbtest procnbs notebooks pytest test-slurm lock readme clean-runs

setup: $(BASE) $(DEV) $(SERVER)  ## the whole environment (idempotent)

setup-demo: $(BASE)  ## only what `make demo` needs: no test tools, no llama.cpp build

# Each part's inputs are tracked by content, not mtime (nbdev-export rewrites pyproject.toml unchanged): the
# .inputs-* file is rewritten only when the hashes of the files a part depends on change.
$(VENV)/.inputs-%: FORCE
	@mkdir -p $(VENV)
	@sha256sum $(INPUTS_$*) > $@.new; if cmp -s $@.new $@; then rm $@.new; else mv $@.new $@; fi
INPUTS_base := pyproject.toml constraints/cpu.txt locks/cuda-py311.txt scripts/setup.sh
INPUTS_dev := pyproject.toml scripts/setup.sh
INPUTS_server := pyproject.toml
FORCE:

$(BASE): $(VENV)/.inputs-base
	bash scripts/setup.sh base $(VENV)
	touch $@

# order-only on the base part: a rebuilt base does not reinstall these (pip keeps what already satisfies them)
$(DEV): $(VENV)/.inputs-dev | $(BASE)
	bash scripts/setup.sh dev $(VENV)
	touch $@

$(SERVER): $(VENV)/.inputs-server | $(BASE)
	bash scripts/setup.sh server $(VENV)
	touch $@

demo: $(BASE)  ## the main job: the most complete end-to-end path on CPU
	$(BIN)/negneglect demo

test: setup lint sync-check nbtest procnbs pytest  ## lint, export/clean sync, notebook tests, the docs processing, pytest

# ruff's configuration (pyproject.toml) covers negneglect/, tests/, scripts/ and bench/ (findings in negneglect/ are
# fixed in the notebooks that export it)
LINT_PATHS ?=
lint: $(DEV)  ## ruff: pyflakes rules (unused imports, undefined names) and syntax errors
	$(BIN)/ruff check $(LINT_PATHS)

sync-check: $(DEV)  ## nbdev-export and nbdev-clean must leave the tree unchanged; README must match index.ipynb
	PATH=$(BIN):$$PATH bash scripts/check_sync.sh

nbtest: setup
	$(BIN)/nbdev-test --n-workers 1

procnbs: $(DEV)  ## nbdev's docs processing must go through every notebook (no cell mixes imports with other code)
	PATH=$(abspath $(BIN)):$$PATH nbdev-proc-nbs > /dev/null

notebooks: setup  ## execute every chapter notebook in place, keeping the example outputs
	$(PY) scripts/run_notebooks.py nbs/[0-9]*.ipynb

pytest: setup
	$(BIN)/pytest -q -m 'not slurm' tests

test-slurm: $(BASE) $(DEV)  ## a real single-node Slurm on loopback (root, Debian): a 3-run sweep as one job array
	PATH=$(abspath $(BIN)):$$PATH bash scripts/slurm/test_slurm.sh

lock: $(DEV)  ## regenerate the CUDA lock file (Linux x86_64, Python 3.11) from pyproject.toml's core + train
	$(BIN)/uv pip compile pyproject.toml --extra train --python-version 3.11 --python-platform x86_64-manylinux_2_28 \
	  --no-header --annotation-style line -o locks/cuda-py311.txt

readme: $(DEV)  ## regenerate README.md from nbs/index.ipynb
	$(PY) scripts/make_readme.py

clean-runs:
	rm -rf runs
