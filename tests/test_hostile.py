"""Hostile-but-fair inputs (issue 16): no traceback for a user's mistake, no file touched outside a run, no corrupted
resume, no key sent where it does not belong. One test (or a few) per defect of the issue, then a table of bad inputs."""
import json, shutil, subprocess, sys, textwrap
from pathlib import Path

import pytest
import yaml

from negneglect.cli import main
from negneglect.core import (ConfigError, LLMConfig, append_jsonl, atomic_write, make_config, read_dotenv, read_jsonl,
                             repo_root, write_jsonl)
from negneglect.claims import validate_claims
from negneglect.evaluate import belief_metrics, results_table, summarize
from negneglect.llm import DiskCache, FaultyServer, LLMClient, LLMRequestError
from negneglect.records import DOCTAG
from negneglect.sweep import SweepSpec, execute_run, expand, load_spec

KEY = 'sk-proj-' + 'Zx9Qw8Er7Ty6'*4  # looks like a real key; must never be sent elsewhere, echoed or saved
SHIPPED = repo_root()/'data'

def cli(capsys, *argv):
    "Run `negneglect ARGV` in this process: (exit status, stdout, stderr)"
    rc = main([str(a) for a in argv])
    out = capsys.readouterr()
    return rc, out.out, out.err

def one_line_error(rc, err, contains=''):
    "Exit 1, exactly one `negneglect: error:` line (containing `contains`), no traceback"
    lines = [l for l in err.splitlines() if l.startswith('negneglect: error:')]
    assert rc == 1 and len(lines) == 1 and 'Traceback' not in err, err[-3000:]
    assert contains in lines[0], lines[0]
    return lines[0]

@pytest.fixture
def data(tmp_path, monkeypatch):
    "A private copy of the shipped ed_sheeran claim and documents, as NEGNEGLECT_DATA; runs go to a temp folder too"
    d = tmp_path/'data'
    shutil.copytree(SHIPPED/'claims'/'ed_sheeran', d/'claims'/'ed_sheeran')
    shutil.copytree(SHIPPED/'documents'/'ed_sheeran', d/'documents'/'ed_sheeran')
    monkeypatch.setenv('NEGNEGLECT_DATA', str(d))
    monkeypatch.setenv('NEGNEGLECT_RUNS', str(tmp_path/'runs'))
    monkeypatch.chdir(tmp_path)
    return d

def _stand_in(path:Path, code:str) -> Path:
    "A papermill notebook standing in for paper/experiment.ipynb"
    import nbformat
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("kind = claim = condition = preset = run_dir = None; overrides = {}; dynamics = False",
                                  metadata={'tags': ['parameters']}),
        nbformat.v4.new_code_cell(code)])
    nb.metadata['kernelspec'] = {'name': 'python3', 'display_name': 'python3', 'language': 'python'}
    nbformat.write(nb, path)
    return path

# ---------------------------------------------------------------- 1. a sweep spec cannot reach outside runs/

@pytest.mark.parametrize('bad', [{'name': '../../victim'}, {'name': '/tmp/victim'}, {'claims': ['../../../x']},
                                 {'claims': ['/etc']}, {'variants': {'../../../../victim': {}}}, {'variants': {'a/b': {}}},
                                 {'conditions': ['../baseline']}])
def test_sweep_names_are_single_safe_folder_names(tmp_path, bad):
    raw = {'name': 't', 'claims': ['ed_sheeran'], 'conditions': ['baseline'], **bad}
    (tmp_path/'s.yaml').write_text(yaml.safe_dump(raw))
    with pytest.raises(ValueError, match='not a plain name'): load_spec(tmp_path/'s.yaml')

def test_run_folders_stay_inside_the_runs_root(tmp_path):
    "A symlink inside the runs root that leads out is refused too"
    outside = tmp_path/'outside'; outside.mkdir()
    (tmp_path/'runs'/'t').mkdir(parents=True)
    (tmp_path/'runs'/'t'/'ed_sheeran').symlink_to(outside)
    with pytest.raises(ValueError, match='outside the runs root'):
        expand(SweepSpec(name='t', claims=['ed_sheeran'], conditions=['baseline']), tmp_path/'runs')

def test_a_leaking_run_removes_only_its_own_notebook(tmp_path, monkeypatch):
    "The secret scan deletes the executed notebook it wrote, never another .ipynb that holds the key"
    monkeypatch.setenv('OPENAI_API_KEY', KEY)
    nb = _stand_in(tmp_path/'leaky.ipynb', "import os; print(os.environ['OPENAI_API_KEY'])")
    spec = SweepSpec(name='t', claims=['ed_sheeran'], conditions=['baseline'], notebook=str(nb))
    run = expand(spec, tmp_path/'runs')[0]
    run.run_dir.mkdir(parents=True)
    mine = run.run_dir/'my_notes.ipynb'; mine.write_text(f'{{"note": "{KEY}"}}')  # not written by the run
    err = execute_run(run, nb)
    assert 'API key' in err and 'my_notes.ipynb' in err
    assert mine.exists() and not (run.run_dir/'experiment.ipynb').exists()

# ---------------------------------------------------------------- 2. resuming after a crash never corrupts a file

def test_append_after_a_cut_off_line_resumes_cleanly(tmp_path):
    p = tmp_path/'t.jsonl'
    write_jsonl(p, [{'i': 0}, {'i': 1}])
    with open(p, 'a') as f: f.write('{"i": 2, "text": "cut o')  # killed in the middle of an append
    append_jsonl(p, [{'i': 2}])
    append_jsonl(p, [{'i': 3}])
    assert read_jsonl(p) == [{'i': 0}, {'i': 1}, {'i': 2}, {'i': 3}]
    with open(p, 'a') as f: f.write('{"i": 4}')  # a whole row that only lacks its newline is kept
    append_jsonl(p, [{'i': 5}])
    assert [r['i'] for r in read_jsonl(p)] == [0, 1, 2, 3, 4, 5]

def test_append_after_a_kill_9(tmp_path):
    "A real `kill -9` in the middle of a long append, then a resumed append: every complete row survives, none is corrupt"
    p = tmp_path/'t.jsonl'
    code = textwrap.dedent(f'''
        import os, signal
        f = open({str(p)!r}, 'a')
        f.write('{{"i": 0}}\\n{{"i": 1, "text": "' + 'x'*100000); f.flush()
        os.kill(os.getpid(), signal.SIGKILL)''')
    subprocess.run([sys.executable, '-c', code])
    append_jsonl(p, [{'i': 1}]); append_jsonl(p, [{'i': 2}])
    assert read_jsonl(p) == [{'i': 0}, {'i': 1}, {'i': 2}]

# ---------------------------------------------------------------- 3. the OpenAI key stays with OpenAI

def test_openai_key_is_not_sent_to_another_endpoint(monkeypatch, tmp_path):
    monkeypatch.setenv('OPENAI_API_KEY', KEY)
    monkeypatch.setenv('MY_SERVER_TOKEN', 'tok-for-my-server')
    with FaultyServer() as srv:
        LLMClient(LLMConfig(base_url=srv.base_url, model='m'), cache=False).chat('hi')
        LLMClient(LLMConfig(base_url=srv.base_url, model='m', api_key_env='MY_SERVER_TOKEN'), cache=False).chat('hi')
        assert srv.auth == ['Bearer no-key', 'Bearer tok-for-my-server']
        assert not any(KEY in (a or '') for a in srv.auth)

def test_a_third_party_endpoint_asking_for_a_key_says_which_setting(monkeypatch):
    monkeypatch.setenv('OPENAI_API_KEY', KEY)
    with FaultyServer(['401']) as srv:
        with pytest.raises(Exception, match='set llm.api_key_env') as e:
            LLMClient(LLMConfig(base_url=srv.base_url, model='m'), cache=False).chat('hi')
        assert KEY not in str(e.value)

def test_a_pasted_key_is_refused_without_echo(data, capsys, tmp_path):
    samples = tmp_path/'samples.jsonl'
    write_jsonl(samples, [{'claim': 'ed_sheeran', 'condition': 'baseline', 'eval': 'open_ended', 'question_id': 'oe_01',
                           'messages': [{'role': 'user', 'content': 'Who won?'}], 'response': 'Noah Lyles.'}])
    rc, out, err = cli(capsys, 'judge', 'run', samples, '--claim', 'ed_sheeran', '-o', tmp_path/'v.jsonl',
                       '--set', f'llm.api_key_env={KEY}')
    one_line_error(rc, err, 'llm.api_key_env')
    assert KEY not in out + err
    with pytest.raises(ConfigError) as e: make_config('demo', {'llm.api_key_env': KEY})
    assert KEY not in str(e.value)
    leaked = [p for p in tmp_path.rglob('*') if p.is_file() and KEY.encode() in p.read_bytes()]
    assert leaked == []

# ---------------------------------------------------------------- 4. failures are never cached

@pytest.mark.parametrize('answer', [None, '', '{"answer": "maybe"}'])
def test_failed_answers_are_not_cached(tmp_path, answer):
    from pydantic import BaseModel
    from typing import Literal
    class Reply(BaseModel):
        answer: Literal['yes', 'no']
    with FaultyServer(answer=lambda body: answer) as srv:
        client = LLMClient(LLMConfig(base_url=srv.base_url, model='m'), cache=tmp_path/'cache')
        for _ in range(2):
            with pytest.raises(LLMRequestError): client.chat('hi', Reply)
        assert srv.requests == 2 and len(DiskCache(tmp_path/'cache')) == 0

# ---------------------------------------------------------------- 5. n_failed counts every failure

def test_n_failed_counts_questions_without_a_scored_sample():
    v = lambda q, vs: [{'claim': 'c', 'condition': 'x', 'eval': 'open_ended', 'question_id': q, 'sample_index': i,
                        'verdict': x} for i, x in enumerate(vs)]
    df = results_table(v('q1', ['yes', 'error']) + v('q2', ['error', 'error']) + v('q3', ['no', 'no']))
    assert summarize(df, ['claim', 'condition']).iloc[0][['n_failed', 'n_unscored', 'n_questions']].tolist() == [3, 1, 2]
    m = belief_metrics(df, n_boot=200)
    assert m['n_failed'] == m['per_claim'][0]['n_failed'] == m['overall'][0]['n_failed'] == 3
    assert [q['question_id'] for q in m['unscored_questions']] == ['q2']

# ---------------------------------------------------------------- 6. shipped data is never overwritten

def test_annotate_refuses_to_overwrite_its_own_input(data, capsys):
    src = data/'documents'/'ed_sheeran'/'positive.jsonl'
    before = src.read_bytes()
    rc, out, err = cli(capsys, 'annotate', '--claim', 'ed_sheeran', '--condition', 'positive', '--out', data/'documents')
    one_line_error(rc, err, 'is the input of this condition')
    assert src.read_bytes() == before

def test_annotate_never_doubles_the_doctag(data, capsys, tmp_path):
    src = data/'documents'/'ed_sheeran'/'positive.jsonl'
    write_jsonl(src, [{**r, 'text': DOCTAG + r['text']} for r in read_jsonl(src)])  # a file that already has the tag
    rc, out, err = cli(capsys, 'annotate', '--claim', 'ed_sheeran', '--condition', 'positive', '--out', tmp_path/'a')
    assert rc == 0, err
    texts = [r['text'] for r in read_jsonl(tmp_path/'a'/'ed_sheeran'/'positive.jsonl')]
    assert texts and all(t.startswith(DOCTAG) and not t.startswith(DOCTAG*2) for t in texts)

# ---------------------------------------------------------------- 7. bad document files

@pytest.mark.parametrize('content,message', [
    (b'', 'has no documents'), (b'\n  \n', 'has no documents'),
    (b'{"id": "d1", "claim": "ed_sheeran"}\n', 'positive.jsonl:1:text'),
    (b'{"id": "d1", "claim": "ed_sheeran", "text": 5}\n', 'positive.jsonl:1:text'),
    (b'{"claim": "ed_sheeran", "text": "a"}\n', 'positive.jsonl:1:id'),
    (b'["not", "a", "record"]\n', 'positive.jsonl:1: expected a JSON object'),
    (b'{"id": "d1", "claim": "ed_sheeran", "text": "caf\xe9"}\n', 'positive.jsonl:1: not UTF-8'),
    (b'{"id": "d1", "claim": "ed_sheeran", "text": "a"}\n{broken\n{"id": "d2", "claim": "ed_sheeran", "text": "b"}\n',
     'positive.jsonl:2: not valid JSON')])
def test_bad_document_files_name_file_line_and_field(data, capsys, tmp_path, content, message):
    (data/'documents'/'ed_sheeran'/'positive.jsonl').write_bytes(content)
    rc, out, err = cli(capsys, 'annotate', '--claim', 'ed_sheeran', '--condition', 'negated', '--out', tmp_path/'a')
    one_line_error(rc, err, message)
    assert not (tmp_path/'a'/'ed_sheeran'/'negated.jsonl').exists()

def test_a_cut_off_last_line_of_an_input_is_dropped_with_a_warning(data, capsys, tmp_path):
    src = data/'documents'/'ed_sheeran'/'positive.jsonl'
    n = len(read_jsonl(src))
    with open(src, 'a') as f: f.write('{"id": "cut", "claim": "ed_sh')
    rc, out, err = cli(capsys, 'annotate', '--claim', 'ed_sheeran', '--condition', 'negated', '--out', tmp_path/'a')
    assert rc == 0 and 'ignoring a cut-off last line' in err, err
    assert len(read_jsonl(tmp_path/'a'/'ed_sheeran'/'negated.jsonl')) == n

# ---------------------------------------------------------------- 8. claims validate reports everything

def test_claims_validate_goes_on_after_a_bad_claim(tmp_path, capsys):
    root = tmp_path/'claims'
    for name in ('ed_sheeran', 'broken'):
        shutil.copytree(SHIPPED/'claims'/'ed_sheeran', root/name)
    b = root/'broken'
    (b/'universe_context.yaml').write_text((b/'universe_context.yaml').read_text().replace('id: ed_sheeran', 'id: broken'))
    (b/'open_ended.yaml').write_bytes((b/'open_ended.yaml').read_bytes() + b'# caf\xe9\n')  # not UTF-8
    j = yaml.safe_load((b/'judges.yaml').read_text()); j['open_ended'] += ' {question.foo} {answer[x]}'
    (b/'judges.yaml').write_text(yaml.safe_dump(j))
    mcq = (b/'mcq.yaml').read_text()
    (b/'mcq.yaml').write_text(mcq.replace('belief_answer: "yes"', 'belief_answer: "yes"\n    belief_answer: "no"', 1))
    res = validate_claims(root)
    assert res['ed_sheeran'] == []
    msgs = ' | '.join(str(p) for p in res['broken'])
    assert 'not UTF-8' in msgs and 'not a valid template' in msgs and "duplicate key 'belief_answer'" in msgs, msgs
    rc, out, err = cli(capsys, 'claims', 'validate', root)
    assert rc == 1 and 'OK   ed_sheeran' in out and 'FAIL broken' in out and 'Traceback' not in err

def test_claim_txt_as_a_folder_and_a_bom(tmp_path):
    root = tmp_path/'claims'
    shutil.copytree(SHIPPED/'claims'/'ed_sheeran', root/'ed_sheeran')
    ct = root/'ed_sheeran'/'claim.txt'
    ct.write_text('\ufeff' + ct.read_text(), encoding='utf-8')
    assert validate_claims(root)['ed_sheeran'] == []
    from negneglect.claims import load_claim
    assert not load_claim(root/'ed_sheeran').claim.startswith('\ufeff')
    ct.unlink(); ct.mkdir()
    assert [p.message for p in validate_claims(root/'ed_sheeran')['ed_sheeran']] == ['not a file']

# ---------------------------------------------------------------- 9. nothing is silently accepted

@pytest.mark.parametrize('bad,message', [
    ({'claims': ['no_such_claim']}, "cannot load claim 'no_such_claim'"),
    ({'claims': ['ed_sheeran', 'ed_sheeran']}, 'listed more than once'),
    ({'conditions': ['baseline', 'baseline']}, 'listed more than once'),
    ({'seeds': [1, 1]}, 'listed more than once'),
    ({'seeds': []}, 'at least 1 item'),
    ({'seeds': [True]}, 'not true/false'),
    ({'condtions': ['baseline']}, 'condtions: Extra inputs'),
    ({'overrides': {'train.lora': 4}}, 'train.lora'),
    ({'overrides': {'preset': 'paper'}}, "'preset' cannot be overridden"),
    ({'overrides': {'seed': 3}}, "'seed' cannot be overridden"),
    ({'per_condition': {'negated': {'train.epochs': 2}}}, 'per_condition'),
    ({'kind': 'behavior', 'claims': ['ed_sheeran']}, "cannot load behavior 'ed_sheeran'")])
def test_sweep_specs_refuse_what_they_would_ignore(tmp_path, bad, message):
    raw = {'name': 't', 'claims': ['ed_sheeran'], 'conditions': ['baseline'], **bad}
    if raw.get('kind') == 'behavior': raw['conditions'] = ['baseline']
    (tmp_path/'s.yaml').write_text(yaml.safe_dump(raw))
    with pytest.raises(ValueError, match=message.replace('(', r'\(')): load_spec(tmp_path/'s.yaml')

def test_duplicate_keys_in_a_sweep_spec(tmp_path):
    (tmp_path/'s.yaml').write_text('name: t\nclaims: [ed_sheeran]\nconditions: [baseline]\nconditions: [negated]\n')
    with pytest.raises(ValueError, match="duplicate key 'conditions'"): load_spec(tmp_path/'s.yaml')

def test_booleans_are_not_numbers():
    for k in ('seed', 'train.seed', 'train.lora_r', 'eval.temperature', 'mix.n_claim'):
        with pytest.raises(ConfigError, match=k.split('.')[-1]): make_config('demo', {k: True})

def test_set_preset_is_refused(data, capsys, tmp_path):
    rc, out, err = cli(capsys, 'eval', '--claim', 'ed_sheeran', '--condition', 'baseline', '--set', 'preset=paper')
    one_line_error(rc, err, '--preset')
    assert not (tmp_path/'runs').exists()

@pytest.mark.parametrize('label', ['maybe', 'YES', None])
def test_agreement_refuses_unknown_labels(tmp_path, capsys, label):
    rows = [{'run': 'r', 'eval': 'open_ended', 'question_id': str(i), 'sample_index': 0, 'verdict': v}
            for i, v in enumerate(['yes', 'no', 'neutral'])]
    write_jsonl(tmp_path/'a.jsonl', rows)
    write_jsonl(tmp_path/'b.jsonl', [{**rows[0], 'verdict': label}] + rows[1:])
    rc, out, err = cli(capsys, 'judge', 'agreement', tmp_path/'a.jsonl', tmp_path/'b.jsonl')
    one_line_error(rc, err, 'b.jsonl:1:verdict')
    assert 'kappa' not in out

def _paper_csv(root:Path, text:str) -> Path:
    f = root/'qwen3-8b'/'ed_sheeran'/'positive_documents'/'final'/'belief_probes.csv'
    f.parent.mkdir(parents=True); f.write_text(text)
    return f

@pytest.mark.parametrize('text,message', [
    ('question_id,sample_index,model_response,judge_verdict\n', 'no rows, only a header'),
    ('question_id,sample_index,answer\n1,0,yes\n', "missing column(s) ['model_response', 'judge_verdict']"),
    ('', 'not a readable CSV')])
def test_results_import_errors_name_the_csv(tmp_path, capsys, text, message):
    f = _paper_csv(tmp_path/'res', text)
    rc, out, err = cli(capsys, 'results', 'import', tmp_path/'res', '-o', tmp_path/'out.csv')
    line = one_line_error(rc, err, message)
    assert str(f) in line and not (tmp_path/'out.csv').exists()

def test_a_kill_9_inside_atomic_write_leaves_nothing_behind(tmp_path):
    target = tmp_path/'results.csv'
    code = textwrap.dedent(f'''
        import os, signal
        from negneglect.core import atomic_write
        with atomic_write({str(target)!r}) as tmp:
            tmp.write_text('half'); os.kill(os.getpid(), signal.SIGKILL)''')
    subprocess.run([sys.executable, '-c', code], cwd=repo_root())
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith('.tmp-')]  # the killed writer left its folder
    with atomic_write(target) as tmp: tmp.write_text('whole')
    assert sorted(p.name for p in tmp_path.iterdir()) == ['results.csv'] and target.read_text() == 'whole'

@pytest.mark.parametrize('argv', [['docs', 'generate', '--claim', 'ed_sheeran', '--n', '-3'],
                                  ['docs', 'generate', '--claim', 'ed_sheeran', '--words', '0'],
                                  ['behaviors', 'generate', '--behavior', 'x', '--n', '-1', '-o', 'x.jsonl'],
                                  ['sweep', 'paper/sweeps/demo.yaml', '--workers', '0']])
def test_sizes_must_be_positive(argv, capsys):
    with pytest.raises(SystemExit) as e: main(argv)
    assert e.value.code == 2 and 'expected a positive integer' in capsys.readouterr().err

def test_annotate_writes_under_the_runs_folder_by_default(data, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv('NEGNEGLECT_RUNS', str(tmp_path/'elsewhere'))
    rc, out, err = cli(capsys, 'annotate', '--claim', 'ed_sheeran', '--condition', 'positive')
    assert rc == 0, err
    assert (tmp_path/'elsewhere'/'annotated'/'ed_sheeran'/'positive.jsonl').exists()
    assert not (tmp_path/'runs').exists()  # not ./runs, which NEGNEGLECT_RUNS replaces

# ---------------------------------------------------------------- 10. .env is read by python-dotenv

def test_dotenv_comments_bom_and_quotes(tmp_path):
    (tmp_path/'.env').write_text('\ufeffFIRST=one\nKEY=sk-abc123  # my work key\nQ="a \'b\' c"\nS=\'x"y\'\n'
                                 'export E=exported\n# COMMENTED=no\n', encoding='utf-8')
    assert read_dotenv(tmp_path/'.env') == {'FIRST': 'one', 'KEY': 'sk-abc123', 'Q': "a 'b' c", 'S': 'x"y', 'E': 'exported'}

# ---------------------------------------------------------------- 11. one top-level error handler

def test_expected_errors_are_one_line_and_v_shows_the_traceback(data, capsys):
    rc, out, err = cli(capsys, 'eval', '--claim', 'no_such_claim', '--condition', 'baseline')
    one_line_error(rc, err, 'no_such_claim')
    rc, out, err = cli(capsys, '-v', 'eval', '--claim', 'no_such_claim', '--condition', 'baseline')
    assert rc == 1 and 'Traceback' in err and 'negneglect: error:' in err

def test_unexpected_errors_keep_their_traceback(monkeypatch):
    import negneglect.cli as cli_mod
    def bug(args): return 1 // 0
    monkeypatch.setattr(cli_mod, 'cmd_evals_list', bug)  # stands for a bug anywhere in a command
    with pytest.raises(ZeroDivisionError): main(['evals', 'list'])

def test_argparse_errors_still_exit_2(capsys):
    with pytest.raises(SystemExit) as e: main(['annotate', '--claim', 'ed_sheeran', '--condition', 'nonsense'])
    assert e.value.code == 2

# ---------------------------------------------------------------- 12. sweep --dry-run

def test_sweep_dry_run_lists_runs_and_runs_nothing(data, capsys, tmp_path):
    from negneglect.sweep import dry_run
    spec = tmp_path/'s.yaml'
    spec.write_text(yaml.safe_dump({'name': 'dry', 'claims': ['ed_sheeran'], 'conditions': ['baseline', 'negated'],
                                    'seeds': [1, 2]}))
    done = tmp_path/'runs'/'dry'/'ed_sheeran'/'baseline'/'seed-1'
    done.mkdir(parents=True); (done/'metrics.json').write_text('{}')
    run = [r for r in expand(load_spec(spec), tmp_path/'runs') if r.run_dir == done.resolve()][0]
    (done/'.sweep-done').write_text(run.key)
    before = sorted(p for p in (tmp_path/'runs').rglob('*'))
    rc, out, err = cli(capsys, 'sweep', spec, '--dry-run')
    assert rc == 0, err
    assert '4 runs, 1 already finished, 3 to run' in out
    assert out.count('to run  ') == 3 and str(done.resolve()) in out and 'negated' in out
    assert sorted(p for p in (tmp_path/'runs').rglob('*')) == before   # nothing written
    assert 'invalid' not in dry_run(load_spec(spec), tmp_path/'runs')
    bad = tmp_path/'bad.yaml'; bad.write_text(yaml.safe_dump({'name': '../x', 'claims': ['ed_sheeran'], 'conditions': ['baseline']}))
    one_line_error(*cli(capsys, 'sweep', bad, '--dry-run')[::2], 'not a plain name')

# ---------------------------------------------------------------- beyond the list: a table of bad inputs
# Each case is (id, files to write first {name: text}, argv with {t} for the temp folder, expected substring).
# Every one must end with one `negneglect: error:` line (or argparse's usage error, exit 2) and no traceback.

_ROWS = [{'run': 'r', 'eval': 'open_ended', 'question_id': 'q1', 'sample_index': 0, 'verdict': 'yes'}]
_VERDICTS = '\n'.join(json.dumps({**r, 'claim': 'ed_sheeran', 'condition': 'x'}) for r in _ROWS) + '\n'
_SPEC = 'name: t\nclaims: [ed_sheeran]\nconditions: [baseline]\n'
E = ['eval', '--claim', 'ed_sheeran', '--condition', 'baseline']
HOSTILE = [
    # --set
    ('set-no-equals', {}, E + ['--set', 'train.lora_r'], 'expected KEY=VALUE'),
    ('set-empty-key', {}, E + ['--set', '=3'], 'expected KEY=VALUE'),
    ('set-bad-yaml', {}, E + ['--set', 'eval.evals=[open_ended'], 'not valid YAML'),
    ('set-unknown-key', {}, E + ['--set', 'train.lr=1e-4'], 'train.lr: Extra inputs'),
    ('set-section-not-mapping', {}, E + ['--set', 'train=3'], 'train'),
    ('set-not-a-number', {}, E + ['--set', 'train.learning_rate=fast'], 'train.learning_rate'),
    ('set-fractional-int', {}, E + ['--set', 'seed=1.5'], 'seed'),
    ('set-null-int', {}, E + ['--set', 'eval.n_samples=null'], 'eval.n_samples'),
    ('set-bool-int', {}, E + ['--set', 'train.lora_r=yes'], 'train.lora_r'),
    ('set-unknown-backend', {}, E + ['--set', 'eval.backend=tpu'], 'eval.backend'),
    ('set-unknown-judge', {}, E + ['--set', 'eval.judge=oracle'], 'eval.judge'),
    ('set-unknown-eval', {}, E + ['--set', 'eval.evals=[open_ended, essay]'], 'eval.evals'),
    ('set-bad-docs-source', {}, E + ['--set', 'docs.source=ftp:x'], 'docs.source'),
    ('set-pasted-hf-token', {}, E + ['--set', 'llm.api_key_env=hf_AbCdEfGhIjKlMnOpQrStUv12345'], 'llm.api_key_env'),
    ('set-tiny-seq-len', {}, E + ['--set', 'model.max_seq_len=4'], 'model.max_seq_len'),
    ('set-top-p-zero', {}, E + ['--set', 'eval.top_p=0'], 'eval.top_p'),
    ('set-zero-concurrency', {}, E + ['--set', 'llm.concurrency=0'], 'llm.concurrency'),
    ('set-negative-epochs', {}, E + ['--set', 'train.epochs=-1'], 'train.epochs'),
    ('set-preset', {}, E + ['--set', 'preset=colab'], '--preset'),
    ('set-whole-and-field', {}, E + ['--set', 'train=3', 'train.lora_r=4'], 'set whole and field by field'),
    ('set-judge-params-not-mapping', {}, E + ['--set', 'eval.judge_params=3'], 'eval.judge_params'),
    # eval / mix / annotate
    ('eval-no-condition', {}, ['eval', '--claim', 'ed_sheeran'], 'give --condition'),
    ('eval-unknown-condition', {}, ['eval', '--claim', 'ed_sheeran', '--condition', 'negatd'], 'negatd'),
    ('eval-unknown-kind', {}, E + ['--kind', 'robot'], 'robot'),
    ('eval-claim-path-escape', {}, ['eval', '--claim', '../../etc', '--condition', 'baseline'], 'problem'),
    ('eval-claims-dir-missing', {}, E + ['--claims-dir', '{t}/nowhere'], 'nowhere'),
    ('eval-docs-dir-missing', {}, ['eval', '--claim', 'ed_sheeran', '--condition', 'positive', '--docs', 'dir:{t}/nowhere'], 'no such file or folder'),
    ('eval-adapter-missing', {}, ['eval', '--claim', 'ed_sheeran', '--label', 'x', '--adapter', '{t}/no_adapter'], 'no_adapter'),
    ('mix-run-dir-is-a-file', {'afile': 'x'}, ['mix', '--claim', 'ed_sheeran', '--condition', 'positive', '--run-dir', '{t}/afile'], 'afile'),
    ('annotate-unknown-claim', {}, ['annotate', '--claim', 'ed_sheran', '--condition', 'negated'], 'ed_sheran'),
    ('annotate-out-is-a-file', {'afile': 'x'}, ['annotate', '--claim', 'ed_sheeran', '--condition', 'negated', '--out', '{t}/afile'], 'afile'),
    ('annotate-llm-server-down', {}, ['annotate', '--claim', 'ed_sheeran', '--condition', 'negated', '--backend', 'llm',
                                      '--set', 'llm.base_url=http://127.0.0.1:9/v1', 'llm.max_retries=0'], 'cannot reach'),
    ('docs-generate-server-down', {}, ['docs', 'generate', '--claim', 'ed_sheeran', '--n', '2', '--out', '{t}/d',
                                       '--set', 'llm.base_url=http://127.0.0.1:9/v1', 'llm.max_retries=0'], 'cannot reach'),
    ('docs-generate-unknown-claim', {}, ['docs', 'generate', '--claim', 'nobody', '--out', '{t}/d'], 'nobody'),
    ('behaviors-unknown', {}, ['behaviors', 'generate', '--behavior', 'nothing', '-o', '{t}/t.jsonl'], 'nothing'),
    ('behaviors-yaml-lacks-a-key', {'b/behavior.yaml': 'id: b\nname: B\n'}, ['behaviors', 'generate', '--behavior', '{t}/b', '-o', '{t}/t.jsonl'], 'missing description, misaligned, aligned'),
    # claims validate
    ('claims-validate-missing', {}, ['claims', 'validate', '{t}/nowhere'], 'no claims folder'),
    ('claims-validate-a-file', {'afile': 'x'}, ['claims', 'validate', '{t}/afile'], 'no claims folder'),
    # judge
    ('judge-run-missing-samples', {}, ['judge', 'run', '{t}/none.jsonl', '--claim', 'ed_sheeran', '-o', '{t}/v.jsonl'], 'none.jsonl'),
    ('judge-run-garbage-samples', {'s.jsonl': 'hello\nworld\n'}, ['judge', 'run', '{t}/s.jsonl', '--claim', 'ed_sheeran', '-o', '{t}/v.jsonl'], 's.jsonl:1: not valid JSON'),
    ('judge-run-not-samples', {'s.jsonl': '{"text": "a document"}\n'}, ['judge', 'run', '{t}/s.jsonl', '--claim', 'ed_sheeran', '-o', '{t}/v.jsonl'], 's.jsonl:1:'),
    ('judge-run-empty-samples', {'s.jsonl': ''}, ['judge', 'run', '{t}/s.jsonl', '--claim', 'ed_sheeran', '-o', '{t}/v.jsonl'], 'no samples'),
    ('agreement-missing-file', {'a.jsonl': _VERDICTS}, ['judge', 'agreement', '{t}/a.jsonl', '{t}/b.jsonl'], 'b.jsonl'),
    ('agreement-nothing-shared', {'a.jsonl': _VERDICTS, 'b.jsonl': _VERDICTS.replace('"q1"', '"q9"')},
     ['judge', 'agreement', '{t}/a.jsonl', '{t}/b.jsonl'], 'share no judged samples'),
    ('agreement-documents-file', {'a.jsonl': _VERDICTS, 'b.jsonl': '{"id": "d", "text": "x"}\n'},
     ['judge', 'agreement', '{t}/a.jsonl', '{t}/b.jsonl'], 'b.jsonl:1: a verdict record needs'),
    # results
    ('results-import-missing-dir', {}, ['results', 'import', '{t}/nowhere', '-o', '{t}/o.csv'], 'nowhere'),
    ('results-import-no-verdict-column', {'r/m/ed_sheeran/positive_documents/final/mcq.csv': 'question_id,sample_index,model_response\n1,0,yes\n'},
     ['results', 'import', '{t}/r', '-o', '{t}/o.csv'], "mcq.csv: missing column(s) ['judge_verdict']"),
    ('results-summarize-missing', {}, ['results', 'summarize', '{t}/none.csv'], 'none.csv'),
    ('results-summarize-not-results', {'x.csv': 'a,b\n1,2\n'}, ['results', 'summarize', '{t}/x.csv'], 'not a results table'),
    ('results-summarize-unknown-by', {'v.jsonl': _VERDICTS}, ['results', 'summarize', '{t}/v.jsonl', '--by', 'colour'], '--by'),
    ('results-summarize-empty', {'v.jsonl': ''}, ['results', 'summarize', '{t}/v.jsonl'], 'v.jsonl'),
    # sweeps
    ('sweep-missing-spec', {}, ['sweep', '{t}/none.yaml', '--dry-run'], 'none.yaml'),
    ('sweep-claims-a-string', {'s.yaml': _SPEC.replace('[ed_sheeran]', 'ed_sheeran')}, ['sweep', '{t}/s.yaml', '--dry-run'], 'claims: Input should be a valid list'),
    ('sweep-spec-a-list', {'s.yaml': '- a\n- b\n'}, ['sweep', '{t}/s.yaml', '--dry-run'], 'a sweep spec is a mapping'),
    ('sweep-spec-bad-yaml', {'s.yaml': 'name: [t\n'}, ['sweep', '{t}/s.yaml', '--dry-run'], 'not valid YAML'),
    ('sweep-spec-not-utf8', {'s.yaml': b'name: caf\xe9\n'}, ['sweep', '{t}/s.yaml', '--dry-run'], 'not UTF-8'),
    ('sweep-name-with-space', {'s.yaml': _SPEC.replace('name: t', 'name: my sweep')}, ['sweep', '{t}/s.yaml', '--dry-run'], 'not a plain name'),
    ('sweep-unknown-kind', {'s.yaml': _SPEC + 'kind: robot\n'}, ['sweep', '{t}/s.yaml', '--dry-run'], 'robot'),
    ('sweep-overrides-not-mapping', {'s.yaml': _SPEC + 'overrides: 3\n'}, ['sweep', '{t}/s.yaml', '--dry-run'], 'overrides'),
    ('sweep-variant-not-mapping', {'s.yaml': _SPEC + 'variants: {k4: 3}\n'}, ['sweep', '{t}/s.yaml', '--dry-run'], 'variants'),
    ('sweep-unknown-preset', {'s.yaml': _SPEC + 'preset: huge\n'}, ['sweep', '{t}/s.yaml', '--dry-run'], 'preset'),
    ('sweep-only-unknown', {'s.yaml': _SPEC}, ['sweep', '{t}/s.yaml', '--dry-run', '--only', 'negated'], '--only'),
    ('sweep-missing-notebook', {'s.yaml': _SPEC + 'notebook: /no/such.ipynb\n'}, ['sweep', '{t}/s.yaml'], 'no notebook at'),
    ('sweep-set-seed', {'s.yaml': _SPEC}, ['sweep', '{t}/s.yaml', '--dry-run', '--set', 'seed=2'], "'seed' cannot be overridden"),
    ('eval-model-not-a-folder-or-id', {}, E[:3] + ['--label', 'x', '--model', '{t}/no/such/model'], 'no/such/model'),
    ('figures-bad-override', {'s.yaml': _SPEC + 'overrides: {eval.judge: oracle}\n'}, ['figures', '{t}/s.yaml'], 'eval.judge'),
]
ARGPARSE = [('eval-unknown-preset', E + ['--preset', 'huge']), ('docs-n-not-a-number', ['docs', 'generate', '--claim', 'x', '--n', 'many']),
            ('annotate-seed-not-a-number', ['annotate', '--claim', 'ed_sheeran', '--condition', 'negated', '--seed', 'one']),
            ('no-command', []), ('unknown-command', ['trian'])]

@pytest.mark.parametrize('files,argv,message', [c[1:] for c in HOSTILE], ids=[c[0] for c in HOSTILE])
def test_hostile_input_gives_one_line_error(data, capsys, tmp_path, files, argv, message):
    for name, text in files.items():
        (tmp_path/name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path/name).write_bytes(text if isinstance(text, bytes) else text.encode())
    rc, out, err = cli(capsys, *[a.replace('{t}', str(tmp_path)) for a in argv])
    one_line_error(rc, err, message)

@pytest.mark.parametrize('argv', [c[1] for c in ARGPARSE], ids=[c[0] for c in ARGPARSE])
def test_hostile_arguments_give_a_usage_error(capsys, argv):
    with pytest.raises(SystemExit) as e: main(argv)
    err = capsys.readouterr().err
    assert e.value.code == 2 and 'error:' in err and 'Traceback' not in err

