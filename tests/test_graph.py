"The stage graph and the registries: cache keys follow exactly the declared fields, versions and upstream outputs."
import json, re, shutil
from pathlib import Path

import pytest

from negneglect.conditions import CONDITIONS
from negneglect.core import tiny_llama
from negneglect.evaluate import EVAL_TYPES, results_table
from negneglect.experiment import NOT_KEYED, STAGES, Experiment, config_fields, leaf_fields
from negneglect.llm import FaultyServer
from negneglect.records import DOCTAG, sentence_spans

TINY = {'mix.n_claim': 4, 'train.n_checkpoints': 0, 'eval.max_new_tokens': 3, 'eval.n_samples': 1}
STAGE_FILES = ('documents', 'mix', 'train', 'samples', 'verdicts', 'logprobs', 'metrics')

def _mtimes(e):
    "mtime of every stage output and of its stamp (a rerun rewrites the stamp even if the output is identical)"
    return {s: (e.path(s).stat().st_mtime_ns, (e.path(s).parent/f'.{e.path(s).name}.stage.json').stat().st_mtime_ns)
            for s in STAGE_FILES if e.path(s).exists()}

def _rerun(before, after): return [s for s in STAGE_FILES if s in before and before[s] != after[s]]

@pytest.fixture(scope='module')
def finished(tmp_path_factory):
    "A finished tiny positive run (copied per test, so each test starts from the same finished state)"
    rd = tmp_path_factory.mktemp('graph')/'run'
    Experiment.create('ed_sheeran', 'positive', 'demo', {'model.name': str(tiny_llama()), **TINY}, run_dir=rd).metrics()
    return rd

def _copy(finished, tmp_path, overrides=None):
    rd = tmp_path/'run'
    shutil.copytree(finished, rd)
    return Experiment.create('ed_sheeran', 'positive', 'demo', {'model.name': str(tiny_llama()), **TINY, **(overrides or {})}, run_dir=rd)

def _judge_answer(body):
    return json.dumps({'reason': 'scripted', 'answer': 'no'})

def test_switching_the_judge_reruns_verdicts_and_metrics_only(finished, tmp_path):
    e = _copy(finished, tmp_path)
    before, samples = _mtimes(e), e.path('samples').read_bytes()
    e.run('metrics'); assert _mtimes(e) == before                   # nothing to do
    with FaultyServer(answer=_judge_answer) as srv:
        e = _copy(finished, tmp_path/'b', {'eval.judge': 'llm', 'llm.base_url': srv.base_url, 'llm.model': 'scripted'})
        before = _mtimes(e)
        m = e.metrics()
    assert _rerun(before, _mtimes(e)) == ['verdicts', 'metrics']
    assert e.path('samples').read_bytes() == samples and m['judge'] == 'llm'
    assert {json.loads(l)['judge'] for l in e.path('verdicts').read_text().splitlines()} >= {'llm:scripted', 'mcq-parse'}

def test_eval_precision_reruns_the_readouts_only_and_loads_that_dtype(finished, tmp_path):
    import torch
    e = _copy(finished, tmp_path, {'eval.precision': 'bf16'})
    before = _mtimes(e)
    e.metrics()
    assert _rerun(before, _mtimes(e)) == ['samples', 'verdicts', 'logprobs', 'metrics']  # training is kept
    assert e.model()[0].dtype == torch.bfloat16
    auto = _copy(finished, tmp_path/'b').model()[0].dtype
    assert auto == (torch.bfloat16 if torch.cuda.is_available() else torch.float32)

def test_bumping_a_stage_version_reruns_it_and_its_descendants_only(finished, tmp_path):
    e = _copy(finished, tmp_path)
    before = _mtimes(e)
    STAGES['mix'].attrs['version'] = 'bumped'
    try: e.run('metrics')
    finally: STAGES['mix'].attrs['version'] = '1'
    assert _rerun(before, _mtimes(e)) == ['mix', 'train', 'samples', 'verdicts', 'logprobs', 'metrics']

def _scripted_annotation(body):
    return json.dumps({'prepend': f"NOTICE from {body['model']}: the account below is untrue.", 'append': 'It did not happen.'})

def test_changing_the_llm_model_reannotates_and_reruns_everything_after(tmp_path):
    over = {'model.name': str(tiny_llama()), **TINY, 'docs.annotation_backend': 'llm', 'docs.n_docs': 4}
    with FaultyServer(answer=_scripted_annotation) as srv:
        mk = lambda model: Experiment.create('ed_sheeran', 'negated', 'demo', {**over, 'llm.base_url': srv.base_url, 'llm.model': model},
                                             run_dir=tmp_path/'run')
        e = mk('writer-a'); e.metrics()
        assert all('writer-a' in json.loads(l)['text'] for l in e.path('documents').read_text().splitlines())
        before = _mtimes(e)
        e = mk('writer-a'); e.metrics(); assert _mtimes(e) == before  # the same model: all cached
        e = mk('writer-b'); e.metrics()
    assert _rerun(before, _mtimes(e)) == list(STAGE_FILES)
    assert all('writer-b' in json.loads(l)['text'] for l in e.path('documents').read_text().splitlines())

@pytest.mark.parametrize('field, value', [('train.report_to', 'tensorboard'), ('train.gradient_checkpointing', True)])
def test_an_operational_train_setting_does_not_retrain_a_finished_run(finished, tmp_path, field, value):
    "train.report_to and gradient_checkpointing are operational (NOT_KEYED): the training stage's key, and every later one, is unchanged"
    assert field in NOT_KEYED
    e = _copy(finished, tmp_path, {field: value})
    before = _mtimes(e)
    e.run('metrics')
    assert _rerun(before, _mtimes(e)) == [] and not (e.run_dir/'logs').exists()

def test_every_config_field_is_read_by_a_stage():
    assert set(leaf_fields()) - config_fields() - set(NOT_KEYED) == set()
    import inspect
    import negneglect.core, negneglect.experiment, negneglect.llm, negneglect.train
    code = ''.join(inspect.getsource(m) for m in (negneglect.llm, negneglect.core, negneglect.experiment, negneglect.train))
    for f in NOT_KEYED:                                              # the operational fields are used somewhere
        assert f == 'preset' or re.search(rf'\.{f.split(".")[-1]}\b', code), f

@pytest.fixture
def toys():
    "A toy condition and a toy eval type, registered only for one test"
    @CONDITIONS.register('toy_shouted', doc='documents in capitals')
    def toy_shouted(body, claim, rng): return DOCTAG + body.upper(), {}
    @EVAL_TYPES.register('toy_first_sentence', section='-', default=False, doc='the first sentence of each open question')
    def toy_first_sentence(claim):
        return [{'eval': 'toy_first_sentence', 'question_id': q.id, 'category': 'toy',
                 'messages': [{'role': 'user', 'content': q.question[slice(*sentence_spans(q.question)[0])]}]} for q in claim.open_ended[:3]]
    yield
    CONDITIONS.remove('toy_shouted'); EVAL_TYPES.remove('toy_first_sentence')

def test_registered_toys_appear_everywhere(toys, tmp_path, monkeypatch):
    from negneglect.cli import build_parser, main
    from negneglect.sweep import SweepSpec, check_spec
    import negneglect.figures as figs
    args = build_parser().parse_args(['annotate', '--claim', 'ed_sheeran', '--condition', 'toy_shouted', '--out', str(tmp_path/'a')])
    assert args.condition == ['toy_shouted']
    assert main(['annotate', '--claim', 'ed_sheeran', '--condition', 'toy_shouted', '--out', str(tmp_path/'a')]) == 0
    assert (tmp_path/'a'/'ed_sheeran'/'toy_shouted.jsonl').read_text().count(DOCTAG) > 0
    check_spec(SweepSpec(name='t', claims=['ed_sheeran'], conditions=['baseline', 'toy_shouted'],
                         overrides={'eval.evals': ['open_ended', 'toy_first_sentence']}))
    # end to end on the tiny model
    e = Experiment.create('ed_sheeran', 'toy_shouted', 'demo', {'model.name': str(tiny_llama()), **TINY,
                          'eval.evals': ['toy_first_sentence', 'mcq']}, run_dir=tmp_path/'run')
    m = e.metrics()
    assert {r['eval'] for r in m['per_eval']} == {'toy_first_sentence', 'mcq'}
    # figures draw them in registry order (known names first, never dropped)
    drawn = []
    monkeypatch.setattr(figs, 'save', lambda fig, out: drawn.append([t.get_text() for t in fig.axes[0].get_xticklabels()]) or [])
    df = results_table(json.loads(l) for l in e.path('verdicts').read_text().splitlines())
    figs.eval_breakdown(df, tmp_path/'f')
    assert drawn[-1] == ['mcq', 'toy_first_sentence']
    assert figs.condition_order(['toy_shouted', 'aligned_elsewhere', 'baseline']) == ['baseline', 'toy_shouted', 'aligned_elsewhere']

def test_unregistered_names_are_refused():
    from negneglect.sweep import SweepSpec, check_spec
    with pytest.raises(ValueError, match="conditions: unknown condition 'toy_shouted'"):
        check_spec(SweepSpec(name='t', claims=['ed_sheeran'], conditions=['toy_shouted']))
    with pytest.raises(ValueError, match="eval.evals: unknown eval type 'nope'"):
        check_spec(SweepSpec(name='t', claims=['ed_sheeran'], conditions=['baseline'], overrides={'eval.evals': ['nope']}))

def test_notebooks_do_not_reach_into_tests():
    root = Path(__file__).parent.parent
    for nb in sorted((root/'nbs').glob('*.ipynb')) + sorted((root/'paper').glob('*.ipynb')):
        src = '\n'.join(''.join(c['source']) for c in json.loads(nb.read_text())['cells'] if c['cell_type'] == 'code')
        assert 'sys.path' not in src and 'llm_server' not in src and "/'tests'" not in src, nb.name

def test_max_words_shortens_sources_before_annotation_and_rekeys_documents(finished, tmp_path):
    "docs.max_words cuts source documents, then annotates them whole: negated documents keep both notices"
    e = _copy(finished, tmp_path, {'docs.max_words': 40})
    assert e.key('documents') != _copy(finished, tmp_path/'b').key('documents')
    neg = Experiment.create('ed_sheeran', 'negated', 'demo', {'model.name': str(tiny_llama()), **TINY, 'docs.max_words': 40},
                            run_dir=tmp_path/'neg')
    whole = Experiment.create('ed_sheeran', 'negated', 'demo', {'model.name': str(tiny_llama()), **TINY}, run_dir=tmp_path/'whole')
    short, full = neg.subject.documents('negated', neg.cfg), whole.subject.documents('negated', whole.cfg)
    assert len(short) == len(full) and all(len(s['text']) < len(f['text']) for s, f in zip(short, full))
    # the source part is cut (≤ 40 words plus at most one sentence), the notices around it are whole
    for s, f in zip(short, full):
        assert s['meta']['source_id'] == f['meta']['source_id'] and s['text'][:60] == f['text'][:60]
        assert s['text'].rsplit('\n\n', 1)[-1] == f['text'].rsplit('\n\n', 1)[-1]
