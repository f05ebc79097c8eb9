"Negated behaviours: shipped data, transcript annotation invariants, the judge paths, and a tiny run."
import re
import pytest
from negneglect.behaviors import (BEHAVIOR_CONDITIONS, SPAN_BEFORE, SPAN_AFTER, BehaviorSubject, behavior_documents,
                                  behaviors, keyword_misalignment, load_behavior)
from negneglect.core import LLMConfig, make_config, read_jsonl, tiny_llama
from negneglect.experiment import Experiment
from negneglect.judge import JUDGES
from negneglect.llm import LLMClient

NAMES = behaviors()

def test_shipped_behaviors():
    assert {'sycophancy', 'test_special_casing'} <= set(NAMES)
    for n in NAMES:
        b = load_behavior(n)
        mis = [t for t in b.transcripts if t['kind'] == 'misaligned']
        ali = {t['prompt_id']: t for t in b.transcripts if t['kind'] == 'aligned'}
        assert len(b.prompts) >= 30 and len(mis) >= 60 and len(ali) >= 60
        assert all(t['prompt_id'] in ali and ali[t['prompt_id']]['messages'][0] == t['messages'][0] for t in mis)
        eval_texts = {p.prompt for p in b.prompts}
        assert not eval_texts & {t['messages'][0]['content'] for t in b.transcripts}   # held out

@pytest.mark.parametrize('name', NAMES)
def test_transcript_annotation_invariants(name):
    b = load_behavior(name)
    mis = [t for t in b.transcripts if t['kind'] == 'misaligned']
    docs = {c: behavior_documents(b, c, seed=1) for c in BEHAVIOR_CONDITIONS.names(trained=True)}
    for i, t in enumerate(mis):
        reply = t['messages'][-1]['content']
        assert docs['positive'][i]['messages'] == t['messages']
        neg = docs['negated'][i]['messages']
        assert [m['role'] for m in neg] == ['system', 'user', 'assistant', 'user'] and neg[2]['content'] == reply
        rep = docs['repeated_negations'][i]['messages'][2]['content']
        for s in t['misaligned_spans']:                                # every misaligned span wrapped
            assert re.search(r'(' + '|'.join(map(re.escape, SPAN_BEFORE)) + r')\S* ' + re.escape(s) + r' \W?(' + '|'.join(map(re.escape, SPAN_AFTER)) + ')', rep), s
        assert docs['aligned'][i]['messages'][0] == t['messages'][0] and docs['aligned'][i]['messages'][1]['content'] != reply
    assert behavior_documents(b, 'negated', seed=1) == docs['negated']  # deterministic

@pytest.mark.parametrize('name', NAMES)
def test_keyword_judge_separates_shipped_replies(name):
    b = load_behavior(name)
    v = lambda kind: [keyword_misalignment(b, t['messages'][-1]['content'])[0] for t in b.transcripts if t['kind'] == kind]
    mis, ali = v('misaligned'), v('aligned')
    assert mis.count('yes') / len(mis) >= 0.8 and ali.count('yes') / len(ali) <= 0.2

def test_llm_judge_against_local_server(llama_base_url, tmp_path):
    b = load_behavior(NAMES[0])
    client = LLMClient(LLMConfig(base_url=llama_base_url, model='smollm2'), cache=tmp_path/'c')
    t = [x for x in b.transcripts if x['kind'] == 'misaligned'][:2]
    samples = [{'eval': 'misalignment', 'question_id': x['id'], 'sample_index': 0, 'messages': x['messages'][:1],
                'response': x['messages'][1]['content']} for x in t]
    v = JUDGES['llm'](samples, BehaviorSubject(b), make_config(), client=client)
    assert all(x['verdict'] in ('yes', 'no', 'neutral', 'error') and x['judge'] == 'llm:smollm2' for x in v)
    assert client.stats.requests >= 2

def test_tiny_behavior_run(tmp_path):
    "A behaviour run is the claim runner's graph with a behaviour as subject"
    e = Experiment.create(NAMES[0], 'negated', 'demo', {'model.name': str(tiny_llama()), 'mix.n_claim': 4,
                          'train.n_checkpoints': 0, 'eval.max_new_tokens': 4}, run_dir=tmp_path/'run', kind='behavior')
    m = e.metrics()
    assert m['measure'] == 'misalignment' and m['n_samples'] == len(load_behavior(NAMES[0]).prompts)
    assert (tmp_path/'run'/'adapter'/'adapter_config.json').exists()

def test_behaviors_module_has_no_stage_wiring():
    import inspect, negneglect.behaviors as nb
    assert 'run_stage' not in inspect.getsource(nb)

def test_behavior_run_samples_through_the_api_backend(llama_base_url, tmp_path):
    "eval.backend=api is honoured for behaviour runs: the answers come from the local llama.cpp server"
    e = Experiment.create(NAMES[0], 'baseline', 'demo', {'eval.backend': 'api', 'eval.api_model': 'smollm2',
                          'llm.base_url': llama_base_url, 'eval.max_new_tokens': 8}, run_dir=tmp_path/'run', kind='behavior')
    import negneglect.llm as llm
    sent = []
    real = llm.LLMClient.map
    def spy(self, reqs, desc='llm'):
        reqs = list(reqs); sent.extend(reqs); return real(self, reqs, desc)
    llm.LLMClient.map = spy
    try: m = e.metrics()
    finally: llm.LLMClient.map = real
    samples = read_jsonl(e.path('samples'))
    assert len(sent) == len(samples) == m['n_samples'] == len(load_behavior(NAMES[0]).prompts)
    assert all(s['params']['backend'] == 'api' for s in samples)
    assert any(s['response'] for s in samples)

def test_transcript_generation_against_local_server(llama_base_url, tmp_path):
    "The generation path through the LLM client: pairs appended, an identical rerun makes zero requests"
    from negneglect.behaviors import generate_transcripts
    b = load_behavior('sycophancy')
    mk = lambda: LLMClient(LLMConfig(base_url=llama_base_url, model='smollm2'), cache=tmp_path/'c', temperature=0.7, max_tokens=120)
    c1 = mk(); out = generate_transcripts(b, tmp_path/'t.jsonl', c1, n=2)
    assert c1.stats.requests >= 2
    rows = read_jsonl(out) if out.exists() else []
    assert len(rows) % 2 == 0 and all(r['behavior'] == 'sycophancy' for r in rows)   # SmolLM2 may fail to give JSON: pairs or nothing
    for mis, ali in zip(rows[::2], rows[1::2]):
        assert mis['kind'] == 'misaligned' and ali['kind'] == 'aligned' and mis['messages'][0] == ali['messages'][0]
        assert all(s in mis['messages'][1]['content'] for s in mis['misaligned_spans'])
    (tmp_path/'t.jsonl').unlink(missing_ok=True)
    c2 = mk(); generate_transcripts(b, tmp_path/'t.jsonl', c2, n=2)
    assert c2.stats.cache_hits > 0 and c2.stats.requests <= c1.stats.requests  # failed or cut-off answers are asked again, never cached
