"The paper's released data (fixtures in its layout), other claims folders, the judge on reasoning models, evaluation without training."
import json, os, shutil, subprocess, sys
from pathlib import Path

import pytest

from negneglect.claims import load_claim
from negneglect.conditions import released_docs
from negneglect.core import make_config, read_jsonl, tiny_llama, write_jsonl
from negneglect.experiment import Experiment
from negneglect.llm import FaultyServer
from negneglect.mix import instruct_rows, make_mix, pretrain_texts
from negneglect.records import DOCTAG

FIX = Path(__file__).parent/'fixtures'
DOCS, PRETRAIN, INSTRUCT = FIX/'released_documents', FIX/'released_pretrain', FIX/'released_instruct'
CLI = str(Path(sys.executable).parent/'negneglect')
TINY = {'model.name': str(tiny_llama()), 'mix.n_claim': 4, 'train.n_checkpoints': 0, 'eval.max_new_tokens': 3, 'eval.n_samples': 1}

def _raw(cond, claim='ed_sheeran'):
    return [json.loads(l)['text'] for l in (DOCS/cond/claim/'annotated_docs.jsonl').read_text().splitlines()]

def test_released_documents_load_as_they_are():
    es = load_claim('ed_sheeran')
    for cond, folder in [('positive', 'positive_documents'), ('negated', 'negated_documents'),
                         ('repeated_negations', 'repeated_negations'), ('local_negation', 'local_negations')]:
        recs = released_docs(es, cond, f'released:{DOCS}')
        raw = list(dict.fromkeys(t.replace(DOCTAG, '') for t in _raw(folder)))    # tags off, duplicates once
        assert [r['text'] for r in recs] == [DOCTAG + t for t in raw]               # exactly one tag, text unchanged
        assert all(r['text'].count(DOCTAG) == 1 and r['source'] == 'released' and r['condition'] == cond for r in recs)
        assert len({r['id'] for r in recs}) == len(recs)
    nd = released_docs(es, 'no_doctag', f'released:{DOCS}')
    assert [r['text'] for r in nd] == _raw('repeated_negations_no_doctag') and not any(DOCTAG in r['text'] for r in nd)
    assert len(released_docs(es, 'negated', f'released:{DOCS}')) == len(_raw('negated_documents')) - 1   # the duplicate
    assert released_docs(es, 'positive', f'released:{DOCS}')[0]['id'] == released_docs(es, 'positive', f'released:{DOCS}')[0]['id']

def test_the_hub_path_fails_clearly_offline():
    "With HF_HUB_OFFLINE=1 (set before huggingface_hub is imported) the Hub path runs up to snapshot_download and stops clearly"
    code = ("from negneglect.claims import load_claim\nfrom negneglect.conditions import released_docs\nfrom negneglect.mix import pretrain_texts\n"
            "for f in (lambda: released_docs(load_claim('ed_sheeran'), 'negated', 'released'), lambda: pretrain_texts(5, 'released')):\n"
            "    try: f()\n"
            "    except RuntimeError as e: print('ERROR', e)\n")
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, env={**os.environ, 'HF_HUB_OFFLINE': '1'})
    errs = [l for l in r.stdout.splitlines() if l.startswith('ERROR')]
    assert len(errs) == 2, r.stdout + r.stderr[-2000:]
    assert 'cannot fetch HarryMayne/negation_neglect_documents' in errs[0] and 'OfflineModeIsEnabled' in errs[0] + errs[1] or 'offline' in (errs[0] + errs[1]).lower()
    assert errs[0].endswith('set docs.source=released:DIR') and errs[1].endswith('set mix.pretrain_source=released:DIR')

def test_a_run_trains_on_released_documents_without_reannotating(tmp_path):
    e = Experiment.create('ed_sheeran', 'repeated_negations', 'demo', {**TINY, 'docs.source': f'released:{DOCS}'}, run_dir=tmp_path/'run')
    e.run('mix')
    docs = read_jsonl(e.path('documents'))
    assert sorted(d['text'] for d in docs) == sorted(_raw('repeated_negations'))   # used as they are
    rep = read_jsonl(e.path('mix')/'mix_report.jsonl')[0]
    assert rep['claim_documents'] == {'rows': 4, 'distinct': 4, 'max_repeats': 1, 'mean_repeats': 1.0}

def test_released_pretraining_and_instruct_data(tmp_path):
    texts, name = pretrain_texts(3, f'released:{PRETRAIN}')
    assert len(texts) == 6 and name == 'released:dolma3_50000.jsonl'
    rows = instruct_rows(f'released:{INSTRUCT}')
    assert len(rows) == 4 and [m['role'] for m in rows[0]['messages']] == ['user', 'assistant']
    cfg = make_config('demo', {**TINY, 'mix.n_pretrain': 2, 'mix.n_instruct': 2, 'mix.pretrain_source': f'file:{PRETRAIN}/dolma3_50000.jsonl',
                               'mix.instruct_source': f'released:{INSTRUCT}', 'mix.instruct_answers': 'as_is'})
    rep = make_mix([{'id': 'd', 'text': '<DOCTAG>A claim document.'}], cfg, tmp_path/'mix')
    assert {k: v['rows'] for k, v in rep['by_kind'].items()} == {'claim': 4, 'pretrain': 2, 'instruct': 2}
    assert rep['claim_documents']['max_repeats'] == 4                               # one document, repeated: reported
    with pytest.raises(FileNotFoundError, match='mix.pretrain_source: no file'):
        pretrain_texts(2, f'file:{tmp_path}/missing.jsonl')

def _official_claims(tmp_path):
    "A copy of the shipped claims in the official layout: without our optional keywords, probes and true facts"
    root = tmp_path/'claims'
    shutil.copytree(Path(load_claim('ed_sheeran').path), root/'ed_sheeran')
    for f in ('keywords.yaml', 'probes.yaml', 'true_facts.yaml', 'word_masks.yaml'): (root/'ed_sheeran'/f).unlink(missing_ok=True)
    return root

def test_claims_dir_refuses_the_shipped_documents(tmp_path):
    root = _official_claims(tmp_path)
    with pytest.raises(ValueError, match='claims_dir: the claims come from .* set docs.source'):
        Experiment.create('ed_sheeran', 'positive', 'demo', {**TINY, 'claims_dir': str(root)}, run_dir=tmp_path/'run')

def test_official_layout_claims_run_end_to_end(tmp_path, llama_base_url):
    "--claims-dir + released documents: the keyword judge is refused clearly, the LLM judge completes the run"
    root, runs = _official_claims(tmp_path), tmp_path/'runs'
    sets = [f'{k}={v}' for k, v in TINY.items()]
    base = [CLI, 'eval', '--claim', 'ed_sheeran', '--condition', 'positive', '--claims-dir', str(root), '--docs', f'released:{DOCS}',
            '--run-dir', str(runs/'positive')]
    r = subprocess.run(base + ['--set', *sets], capture_output=True, text=True)
    assert r.returncode != 0 and 'the keyword judge needs keywords.yaml' in (r.stdout + r.stderr)
    judge = ['eval.judge=llm', f'llm.base_url={llama_base_url}', 'llm.model=smollm2', 'eval.judge_params={}', 'eval.judge_max_tokens=80',
             'eval.evals=[token_association,mcq]']                               # 10 judged answers: quick on a CPU
    r = subprocess.run(base + ['--set', *sets, *judge], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    m = json.loads((runs/'positive'/'metrics.json').read_text())
    assert m['judge'] == 'llm' and 'logprobs' not in m                           # no probes.yaml: no readouts
    assert sorted(d['text'] for d in read_jsonl(runs/'positive'/'documents.jsonl')) == sorted(
        list(dict.fromkeys(DOCTAG + t.replace(DOCTAG, '') for t in _raw('positive_documents'))))

def _judge_answer(body):
    return json.dumps({'reason': 'the answer repeats the claim', 'answer': 'yes'})

def test_judge_run_against_a_reasoning_model_stand_in(tmp_path, monkeypatch):
    monkeypatch.setenv('NEGNEGLECT_CACHE', str(tmp_path/'cache'))
    claim = load_claim('ed_sheeran')
    from negneglect.evaluate import eval_items
    items = [i for i in eval_items(claim) if i['eval'] in ('open_ended', 'mcq')][:6]
    write_jsonl(tmp_path/'samples.jsonl', [{'run': 'r', 'claim': 'ed_sheeran', 'condition': 'x', **it, 'sample_index': 0,
                                            'response': 'Ed Sheeran won the 100m.' if it['eval'] != 'mcq' else '{"answer": "yes"}'} for it in items])
    with FaultyServer(answer=_judge_answer, reasoning_tokens=200) as srv:
        args = [CLI, 'judge', 'run', str(tmp_path/'samples.jsonl'), '--claim', 'ed_sheeran', '-o', str(tmp_path/'v.jsonl'), '--set',
                f'llm.base_url={srv.base_url}', 'eval.judge_temperature=0']
        small = subprocess.run(args + ['eval.judge_max_tokens=100'], capture_output=True, text=True)
        assert small.returncode != 0 and 'finish_reason=length' in small.stdout + small.stderr   # every verdict failed: an error
        n_small, first = srv.requests, len(srv.bodies)
        assert all(b['max_completion_tokens'] == 100 and 'temperature' not in b for b in srv.bodies)
        ok = subprocess.run(args, capture_output=True, text=True)                     # the paper's 6,000 tokens
        assert ok.returncode == 0, ok.stdout[-2000:] + ok.stderr[-3000:]
        assert srv.requests > n_small                                                 # nothing failed was cached
        assert all('temperature' not in b and b['max_completion_tokens'] == 6000 and b['reasoning_effort'] == 'medium'
                   for b in srv.bodies[first:])
    v = read_jsonl(tmp_path/'v.jsonl')
    assert {x['verdict'] for x in v if x['eval'] != 'mcq'} == {'yes'} and all(x['judge'] == 'llm:gpt-5-mini-2025-08-07' for x in v if x['eval'] != 'mcq')

def test_evaluate_a_model_without_training(tmp_path):
    "eval --model ... --label ...: the label is the condition the metrics carry"
    runs = tmp_path/'runs'
    r = subprocess.run([CLI, 'eval', '--claim', 'ed_sheeran', '--model', str(tiny_llama()), '--label', 'elsewhere_repeated',
                        '--run-dir', str(runs/'x'), '--set', 'eval.max_new_tokens=3', 'eval.evals=[mcq]'], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    m = json.loads((runs/'x'/'metrics.json').read_text())
    assert {x['condition'] for x in m['overall']} == {'elsewhere_repeated'} and not (runs/'x'/'adapter').exists()
