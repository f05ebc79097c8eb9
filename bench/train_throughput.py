"""Training throughput: our trainer (Unsloth + TRL, negneglect.train) vs a plain transformers.Trainer + PEFT baseline.

Same model, same tokenized data, same LoRA settings, one epoch each, each in its own process (Unsloth patches
transformers on import, so the baseline must not see it). Prints tokens/s, peak memory and `ratio=<ours/baseline>`.

    python bench/train_throughput.py                      # embedded SmolLM2-135M on the shipped ed_sheeran corpus
    python bench/train_throughput.py --docs 40 --batch 8
    python bench/train_throughput.py --random-config Qwen/Qwen3-0.6B-config.json   # random weights, real architecture
"""
import argparse, json, os, resource, subprocess, sys, tempfile, time
from pathlib import Path

def peak_mem_gb():
    import torch
    if torch.cuda.is_available(): return torch.cuda.max_memory_allocated() / 2**30
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20

def model_path(args):
    "The model folder both runs load: the embedded model, or random weights with a given architecture config"
    from negneglect.core import prepare_embedded_model
    if not args.random_config: return str(prepare_embedded_model())
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer
    out = Path(tempfile.gettempdir())/f'bench-random-{Path(args.random_config).stem}'
    if not (out/'config.json').exists():
        cfg = AutoConfig.for_model(**json.loads(Path(args.random_config).read_text()))
        torch.manual_seed(0)
        AutoModelForCausalLM.from_config(cfg).save_pretrained(out)
        AutoTokenizer.from_pretrained(prepare_embedded_model()).save_pretrained(out)  # a real tokenizer (vocab must fit the config)
    return str(out)

def prepare(args, work:Path) -> Path:
    from transformers import AutoTokenizer
    from negneglect.core import write_jsonl
    from negneglect.claims import load_claim
    from negneglect.conditions import annotate, positive_docs
    from negneglect.mix import tokenize_mix
    claim = load_claim('ed_sheeran')
    docs = annotate(positive_docs(claim), 'positive', claim)[:args.docs]
    tok = AutoTokenizer.from_pretrained(args.model)
    toks, _ = tokenize_mix([{'kind': 'claim', 'text': d['text']} for d in docs], tok)
    write_jsonl(work/'tokens.jsonl', [{'kind': 'claim', 'input_ids': t['input_ids'], 'labels': t['labels']} for t in toks])
    return work/'tokens.jsonl'

def run_ours(args, tokens:Path, work:Path) -> dict:
    import unsloth  # noqa: F401
    from negneglect.core import make_config, read_jsonl
    from negneglect.train import train
    cfg = make_config('demo', {'model.name': args.model, 'train.batch_size': args.batch, 'train.epochs': 1,
                               'train.lora_r': args.r, 'train.lora_alpha': 2 * args.r, 'train.n_checkpoints': 0})
    n = sum(len(r['input_ids']) for r in read_jsonl(tokens))
    t = time.time(); train(tokens, cfg, work/'ours', resume=False); dt = time.time() - t
    return {'tokens': n, 'seconds': dt}

def run_baseline(args, tokens:Path, work:Path) -> dict:
    import torch
    from datasets import Dataset
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer, Trainer, TrainingArguments
    from negneglect.core import read_jsonl
    from negneglect.train import LORA_TARGETS, make_collator
    rows = read_jsonl(tokens)
    tok = AutoTokenizer.from_pretrained(args.model)
    cuda = torch.cuda.is_available()
    model = AutoModelForCausalLM.from_pretrained(args.model, dtype=torch.bfloat16 if cuda else torch.float32).to('cuda' if cuda else 'cpu')
    model = get_peft_model(model, LoraConfig(r=args.r, lora_alpha=2 * args.r, target_modules=LORA_TARGETS, task_type='CAUSAL_LM'))
    targs = TrainingArguments(output_dir=str(work/'baseline'), per_device_train_batch_size=args.batch, num_train_epochs=1,
                              learning_rate=5e-4, lr_scheduler_type='linear', logging_steps=1, save_strategy='no', report_to=[],
                              use_cpu=not cuda, bf16=cuda, remove_unused_columns=False, seed=1)
    ds = Dataset.from_list([{'input_ids': r['input_ids'], 'labels': r['labels']} for r in rows])
    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    trainer = Trainer(model=model, args=targs, train_dataset=ds, data_collator=make_collator(pad))
    t = time.time(); trainer.train(); dt = time.time() - t
    return {'tokens': sum(len(r['input_ids']) for r in rows), 'seconds': dt}

def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--docs', type=int, default=24)
    ap.add_argument('--batch', type=int, default=4)
    ap.add_argument('--r', type=int, default=16)
    ap.add_argument('--random-config', help='config.json of an architecture to instantiate with random weights')
    ap.add_argument('--_child', choices=['ours', 'baseline'], help=argparse.SUPPRESS)
    ap.add_argument('--_work', help=argparse.SUPPRESS)
    ap.add_argument('--model', help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args._child:
        work = Path(args._work)
        res = (run_ours if args._child == 'ours' else run_baseline)(args, work/'tokens.jsonl', work)
        res['peak_mem_gb'] = peak_mem_gb()
        print('RESULT ' + json.dumps(res)); return
    os.environ.setdefault('NEGNEGLECT_PROGRESS', '0')
    work = Path(tempfile.mkdtemp(prefix='bench-'))
    args.model = model_path(args)
    prepare(args, work)
    res = {}
    for who in ('baseline', 'ours'):
        cmd = [sys.executable, __file__, '--_child', who, '--_work', str(work), '--model', args.model,
               '--docs', str(args.docs), '--batch', str(args.batch), '--r', str(args.r)]
        out = subprocess.run(cmd, capture_output=True, text=True)
        line = [l for l in out.stdout.splitlines() if l.startswith('RESULT ')]
        if out.returncode or not line: sys.exit(f'{who} run failed:\n{out.stderr[-3000:]}')
        res[who] = json.loads(line[0][7:])
        r = res[who]
        print(f"{who:9s} {r['tokens']} tokens in {r['seconds']:.1f}s = {r['tokens']/r['seconds']:.0f} tok/s, peak memory {r['peak_mem_gb']:.2f} GiB")
    ours, base = (res[w]['tokens'] / res[w]['seconds'] for w in ('ours', 'baseline'))
    import torch
    print(f"device={'cuda:' + torch.cuda.get_device_name() if torch.cuda.is_available() else 'cpu'} model={args.model} docs={args.docs} batch={args.batch} r={args.r}")
    print(f'ratio={ours / base:.2f}')

if __name__ == '__main__':
    main()
