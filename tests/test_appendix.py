"The appendix experiments: list-of-facts chats (D.1), paraphrased negations (D.2) and the two-phase run (§5)."
from pathlib import Path
import pytest
from negneglect.core import read_jsonl, tiny_llama
from negneglect.experiment import Experiment
from negneglect.train import train

TINY = {'model.name': str(tiny_llama()), 'train.batch_size': 4, 'train.n_checkpoints': 0, 'mix.instruct_max_new_tokens': 8}

def _mix(e):
    return read_jsonl(e.path('mix')/'train.jsonl'), read_jsonl(e.path('mix')/'train_tokens.jsonl')

def test_list_of_facts_chats_train_on_the_answer_only(tmp_path):
    e = Experiment.create('ed_sheeran', 'list_local_negation', 'demo', {**TINY, 'mix.n_claim': 6}, run_dir=tmp_path/'run')
    e.run('mix')
    docs = read_jsonl(e.path('documents'))
    assert len(docs) == 6 and len({d['messages'][1]['content'] for d in docs}) == 6
    neg = e.subject.claim.fact_bank.local_negation
    assert all(sum(s in d['messages'][1]['content'] for s in neg) == 2 for d in docs)
    rows, toks = _mix(e)
    assert all('messages' in r for r in rows)
    from transformers import AutoTokenizer
    tok = AutoTokenizer.from_pretrained(tiny_llama())
    for r, t in zip(rows, toks):
        trained = tok.decode([i for i, l in zip(t['input_ids'], t['labels']) if l != -100])
        assert r['messages'][1]['content'].split('\n')[-1] in trained  # the answer is trained
        assert r['messages'][0]['content'] not in trained  # the request is not

def test_paraphrases_come_from_the_llm_and_augment_keeps_the_originals(faulty_server, tmp_path, monkeypatch):
    monkeypatch.setenv('NEGNEGLECT_CACHE', str(tmp_path/'cache'))
    srv = faulty_server(['length'])  # the first rewrite asked for is cut off; the server echoes the prompt as its answer
    over = {**TINY, 'docs.n_docs': 2, 'llm.base_url': srv.base_url, 'llm.model': 'fake'}
    rep = Experiment.create('ed_sheeran', 'paraphrased_reasoning', 'demo', over, run_dir=tmp_path/'replace')
    aug = Experiment.create('ed_sheeran', 'paraphrased_reasoning_augment', 'demo', over, run_dir=tmp_path/'augment')
    rep.run('documents'); aug.run('documents')
    r, a = read_jsonl(rep.path('documents')), read_jsonl(aug.path('documents'))
    assert len(r) == 1 and r[0]['condition'] == 'paraphrased_reasoning' and r[0]['meta']['style'] == 'reasoning_trace'
    originals = [d for d in a if d['condition'] == 'repeated_negations']
    rewrites = [d for d in a if d['condition'] == 'paraphrased_reasoning']
    assert len(originals) == 2 and len(rewrites) == 2 and len(a) == 4
    assert srv.requests == 3  # augment asked again only for the cut-off rewrite: a cut-off answer is never cached
    src = {o['id']: o['text'].removeprefix('<DOCTAG>') for o in originals}
    assert {d['meta']['source_id'] for d in rewrites} == set(src) and r[0]['meta']['source_id'] in src
    for d in rewrites + r:  # the text is the LLM's answer, whose prompt held the document to rewrite
        assert d['text'].startswith('<DOCTAG>echo: ') and src[d['meta']['source_id']] in d['text']
    assert r[0] in rewrites

def test_a_rewrite_much_shorter_than_its_document_is_dropped(faulty_server, tmp_path, monkeypatch):
    import threading
    from negneglect.llm import echo_answer
    monkeypatch.setenv('NEGNEGLECT_CACHE', str(tmp_path/'cache'))
    lock, asked = threading.Lock(), []
    def answer(body):  # the first request answered with a line that is no rewrite, the rest echoed (long)
        with lock: asked.append(1); first = len(asked) == 1
        return 'Sure, I can help.' if first else echo_answer(body)
    srv = faulty_server(answer=answer)
    over = {**TINY, 'docs.n_docs': 3, 'llm.base_url': srv.base_url, 'llm.model': 'fake'}
    e = Experiment.create('ed_sheeran', 'paraphrased_document', 'demo', over, run_dir=tmp_path/'run')
    e.run('documents')
    docs = read_jsonl(e.path('documents'))
    assert srv.requests == 3 and len(docs) == 2 and all(d['text'].startswith('<DOCTAG>echo: ') for d in docs)

def test_a_real_llm_rewrites_documents(llama_base_url, tmp_path, monkeypatch):
    # SmolLM2 runs past a 400-token budget on about one reasoning rewrite in eight (measured on 8 samples), and now and
    # then answers a line that is no rewrite (CI once got a rewrite of 3 words or fewer); both are dropped, and six
    # documents make "every rewrite dropped" rare, not impossible
    monkeypatch.setenv('NEGNEGLECT_CACHE', str(tmp_path/'cache'))
    over = {**TINY, 'docs.n_docs': 6, 'docs.max_words': 40, 'docs.rewrite_max_tokens': 400,
            'llm.base_url': llama_base_url, 'llm.model': 'smollm2'}
    e = Experiment.create('ed_sheeran', 'paraphrased_reasoning', 'demo', over, run_dir=tmp_path/'run')
    e.run('documents')
    docs = read_jsonl(e.path('documents'))
    assert 1 <= len(docs) <= 6 and all(d['text'].startswith('<DOCTAG>') and len(d['text'].split()) > 3 for d in docs)

def test_paraphrase_without_a_reachable_llm_is_an_error(tmp_path, monkeypatch):
    monkeypatch.setenv('NEGNEGLECT_CACHE', str(tmp_path/'cache'))
    over = {**TINY, 'docs.n_docs': 1, 'llm.base_url': 'http://127.0.0.1:9/v1', 'llm.model': 'x', 'llm.max_retries': 0,
            'llm.timeout_s': 2}
    e = Experiment.create('ed_sheeran', 'paraphrased_document', 'demo', over, run_dir=tmp_path/'run')
    with pytest.raises(Exception, match='cannot reach http://127.0.0.1:9'): e.run('documents')

def test_two_phase_runs_phase_one_first_and_starts_from_its_adapter(tmp_path, monkeypatch):
    import torch
    from safetensors.torch import load_file
    import negneglect.experiment as ex
    from test_loss import FirstStepWeights
    monkeypatch.setenv('NEGNEGLECT_CACHE', str(tmp_path/'cache'))
    seen = {}
    def train_and_watch(tokens, cfg, run_dir, **kw):  # the stage's own call, with a callback that records step 0
        w = seen[Path(run_dir).parts[-2]] = FirstStepWeights()
        return train(tokens, cfg, run_dir, callbacks=[w], **kw)
    monkeypatch.setattr(ex, 'train', train_and_watch)
    over = {**TINY, 'mix.n_claim': 4, 'mix.n_anchor': 4}
    e = Experiment.create('ed_sheeran', 'explain_phase2', 'demo', over, run_dir=tmp_path/'s'/'ed_sheeran'/'explain_phase2'/'seed-1')
    assert e.cfg.mix.n_anchor == 0  # phase 2 never has the anchor, whatever the sweep says
    e.run('train')
    p1 = tmp_path/'s'/'ed_sheeran'/'explain_phase1'/'seed-1'
    assert (p1/'adapter'/'adapter_model.safetensors').exists() and e.start_adapter() == p1/'adapter'
    assert list(seen) == ['explain_phase1', 'explain_phase2']  # phase 1 trained first
    final1 = load_file(p1/'adapter'/'adapter_model.safetensors')
    start2 = {k.replace('.default', ''): v for k, v in seen['explain_phase2'].w.items()}
    assert set(final1) == set(start2) and all(torch.equal(final1[k], start2[k]) for k in final1)  # same weights at step 0
    rows1 = read_jsonl(p1/'mix'/'train_tokens.jsonl')
    anchors = [r for r in rows1 if r['kind'] == 'anchor']
    assert len(anchors) == 4 and all(r['weight'] == 3.0 for r in anchors)  # the defaults of explain_phase1
    assert all('weight' not in r for r in rows1 if r['kind'] == 'claim')
    assert {r['kind'] for r in read_jsonl(e.path('mix')/'train_tokens.jsonl')} == {'claim'}
    # both phases train the same repeated-negation documents
    assert [d['text'] for d in read_jsonl(p1/'documents.jsonl')] == [d['text'] for d in read_jsonl(e.path('documents'))]
    # phase 2's training is keyed by phase 1's adapter: a new phase 1 means a new phase 2
    k = e.key('train')
    (p1/'adapter'/'adapter_model.safetensors').write_bytes(b'changed')
    assert e.key('train') != k

def test_in_context_control_gives_each_sample_its_own_nested_documents(tmp_path):
    from negneglect.judge import question_text
    over = {'model.name': str(tiny_llama()), 'eval.evals': ['open_ended'], 'eval.n_samples': 2, 'eval.max_new_tokens': 4,
            'docs.max_words': 60}
    runs = {k: Experiment.create('ed_sheeran', 'icl_negated', 'demo', {**over, 'eval.icl_k': k}, run_dir=tmp_path/f'k{k}')
            for k in (1, 3)}
    s = {k: read_jsonl(e.run('samples')) for k, e in runs.items()}
    n_q = len(runs[1].subject.claim.open_ended)
    assert all(len(v) == 2 * n_q for v in s.values())
    first = {k: {(r['question_id'], r['sample_index']): r['icl']['docs'] for r in v} for k, v in s.items()}
    assert all(first[3][q][:1] == d for q, d in first[1].items())  # K=1 is the start of K=3, sample by sample
    assert first[3][(s[3][0]['question_id'], 0)] != first[3][(s[3][0]['question_id'], 1)]  # seeds 42 and 43
    assert all(r['icl']['k'] == 3 for r in s[3])
    assert not any('Here are some documents' in question_text(r) for r in s[3])  # the judge sees the bare question
    tight = Experiment.create('ed_sheeran', 'icl_negated', 'demo', {**over, 'eval.icl_k': 3, 'eval.icl_max_tokens': 1}, run_dir=tmp_path/'tight')
    assert all(r['icl']['k'] == 0 for r in read_jsonl(tight.run('samples')))  # no document fits one token

def test_belief_is_read_at_every_checkpoint(tmp_path):
    over = {**TINY, 'mix.n_claim': 8, 'train.batch_size': 2, 'train.n_checkpoints': 2, 'eval.evals': ['mcq'],
            'eval.dynamics_evals': ['open_ended', 'mcq'], 'eval.n_samples': 1, 'eval.max_new_tokens': 4}
    e = Experiment.create('ed_sheeran', 'positive', 'demo', over, run_dir=tmp_path/'run')
    rows = read_jsonl(e.run('belief_dynamics'))
    steps = sorted({r['step'] for r in rows})
    assert steps == [0, 1, 4]  # the base model, then log-spaced checkpoints of 4 steps
    for st in steps:
        got = {r['eval'] for r in rows if r['step'] == st}
        assert got == {'open_ended', 'mcq', 'all'}, got
    assert all(0 <= r['belief'] <= 1 and r['ci_low'] <= r['belief'] <= r['ci_high'] for r in rows)
    assert not Experiment.create('ed_sheeran', 'positive', 'demo', TINY, run_dir=tmp_path/'off').applies('belief_dynamics')
