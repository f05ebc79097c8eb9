"Job arrays through submitit (in-process DebugExecutor; `make test-slurm` runs a real Slurm), local workers with one GPU each."
import math, os, subprocess, sys, time
import nbformat
import pytest
from negneglect.cluster import SlurmOptions, make_executor, run_jobs, run_local, slurm_parameters, visible_gpus

def _who(delay=0.0):
    "This worker's pid and GPU setting (a module-level function: spawned workers import it by name)"
    time.sleep(delay)
    return os.getpid(), os.environ.get('CUDA_VISIBLE_DEVICES')

def _boom(x):
    raise ValueError(f'bad input {x}')

def test_debug_executor_results_errors_and_logs(tmp_path):
    out = run_jobs([(math.sqrt, (9,)), (_boom, (7,)), (pow, (3, 2))], executor='debug', folder=tmp_path)
    assert [o.index for o in out] == [0, 1, 2]
    assert [o.result for o in out] == [3.0, None, 9]
    assert [o.ok for o in out] == [True, False, True]
    assert 'ValueError: bad input 7' in out[1].error and 'Traceback' in out[1].error
    for o in out:                                    # every job has its own log files under the folder
        assert o.stdout.parent.parent == tmp_path and o.stdout.exists(), o
        assert str(o.stdout) in o.logs()
    assert len({o.stdout for o in out}) == 3

def test_nothing_to_run_submits_nothing(tmp_path):
    assert run_jobs([], executor='debug', folder=tmp_path/'jobs') == []
    assert run_jobs([], executor='local', folder=tmp_path/'jobs') == []
    assert not (tmp_path/'jobs').exists()

def test_missing_submitit_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, 'submitit', None)          # as if the `cluster` extra were not installed
    with pytest.raises(ImportError, match=r"pip install 'negneglect\[cluster\]'"):
        run_jobs([(abs, (-1,))], executor='debug', folder=tmp_path)

def test_no_sbatch_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv('PATH', str(tmp_path))
    with pytest.raises(RuntimeError, match='sbatch is not on PATH'):
        make_executor('slurm', tmp_path, SlurmOptions())
    with pytest.raises(ValueError, match='unknown executor'):
        run_jobs([(abs, (-1,))], executor='kubernetes', folder=tmp_path)

def test_slurm_options_become_sbatch_lines(tmp_path):
    "The job array script submitit writes from our options (what sbatch receives)"
    from submitit.slurm.slurm import _make_sbatch_string
    opts = SlurmOptions(partition='gpu', gpus=2, time=30, array_parallelism=2, cpus=8, mem='16G',
                        setup=['module load cuda'], sbatch={'account': 'lab', 'qos': 'high'})
    text = _make_sbatch_string(command='python -m x', folder=tmp_path, map_count=3, **slurm_parameters(opts, n_jobs=3))
    for line in ['#SBATCH --partition=gpu', '#SBATCH --gpus-per-node=2', '#SBATCH --time=30', '#SBATCH --array=0-2%2',
                 '#SBATCH --cpus-per-task=8', '#SBATCH --mem=16G', '#SBATCH --account=lab', '#SBATCH --qos=high',
                 'module load cuda']:
        assert line in text, (line, text)
    cpu_only = _make_sbatch_string(command='x', folder=tmp_path, map_count=5, **slurm_parameters(SlurmOptions(gpus=0), 5))
    assert '--gpus' not in cpu_only and '#SBATCH --array=0-4%5' in cpu_only

def test_local_workers_get_one_gpu_each(tmp_path):
    out = run_jobs([(_who, (1.0,))]*4, executor='local', folder=tmp_path, workers=2, gpus=['3', '5'])
    assert all(o.ok for o in out), [o.error for o in out]
    seen = {}
    for pid, gpu in (o.result for o in out):
        assert gpu in ('3', '5'), gpu                              # exactly one GPU, never a list
        assert seen.setdefault(pid, gpu) == gpu                    # a worker keeps its GPU
    assert len(seen) == 2 and set(seen.values()) == {'3', '5'}     # two workers, two different GPUs
    assert os.getpid() not in seen

def test_local_workers_without_gpus_and_more_workers_than_gpus(tmp_path, monkeypatch):
    monkeypatch.delenv('CUDA_VISIBLE_DEVICES', raising=False)
    (pid, gpu), = [o.result for o in run_jobs([(_who, ())], executor='local', folder=tmp_path, gpus=[])]
    assert gpu is None and pid != os.getpid()
    with pytest.raises(ValueError, match='one GPU per worker'):
        run_local([(_who, ())], tmp_path, workers=2, gpus=['0'])

def test_visible_gpus_follows_cuda_visible_devices(monkeypatch):
    monkeypatch.setenv('CUDA_VISIBLE_DEVICES', '2,7')
    assert visible_gpus() == ['2', '7']
    monkeypatch.setenv('CUDA_VISIBLE_DEVICES', '')
    assert visible_gpus() == []

def test_local_logs_capture_child_processes_and_errors(tmp_path):
    out = run_jobs([(subprocess.run, (['echo', 'hello from a child process'],)), (_boom, (1,)), (os._exit, (3,))],
                   executor='local', folder=tmp_path, gpus=[])
    assert out[0].ok and 'hello from a child process' in out[0].stdout.read_text()
    assert not out[1].ok and 'ValueError: bad input 1' in out[1].stderr.read_text()
    assert not out[2].ok and 'died' in out[2].error                # a worker that exits is reported, not hung on

def _stand_in(tmp_path):
    "A notebook with the experiment's parameters that records the GPU it saw; `negated` fails"
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("claim = condition = preset = run_dir = None; overrides = {}; dynamics = False", metadata={'tags': ['parameters']}),
        nbformat.v4.new_code_cell("import json, os\nfrom pathlib import Path\nassert condition != 'negated', 'boom'\n"
                                  "Path(run_dir, 'metrics.json').write_text(json.dumps({'gpu': os.environ.get('CUDA_VISIBLE_DEVICES')}))")])
    nb.metadata['kernelspec'] = {'name': 'python3', 'display_name': 'python3', 'language': 'python'}
    nbformat.write(nb, tmp_path/'stand_in.ipynb')
    return str(tmp_path/'stand_in.ipynb')

def test_sweep_workers_pin_one_gpu_per_run(tmp_path, monkeypatch):
    import json
    from negneglect.sweep import SweepSpec, run_sweep
    monkeypatch.setenv('CUDA_VISIBLE_DEVICES', '0,1')             # two (pretend) GPUs: the kernels never touch them
    spec = SweepSpec(name='gpus', claims=['ed_sheeran'], conditions=['baseline', 'positive', 'negated', 'local_negation'],
                     notebook=_stand_in(tmp_path), workers=2)
    res = run_sweep(spec, root=tmp_path/'runs')
    assert (len(res.ran), len(res.failed)) == (3, 1), res.summary()
    gpus = [json.loads((r.run_dir/'metrics.json').read_text())['gpu'] for r in res.ran]
    assert set(gpus) <= {'0', '1'}, gpus
    (failed, err), = res.failed
    assert failed.condition == 'negated' and 'boom' in err
    assert 'local log:' in res.summary() and 'error.txt' in res.summary()

def test_sweep_through_submitit_then_rerun_submits_nothing(tmp_path):
    from negneglect.sweep import SweepSpec, run_sweep
    spec = SweepSpec(name='arr', claims=['ed_sheeran'], conditions=['baseline', 'positive', 'negated'], notebook=_stand_in(tmp_path))
    res = run_sweep(spec, root=tmp_path/'runs', executor='debug')
    assert (len(res.ran), len(res.failed)) == (2, 1), res.summary()
    jobs = tmp_path/'runs'/'arr'/'.jobs'/'debug'
    # a job log that is new or rewritten since a snapshot (not mtime >= time.time(): file times are coarser than the clock)
    def logs(): return {p: p.stat().st_mtime_ns for p in jobs.rglob('*_log.out')}
    def submitted_since(t): return len([p for p, m in logs().items() if t.get(p) != m])
    assert submitted_since({}) == 3                                 # one log per submitted job
    assert 'debug log:' in res.summary()
    t = logs()
    again = run_sweep(spec, root=tmp_path/'runs', executor='debug')
    assert (len(again.ran), len(again.skipped), len(again.failed)) == (0, 2, 1)
    assert submitted_since(t) == 1                                  # only the failed run was submitted again
    (tmp_path/'stand_in.ipynb').write_text((tmp_path/'stand_in.ipynb').read_text().replace("condition != 'negated'", 'True'))
    fixed = run_sweep(spec, root=tmp_path/'runs', executor='debug')
    assert (len(fixed.ran), len(fixed.skipped), len(fixed.failed)) == (1, 2, 0)
    t = logs()
    done = run_sweep(spec, root=tmp_path/'runs', executor='debug')
    assert (len(done.ran), len(done.skipped)) == (0, 3) and submitted_since(t) == 0
