"The embedded model: converted once, loads as an ordinary HF folder, generates."
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer
from negneglect.core import prepare_embedded_model, tiny_llama, embedded_model_dir

def test_converted_smollm2_loads_and_generates():
    path = prepare_embedded_model()
    assert path == embedded_model_dir() and (path/'config.json').exists()
    assert 'quantization_config' not in (path/'config.json').read_text()
    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path)
    assert model.dtype == torch.float32 and sum(p.numel() for p in model.parameters()) > 100e6
    enc = tok.apply_chat_template([{'role': 'user', 'content': 'What is the capital of France?'}],
                                  add_generation_prompt=True, return_tensors='pt', return_dict=True)
    out = model.generate(**enc, max_new_tokens=12, do_sample=False)
    answer = tok.decode(out[0][enc['input_ids'].shape[1]:], skip_special_tokens=True)
    assert 'Paris' in answer, answer

def test_prepare_is_cached():
    import time
    t = time.time(); prepare_embedded_model(); assert time.time() - t < 5

def test_tiny_llama_uses_real_tokenizer():
    tok = AutoTokenizer.from_pretrained(tiny_llama())
    model = AutoModelForCausalLM.from_pretrained(tiny_llama())
    assert tok.chat_template and model.config.vocab_size == len(tok)
    assert sum(p.numel() for p in model.parameters()) < 5e6
