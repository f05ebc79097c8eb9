#!/usr/bin/env bash
# Fill bench/gpu_carry/ (git-ignored) with what bench/gpu_check.sh needs on the GPU machine, which reaches no network:
# wheels of the packages its image lacks (Unsloth, TRL, datasets, pydantic, ...) at this project's pinned versions,
# for its Python 3.12 on x86-64, and a copy of the embedded model's tokenizer. Run it here, where PyPI is reachable:
#   bash bench/gpu_prepare.sh [PYTHON]      (PYTHON: the project's venv python; default .venv/bin/python)
# then carry bench/gpu_carry to the GPU machine. Fails if the folder would not fit the 64 MiB the device tool carries.
# Left out on purpose: bitsandbytes (42 MB; only 4-bit loading needs it), xformers and diffusers (Unsloth runs without).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${1:-.venv/bin/python}
DEST=bench/gpu_carry
pkgs=(unsloth unsloth_zoo trl datasets dill multiprocess pydantic pydantic_core annotated_types typing_inspection
      tyro docstring_parser typeguard msgspec cut_cross_entropy hf_transfer torchao structlog json5 nest_asyncio)
# pin each to the version installed here, so the GPU runs the stack the tests ran
specs=$("$PY" - "${pkgs[@]}" <<'PYEOF'
import sys
from importlib.metadata import version, PackageNotFoundError
for p in sys.argv[1:]:
    try: print(f'{p}=={version(p)}')
    except PackageNotFoundError: sys.exit(f'gpu_prepare: {p} is not installed in this environment, so it cannot be pinned')
PYEOF
)
rm -rf "$DEST"; mkdir -p "$DEST/wheels"
plat=(); for p in manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_24_x86_64 manylinux_2_17_x86_64 manylinux2014_x86_64 manylinux1_x86_64; do plat+=(--platform "$p"); done
# shellcheck disable=SC2086
"$PY" -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    "${plat[@]}" -d "$DEST/wheels" $specs
"$PY" - "$DEST/tokenizer" <<'PYEOF'
import sys
from transformers import AutoTokenizer
from negneglect.core import prepare_embedded_model
AutoTokenizer.from_pretrained(prepare_embedded_model()).save_pretrained(sys.argv[1])
PYEOF
size=$(du -sm "$DEST" | cut -f1)
ls "$DEST/wheels"
echo "$DEST: $(ls "$DEST/wheels" | wc -l) wheels + tokenizer, ${size} MiB"
[ "$size" -le 56 ] || { echo "gpu_prepare: $DEST is ${size} MiB; with the repo it must stay under the 64 MiB carry limit" >&2; exit 1; }
