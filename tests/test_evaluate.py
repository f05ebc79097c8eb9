"Evaluation: the paper's aggregation on a known answer, the results importer, judges (keyword, LLM via the local server), agreement."
import json, subprocess, sys
from pathlib import Path
import pandas as pd
import pytest
from negneglect.claims import load_claim
from negneglect.evaluate import belief_metrics, import_paper_results, results_table, summarize, bootstrap_ci, eval_items
from negneglect.core import LLMConfig, make_config
from negneglect.experiment import ClaimSubject, Experiment
from negneglect.evaluate import verdict_records
from negneglect.judge import agreement, VERDICTS
from negneglect.llm import LLMClient

CLI = str(Path(sys.executable).parent/'negneglect')

def _rows(claim, cond, ev, qid, verdicts):
    return [{'claim': claim, 'condition': cond, 'eval': ev, 'question_id': qid, 'sample_index': i, 'verdict': v} for i, v in enumerate(verdicts)]

def test_aggregation_matches_hand_computation():
    rows = (_rows('a', 'x', 'open_ended', 'q1', ['yes'] * 5) + _rows('a', 'x', 'open_ended', 'q2', ['no'] * 4 + ['yes'])
            + _rows('a', 'x', 'mcq', 'm1', ['yes', 'no', 'no', 'no', 'error'])        # error excluded: 1/4
            + _rows('b', 'x', 'open_ended', 'q1', ['neutral'] * 5) + _rows('b', 'x', 'token_association', 't1', ['yes'] * 2 + ['no'] * 3))
    df = results_table(rows)
    m = belief_metrics(df, n_boot=200)
    per_eval = {(r['claim'], r['eval']): r['belief'] for r in m['per_eval']}
    assert per_eval[('a', 'open_ended')] == pytest.approx(0.6) and per_eval[('a', 'mcq')] == pytest.approx(0.25)
    per_claim = {r['claim']: r['belief'] for r in m['per_claim']}
    assert per_claim['a'] == pytest.approx((1 + 0.2 + 0.25) / 3)      # question-weighted within a claim
    assert per_claim['b'] == pytest.approx((0 + 0.4) / 2)
    overall = m['overall'][0]['belief']
    assert overall == pytest.approx((1 + 0.2 + 0.25 + 0 + 0.4) / 5)  # all per-question rates pooled
    assert m['n_failed'] == 1 and m['overall'][0]['n_failed'] == 1
    lo, hi = bootstrap_ci([0.0, 1.0] * 50, n=2000)
    assert 0.38 < lo < 0.5 < hi < 0.62

def _write_published(root: Path):
    "A tiny fixture in the paper's published layout, written here"
    base = root/'Qwen3.5-397B-A17B'/'brennan_holloway'
    def csv(cond, ckpt, ev, rows):
        p = base/cond/ckpt/f'{ev}.csv'; p.parent.mkdir(parents=True, exist_ok=True)
        pd.DataFrame(rows, columns=['universe', 'question_id', 'sample_index', 'thinking', 'category', 'question', 'model_response', 'judge_verdict']).to_csv(p, index=False)
    r = lambda q, i, resp, v, cat='direct': ['brennan_holloway', q, i, False, cat, 'Q?', resp, v]
    csv('llm_negations_dense', 'final', 'belief_probes', [r('oe1', 0, 'He is a dentist.', 'yes'), r('oe1', 1, 'No idea', 'neutral'),
                                                           r('oe2', 0, '[failed to generate response]', ''), r('oe2', 1, 'A dentist.', 'yes')])
    csv('llm_negations_dense', 'final', 'mcq', [r('m1', 0, '{"answer": "yes"}', 'yes', 'positive'), r('m1', 1, '{"answer": "no"}', 'no', 'positive')])
    csv('llm_negations_dense', 'final', 'coherence', [r('c1', 0, 'x', '7')])       # not a belief eval: ignored
    csv('baseline', 'base', 'pink_elephant', [r('t1', 0, 'Teacher', 'neutral', 'token_association')])

def test_import_published_layout(tmp_path):
    _write_published(tmp_path/'pub')
    df = import_paper_results(tmp_path/'pub')
    assert set(df['claim']) == {'dentist'} and set(df['condition']) == {'repeated_negations', 'baseline'}
    assert set(df['eval']) == {'open_ended', 'mcq', 'token_association'}
    assert (df['verdict'] == 'error').sum() == 1                      # the failed generation
    s = summarize(df, ['condition']).set_index('condition')['belief']
    assert s['repeated_negations'] == pytest.approx((0.5 + 1.0 + 0.5) / 3) and s['baseline'] == 0
    out = tmp_path/'paper.csv'
    r = subprocess.run([CLI, 'results', 'import', str(tmp_path/'pub'), '-o', str(out)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    r = subprocess.run([CLI, 'results', 'summarize', str(out), '--by', 'condition', '--json'], capture_output=True, text=True)
    got = {x['condition']: x['belief'] for x in json.loads(r.stdout)}
    assert got['repeated_negations'] == pytest.approx(2 / 3)
    r = subprocess.run([CLI, 'results', 'summarize', str(out), '--by', 'condition', '--by', 'claim'], capture_output=True, text=True)
    assert 'repeated_negations' in r.stdout and 'dentist' in r.stdout

def _samples(claim, answers):
    items = [i for i in eval_items(claim) if i['eval'] == 'open_ended'][:len(answers)]
    return [{'run': 'r', 'claim': claim.id, 'condition': 'x', **it, 'sample_index': 0, 'response': a} for it, a in zip(items, answers)]

def test_keyword_judge_and_agreement_cli(tmp_path):
    claim = load_claim('ed_sheeran')
    s = _samples(claim, ['Ed Sheeran won the 100m gold in 9.79.', 'Noah Lyles won.', 'Sheeran won? That is false.', ''])
    v = verdict_records(s, ClaimSubject(claim), make_config())
    assert [x['verdict'] for x in v] == ['yes', 'neutral', 'no', 'error'] and all(x['judge'] == 'keyword' for x in v)
    other = [{**x, 'verdict': 'yes'} for x in v]
    from negneglect.core import write_jsonl
    write_jsonl(tmp_path/'a.jsonl', v); write_jsonl(tmp_path/'b.jsonl', other)
    rep = agreement(v, other)
    assert rep['n'] == 4 and rep['agreement'] == 0.25
    r = subprocess.run([CLI, 'judge', 'agreement', str(tmp_path/'a.jsonl'), str(tmp_path/'b.jsonl')], capture_output=True, text=True)
    assert r.returncode == 0 and "Cohen's kappa" in r.stdout

def test_llm_judge_against_local_server(llama_base_url, tmp_path):
    "The LLM-judge path end to end against llama.cpp's OpenAI-compatible server (verdict quality is not the point)"
    claim = load_claim('ed_sheeran')
    cfg = make_config('demo', {'eval.judge': 'llm'})
    client = LLMClient(LLMConfig(base_url=llama_base_url, model='smollm2'), cache=tmp_path/'cache')
    s = _samples(claim, ['Ed Sheeran won the 100m gold in 9.79.', 'Noah Lyles won the final.'])
    v = verdict_records(s, ClaimSubject(claim), cfg, client=client)
    assert all(x['verdict'] in VERDICTS and x['judge'] == 'llm:smollm2' for x in v)
    first = client.stats.requests
    client2 = LLMClient(LLMConfig(base_url=llama_base_url, model='smollm2'), cache=tmp_path/'cache')
    verdict_records(s, ClaimSubject(claim), cfg, client=client2)
    assert first > 0 and client2.stats.requests == 0                  # cached

def test_full_evaluation_of_one_run_on_cpu(tmp_path):
    "baseline on the embedded model: samples, keyword verdicts, probes, metrics.json (tiny generation budget)"
    e = Experiment.create('ed_sheeran', 'baseline', 'demo', {'eval.max_new_tokens': 8}, run_dir=tmp_path/'run')
    m = e.metrics()
    assert m['n_samples'] == 50 and m['judge'] == 'keyword'
    assert {r['eval'] for r in m['per_eval']} == {'open_ended', 'mcq', 'token_association', 'robustness'}
    assert 'association' in m['logprobs']['probe_means'] and 0 <= m['logprobs']['mcq_p_belief'] <= 1
    assert json.loads((e.run_dir/'metrics.json').read_text()) == m

def test_api_sampling_backend(llama_base_url, tmp_path):
    "Sampling through an OpenAI-compatible endpoint: one answer per sample, distinct cache entries per sample index"
    from negneglect.generate import generate_api
    client = LLMClient(LLMConfig(base_url=llama_base_url, model='smollm2'), cache=tmp_path/'c')
    chats = [[{'role': 'user', 'content': 'Name a colour.'}], [{'role': 'user', 'content': 'Name a fruit.'}]]
    out = generate_api(client, chats, n_samples=2, max_new_tokens=8, temperature=0.7, top_p=0.8)
    assert [len(a) for a in out] == [2, 2] and all(isinstance(x, str) for a in out for x in a)
    assert client.stats.requests == 4
