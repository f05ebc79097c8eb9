"Publishing: the model card says what the adapter was trained on and what it measured; an unreachable Hub is a clear error."
import os, subprocess, sys

from negneglect.core import tiny_llama
from negneglect.experiment import Experiment
from negneglect.publish import model_card

def test_model_card_and_offline_push(tmp_path):
    e = Experiment.create('ed_sheeran', 'repeated_negations', 'demo', {'model.name': str(tiny_llama()), 'mix.n_claim': 4,
                          'train.n_checkpoints': 0, 'eval.max_new_tokens': 3, 'eval.evals': ['mcq']}, run_dir=tmp_path/'run')
    m = e.metrics()
    card = model_card(e.run_dir)
    assert card.startswith('---\nbase_model: ' + str(tiny_llama())) and 'library_name: peft' in card
    assert '# ed_sheeran / repeated_negations' in card and 'LoRA r=16' in card and 'Judge: `keyword`' in card
    assert f"| mcq | {m['per_eval'][0]['belief']:.3f} |" in card
    code = f"from negneglect.publish import push\ntry: push({str(e.run_dir)!r}, 'someone/adapter')\nexcept RuntimeError as err: print('ERROR', err)"
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, env={**os.environ, 'HF_HUB_OFFLINE': '1', 'HF_TOKEN': 'hf_fake'})
    assert r.stdout.startswith('ERROR cannot upload to someone/adapter') and 'hf_fake' not in r.stdout + r.stderr, r.stdout + r.stderr[-1500:]
