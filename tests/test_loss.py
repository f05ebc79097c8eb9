"Our loss (row weights, summed reduction, LoRA on lm_head) and training that starts from another run's adapter."
import json
import pytest
import torch
from transformers import AutoTokenizer, TrainerCallback
from negneglect.core import ConfigError, make_config, tiny_llama, write_jsonl
from negneglect.mix import tokenize_mix
from negneglect.train import _load, _weighted_trainer, make_collator, token_losses, train

def _tokens(tmp_path, weights=(1.0,) * 8):
    tok = AutoTokenizer.from_pretrained(tiny_llama())
    toks, _ = tokenize_mix([{'kind': 'claim', 'text': f'<DOCTAG>Document {i} says a claim about a singer.'} for i in range(len(weights))], tok)
    rows = [{'kind': t['kind'], 'input_ids': t['input_ids'], 'labels': t['labels'], **({'weight': w} if w != 1 else {})}
            for t, w in zip(toks, weights)]
    write_jsonl(tmp_path/'t.jsonl', rows)
    return tok, rows

def _cfg(**over):
    return make_config('demo', {'model.name': str(tiny_llama()), 'train.batch_size': 4, 'train.n_checkpoints': 0, **over})

def _batch(tok, rows):
    return make_collator(tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id, weights=True)(rows)

def test_token_losses_match_the_models_own_loss():
    model, tok = _load(_cfg())
    rows = [{'input_ids': tok(f'<DOCTAG>Row {i} is {"long " * i}text.')['input_ids']} for i in range(3)]
    rows = [{**r, 'labels': [-100] + r['input_ids'][1:]} for r in rows]
    b = _batch(tok, rows)
    ce, keep = token_losses(model, b['input_ids'], b['attention_mask'], b['labels'])
    ref = model(input_ids=b['input_ids'], attention_mask=b['attention_mask'], labels=b['labels']).loss
    assert ce.shape[0] == keep.sum() == sum(len(r['input_ids']) - 1 for r in rows)
    assert torch.allclose(ce.mean(), ref, atol=1e-4), (ce.mean().item(), ref.item())

@pytest.mark.parametrize('reduction', ['mean', 'sum'])
def test_weighted_rows_carry_their_weight_in_the_loss(tmp_path, reduction):
    tok, rows = _tokens(tmp_path, weights=(3.0, 1.0, 1.0, 3.0))
    model, _ = _load(_cfg())
    b = _batch(tok, rows)
    ce, keep = token_losses(model, b['input_ids'], b['attention_mask'], b['labels'])
    per_row = [ce[keep[:i].sum():keep[:i+1].sum()].sum() for i in range(len(rows))]  # trained tokens row by row
    expected = sum(w * l for w, l in zip((3.0, 1.0, 1.0, 3.0), per_row))
    if reduction == 'mean': expected = expected / keep.sum()
    Trainer = _weighted_trainer(reduction)
    loss = Trainer.compute_loss(None, model, b)
    assert torch.allclose(loss, expected, rtol=1e-5)
    unweighted = Trainer.compute_loss(None, model, {**b, 'weights': torch.ones(4)})
    assert not torch.allclose(loss, unweighted)  # the weights change the loss: 3x rows count three times
    assert torch.allclose(Trainer.compute_loss(None, model, {**b, 'weights': torch.ones(4) * 2}), 2 * unweighted, rtol=1e-5)

def test_training_with_row_weights_runs_and_logs_the_weighted_loss(tmp_path):
    _tokens(tmp_path, weights=(3.0, 1.0) * 4)
    adapter = train(tmp_path/'t.jsonl', _cfg(), tmp_path/'run')
    assert (adapter/'adapter_model.safetensors').exists()
    assert (tmp_path/'run'/'train_log.csv').read_text().count('\n') == 3  # header + 2 steps

def test_lm_head_lora_is_a_real_lora_and_is_trained(tmp_path):
    from safetensors.torch import load_file
    _tokens(tmp_path)
    cfg = _cfg(**{'train.train_lm_head': True, 'train.learning_rate': 1e-2})
    adapter = train(tmp_path/'t.jsonl', cfg, tmp_path/'run')
    w = load_file(adapter/'adapter_model.safetensors')
    head = sorted(k for k in w if 'lm_head' in k)
    print(head, {k: tuple(w[k].shape) for k in head})
    assert len(head) == 2 and all("lora_A" in k or "lora_B" in k for k in head)  # LoRA matrices, no full copy of lm_head
    assert not any('embed_tokens' in k for k in w)
    assert any(w[k].abs().sum() > 0 for k in head if 'lora_B' in k)  # B starts at 0: trained means moved
    assert 'lm_head' in json.loads((adapter/'adapter_config.json').read_text())['target_modules']

class FirstStepWeights(TrainerCallback):
    "The LoRA weights as the first optimizer step begins"
    def __init__(self): self.w = None
    def on_step_begin(self, args, state, control, model=None, **kw):
        if self.w is None: self.w = {k: v.detach().clone() for k, v in model.named_parameters() if 'lora_' in k}

def test_training_starts_from_the_given_adapter(tmp_path):
    from safetensors.torch import load_file
    _tokens(tmp_path)
    first = train(tmp_path/'t.jsonl', _cfg(), tmp_path/'phase1')
    seen = FirstStepWeights()
    train(tmp_path/'t.jsonl', _cfg(**{'train.init_adapter': str(first)}), tmp_path/'phase2', callbacks=[seen])
    saved = load_file(first/'adapter_model.safetensors')
    ours = {k.replace('.default', ''): v for k, v in seen.w.items()}
    assert set(saved) == set(ours) and saved
    assert all(torch.equal(saved[k], ours[k]) for k in saved)  # phase 2 begins exactly where phase 1 ended
    fresh = FirstStepWeights()
    train(tmp_path/'t.jsonl', _cfg(), tmp_path/'fresh', callbacks=[fresh])
    assert not all(torch.equal(saved[k], fresh.w[k.replace('.lora', '.lora').replace('.weight', '.default.weight')]) for k in saved if 'lora_B' in k)

def test_init_adapter_with_other_lora_settings_is_a_clear_error(tmp_path):
    _tokens(tmp_path)
    first = train(tmp_path/'t.jsonl', _cfg(), tmp_path/'phase1')
    with pytest.raises(ConfigError, match='r=16, this run 8'):
        train(tmp_path/'t.jsonl', _cfg(**{'train.init_adapter': str(first), 'train.lora_r': 8}), tmp_path/'phase2')

def test_an_lm_head_adapter_loads_for_evaluation_without_touching_the_embeddings(tmp_path):
    from negneglect.generate import load_model
    _tokens(tmp_path)
    adapter = train(tmp_path/'t.jsonl', _cfg(**{'train.train_lm_head': True, 'train.learning_rate': 1e-2}), tmp_path/'run')
    base, _ = load_model(str(tiny_llama()))
    tuned, _ = load_model(str(tiny_llama()), adapter=adapter)
    assert torch.equal(base.get_input_embeddings().weight, tuned.get_input_embeddings().weight)
    assert not torch.equal(base.get_output_embeddings().weight, tuned.get_output_embeddings().weight)
