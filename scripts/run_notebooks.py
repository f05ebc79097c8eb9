"""Execute notebooks in place so that their example cells keep their outputs (as fastcore's notebooks do).

    python scripts/run_notebooks.py nbs/04_conditions.ipynb [more notebooks ...]      (make notebooks: all of nbs/)

Runs each notebook top to bottom in the `negneglect` kernel with progress bars off, keeps what the cells print and
return, drops what only clutters a chapter (warnings on stderr, progress widgets), then cleans it with nbdev-clean.
A notebook that fails is left unchanged and the script exits non-zero.
"""
import os, subprocess, sys, time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOISE = ('application/vnd.jupyter.widget-view+json',)

def keep(output) -> bool:
    "Is this output part of the chapter (not a warning or a progress widget)?"
    if output.get('output_type') == 'stream' and output.get('name') == 'stderr': return False
    return not any(k in output.get('data', {}) for k in NOISE)

def run(path:Path, timeout:int=900) -> float:
    nb = nbformat.read(path, as_version=4)
    t0 = time.time()
    NotebookClient(nb, timeout=timeout, kernel_name='negneglect', resources={'metadata': {'path': str(path.parent)}}).execute()
    for cell in nb.cells:
        if cell.cell_type == 'code': cell.outputs = [o for o in cell.outputs if keep(o)]
    nbformat.write(nb, path)
    subprocess.run([str(Path(sys.executable).parent/'nbdev-clean'), '--fname', str(path)], check=True)
    return time.time() - t0

if __name__ == '__main__':
    os.environ.update(NEGNEGLECT_PROGRESS='0', HF_HUB_OFFLINE='1', TRANSFORMERS_OFFLINE='1')
    failed = []
    for p in map(Path, sys.argv[1:]):
        try: print(f'{p}: {run(p):.0f}s', flush=True)
        except Exception as e: failed.append(p); print(f'{p}: FAILED {type(e).__name__}: {str(e)[-2000:]}', flush=True)
    sys.exit(1 if failed else 0)
