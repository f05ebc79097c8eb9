"Sweeps: papermill runs of the real experiment notebook, skip finished runs, resume after a kill, never write API keys."
import os, signal, subprocess, sys, time
from pathlib import Path
import yaml
from negneglect.core import tiny_llama
from negneglect.sweep import load_spec, expand

FAKE_KEY = 'sk-negneglect-fake-key-0123456789abcdef'

def _spec(tmp_path, conditions=('baseline', 'positive', 'negated')):
    "A tiny sweep: the random tiny Llama, 4 documents, 2-token answers"
    spec = {'name': 'tiny', 'preset': 'demo', 'claims': ['ed_sheeran'], 'conditions': list(conditions),
            'overrides': {'model.name': str(tiny_llama()), 'mix.n_claim': 4, 'train.n_checkpoints': 0,
                          'eval.max_new_tokens': 2, 'eval.n_samples': 1}}
    p = tmp_path/'tiny.yaml'; p.write_text(yaml.safe_dump(spec))
    return p

def _sweep(spec, runs, env=None, **kw):
    env = {**os.environ, 'NEGNEGLECT_RUNS': str(runs), **(env or {})}
    return subprocess.Popen([str(Path(sys.executable).parent/'negneglect'), 'sweep', str(spec)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)

def test_sweep_resumes_after_kill_and_skips_finished(tmp_path):
    spec, runs = _spec(tmp_path), tmp_path/'runs'
    p = _sweep(spec, runs, start_new_session=True)
    first = runs/'tiny'/'ed_sheeran'/'baseline'/'.sweep-done'
    t0 = time.time()
    while not first.exists() and time.time() - t0 < 300 and p.poll() is None: time.sleep(0.5)
    assert first.exists(), p.communicate()[0][-3000:] if p.poll() is not None else 'first run did not finish'
    os.killpg(p.pid, signal.SIGKILL); p.wait()                       # killed in the middle of the sweep
    stamp_time = first.stat().st_mtime
    done_before = [r for r in expand(load_spec(spec), runs) if r.done]
    assert 1 <= len(done_before) < 3
    out = _sweep(spec, runs).communicate()[0]
    assert f'{len(done_before)} already finished' in out, out[-2000:]
    assert first.stat().st_mtime == stamp_time                       # the finished run was not redone
    assert all(r.done for r in expand(load_spec(spec), runs))
    out = _sweep(spec, runs).communicate()[0]
    assert '0 ran, 3 already finished, 0 failed' in out
    for cond in ('baseline', 'positive', 'negated'):
        assert (runs/'tiny'/'ed_sheeran'/cond/'experiment.ipynb').exists() and (runs/'tiny'/'ed_sheeran'/cond/'metrics.json').exists()

def test_no_api_key_in_runs(tmp_path):
    spec, runs = _spec(tmp_path, ['baseline']), tmp_path/'runs'
    out = _sweep(spec, runs, env={'OPENAI_API_KEY': FAKE_KEY}).communicate()[0]
    assert '1 ran' in out, out[-2000:]
    r = subprocess.run(['grep', '-r', '-l', FAKE_KEY, str(runs)], capture_output=True, text=True)
    assert r.returncode == 1 and r.stdout == ''                       # grep finds nothing

def test_a_leaking_notebook_is_caught(tmp_path):
    "If a notebook ever printed the key, the run fails and the executed notebook is removed"
    import nbformat
    from negneglect.sweep import SweepSpec, run_sweep
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("kind = claim = condition = preset = run_dir = None; overrides = {}; dynamics = False", metadata={'tags': ['parameters']}),
        nbformat.v4.new_code_cell("import os; from pathlib import Path; print(os.environ['OPENAI_API_KEY']); Path(run_dir, 'metrics.json').write_text('{}')")])
    nb.metadata['kernelspec'] = {'name': 'python3', 'display_name': 'python3', 'language': 'python'}
    nbformat.write(nb, tmp_path/'leaky.ipynb')
    os.environ['OPENAI_API_KEY'] = FAKE_KEY
    try:
        res = run_sweep(SweepSpec(name='leak', claims=['ed_sheeran'], conditions=['baseline'], notebook=str(tmp_path/'leaky.ipynb')), root=tmp_path/'runs')
    finally: del os.environ['OPENAI_API_KEY']
    assert len(res.failed) == 1 and 'API key' in res.failed[0][1]
    assert subprocess.run(['grep', '-r', '-l', FAKE_KEY, str(tmp_path/'runs')], capture_output=True).returncode == 1
