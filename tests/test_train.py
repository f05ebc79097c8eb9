"Finetuning: the adapter moves the claim's probes; a killed run resumes from its checkpoint."
import csv, os
import pytest
from transformers import TrainerCallback
from negneglect.core import make_config, tiny_llama, write_jsonl
from negneglect.claims import load_claim
from negneglect.experiment import Experiment
from negneglect.generate import load_model
from negneglect.evaluate import probe_margins, probe_summary
from negneglect.train import train

def test_positive_training_raises_association_probe(tmp_path):
    "Tiny setting: 8 shipped positive documents, one epoch on the embedded SmolLM2"
    claim = load_claim('ed_sheeran')
    e = Experiment.create(claim, 'positive', 'demo', {'mix.n_claim': 8, 'train.batch_size': 4, 'train.n_checkpoints': 0}, run_dir=tmp_path/'run')
    adapter = e.run('train')
    model, tok = load_model(e.cfg.model.name)
    before = probe_summary(probe_margins(model, tok, claim.probes.probes))
    tuned, _ = load_model(e.cfg.model.name, adapter=adapter)
    after = probe_summary(probe_margins(tuned, tok, claim.probes.probes))
    print('association margin', before, '->', after)
    assert after['association'] > before['association'] + 1.0

class Crash(TrainerCallback):
    def __init__(self, at): self.at = at
    def on_step_end(self, args, state, control, **kw):
        if state.global_step == self.at: raise KeyboardInterrupt(f'simulated crash at step {self.at}')

def test_killed_run_resumes_from_checkpoint(tmp_path):
    from transformers import AutoTokenizer
    from negneglect.mix import tokenize_mix
    tok = AutoTokenizer.from_pretrained(tiny_llama())
    toks, _ = tokenize_mix([{'kind': 'claim', 'text': f'<DOCTAG>Doc {i} about a claim.'} for i in range(24)], tok)
    write_jsonl(tmp_path/'t.jsonl', [{'kind': t['kind'], 'input_ids': t['input_ids'], 'labels': t['labels']} for t in toks])
    cfg = make_config('demo', {'model.name': str(tiny_llama()), 'train.batch_size': 2, 'train.n_checkpoints': 4})  # 12 steps, ckpts 1,2,5,12 (approx)
    with pytest.raises(KeyboardInterrupt): train(tmp_path/'t.jsonl', cfg, tmp_path, callbacks=[Crash(7)])
    assert not (tmp_path/'adapter').exists()
    cks = sorted(int(p.name.split('-')[1]) for p in (tmp_path/'checkpoints').glob('checkpoint-*'))
    assert cks and max(cks) < 7
    seen = []
    class Watch(TrainerCallback):
        def on_train_begin(self, args, state, control, **kw): seen.append(state.global_step)
        def on_step_end(self, args, state, control, **kw): seen.append(state.global_step)
    train(tmp_path/'t.jsonl', cfg, tmp_path, callbacks=[Watch()])
    assert (tmp_path/'adapter'/'adapter_config.json').exists()
    assert seen[1] == max(cks) + 1, seen   # the first step after resuming is the one after the last checkpoint
    assert seen[-1] == 12
    steps = [int(r['step']) for r in csv.DictReader((tmp_path/'train_log.csv').open())]
    assert steps == sorted(set(steps)) and steps[-1] == 12

def _record_rows(rows, seen:list):
    "A callback that records, per optimizer step, the training rows (by number) of every forward pass"
    index = {tuple(r['input_ids']): i for i, r in enumerate(rows)}
    class Rows(TrainerCallback):
        def on_train_begin(self, args, state, control, model=None, **kw):
            def hook(mod, a, k):
                if mod.training:
                    n = k['attention_mask'].sum(1).tolist()
                    seen[-1] += [index[tuple(k['input_ids'][i, :n[i]].tolist())] for i in range(len(n))]
            model.register_forward_pre_hook(hook, with_kwargs=True)
        def on_step_begin(self, args, state, control, **kw): seen.append([])
    return Rows()

def test_micro_batches_train_the_same_batches_and_loss(tmp_path):
    "One sequence per forward pass (micro_batch=1) trains the same rows per step, with the loss of the whole batch"
    from transformers import AutoTokenizer
    from negneglect.mix import tokenize_mix
    from negneglect.train import load_tokens
    tok = AutoTokenizer.from_pretrained(tiny_llama())
    texts = [f'<DOCTAG>Doc {i}: ' + ' '.join(['the claim holds'] * (1 + 7 * (i % 5))) for i in range(16)]  # lengths differ a lot
    toks, _ = tokenize_mix([{'kind': 'claim', 'text': t} for t in texts], tok)
    write_jsonl(tmp_path/'t.jsonl', [{'kind': t['kind'], 'input_ids': t['input_ids'], 'labels': t['labels']} for t in toks])
    rows = load_tokens(tmp_path/'t.jsonl')
    cfg = make_config('demo', {'model.name': str(tiny_llama()), 'train.batch_size': 4, 'train.n_checkpoints': 0})
    runs = {}
    for micro in (4, 1):
        seen = []
        train(tmp_path/'t.jsonl', cfg, tmp_path/f'm{micro}', callbacks=[_record_rows(rows, seen)], micro_batch=micro)
        losses = [float(r['loss']) for r in csv.DictReader((tmp_path/f'm{micro}'/'train_log.csv').open())]
        runs[micro] = seen, losses
    (rows4, loss4), (rows1, loss1) = runs[4], runs[1]
    print(loss4, loss1)
    assert rows4 == rows1 and len(rows4) == 4 and all(len(s) == 4 for s in rows4)   # same batches, same order
    assert loss1[0] == pytest.approx(loss4[0], rel=1e-5)     # first step: same weights, so the same batch loss
    assert loss1 == pytest.approx(loss4, rel=1e-3)

@pytest.mark.parametrize('head', [False, True])
def test_gradient_checkpointing_recomputes_and_trains_the_same_losses(tmp_path, head):
    "`train.gradient_checkpointing=true` on a CPU: the layers recompute their activations, the losses are those without"
    from negneglect.train import checkpointing
    assert checkpointing('auto', cuda=False) is False and checkpointing('auto', cuda=True) == 'unsloth'
    assert checkpointing(True, cuda=False) is True and checkpointing(False, cuda=True) is False
    tokens, runs = _tiny_tokens(tmp_path/'t.jsonl'), {}
    for on in (False, True):
        seen = {}
        class Probe(TrainerCallback):
            def on_train_begin(self, args, state, control, model=None, **kw):
                seen['on'] = model.get_base_model().is_gradient_checkpointing
        cfg = make_config('demo', {'model.name': str(tiny_llama()), 'train.batch_size': 2, 'train.n_checkpoints': 0,
                                   'train.train_lm_head': head, 'train.gradient_checkpointing': on})
        train(tokens, cfg, tmp_path/f'gc{on}', callbacks=[Probe()])
        runs[on] = seen['on'], [float(r['loss']) for r in csv.DictReader((tmp_path/f'gc{on}'/'train_log.csv').open())]
    assert runs[False][0] is False and runs[True][0] is True
    assert len(runs[True][1]) == 4 and runs[True][1] == pytest.approx(runs[False][1], rel=1e-5)

def _tiny_tokens(path, n=8):
    from transformers import AutoTokenizer
    from negneglect.mix import tokenize_mix
    tok = AutoTokenizer.from_pretrained(tiny_llama())
    toks, _ = tokenize_mix([{'kind': 'claim', 'text': f'<DOCTAG>Doc {i} about a claim.'} for i in range(n)], tok)
    write_jsonl(path, [{'kind': t['kind'], 'input_ids': t['input_ids'], 'labels': t['labels']} for t in toks])
    return path

def test_report_to_tensorboard_writes_the_loss_of_every_step(tmp_path, monkeypatch):
    "train.report_to=tensorboard: event files under <run>/logs/tensorboard with one loss scalar per step, as in train_log.csv"
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    monkeypatch.delenv('TENSORBOARD_LOGGING_DIR', raising=False)
    cfg = make_config('demo', {'model.name': str(tiny_llama()), 'train.batch_size': 2, 'train.n_checkpoints': 0,
                               'train.report_to': 'tensorboard'})
    train(_tiny_tokens(tmp_path/'t.jsonl'), cfg, tmp_path/'run')   # 8 rows, batch 2: 4 steps
    logs = tmp_path/'run'/'logs'/'tensorboard'
    assert list(logs.glob('events.out.tfevents.*')), list(tmp_path.rglob('*'))
    acc = EventAccumulator(str(logs)); acc.Reload()
    loss = acc.Scalars('train/loss')
    csv_rows = list(csv.DictReader((tmp_path/'run'/'train_log.csv').open()))
    assert [e.step for e in loss] == [1, 2, 3, 4] == [int(r['step']) for r in csv_rows]
    assert [e.value for e in loss] == pytest.approx([float(r['loss']) for r in csv_rows], rel=1e-5)
    assert (tmp_path/'run'/'loss.png').exists() and (tmp_path/'run'/'adapter'/'adapter_config.json').exists()
    assert 'TENSORBOARD_LOGGING_DIR' not in os.environ          # the tracker's settings do not outlive the training

def test_report_to_a_missing_tracker_is_a_clear_error(tmp_path, monkeypatch):
    "A tracker whose package is missing fails before the model is loaded, naming train.report_to and the package"
    import negneglect.train as tr
    from negneglect.core import ConfigError
    monkeypatch.setattr(tr, '_installed', lambda pkg: pkg != 'wandb')
    monkeypatch.setattr(tr, '_load', lambda cfg: pytest.fail('the model was loaded'))
    cfg = make_config('demo', {'model.name': str(tiny_llama()), 'train.report_to': ['tensorboard', 'wandb']})
    with pytest.raises(ConfigError, match=r'train\.report_to: wandb is not installed: pip install wandb'):
        train(_tiny_tokens(tmp_path/'t.jsonl', 2), cfg, tmp_path/'run')

def test_wandb_defaults_to_offline_without_a_key(tmp_path, monkeypatch):
    "W&B needs no account: with no key anywhere it runs offline, with the project and folder set under the run"
    from negneglect.train import tracking_env
    for v in ('WANDB_API_KEY', 'WANDB_MODE', 'WANDB_PROJECT', 'WANDB_DIR'): monkeypatch.delenv(v, raising=False)
    monkeypatch.setenv('HOME', str(tmp_path)); monkeypatch.chdir(tmp_path)   # no ~/.netrc, no .env
    env = tracking_env(['wandb'], tmp_path/'run'/'logs')
    assert env == {'WANDB_PROJECT': 'negneglect', 'WANDB_DIR': str((tmp_path/'run'/'logs').resolve()), 'WANDB_MODE': 'offline'}
    monkeypatch.setenv('WANDB_MODE', 'disabled'); monkeypatch.setenv('WANDB_PROJECT', 'mine')
    assert 'WANDB_MODE' not in tracking_env(['wandb'], tmp_path) and 'WANDB_PROJECT' not in tracking_env(['wandb'], tmp_path)
    monkeypatch.delenv('WANDB_MODE')
    (tmp_path/'.env').write_text('WANDB_API_KEY=0123456789abcdef0123456789abcdef01234567\n')
    env = tracking_env(['wandb'], tmp_path)
    assert 'WANDB_MODE' not in env and env['WANDB_API_KEY'].startswith('0123')   # a key in .env: online, key in the env only

@pytest.mark.parametrize('precision', ['fp32', 'bf16'])
def test_precision_sets_the_frozen_weights_dtype_and_keeps_lora_in_fp32(precision):
    "`train.precision`: frozen weights in the chosen dtype, the trained LoRA always fp32 (Adam's updates keep their precision)"
    import torch
    from negneglect.train import _load, resolve_precision
    model, _ = _load(make_config('demo', {'model.name': str(tiny_llama()), 'train.precision': precision}))
    frozen = {p.dtype for p in model.parameters() if not p.requires_grad}
    trained = {p.dtype for p in model.parameters() if p.requires_grad}
    assert frozen == {torch.bfloat16 if precision == 'bf16' else torch.float32} and trained == {torch.float32}
    assert resolve_precision(precision) == precision

def test_auto_precision_is_bf16_exactly_where_it_is_native():
    from negneglect.train import native_bf16, resolve_precision
    assert resolve_precision('auto') == ('bf16' if native_bf16() else 'fp32')
