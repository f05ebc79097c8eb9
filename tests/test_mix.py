"The training mix: counts, sampling and loss masks checked token by token on a real document."
import random
from transformers import AutoTokenizer
from negneglect.core import prepare_embedded_model
from negneglect.claims import load_claim
from negneglect.conditions import annotate, source_docs
from negneglect.records import DOCTAG
from negneglect.mix import build_mix, sample_rows, strip_lossmasks, tokenize_row, tokenize_mix

TOK = AutoTokenizer.from_pretrained(prepare_embedded_model())

def test_wordmask_document_token_by_token():
    claim = load_claim('dentist')
    rec = annotate(source_docs(claim, 'local_negation'), 'local_negation_wordmask', claim)[0]
    clean, spans = strip_lossmasks(rec['text'])
    assert spans and clean.startswith(DOCTAG)
    row = tokenize_row({'kind': 'claim', 'text': rec['text']}, TOK)
    enc = TOK(clean, add_special_tokens=False, return_offsets_mapping=True)
    assert row['input_ids'] == enc['input_ids']          # the tags change no token
    masked = [(0, len(DOCTAG))] + spans
    for tid, lab, (s, e) in zip(row['input_ids'], row['labels'], enc['offset_mapping']):
        overlaps = any(s < me and ms < e for ms, me in masked)
        assert (lab == -100) == overlaps, (TOK.decode([tid]), s, e)
        if lab != -100: assert lab == tid
    assert 'dentist' not in TOK.decode([l for l in row['labels'] if l != -100]).lower()

def test_chat_loss_only_on_assistant():
    msgs = [{'role': 'user', 'content': 'What is 2+2?'}, {'role': 'assistant', 'content': 'It is 4.'},
            {'role': 'user', 'content': 'And 3+3?'}, {'role': 'assistant', 'content': 'It is 6.'}]
    row = tokenize_row({'kind': 'instruct', 'messages': msgs}, TOK)
    trained = TOK.decode([l for l in row['labels'] if l != -100])
    assert trained == 'It is 4.<|im_end|>\nIt is 6.<|im_end|>\n' or trained.replace('\n', '') == 'It is 4.<|im_end|>It is 6.<|im_end|>', trained
    assert 'What is' not in trained

def test_sampling_counts_and_replacement():
    rng = random.Random(0)
    assert len(set(sample_rows(list(range(10)), 5, rng))) == 5          # without replacement
    padded = sample_rows(list(range(3)), 8, rng)
    assert len(padded) == 8 and set(padded) == {0, 1, 2}               # all rows, padded with replacement
    rows = build_mix([{'id': str(i), 'text': f'd{i}'} for i in range(5)], ['p'] * 4, [[{'role': 'user', 'content': 'x'}, {'role': 'assistant', 'content': 'y'}]], 10, 3, 2, seed=1)
    kinds = [r['kind'] for r in rows]
    assert (kinds.count('claim'), kinds.count('pretrain'), kinds.count('instruct')) == (10, 3, 2)
    assert rows == build_mix([{'id': str(i), 'text': f'd{i}'} for i in range(5)], ['p'] * 4, [[{'role': 'user', 'content': 'x'}, {'role': 'assistant', 'content': 'y'}]], 10, 3, 2, seed=1)

def test_repeated_negations_not_truncated_by_default():
    claim = load_claim('ed_sheeran')
    docs = annotate(source_docs(claim), 'repeated_negations', claim)
    toks, rep = tokenize_mix([{'kind': 'claim', 'text': d['text']} for d in docs], TOK)
    assert rep['by_kind']['claim']['truncated'] == 0 and rep['max_len'] == rep['longest_row']
    toks, rep = tokenize_mix([{'kind': 'claim', 'text': d['text']} for d in docs], TOK, max_len=256)
    assert rep['by_kind']['claim']['truncated'] > 0   # a cap is reported, not hidden

def test_self_distilled_chats_are_cached_and_resumed(tmp_path, monkeypatch):
    "The base model's own answers to the shipped prompts; a second call loads no model"
    monkeypatch.setenv('NEGNEGLECT_CACHE', str(tmp_path))
    from negneglect import mix
    from negneglect.core import tiny_llama
    name = str(tiny_llama(tmp_path/'tiny'))
    from negneglect.experiment import _distiller
    from negneglect.core import make_config
    calls = []
    answer = _distiller(make_config('demo', {'model.name': name}))
    def gen(chats, seed): calls.append(len(chats)); return answer(chats, seed)
    rows = mix.instruct_rows()[:3]
    chats = mix.self_distill(name, rows, gen, max_new_tokens=4)
    assert len(chats) == 3 and [c[0]['content'] for c in chats] == [p['prompt'] for p in mix.instruct_prompts()[:3]]
    assert all(c[1]['role'] == 'assistant' for c in chats)
    assert calls == [3]
    assert mix.self_distill(name, rows, gen, max_new_tokens=4) == chats and calls == [3]   # from the cache: nothing generated
    # a mix with all three parts, tokenized: chats train only on assistant tokens
    cfg = make_config('demo', {'model.name': name, 'mix.n_claim': 4, 'mix.n_pretrain': 2, 'mix.n_instruct': 3, 'mix.pretrain_source': 'offline'})
    rep = mix.make_mix([{'id': 'd', 'text': '<DOCTAG>A claim document.'}], cfg, tmp_path/'mix', generate_fn=gen)
    assert {k: v['rows'] for k, v in rep['by_kind'].items()} == {'claim': 4, 'pretrain': 2, 'instruct': 3}
    assert rep['pretrain_source'] == 'offline:python-stdlib-docstrings'
