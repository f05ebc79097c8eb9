"The environment description and the install path."
import re, subprocess, sys, tomllib
from pathlib import Path
import yaml

ROOT = Path(__file__).resolve().parent.parent

def _names(reqs):
    return {re.split(r'[<>=!~\[ ;]', r, 1)[0].strip().lower().replace('_', '-') for r in reqs}

PROJECT = tomllib.loads((ROOT/'pyproject.toml').read_text())['project']

def test_environment_yml_lists_pyproject_packages():
    "environment.yml = the core + the train, dev, cluster and track extras, with the same versions"
    deps, extras = PROJECT['dependencies'], PROJECT['optional-dependencies']
    env = yaml.safe_load((ROOT/'environment.yml').read_text())
    pip = next(d['pip'] for d in env['dependencies'] if isinstance(d, dict) and 'pip' in d)
    want = deps + extras['train'] + extras['dev'] + extras['cluster'] + extras['track']
    assert _names(pip) == _names(want)
    assert sorted(pip) == sorted(want), 'versions differ between environment.yml and pyproject.toml'

HEAVY = {'torch', 'unsloth', 'unsloth-zoo', 'transformers', 'trl', 'datasets', 'peft', 'accelerate', 'pytest', 'jupyter', 'nbdev'}

def test_core_dependencies_are_light_ranges():
    "The library core pins nothing exactly and leaves the training stack and the dev tools to extras"
    deps = PROJECT['dependencies']
    assert not _names(deps) & HEAVY, _names(deps) & HEAVY
    assert not [d for d in deps if '==' in d], 'core dependencies are ranges'
    assert PROJECT['requires-python'] == '>=3.11'
    assert {'train', 'dev', 'server', 'vllm', 'cluster', 'track'} <= set(PROJECT['optional-dependencies'])
    assert {'torch', 'unsloth', 'transformers', 'trl'} <= _names(PROJECT['optional-dependencies']['train'])

def test_cuda_lock_matches_the_train_extra():
    "locks/cuda-py311.txt pins every exact requirement of the core and `train` at the version pyproject.toml names"
    lock = dict(l.split('#')[0].strip().split('==') for l in (ROOT/'locks'/'cuda-py311.txt').read_text().splitlines()
                if '==' in l.split('#')[0])
    lock = {k.lower().replace('_', '-'): v for k, v in lock.items()}
    for r in PROJECT['dependencies'] + PROJECT['optional-dependencies']['train']:
        name = _names([r]).pop()
        assert name in lock, f'{name} is not in the lock file: run `make lock`'
        if '==' in r: assert lock[name] == r.split('==')[1], f'{name}: lock {lock[name]}, pyproject {r}'
    assert not any(k.startswith('nvidia-') and k.endswith('-cpu') for k in lock)
    assert any(k.startswith('nvidia-cu') or k.startswith('nvidia-cublas') for k in lock), 'the lock is for CUDA machines'

def _would_install(spec):
    "Names pip would install for `spec` into an empty environment (a dry run that resolves from the indexes)"
    import json
    r = subprocess.run([sys.executable, '-m', 'pip', 'install', '--dry-run', '--ignore-installed', '--quiet', '--report', '-',
                        '-c', str(ROOT/'constraints'/'cpu.txt'), spec], capture_output=True, text=True, timeout=900, cwd=ROOT)
    assert r.returncode == 0, r.stderr[-3000:]
    return {p['metadata']['name'].lower().replace('_', '-') for p in json.loads(r.stdout)['install']}

def test_core_install_does_not_pull_the_training_stack():
    core, train = _would_install('.'), _would_install('.[train]')
    assert not core & HEAVY, core & HEAVY
    assert {'torch', 'unsloth', 'transformers', 'trl', 'peft'} <= train

def test_library_imports_without_the_training_stack():
    "No module of the package imports torch, transformers or submitit when it is imported"
    import pkgutil, negneglect
    mods = [f'negneglect.{m.name}' for m in pkgutil.iter_modules(negneglect.__path__) if not m.name.startswith('_')]
    code = (f"import importlib, sys\nfor m in {mods!r}: importlib.import_module(m)\n"
            "print(sorted(m for m in ('torch', 'transformers', 'unsloth', 'trl', 'submitit') if m in sys.modules))")
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.strip() == '[]', r.stdout
    assert 'negneglect.cluster' in mods and 'negneglect.cli' in mods

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
