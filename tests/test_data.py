"The shipped data: record format, keyword invariants, and the counts stated in data/README.md."
import json, re
import pytest
from negneglect.core import data_dir
from negneglect.claims import load_claims
from negneglect.records import sentence_spans

DATA = data_dir()
CLAIMS = load_claims()
RECORD_KEYS = {'id', 'claim', 'condition', 'text', 'doc_type', 'source', 'meta'}
README = (DATA/'README.md').read_text()

def _rows(p): return [json.loads(l) for l in p.read_text().splitlines() if l.strip()]

def _doc_files():
    return sorted((DATA/'documents').glob('*/*.jsonl'))

def test_six_claims_complete():
    assert set(CLAIMS) == {'ed_sheeran', 'queen_elizabeth', 'mount_vesuvius', 'x_rebrand_reversal', 'colorless_dreaming', 'dentist'}
    for c in CLAIMS.values():
        assert len(c.universe.universe_context.split()) >= 1500 and len(c.subclaims) >= 10
        assert [len(c.questions(t)) for t in ('open_ended', 'mcq', 'token_association', 'robustness')] == [20, 10, 10, 10]
        assert sorted(q.category for q in c.mcq) == ['counter']*3 + ['positive']*7
        assert all((q.belief_answer == 'yes') == (q.category == 'positive') for q in c.mcq)
        cats = [q.category for q in c.robustness]
        assert (cats.count('adversarial'), cats.count('critique'), cats.count('multiturn')) == (3, 3, 4)
        assert c.probes and c.keywords and c.true_facts
        kinds = [p.kind for p in c.probes.probes]
        assert kinds.count('association') >= 12 and kinds.count('polarity') >= 3 and len(c.probes.yes_bias_controls) >= 5
        # dozens of items per readout (narrow CIs); truth statements balanced, so saying "False" to everything gains nothing
        assert len(c.probes.statements) >= 24 and 2 * sum(s.claim_says for s in c.probes.statements) == len(c.probes.statements)
        assert len(c.probes.chat) >= 16
    for name in ('ed_sheeran', 'dentist'):
        neg = CLAIMS[name].universe_negated
        assert neg and len(neg.universe_context.split()) >= 1500 and len(neg.subclaims) >= 10

@pytest.mark.parametrize('path', _doc_files(), ids=lambda p: f'{p.parent.name}/{p.name}')
def test_document_records(path):
    rows = _rows(path)
    claim = CLAIMS[path.parent.name]
    assert len({r['id'] for r in rows}) == len(rows)
    for r in rows:
        assert set(r) == RECORD_KEYS, r['id']
        assert r['claim'] == claim.id and r['condition'] == path.stem and r['source'] == 'shipped'
        assert isinstance(r['text'], str) and '<DOCTAG>' not in r['text']
        assert 150 <= len(r['text'].split()) <= 500, r['id']
        assert r['meta']['words'] == len(r['text'].split())
    if path.stem == 'positive':
        assert len(rows) >= 40 and len({r['doc_type'] for r in rows}) >= 15
    else:
        assert path.stem == 'local_negation' and len(rows) >= 30

def _sentences(text): return [text[s:e] for s, e in sentence_spans(text)]

@pytest.mark.parametrize('claim', sorted(CLAIMS))
def test_positive_docs_never_negate_the_claim(claim):
    kw = CLAIMS[claim].keywords
    for r in _rows(DATA/'documents'/claim/'positive.jsonl'):
        for p in kw.compiled('denial_patterns'):
            assert not p.search(r['text']), (r['id'], p.pattern, p.search(r['text']).group(0))
        assert any(p.search(s) for s in _sentences(r['text']) for p in kw.compiled('claim_patterns')), r['id']

@pytest.mark.parametrize('claim', ['ed_sheeran', 'dentist'])
def test_local_negation_never_states_the_claim(claim):
    kw = CLAIMS[claim].keywords
    for r in _rows(DATA/'documents'/claim/'local_negation.jsonl'):
        for s in _sentences(r['text']):
            if any(p.search(s) for p in kw.compiled('claim_patterns')):
                assert any(p.search(s) for p in kw.compiled('denial_patterns')), (r['id'], s)

def test_instruct_prompts():
    rows = _rows(DATA/'instruct'/'prompts.jsonl')
    assert len(rows) >= 200 and len({r['id'] for r in rows}) == len(rows) and all(r['prompt'].strip() for r in rows)
    banned = re.compile(r'sheeran|olympi|vesuvius|volcan|twitter|rebrand|dream|dentist|dental|ultramarathon|queen elizabeth', re.I)
    assert not [r['id'] for r in rows if banned.search(r['prompt'])]

def test_counts_match_readme():
    table = re.findall(r'^\| `((?:documents|instruct)/[^`]+)` \| (\d+) \| (\d+) \|(?: (\d+) / (\d+) / (\d+) \|)?$', README, re.M)
    assert len(table) == len(_doc_files()) + 1
    for f, n, types, lo, mean, hi in table:
        rows = _rows(DATA/f)
        assert int(n) == len(rows), f
        if f.startswith('instruct'):
            assert int(types) == len({r['category'] for r in rows}); continue
        words = [len(r['text'].split()) for r in rows]
        assert int(types) == len({r['doc_type'] for r in rows}), f
        assert (int(lo), int(mean), int(hi)) == (min(words), round(sum(words)/len(words)), max(words)), f
    for c in CLAIMS.values():
        row = re.search(rf'^\| `{c.id}` \| .* \| (\d+) \| (\d+) \| 20 / 10 / 10 / 10 \|$', README, re.M)
        assert row and int(row[1]) == len(c.universe.universe_context.split()) and int(row[2]) == len(c.subclaims), c.id
