#!/usr/bin/env bash
# The GPU check of issue 13, one short run (under 8 minutes on one H200): ours (Unsloth + TRL, negneglect.train) vs
# plain transformers.Trainer + PEFT (and the bare loop) on a random-weight Qwen3-0.6B (bench/configs/qwen3-0.6b.json):
# tok/s, peak CUDA memory and MFU against a bf16 matmul, then one sampling throughput.
#   here first:  bash bench/gpu_prepare.sh        # fills bench/gpu_carry/ (wheels + tokenizer; git-ignored)
#   there:       bash bench/gpu_check.sh          # device run with carry ["bench/gpu_carry"]; results in $OUT
#   here, CPU:   bash bench/gpu_check.sh --cpu-dry-run   # the same steps on a tiny Qwen3, on CPU, to test the script
# Exits 2 with the reason when something it needs is missing (no GPU, a package, the tokenizer); never skips silently.
set -euo pipefail
cd "$(dirname "$0")/.."
die() { echo "gpu_check: FAILED: $*" >&2; exit 2; }
PY=${PYTHON:-python3}
CARRY=bench/gpu_carry
RES=${OUT:-/tmp/gpu-check}; mkdir -p "$RES"
DRY=0; [ "${1:-}" = --cpu-dry-run ] && DRY=1
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1 UNSLOTH_DISABLE_STATISTICS=1 NEGNEGLECT_PROGRESS=0 PYTHONUNBUFFERED=1
t0=$(date +%s)

echo "== machine"
nvidia-smi -L 2>/dev/null || echo "(no nvidia-smi)"
"$PY" -c "import sys, torch; print('python', sys.version.split()[0], '| torch', torch.__version__, '| cuda', torch.cuda.is_available())"
if [ $DRY = 0 ]; then
  "$PY" -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)" || die "torch sees no CUDA GPU (on a CPU machine use --cpu-dry-run)"
fi

echo "== packages"
# install the carried wheel of every distribution python lacks; never replace one the image has
need=$("$PY" - "$CARRY/wheels" <<'PYEOF'
import sys, pathlib
from importlib.metadata import distribution, PackageNotFoundError
for w in sorted(pathlib.Path(sys.argv[1]).glob('*.whl')):
    try: distribution(w.name.split('-')[0])
    except PackageNotFoundError: print(w)
PYEOF
)
SITE=/tmp/gpu-check-site
if [ -n "$need" ]; then
  echo "installing $(echo "$need" | wc -l) carried wheels into $SITE"
  # shellcheck disable=SC2086
  "$PY" -m pip install -q --disable-pip-version-check --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SITE" $need \
    || die "pip could not install the carried wheels"
fi
export PYTHONPATH="$SITE:$PWD${PYTHONPATH:+:$PYTHONPATH}"
"$PY" - <<'PYEOF' || die "a package is missing or broken (above); add its wheel to bench/gpu_prepare.sh and carry bench/gpu_carry"
import importlib
import unsloth  # first, as in every training process
for m in ('trl', 'datasets', 'peft', 'accelerate', 'transformers', 'pydantic', 'yaml', 'negneglect.train'):
    importlib.import_module(m)
from importlib.metadata import version
print(' '.join(f'{p} {version(p)}' for p in ('unsloth', 'unsloth_zoo', 'trl', 'transformers', 'peft', 'accelerate', 'datasets', 'torch')))
PYEOF

TOK=()
if [ -f "$CARRY/tokenizer/tokenizer.json" ]; then TOK=(--tokenizer "$CARRY/tokenizer")
elif [ $DRY = 0 ]; then die "no tokenizer at $CARRY/tokenizer (run bench/gpu_prepare.sh here and carry bench/gpu_carry)"
fi

if [ $DRY = 1 ]; then CFG=bench/configs/tiny-qwen3.json; DOCS=12; BATCH=4; MM=1; NEW=8; T_TRAIN=1800
else CFG=bench/configs/qwen3-0.6b.json; DOCS=168; BATCH=8; MM=5; NEW=128; T_TRAIN=330; fi

echo "== training: $CFG, $DOCS rows, batch $BATCH (ours, plain Trainer + PEFT, bare loop, bf16/fp32 matmul roof)"
timeout "$T_TRAIN" "$PY" bench/train_throughput.py --random-config "$CFG" "${TOK[@]}" --docs "$DOCS" --batch "$BATCH" \
  --matmul-s "$MM" --json "$RES/train.json" 2>&1 | tee "$RES/train.log" | grep -v -i -E 'warn|^\s*$' \
  || die "the training benchmark failed or ran past ${T_TRAIN}s (log: $RES/train.log and the bench-train-* folder it names)"
grep -q '^ratio_hf=' "$RES/train.log" || die "the training benchmark printed no ratio_hf (log: $RES/train.log)"

echo "== sampling"
MODEL=$("$PY" -c "import json, sys; print(json.load(open(sys.argv[1]))['model'])" "$RES/train.json")
timeout 150 "$PY" bench/sample_throughput.py "$MODEL" --new "$NEW" 2>&1 | tee "$RES/sample.log" | grep -E '^(sampling|sample_tok_s)' \
  || die "sampling failed or ran past 150s (log: $RES/sample.log)"
echo "gpu_check: done in $(( $(date +%s) - t0 ))s; logs in $RES"
