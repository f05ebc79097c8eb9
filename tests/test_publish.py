"Publishing: the model card says what the adapter was trained on and what it measured; an unreachable Hub is a clear error."
import os, subprocess, sys

import pytest

from negneglect.core import tiny_llama
from negneglect.experiment import Experiment
from negneglect.publish import EMBEDDED_ORIGIN, hub_base_model, model_card

@pytest.fixture(scope='module')
def finished(tmp_path_factory):
    "A tiny finished run (the random tiny Llama, a few steps) and its metrics"
    e = Experiment.create('ed_sheeran', 'repeated_negations', 'demo', {'model.name': str(tiny_llama()), 'mix.n_claim': 4,
                          'train.n_checkpoints': 0, 'eval.max_new_tokens': 3, 'eval.evals': ['mcq']},
                          run_dir=tmp_path_factory.mktemp('publish')/'run')
    return e, e.metrics()

def test_model_card_and_offline_push(finished):
    e, m = finished
    card = model_card(e.run_dir)
    assert card.startswith('---\nlibrary_name: peft') and 'base_model' not in card.split('---')[1]  # a local folder: no Hub id
    assert f'A LoRA adapter for `{tiny_llama()}` (a local model folder' in card
    assert '# ed_sheeran / repeated_negations' in card and 'LoRA r=16' in card and 'Judge: `keyword`' in card
    assert f"| mcq | {m['per_eval'][0]['belief']:.3f} |" in card
    code = f"from negneglect.publish import push\ntry: push({str(e.run_dir)!r}, 'someone/adapter')\nexcept RuntimeError as err: print('ERROR', err)"
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, env={**os.environ, 'HF_HUB_OFFLINE': '1', 'HF_TOKEN': 'hf_fake'})
    assert r.stdout.startswith('ERROR cannot upload to someone/adapter') and 'hf_fake' not in r.stdout + r.stderr, r.stdout + r.stderr[-1500:]

def test_cli_push_dry_run_prints_the_card_and_uploads_nothing(finished, capsys, monkeypatch):
    "`negneglect push RUN_DIR REPO_ID --dry-run`: the card on stdout (base model, claim, condition, config, metrics)"
    import negneglect.cli as cli
    e, m = finished
    monkeypatch.setattr(cli, 'push', lambda *a, **kw: pytest.fail('--dry-run uploaded'))
    assert cli.main(['push', str(e.run_dir), 'someone/ed_sheeran-repeated', '--dry-run']) == 0
    out, err = capsys.readouterr()
    assert f'A LoRA adapter for `{tiny_llama()}`' in out                                  # the base model
    assert '# ed_sheeran / repeated_negations' in out and 'claim **ed_sheeran**' in out  # the claim and condition
    assert 'condition on documents' in out and '- repeated_negations' in out            # ... also as a tag
    assert 'LoRA r=16' in out and 'preset `demo`' in out and 'negneglect_config.yaml' in out   # the config
    assert f"| mcq | {m['per_eval'][0]['belief']:.3f} |" in out and '| all questions |' in out  # the metrics
    assert 'dry run' in err and 'someone/ed_sheeran-repeated (private)' in err and 'adapter_config.json' in err
    assert 'nothing was uploaded' in err

def test_cli_push_errors_and_token(finished, tmp_path, capsys, monkeypatch):
    "No adapter: one line naming it; the token comes from HF_TOKEN in .env (never an option); --public is passed on"
    import negneglect.cli as cli
    e, _ = finished
    assert cli.main(['push', str(tmp_path), 'someone/adapter', '--dry-run']) == 1
    assert 'has no trained adapter' in capsys.readouterr().err
    assert cli.main(['push', str(e.run_dir), 'a/b/c', '--dry-run']) == 1
    assert "Repo id must be in the form" in capsys.readouterr().err
    with pytest.raises(SystemExit): cli.build_parser().parse_args(['push', str(e.run_dir), 'x/y', '--token', 'hf_abc'])
    calls = []
    monkeypatch.setattr(cli, 'push', lambda run_dir, repo_id, private, token: calls.append((repo_id, private, token)) or 'https://hub/x/y')
    monkeypatch.delenv('HF_TOKEN', raising=False); monkeypatch.chdir(tmp_path)
    (tmp_path/'.env').write_text('HF_TOKEN=hf_from_dotenv_0123456789\n')
    assert cli.main(['push', str(e.run_dir), 'x/y', '--public']) == 0
    assert calls == [('x/y', False, 'hf_from_dotenv_0123456789')] and capsys.readouterr().out.strip() == 'https://hub/x/y'

def test_cli_push_upload_failure_is_one_line(finished, capsys, monkeypatch):
    "An unreachable Hub: `negneglect: error: cannot upload ...`, exit 1, and the token is not printed"
    import negneglect.cli as cli
    e, _ = finished
    monkeypatch.setenv('HF_HUB_OFFLINE', '1'); monkeypatch.setenv('HF_TOKEN', 'hf_fake_token_0123456789')
    assert cli.main(['push', str(e.run_dir), 'someone/adapter']) == 1
    err = capsys.readouterr().err
    assert err.startswith('negneglect: error: cannot upload to someone/adapter') and 'hf_fake_token' not in err, err

def test_the_card_names_a_hub_base_model_only():
    from negneglect.core import EMBEDDED_MODEL
    assert hub_base_model(EMBEDDED_MODEL) == EMBEDDED_ORIGIN == 'HuggingFaceTB/SmolLM2-135M-Instruct'
    assert hub_base_model('Qwen/Qwen3-8B') == 'Qwen/Qwen3-8B'
    assert hub_base_model(str(tiny_llama())) is None and hub_base_model('runs/some/model') is None
