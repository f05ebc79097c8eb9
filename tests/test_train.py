"Finetuning: the adapter moves the claim's probes; a killed run resumes from its checkpoint."
import csv
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
