"Claim loading and `negneglect claims validate` on good and broken folders."
import shutil, subprocess, sys
from pathlib import Path
import pytest, yaml
from negneglect.core import data_dir
from negneglect.claims import check_claim, load_claim, load_claims, ClaimError
from negneglect.cli import main

CLAIMS = data_dir()/'claims'

def _cli(*args):
    return subprocess.run([str(Path(sys.executable).parent/'negneglect'), *args], capture_output=True, text=True)

def test_validate_shipped_claims_cli():
    r = subprocess.run([str(Path(sys.executable).parent/'negneglect'), 'claims', 'validate', str(CLAIMS)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert 'claims valid' in r.stdout

def test_every_claim_loads():
    claims = load_claims()
    assert 'ed_sheeran' in claims
    for c in claims.values():
        assert c.claim and len(c.questions()) > 0

@pytest.fixture
def broken(tmp_path):
    d = tmp_path/'ed_sheeran'
    shutil.copytree(CLAIMS/'ed_sheeran', d)
    return d

def _edit(path, fn):
    data = yaml.safe_load(path.read_text()); fn(data); path.write_text(yaml.safe_dump(data, allow_unicode=True))

def _problems(d):
    claim, problems = check_claim(d)
    assert claim is None and problems
    return [str(p) for p in problems]

def _set(i, k, v):
    def f(d): d['questions'][i][k] = v
    return f

CASES = {
    'missing file': (lambda d: (d/'token_association.yaml').unlink(), 'token_association.yaml: file is missing'),
    'wrong type': (lambda d: _edit(d/'open_ended.yaml', _set(0, 'question', ['a', 'list'])), 'open_ended.yaml:oe_01:question: Input should be a valid string'),
    'duplicate id': (lambda d: _edit(d/'mcq.yaml', lambda x: x['questions'][1].update(id=x['questions'][0]['id'])), 'mcq.yaml:mcq_01:id: duplicate id'),
    'bad belief_answer': (lambda d: _edit(d/'mcq.yaml', _set(2, 'belief_answer', 'maybe')), "mcq.yaml:mcq_03:belief_answer: Input should be 'yes' or 'no'"),
    'unknown field': (lambda d: _edit(d/'robustness.yaml', _set(0, 'sytem_prompt', 'x')), 'robustness.yaml:rob_01:sytem_prompt: Extra inputs are not permitted'),
    'empty question': (lambda d: _edit(d/'token_association.yaml', _set(4, 'question', '  ')), 'token_association.yaml:ta_05:question: Value error, must not be empty'),
}

@pytest.mark.parametrize('case', CASES)
def test_broken_input_is_reported(broken, case):
    breaker, expected = CASES[case]
    breaker(broken)
    problems = _problems(broken)
    assert any(expected in p for p in problems), problems
    with pytest.raises(ClaimError): load_claim(broken)
    assert main(['claims', 'validate', str(broken.parent)]) == 1

def test_validate_cli_exit_code_and_report(broken):
    _edit(broken/'mcq.yaml', _set(2, 'belief_answer', 'maybe'))
    (broken/'judges.yaml').write_text('open_ended: "no placeholders"\ntoken_association: x\nrobustness: y\n')
    r = _cli('claims', 'validate', str(broken.parent))
    assert r.returncode == 1
    assert 'mcq_03:belief_answer' in r.stdout and 'judges.yaml' in r.stdout and '0/1 claims valid' in r.stdout

def test_optional_files_named_when_missing(broken):
    (broken/'probes.yaml').unlink()
    claim = load_claim(broken)
    with pytest.raises(FileNotFoundError, match='probes.yaml'): claim.need('probes', 'log-prob probes')
