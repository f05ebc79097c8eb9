"The paper/ notebooks: figures.ipynb executes with papermill and keeps its parameters cell."
import json
import nbformat
import papermill as pm
from negneglect.core import repo_root

def test_parameters_cells_tagged():
    for name in ('experiment', 'figures', 'colab'):
        nb = nbformat.read(repo_root()/'paper'/f'{name}.ipynb', as_version=4)
        assert any('parameters' in c.metadata.get('tags', []) for c in nb.cells), name

def test_figures_notebook_runs(tmp_path):
    out = tmp_path/'figures.ipynb'
    pm.execute_notebook(str(repo_root()/'paper'/'figures.ipynb'), str(out), parameters={'out_dir': str(tmp_path/'figs')},
                        cwd=str(repo_root()), progress_bar=False)
    text = out.read_text()
    assert 'main_result' in text and 'Error' not in json.dumps([c.get('outputs') for c in nbformat.read(out, 4).cells if c.cell_type == 'code'])
