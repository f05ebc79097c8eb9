"Finetuning: the adapter moves the claim's probes; a killed run resumes from its checkpoint."
import csv, json
from pathlib import Path
import pytest
from transformers import TrainerCallback
from negneglect.core import make_config, tiny_llama, write_jsonl
from negneglect.claims import load_claim
from negneglect.conditions import annotate, source_docs
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
