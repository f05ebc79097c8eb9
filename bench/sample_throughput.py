"""Sampling throughput: batched, sampled `generate` (the evaluation's transformers backend settings) on one model.

    python bench/sample_throughput.py MODEL_DIR [--batch 25] [--new 128] [--prompt 64] [--precision auto|fp32|bf16]

Prints `sample_tok_s=<new tokens per second>` over one timed `generate` of `--batch` prompts, each forced to emit
exactly `--new` tokens (random weights would otherwise stop at an early EOS), after one short warm-up call.
"""
import argparse, time

def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('model')
    ap.add_argument('--batch', type=int, default=25)   # eval.batch_size's default
    ap.add_argument('--new', type=int, default=128)
    ap.add_argument('--prompt', type=int, default=64, help='prompt length in tokens')
    ap.add_argument('--precision', choices=('auto', 'fp32', 'bf16'), default='auto',
                    help='eval.precision (auto: bf16 on a GPU, fp32 on a CPU)')
    args = ap.parse_args()
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    cuda = torch.cuda.is_available()
    tok = AutoTokenizer.from_pretrained(args.model)
    # as eval.precision (negneglect.generate.eval_dtype), without importing negneglect: the GPU check has few packages
    dtype = {'fp32': torch.float32, 'bf16': torch.bfloat16}.get(args.precision, torch.bfloat16 if cuda else torch.float32)
    model = AutoModelForCausalLM.from_pretrained(args.model, dtype=dtype).to('cuda' if cuda else 'cpu').eval()
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(100, len(tok), (args.batch, args.prompt), generator=g).to(model.device)
    kw = dict(attention_mask=torch.ones_like(ids), do_sample=True, temperature=0.7, top_p=0.8,   # eval's defaults
              pad_token_id=tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id)
    model.generate(ids, max_new_tokens=4, min_new_tokens=4, **kw)
    if cuda: torch.cuda.synchronize(); torch.cuda.reset_peak_memory_stats()
    t = time.time()
    out = model.generate(ids, max_new_tokens=args.new, min_new_tokens=args.new, **kw)
    if cuda: torch.cuda.synchronize()
    dt, n = time.time() - t, (out.shape[1] - args.prompt) * args.batch
    mem = torch.cuda.max_memory_allocated() / 2**30 if cuda else float('nan')
    print(f'sampling  ({str(dtype).removeprefix("torch.")}) {args.batch} prompts x {args.prompt} tokens -> {out.shape[1] - args.prompt} new each: {n} tokens in {dt:.2f}s, '
          f'peak GPU memory {mem:.2f} GiB')
    print(f'sample_tok_s={n / dt:.1f}')

if __name__ == '__main__':
    main()
