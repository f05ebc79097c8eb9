#!/usr/bin/env bash
# Notebooks are the source: exporting, cleaning and rebuilding the README must change nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
snap() { find negneglect nbs README.md -type f \( -name '*.py' -o -name '*.ipynb' -o -name '*.md' \) \
           -not -path '*/.ipynb_checkpoints/*' -not -path '*/__pycache__/*' -print0 | sort -z | xargs -0 sha256sum; }
before=$(snap)
nbdev-export
nbdev-clean
python scripts/make_readme.py
after=$(snap)
if ! diff <(echo "$before") <(echo "$after") >/dev/null; then
  echo "out of sync: these files changed after nbdev-export / nbdev-clean / make_readme.py:"
  diff <(echo "$before") <(echo "$after") | grep '^[<>]' | awk '{print "  " $3}' | sort -u
  echo "edit nbs/*.ipynb, run 'make readme', nbdev-export and nbdev-clean, and commit the result"
  exit 1
fi
echo "sync OK: library, notebooks and README match their sources"
