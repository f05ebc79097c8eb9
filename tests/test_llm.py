"The LLM client against a real llama.cpp server and a scripted faulty server."
import asyncio, time
from typing import Literal

import pytest
from pydantic import BaseModel

from negneglect.core import LLMConfig
from negneglect.llm import (ChatRequest, LLMClient, LLMRequestError, LLMSetupError, extract_json)
from llm_server import free_port

NO_KEY = 'NEGNEGLECT_TEST_NO_SUCH_KEY'

class YesNo(BaseModel):
    answer: Literal['yes', 'no']

@pytest.fixture(autouse=True)
def _no_test_key(monkeypatch):
    monkeypatch.delenv(NO_KEY, raising=False)

def local(base_url, **kw):
    return LLMConfig(base_url=base_url, api_key_env=NO_KEY, **kw)

# ---- the real llama.cpp server -------------------------------------------------------------------------------

def test_llama_chat(llama_base_url, tmp_path):
    client = LLMClient(local(llama_base_url, model='smollm2'), cache=tmp_path, temperature=0, max_tokens=12)
    res = client.chat('What is the capital of France? Answer in one word.')
    assert res.ok and res.text.strip() and not res.cached
    assert 'paris' in res.text.lower(), res.text
    s = client.stats
    assert (s.requests, s.retries, s.failures, s.cache_hits) == (1, 0, 0, 0)
    assert s.prompt_tokens > 5 and 0 < s.completion_tokens <= 12

def test_llama_structured(llama_base_url, tmp_path):
    client = LLMClient(local(llama_base_url, model='smollm2'), cache=tmp_path, temperature=0, max_tokens=24)
    res = client.chat('Is Paris the capital of France? Answer yes or no.', YesNo)
    assert isinstance(res.parsed, YesNo), res.text
    assert client.stats.failures == 0 and client.stats.retries == 0
    assert client._fmt == 1  # llama-cpp-python knows no json_schema, but constrains decoding with json_object+schema

def test_llama_batch_rerun_makes_no_requests(llama_base_url, tmp_path):
    cfg = local(llama_base_url, model='smollm2', concurrency=4)
    reqs = [f'Name a colour. Reply with one word. ({i})' for i in range(4)] + \
           [ChatRequest('Is the sea salty? Answer yes or no.', YesNo)] + \
           [{'prompt': 'Say a number.', 'sample_index': i, 'temperature': 0.8} for i in range(2)]
    first = LLMClient(cfg, cache=tmp_path, max_tokens=10, temperature=0)
    out = first.map(reqs, desc='first')
    assert all(r.ok for r in out), [r.error for r in out]
    # one more request when the server first refused the json_schema form (llama-cpp-python does)
    assert first.stats.requests == len(reqs) + (first._fmt > 0) and first.stats.cache_hits == 0
    cut = [r.finish_reason == 'length' for r in out]                     # cut off by max_tokens: never cached
    second = LLMClient(cfg, cache=tmp_path, max_tokens=10, temperature=0)
    again = second.map(reqs, desc='second')
    assert sum(cut) <= second.stats.requests <= sum(cut) + 1 and second.stats.cache_hits == len(reqs) - sum(cut)
    assert second.stats.cached_tokens > 0
    assert [r.text for r, c in zip(again, cut) if not c] == [r.text for r, c in zip(out, cut) if not c]
    assert all(r.cached for r, c in zip(again, cut) if not c) and not any(r.cached for r, c in zip(again, cut) if c)
    assert again[4].parsed == out[4].parsed

# ---- the faulty server -------------------------------------------------------------------------------------

FAULTS = ['429', '500', 'slow', 'drop', 'garbage', 'badjson']

def test_every_fault_is_survived(faulty_server, tmp_path):
    srv = faulty_server(FAULTS, per_item=True, slow_s=2.0)  # each item meets every fault once, then succeeds
    cfg = local(srv.base_url, model='fake', concurrency=8, max_retries=6, timeout_s=0.75)
    client = LLMClient(cfg, cache=tmp_path, backoff=0.01, max_tokens=4)
    prompts = [f'item {i}' for i in range(20)]
    t = time.time()
    out = client.map(prompts, desc='faulty')
    assert [r.text for r in out] == [f'echo: {p}' for p in prompts]  # nothing lost, nothing out of order
    s = client.stats
    assert (s.requests, s.retries, s.failures) == (20*7, 20*6, 0)
    assert s.errors == {'429': 20, '500': 20, 'timeout': 20, 'connection': 20, 'garbage': 40}
    assert srv.requests == 20*7
    assert time.time() - t < 20
    # a rerun is served from the cache: no request reaches the server
    again = LLMClient(cfg, cache=tmp_path, max_tokens=4)
    assert [r.text for r in again.map(prompts)] == [r.text for r in out]
    assert again.stats.requests == 0 and srv.requests == 20*7

def test_exhausted_retries_become_markers(faulty_server):
    srv = faulty_server(item_scripts={'bad': ['500']*10, 'slowpoke': ['429', '429']})
    client = LLMClient(local(srv.base_url, max_retries=2), cache=False, backoff=0.01)
    out = client.map(['a', 'bad', 'slowpoke', 'b'])
    assert [r.ok for r in out] == [True, False, True, True]
    assert 'giving up after 3 attempts (last error: 500)' in out[1].error and out[1].text is None
    assert out[2].text == 'echo: slowpoke'
    assert client.stats.failures == 1 and srv.requests == 2 + 3 + 3
    with pytest.raises(LLMRequestError, match='giving up'): client.chat('bad')

def test_retry_after_and_backoff_grow():
    client = LLMClient(local('http://127.0.0.1:1/v1'), cache=False, backoff=1.0, max_backoff=8)
    waits = [client._delay(a) for a in range(6)]
    assert all(0.5*min(8, 2**a) <= w < 1.5*min(8, 2**a) for a, w in enumerate(waits))
    assert client._delay(0, retry_after='5') >= 5

def test_401_is_not_retried(faulty_server):
    srv = faulty_server(['401']*10)
    client = LLMClient(local(srv.base_url), cache=False, backoff=0.01)
    with pytest.raises(LLMSetupError, match=f'refused the API key.*check {NO_KEY}'): client.chat('hi')
    assert srv.requests == 1 and client.stats.retries == 0
    with pytest.raises(LLMSetupError, match='refused the API key'):  # a batch raises it once
        client.map([f'q{i}' for i in range(10)])

def test_400_is_not_retried(faulty_server):
    srv = faulty_server(['400']*10)
    client = LLMClient(local(srv.base_url), cache=False, backoff=0.01)
    out = client.map(['only one'])
    assert not out[0].ok and 'rejected the request (400)' in out[0].error
    assert srv.requests == 1 and client.stats.retries == 0

def test_missing_key_for_remote_endpoint():
    client = LLMClient(LLMConfig(base_url='https://llm.example.invalid/v1', api_key_env=NO_KEY), cache=False)
    with pytest.raises(LLMSetupError, match=f'{NO_KEY} is not set'): client.chat('hi')
    with pytest.raises(LLMSetupError, match=f'{NO_KEY} is not set'): client.map(['a', 'b', 'c'])
    assert client.stats.requests == 0

def test_unreachable_endpoint():
    url = f'http://127.0.0.1:{free_port()}/v1'
    client = LLMClient(local(url), cache=False, backoff=0.01)
    t = time.time()
    with pytest.raises(LLMSetupError, match=f'cannot reach {url}: is the server running\\? set llm.base_url'):
        client.map([f'q{i}' for i in range(5)])
    assert time.time() - t < 5

def test_api_key_never_reaches_the_cache(faulty_server, tmp_path, monkeypatch):
    monkeypatch.setenv(NO_KEY, 'sk-very-secret-test-key')
    srv = faulty_server()
    client = LLMClient(local(srv.base_url), cache=tmp_path)
    assert client.chat('hello').text == 'echo: hello'
    files = list(tmp_path.rglob('*.json'))
    assert len(files) == 1 and 'sk-very-secret' not in files[0].read_text()

def test_sync_wrapper_inside_a_running_loop(faulty_server, tmp_path):
    srv = faulty_server()
    client = LLMClient(local(srv.base_url), cache=tmp_path)
    async def notebook_cell():  # as in Jupyter: a loop is already running when the sync call is made
        return client.map(['x', 'y']), await client.achat('z')
    out, z = asyncio.run(notebook_cell())
    assert [r.text for r in out] == ['echo: x', 'echo: y'] and z.text == 'echo: z'

def test_structured_output_request_and_fallback(faulty_server):
    fenced = lambda body: 'Here you go:\n```json\n{"answer": "no"}\n```'
    srv = faulty_server(answer=fenced)
    client = LLMClient(local(srv.base_url), cache=False)
    assert client.chat('Q?', YesNo).parsed == YesNo(answer='no')
    assert srv.formats == ['json_schema']
    # a server without json_schema support answers 400 naming the format: the client falls back, and remembers
    srv = faulty_server(answer=fenced, reject_formats={'json_schema'})
    client = LLMClient(local(srv.base_url), cache=False)
    out = client.map([ChatRequest(f'Q{i}?', YesNo) for i in range(3)])
    assert [r.parsed for r in out] == [YesNo(answer='no')]*3
    assert srv.formats.count('json_schema') <= 3 and srv.formats[-1] == 'json_object'
    assert client.stats.retries == 0 and client.stats.failures == 0
    n = len(srv.formats)
    client.chat('Q again?', YesNo)
    assert srv.formats[n:] == ['json_object']
    # llama-cpp-python rejects json_schema with a 500 that names response_format: a format rejection, not retried
    srv = faulty_server(answer=fenced, reject_formats={'json_schema'}, reject_status=500)
    client = LLMClient(local(srv.base_url), cache=False)
    assert client.chat('Q?', YesNo).parsed.answer == 'no'
    assert srv.formats == ['json_schema', 'json_object'] and client.stats.retries == 0

def test_extract_json_cases():
    assert extract_json('{"a": 1}') == {'a': 1}
    assert extract_json('Answer:\n```json\n{"answer": "yes"}\n```') == {'answer': 'yes'}
    assert extract_json("{'answer': 'no', 'ok': false}") == {'answer': 'no', 'ok': False}
    assert extract_json('I think {"x": {"y": "}"}} is it') == {'x': {'y': '}'}}
    assert extract_json('nothing') is None and extract_json('') is None
