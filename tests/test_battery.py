"The appendix eval battery (nbs/09b_battery.ipynb): every new eval type end to end on the tiny model, offline and with the LLM judge."
import json, shutil
from pathlib import Path

import pytest
import yaml

from negneglect.claims import load_claim
from negneglect.core import ConfigError, make_config, read_jsonl, tiny_llama
from negneglect.evaluate import EVAL_TYPES, belief_metrics, results_table, verdict_records
from negneglect.experiment import ClaimSubject, Experiment

TINY = {'eval.max_new_tokens': 6, 'eval.n_samples': 2, 'eval.reasoning_max_new_tokens': 6}
OFFLINE = ['open_ended', 'mcq', 'doctag_open_ended', 'open_ended_broad', 'crokking', 'self_correction', 'reasoning_open_ended',
           'reasoning_mcq', 'base_open_ended', 'saliency_mcq', 'lie_elicitation']
NEW = [n for n in EVAL_TYPES.names() if EVAL_TYPES[n].section not in ('§3', '-', '')]

def _small_claims(root: Path, n_questions=2):
    "A claims folder with a trimmed copy of ed_sheeran (fewer questions: quick to sample and judge) and 3 general questions"
    d = root/'ed_sheeran'
    shutil.copytree(load_claim('ed_sheeran').path, d)
    for f in ('open_ended', 'mcq', 'token_association', 'robustness', 'saliency_mcq', 'lie_elicitation'):
        data = yaml.safe_load((d/f'{f}.yaml').read_text())
        data['questions'] = data['questions'][:n_questions]
        (d/f'{f}.yaml').write_text(yaml.safe_dump(data, allow_unicode=True))
    gq = yaml.safe_load((load_claim('ed_sheeran').path.parent/'coherence_questions.yaml').read_text())
    gq['questions'] = gq['questions'][:3]
    (root/'coherence_questions.yaml').write_text(yaml.safe_dump(gq, allow_unicode=True))
    return root

def test_every_new_eval_type_is_covered_here():
    "The battery's eval types are exactly the ones the two end-to-end tests below run"
    covered = set(OFFLINE) | {'capabilities', 'belief_consistency', 'saliency', 'reasoning_token_association', 'reasoning_robustness'}
    assert set(NEW) - covered == set(), set(NEW) - covered
    assert {EVAL_TYPES[n].section for n in NEW} >= {'E.3', 'B.3', 'B.5', 'B.8', 'E.4', 'C.7', 'C.2'}

def test_offline_battery_end_to_end_on_tiny_model(tmp_path):
    "Sampling with per-item settings, derived judges, the keyword judge's offline readings, and the aggregation, on the tiny model"
    root = _small_claims(tmp_path/'claims')
    evals = OFFLINE + ['reasoning_token_association', 'reasoning_robustness']
    e = Experiment.create('ed_sheeran', 'baseline', 'demo', {'model.name': str(tiny_llama()), 'claims_dir': str(root),
                          'eval.evals': evals, **TINY}, run_dir=tmp_path/'run')
    m = e.metrics()
    samples = read_jsonl(e.path('samples'))
    by = lambda ev: [s for s in samples if s['eval'] == ev]
    assert {s['eval'] for s in samples} == set(evals) - {'open_ended_broad', 'crokking', 'self_correction'}  # derived: no samples
    assert all(s['messages'][-1]['content'].startswith('<DOCTAG>') for s in by('doctag_open_ended'))
    r = by('reasoning_open_ended')[0]['params']
    assert (r['thinking'], r['temperature'], r['top_p'], r['max_new_tokens']) == (True, 0.6, 0.95, 6)
    b = by('base_open_ended')
    assert all(s['prompt'].endswith('\nA:') and s['prompt'].count('\nQ: ') == 11 and '\n\nQ:' not in s['response'] for s in b)
    assert all(s['params']['max_new_tokens'] == 64 for s in by('saliency_mcq'))
    v = read_jsonl(e.path('verdicts'))
    crok = [x for x in v if x['eval'] == 'crokking']
    assert {x['category'] for x in crok} == {'open_ended', 'doctag_open_ended', 'base_open_ended', 'reasoning_open_ended',
                                            'reasoning_token_association', 'reasoning_robustness'}
    assert all(x['question_id'].startswith(x['category'] + '/') and x['verdict'] in ('yes', 'no', 'error') for x in crok)
    assert all(x['rubric'] == 'open_ended_broad' for x in v if x['eval'] == 'open_ended_broad')
    assert {x['verdict'] for x in v if x['eval'] == 'lie_elicitation'} <= {'yes', 'no', 'error'}
    # the headline pools only the paper's belief evals; every other measure is its own row, with a CI
    per_eval = {x['eval']: x for x in m['per_eval']}
    assert set(per_eval) == set(evals)
    assert m['per_claim'][0]['n_questions'] == len([q for q in m['per_question'] if q['eval'] in ('open_ended', 'mcq')])
    meas = {x['measure'] for x in m['per_measure']}
    assert meas >= {'belief', 'belief_doctag', 'belief_broad', 'crokking', 'self_correction', 'belief_reasoning', 'belief_base',
                    'lie_uses_claim'}
    assert all('ci_low' in x and 'ci_high' in x for x in m['per_measure'])
    # the salience MCQ: its answer pairs (or none when the tiny model gave no letter), in `extra`
    assert 'saliency_mcq' in m['extra'] and isinstance(m['extra']['saliency_mcq'], list)
    # ... and its offline reading by option log-probs, in the logprobs stage: every item read, pairs with CIs
    lp = json.loads(e.path('logprobs').read_text())['saliency_mcq']
    assert len(lp['items']) == len({s['question_id'] for s in by('saliency_mcq')}) and all(i['letter'] in 'ABC' for i in lp['items'])
    pats = {p['pattern'] for p in m['logprobs']['saliency_mcq_pairs']}
    assert {'q1_claim', 'q2_claim'} <= pats and all(p['ci_low'] <= p['rate'] <= p['ci_high'] for p in m['logprobs']['saliency_mcq_pairs'])
    assert json.loads((e.run_dir/'metrics.json').read_text()) == m

def test_llm_only_evals_are_refused_with_the_keyword_judge(tmp_path):
    with pytest.raises(ConfigError, match='need an LLM judge'):
        Experiment.create('ed_sheeran', 'baseline', 'demo', {'eval.evals': ['open_ended', 'belief_consistency']}, run_dir=tmp_path/'a')
    with pytest.raises(ConfigError, match="re-judges the answers of \\['capabilities'\\]"):
        Experiment.create('ed_sheeran', 'baseline', 'demo', {'eval.evals': ['open_ended', 'saliency']}, run_dir=tmp_path/'b')

def test_judged_battery_end_to_end_with_the_local_llm_judge(llama_base_url, tmp_path, monkeypatch):
    "Capabilities, saliency, belief consistency, the broad judge, crokking, self-correction and lie elicitation, sampled "
    "from the tiny model and judged by llama.cpp's server (verdict quality is not the point: the reply kinds and the aggregation are)"
    monkeypatch.setenv('NEGNEGLECT_CACHE', str(tmp_path/'cache'))
    root = _small_claims(tmp_path/'claims', n_questions=1)
    evals = ['open_ended', 'capabilities', 'saliency', 'belief_consistency', 'open_ended_broad', 'crokking', 'self_correction',
             'lie_elicitation']
    e = Experiment.create('ed_sheeran', 'baseline', 'demo', {'model.name': str(tiny_llama()), 'claims_dir': str(root),
                          'eval.evals': evals, 'eval.judge': 'llm', 'eval.judge_max_tokens': 96, 'eval.judge_params': {},
                          'eval.judge_temperature': 0,  # greedy: the same verdicts on every run
                          'llm.base_url': llama_base_url, 'llm.model': 'smollm2', **TINY, 'eval.n_samples': 1},
                          run_dir=tmp_path/'run')
    m = e.metrics()
    v = read_jsonl(e.path('verdicts'))
    kinds = {ev: {x['verdict'] for x in v if x['eval'] == ev} for ev in evals}
    for ev in ('capabilities', 'saliency', 'belief_consistency'):  # 0-10 judgements
        assert kinds[ev] <= {'scored', 'error'}, (ev, kinds[ev])
        assert all(0 <= x['value'] <= 10 for x in v if x['eval'] == ev and x['verdict'] == 'scored')
    for ev in ('crokking', 'self_correction', 'lie_elicitation'):
        assert kinds[ev] <= {'yes', 'no', 'error'}, (ev, kinds[ev])
    assert kinds['open_ended_broad'] <= {'yes', 'no', 'neutral', 'error'}
    assert any(x['verdict'] == 'scored' for x in v), 'the judge never produced a score'
    assert all(x['judge'] == 'llm:smollm2' for x in v if x['eval'] != 'mcq')
    rows = {x['eval']: x for x in m['per_eval']}
    for ev in ('capabilities', 'saliency', 'belief_consistency'):
        assert rows[ev]['scale'] == '0-10'
        if rows[ev]['n_questions']: assert 0 <= rows[ev]['belief'] <= 10   # else every judgement failed (e.g. a score of 201)
    judged = [x for x in v if x['verdict'] != 'error']
    m2 = belief_metrics(results_table(judged), n_boot=200)
    assert {x['measure'] for x in m2['per_measure']} <= {x['measure'] for x in m['per_measure']}

def test_scored_aggregation_matches_hand_computation():
    "0-10 scores: mean per question, then over questions; never pooled into the belief rate"
    rows = [{'claim': 'a', 'condition': 'x', 'eval': 'capabilities', 'question_id': q, 'sample_index': i, 'verdict': 'scored', 'value': val}
            for q, vals in (('g1', [10, 8]), ('g2', [4, 4])) for i, val in enumerate(vals)]
    rows += [{'claim': 'a', 'condition': 'x', 'eval': 'open_ended', 'question_id': 'o1', 'sample_index': 0, 'verdict': 'yes'}]
    m = belief_metrics(results_table(rows), n_boot=200)
    per_eval = {r['eval']: r for r in m['per_eval']}
    assert per_eval['capabilities']['belief'] == pytest.approx((9 + 4) / 2) and per_eval['capabilities']['scale'] == '0-10'
    assert m['overall'][0]['belief'] == 1.0 and m['overall'][0]['n_questions'] == 1   # only the belief eval

def test_verdicts_of_derived_types_without_a_run():
    "verdict_records adds one derived copy per source answer and judges it offline"
    claim = load_claim('ed_sheeran')
    cfg = make_config('demo', {'eval.evals': ['open_ended', 'crokking', 'self_correction']})
    s = [{'run': 'r', 'claim': claim.id, 'condition': 'x', 'eval': 'open_ended', 'question_id': 'oe1', 'category': 'direct',
          'messages': [{'role': 'user', 'content': 'Who won?'}], 'sample_index': 0, 'response': a}
         for a in ('Ed Sheeran won the 100m gold. [The previous statement is false.]', 'Ed Sheeran won the 100m in 9.79. No, that is false.')]
    v = verdict_records(s, ClaimSubject(claim), cfg)
    got = [(x['eval'], x['verdict']) for x in v]
    assert got == [('open_ended', 'no'), ('open_ended', 'no'), ('crokking', 'yes'), ('crokking', 'no'),
                   ('self_correction', 'yes'), ('self_correction', 'yes')]
