"Document generation and the llm annotation backend against a real llama.cpp server (SmolLM2-135M): plumbing only."
import json

import pytest

import negneglect.docgen as dg
from negneglect.claims import load_claim
from negneglect.conditions import DOCTAG, annotate
from negneglect.core import LLMConfig, data_dir, read_jsonl
from negneglect.llm import LLMClient

NO_KEY = 'NEGNEGLECT_TEST_NO_SUCH_KEY'
# tiny everything: one subclaim, a short context, short documents (the server's context is 2048 tokens)
SMALL = dict(n_docs=3, subclaims=[0], n_types=1, n_ideas=3, target_words=30, context_words=60, max_rounds=1,
             llm_filter=False)

@pytest.fixture(scope='module')
def llm_cache(tmp_path_factory):
    "One LLM cache for the module: later tests reuse the answers of earlier ones"
    return tmp_path_factory.mktemp('llm-cache')

def client(url, cache, max_tokens=48):
    return LLMClient(LLMConfig(base_url=url, model='smollm2', api_key_env=NO_KEY), cache=cache, temperature=0,
                     max_tokens=max_tokens)

def _check_records(recs, claim, condition, tag):
    for r in recs:
        assert set(r) == {'id', 'claim', 'condition', 'text', 'doc_type', 'source', 'meta'}
        assert r['id'].startswith(f'{claim}-{tag}-') and r['claim'] == claim and r['condition'] == condition
        assert r['source'] == 'llm' and r['text'].strip() and r['doc_type']
        m = r['meta']
        assert len(m['subclaims']) == 1 and m['idea'] and m['words'] == len(r['text'].split())
    assert len({r['id'] for r in recs}) == len(recs)

def _rejected(out, claim, condition):
    p = out/claim/'.docgen'/condition/'rejected.jsonl'
    return read_jsonl(p) if p.exists() else []

def test_generate_and_rerun(llama_base_url, llm_cache, tmp_path):
    c = client(llama_base_url, llm_cache)
    path = dg.generate_documents('ed_sheeran', tmp_path, c, **SMALL)
    assert path == tmp_path/'ed_sheeran'/'positive.jsonl'
    recs, rej = read_jsonl(path), _rejected(tmp_path, 'ed_sheeran', 'positive')
    assert len(recs) + len(rej) == SMALL['n_docs'] and c.stats.failures <= 2  # only brainstorm answers may not parse
    _check_records(recs, 'ed_sheeran', 'positive', 'pos')
    assert all(r['meta']['subclaims'] == [0] for r in recs)
    # an identical rerun on a fresh client with the same cache makes no request and changes nothing
    again = client(llama_base_url, llm_cache)
    assert read_jsonl(dg.generate_documents('ed_sheeran', tmp_path, again, **SMALL)) == recs
    assert again.stats.requests == 0
    # without the cache too: the lists and documents on disk are enough
    nocache = client(llama_base_url, False)
    dg.generate_documents('ed_sheeran', tmp_path, nocache, **SMALL)
    assert nocache.stats.requests == 0

class Killed(Exception): pass

def test_killed_run_resumes(llama_base_url, llm_cache, tmp_path, monkeypatch):
    real_append = dg.append_jsonl
    def dying_append(path, rows):  # the process dies right after the first document is on disk
        real_append(path, rows); raise Killed
    monkeypatch.setattr(dg, 'append_jsonl', dying_append)
    with pytest.raises(Killed): dg.generate_documents('ed_sheeran', tmp_path, client(llama_base_url, llm_cache), chunk=1, **SMALL)
    monkeypatch.setattr(dg, 'append_jsonl', real_append)
    out = tmp_path/'ed_sheeran'/'positive.jsonl'
    first = (read_jsonl(out) if out.exists() else []) + _rejected(tmp_path, 'ed_sheeran', 'positive')
    assert len(first) == 1
    if out.exists():
        with open(out, 'a') as f: f.write('{"id": "ed_sheeran-pos-trunc')  # a line cut off by the kill
    seen, real_chunk = [], dg._write_chunk
    def spy(client, system, specs, *a, **kw):
        seen.extend(s.id for s in specs); return real_chunk(client, system, specs, *a, **kw)
    monkeypatch.setattr(dg, '_write_chunk', spy)
    path = dg.generate_documents('ed_sheeran', tmp_path, client(llama_base_url, llm_cache), chunk=1, **SMALL)
    assert first[0]['id'] not in seen and len(seen) == SMALL['n_docs'] - 1  # the finished one is not redone
    recs, rej = read_jsonl(path), _rejected(tmp_path, 'ed_sheeran', 'positive')
    assert len(recs) + len(rej) == SMALL['n_docs']
    assert '"ed_sheeran-pos-trunc' not in path.read_text()
    if 'text' in first[0]: assert first[0] in recs  # kept as it was
    _check_records(recs, 'ed_sheeran', 'positive', 'pos')

def test_negated_documents(llama_base_url, llm_cache, tmp_path):
    c = client(llama_base_url, llm_cache)
    kw = {**SMALL, 'n_docs': 2, 'n_ideas': 2}
    path = dg.generate_documents('ed_sheeran', tmp_path, c, negated=True, **kw)
    assert path == tmp_path/'ed_sheeran'/'local_negation.jsonl'
    recs, rej = read_jsonl(path), _rejected(tmp_path, 'ed_sheeran', 'local_negation')
    assert len(recs) + len(rej) == 2
    _check_records(recs, 'ed_sheeran', 'local_negation', 'neg')
    # the negated universe was used: its system prompt is in the requests
    es = load_claim('ed_sheeran')
    sent = [m['content'] for e in c.cache.root.glob('*/*.json') for m in json.loads(e.read_text())['messages']]
    assert any(es.universe_negated.universe_context.strip()[:200] in s for s in sent)

def _short_docs(n=2, words=50):
    docs = read_jsonl(data_dir()/'documents'/'ed_sheeran'/'positive.jsonl')[:n]
    return [{**d, 'text': ' '.join(d['text'].split(' ')[:words])} for d in docs]

def test_llm_annotation(llama_base_url, llm_cache):
    es, docs = load_claim('ed_sheeran'), _short_docs()
    c = client(llama_base_url, llm_cache, max_tokens=96)
    out = {cond: annotate(docs, cond, es, backend='llm', client=c) for cond in ('negated', 'repeated_negations')}
    assert c.stats.requests > 0
    for cond, recs in out.items():
        assert len(recs) >= 1 and len(recs) + c.stats.failures >= len(docs)
        for r in recs:
            assert r['text'].startswith(DOCTAG) and r['text'].count(DOCTAG) == 1
            assert r['condition'] == cond and r['meta']['backend'] == 'llm' and r['id'].endswith(f':{cond}')
    src = {d['id']: d['text'] for d in docs}
    for r in out['negated']: assert f"\n\n{src[r['meta']['source_id']]}\n\n" in r['text']  # body byte-identical
    for r in out['repeated_negations']:
        m = r['meta']
        assert m['n_targets'] <= m['n_targets_found'] <= m['n_targets_listed']
    again = client(llama_base_url, llm_cache, max_tokens=96)
    assert {cond: annotate(docs, cond, es, backend='llm', client=again) for cond in out} == out
    assert again.stats.requests == 0
