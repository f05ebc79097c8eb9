"The environment description and the install path."
import re, subprocess, sys, tomllib
from pathlib import Path
import yaml

ROOT = Path(__file__).resolve().parent.parent

def _names(reqs):
    return {re.split(r'[<>=!~\[ ;]', r, 1)[0].strip().lower().replace('_', '-') for r in reqs}

def test_environment_yml_lists_pyproject_packages():
    deps = tomllib.loads((ROOT/'pyproject.toml').read_text())['project']['dependencies']
    env = yaml.safe_load((ROOT/'environment.yml').read_text())
    pip = next(d['pip'] for d in env['dependencies'] if isinstance(d, dict) and 'pip' in d)
    assert _names(pip) == _names(deps)
    assert sorted(pip) == sorted(deps), 'versions differ between environment.yml and pyproject.toml'

def test_nbdev_keeps_parameters_tag():
    cfg = tomllib.loads((ROOT/'pyproject.toml').read_text())['tool']['nbdev']
    assert 'tags' in cfg['allowed_cell_metadata_keys']
    from nbdev.clean import clean_nb
    import nbformat
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell('x = 1', metadata={'tags': ['parameters'], 'foo': 1})])
    clean_nb(nb, allowed_cell_metadata_keys=cfg['allowed_cell_metadata_keys'])
    assert nb.cells[0].metadata == {'tags': ['parameters']}

def test_import_unsloth_on_this_machine():
    r = subprocess.run([sys.executable, '-c', 'import unsloth, torch; print("ok", torch.__version__)'],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert 'ok' in r.stdout

def test_cpu_torch_when_no_cuda():
    import torch
    if not torch.cuda.is_available():
        assert torch.__version__.startswith('2.13.0'), torch.__version__
        assert subprocess.run([sys.executable, '-m', 'pip', 'show', 'torchvision'], capture_output=True).returncode != 0

def test_ci_runs_make_test():
    assert 'make test' in (ROOT/'.ci'/'run').read_text()
    readme = (ROOT/'README.md').read_text()
    assert '```bash\nmake demo' in readme and 'make test' in readme
    assert 'pyproject.toml' in readme and 'settings.ini' in readme
