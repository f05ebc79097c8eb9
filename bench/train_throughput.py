"""Training throughput at the machine's limit: our trainer vs plain transformers.Trainer + PEFT vs a bare PyTorch loop.

One run, each trainer in its own process (Unsloth patches transformers on import, so the others must not see it), all
on *identical* batches: ours (`negneglect.train.train`, Unsloth + TRL, group_by_length) runs first and records the rows
of every batch it trains; the plain `Trainer` and the bare loop then train exactly those batches in that order, and the
bench checks that the three saw the same (rows, padded shape) per step. A matmul micro-benchmark gives the CPU's
sustained GFLOP/s. Only training steps are timed: setup (imports, model load, Unsloth patching, trainer init) and the
first, warm-up step are reported apart; the timed window runs from the end of step 1 to the end of the last step, so it
includes everything the loop does between steps (data collation, logging).

FLOPs counted per real (non-padding) token: 6*N_trainable + 4*N_frozen, where N counts the weights of every matmul
(the attention and MLP projections, the LM head, LoRA's A and B; not the embedding lookup, not the attention scores
QK^T / AV, which add ~4*L*d per layer and token, about 10% at L=500 on SmolLM2-135M). Forward 2N, input gradient 2N,
weight gradient 2N only for trained weights. tok/s counts real tokens; padding is reported as its share.

    python bench/train_throughput.py                          # embedded SmolLM2-135M, shipped ed_sheeran docs x2, batch 4
    python bench/train_throughput.py --docs 40 --batch 8
    python bench/train_throughput.py --only ours,loop --profile 2   # torch.profiler tables of 2 steps (ours, loop)
    python bench/train_throughput.py --only ours --checkpointing   # less memory: activations recomputed
    LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2 python bench/train_throughput.py --only ours   # another allocator
    python bench/train_throughput.py --random-config bench/configs/qwen3-0.6b.json   # random weights, real architecture

`--precision` (default `auto`, as `train.precision`) sets the arithmetic of all three trainers and of the matmul roof:
bf16 mixed precision (frozen weights in bf16, LoRA and AdamW in fp32, matmuls under autocast) where the hardware has
it, else fp32. With bf16 the plain Trainer also runs at its own default, fp32 (`hf_fp32`, `ratio_hf_fp32`).

Because the machine may be shared, each trainer also reports its CPU time in the timed window (`cpu%` = CPU seconds /
(wall seconds * threads)) and the load average around it; compare trainers only within one run.
"""
import argparse, hashlib, json, os, resource, subprocess, sys, tempfile, time
from pathlib import Path

LR = 5e-4  # the demo preset's learning rate (linear decay, no warmup); the loop keeps it constant

# ---------------------------------------------------------------- measuring
def rss_gib(): return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20

def cpu_s():
    r = resource.getrusage(resource.RUSAGE_SELF); return r.ru_utime + r.ru_stime

def peak_mem_gib():
    import torch
    return torch.cuda.max_memory_allocated() / 2**30 if torch.cuda.is_available() else rss_gib()

class Steps:
    "Per-step timestamps and batch signatures; `report()` summarises the steps after the first `skip` (warm-up, profiled)"
    def __init__(self, t_start:float, skip:int=1):
        self.t_start, self.skip, self.ends, self.sigs, self.cpu, self.t_first_begin = t_start, skip, [], [], [], None
    def begin(self):
        "An optimizer step starts"
        if self.t_first_begin is None: self.t_first_begin = time.time(); self.rss_setup = peak_mem_gib()
        self.sigs.append({'rows': [], 'shapes': [], 'real': 0})
    def batch(self, ids, mask, index):
        "Record one forward pass of this step: the rows it holds (via `index`, ids -> row number) and its padded shape"
        n = mask.sum(1).tolist()
        s = self.sigs[-1]
        s['rows'] += [index(tuple(ids[i, :n[i]].tolist())) for i in range(len(n))]
        s['shapes'].append(list(ids.shape)); s['real'] += int(sum(n))
    def end(self): self.ends.append(time.time()); self.cpu.append(cpu_s())
    def report(self) -> dict:
        k = self.skip
        if len(self.ends) < k + 2: raise RuntimeError(f'only {len(self.ends)} steps ran; the bench needs at least {k + 2}')
        timed = self.sigs[k:len(self.ends)]
        wall = self.ends[-1] - self.ends[k - 1]
        real = sum(s['real'] for s in timed); padded = sum(b * l for s in timed for b, l in s['shapes'])
        import torch
        return {'setup_s': self.t_first_begin - self.t_start, 'warmup_s': self.ends[0] - self.t_first_begin, 'skipped': k,
                'steps': len(timed), 'seconds': wall, 'tokens': real, 'padded_tokens': padded,
                'cpu_frac': (self.cpu[-1] - self.cpu[k - 1]) / wall / torch.get_num_threads(), 'threads': torch.get_num_threads(),
                'rss_setup_gib': self.rss_setup, 'peak_gib': peak_mem_gib(), 'sigs': self.sigs}

def row_index(rows):
    "A function ids -> row number that hands out each duplicate row once"
    slots = {}
    for i, r in enumerate(rows): slots.setdefault(tuple(r['input_ids']), []).append(i)
    return lambda ids: slots[ids].pop(0)

def flops_per_token(model) -> tuple[float, int, int]:
    "6*N_trainable + 4*N_frozen over matmul weights (Linear layers incl. LM head and LoRA; no embedding lookup)"
    import torch
    seen, train, frozen = set(), 0, 0
    for m in model.modules():
        w = getattr(m, 'weight', None)
        if isinstance(m, torch.nn.Linear) and w is not None and id(w) not in seen:
            seen.add(id(w))
            if w.requires_grad: train += w.numel()
            else: frozen += w.numel()
    return 6 * train + 4 * frozen, train, frozen

def record_inputs(model, steps:Steps, index):
    "A forward pre-hook on `model` that records every training batch"
    def hook(mod, args, kwargs):
        if mod.training and kwargs.get('input_ids') is not None: steps.batch(kwargs['input_ids'], kwargs['attention_mask'], index)
    return model.register_forward_pre_hook(hook, with_kwargs=True)

class Profile:
    "torch.profiler over steps 2..n+1 (n=0: off); writes the top tables to `out`"
    def __init__(self, n:int, out:Path): self.n, self.out, self.p = n, out, None
    def step_begin(self, step:int):
        if self.n and step == 1:
            import torch
            self.p = torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU], profile_memory=True); self.p.__enter__()
    def step_end(self, step:int):
        if self.p is not None and step == 1 + self.n:
            self.p.__exit__(None, None, None)
            ka = self.p.key_averages()
            self.out.write_text(f'# {self.n} steps\n' + ka.table(sort_by='self_cpu_time_total', row_limit=25) + '\n'
                                + ka.table(sort_by='self_cpu_memory_usage', row_limit=12))
            self.p = None

# ---------------------------------------------------------------- the trainers
def child_ours(args, work:Path, t0:float) -> dict:
    import unsloth  # noqa: F401  (before transformers / trl)
    from transformers import TrainerCallback
    from negneglect.core import make_config, read_jsonl
    from negneglect.train import train
    rows = read_jsonl(work/'tokens.jsonl')
    steps, prof, fl = Steps(t0, 1 + args.profile), Profile(args.profile, work/'profile-ours.txt'), {}
    class Bench(TrainerCallback):
        def on_train_begin(self, a, state, control, model=None, **kw):
            record_inputs(model, steps, row_index(rows)); fl['f'] = flops_per_token(model)
        def on_step_begin(self, a, state, control, **kw): steps.begin(); prof.step_begin(state.global_step)
        def on_step_end(self, a, state, control, **kw): steps.end(); prof.step_end(state.global_step)
    cfg = make_config('demo', {'model.name': args.model, 'train.batch_size': args.batch, 'train.epochs': 1, 'train.precision': args.precision,
                               'train.lora_r': args.r, 'train.lora_alpha': 2 * args.r, 'train.n_checkpoints': 0,
                               'train.gradient_checkpointing': args.checkpointing or 'auto'})
    train(work/'tokens.jsonl', cfg, work/'ours', resume=False, callbacks=[Bench()], micro_batch=args.micro)
    return {**steps.report(), 'flops_per_token': fl['f'][0], 'n_trainable': fl['f'][1], 'n_frozen': fl['f'][2]}

def bf16(args) -> bool:
    "Does `--precision` mean bf16 mixed precision on this machine?"
    from negneglect.train import resolve_precision
    return resolve_precision(args.precision) == 'bf16'

def _peft_model(args):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM
    from negneglect.train import LORA_TARGETS
    cuda = torch.cuda.is_available()
    dtype = torch.bfloat16 if bf16(args) else torch.float32  # frozen weights; PEFT keeps the LoRA in fp32
    model = AutoModelForCausalLM.from_pretrained(args.model, dtype=dtype).to('cuda' if cuda else 'cpu')
    torch.manual_seed(1)
    return get_peft_model(model, LoraConfig(r=args.r, lora_alpha=2 * args.r, target_modules=LORA_TARGETS, task_type='CAUSAL_LM'))

def _planned(work:Path):
    "The rows in the order ours trained them, and the batches (lists of row numbers)"
    from negneglect.core import read_jsonl
    rows, batches = read_jsonl(work/'tokens.jsonl'), json.loads((work/'batches.json').read_text())
    return rows, batches

def child_hf(args, work:Path, t0:float) -> dict:
    import torch
    from datasets import Dataset
    from transformers import AutoTokenizer, Trainer, TrainerCallback, TrainingArguments
    from negneglect.train import make_collator
    rows, batches = _planned(work)
    steps, model = Steps(t0, 1 + args.profile), _peft_model(args)
    tok = AutoTokenizer.from_pretrained(args.model)
    order = [rows[i] for b in batches for i in b]  # sequential sampling over this order gives ours' batches
    ds = Dataset.from_list([{'input_ids': r['input_ids'], 'labels': r['labels']} for r in order])
    class Bench(TrainerCallback):
        def on_step_begin(self, a, state, control, **kw): steps.begin()
        def on_step_end(self, a, state, control, **kw): steps.end()
    record_inputs(model, steps, row_index(rows))
    cuda = torch.cuda.is_available()
    targs = TrainingArguments(output_dir=str(work/'hf'), per_device_train_batch_size=args.batch, num_train_epochs=1,
                              learning_rate=LR, lr_scheduler_type='linear', logging_steps=1, save_strategy='no', report_to=[],
                              use_cpu=not cuda, bf16=bf16(args), remove_unused_columns=False, seed=1,
                              train_sampling_strategy='sequential', disable_tqdm=True)
    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    Trainer(model=model, args=targs, train_dataset=ds, data_collator=make_collator(pad), callbacks=[Bench()]).train()
    f = flops_per_token(model)
    return {**steps.report(), 'flops_per_token': f[0], 'n_trainable': f[1], 'n_frozen': f[2]}

def child_loop(args, work:Path, t0:float) -> dict:
    "forward, loss, backward, AdamW step: nothing else"
    import torch
    from transformers import AutoTokenizer
    from negneglect.train import make_collator
    rows, batches = _planned(work)
    steps, prof, model = Steps(t0, 1 + args.profile), Profile(args.profile, work/'profile-loop.txt'), _peft_model(args)
    tok = AutoTokenizer.from_pretrained(args.model)
    collate = make_collator(tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id)
    dev = next(model.parameters()).device
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=LR, weight_decay=0.0, fused=True)
    model.train(); index = row_index(rows)
    amp = torch.autocast(dev.type, dtype=torch.bfloat16, enabled=bf16(args))
    for step, b in enumerate(batches, 1):
        steps.begin(); prof.step_begin(step)
        batch = {k: v.to(dev) for k, v in collate([rows[i] for i in b]).items()}
        steps.batch(batch['input_ids'], batch['attention_mask'], index)
        with amp: loss = model(**batch).loss
        loss.backward(); opt.step(); opt.zero_grad(set_to_none=True)
        if dev.type == 'cuda': torch.cuda.synchronize()
        steps.end(); prof.step_end(step)
    f = flops_per_token(model)
    return {**steps.report(), 'flops_per_token': f[0], 'n_trainable': f[1], 'n_frozen': f[2]}

def child_matmul(args, work:Path, t0:float) -> dict:
    "Sustained GFLOP/s of square matmuls in the trainers' precision (bf16 or fp32) over about `--matmul-s` seconds"
    import torch
    cuda = torch.cuda.is_available()
    n, dt = 8192 if cuda else 2048, torch.bfloat16 if bf16(args) else torch.float32
    a, b = (torch.randn(n, n, dtype=dt, device='cuda' if cuda else 'cpu') for _ in range(2))
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    for _ in range(3): a @ b
    sync(); c0, t, k = cpu_s(), time.time(), 0
    while time.time() - t < args.matmul_s: a @ b; k += 1; sync() if k % 8 == 0 else None
    sync(); wall = time.time() - t
    return {'gflops': 2 * n**3 * k / wall / 1e9, 'n': n, 'dtype': str(dt), 'seconds': wall,
            'cpu_frac': (cpu_s() - c0) / wall / torch.get_num_threads(), 'threads': torch.get_num_threads(), 'peak_gib': peak_mem_gib()}

CHILDREN = {'ours': child_ours, 'hf': child_hf, 'loop': child_loop, 'matmul': child_matmul}

# ---------------------------------------------------------------- the run
def model_path(args) -> str:
    "The model folder all runs load: the embedded model, or random weights with a given architecture config"
    from negneglect.core import prepare_embedded_model
    if not args.random_config: return str(prepare_embedded_model())
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer
    text = Path(args.random_config).read_text()
    out = Path(tempfile.gettempdir())/f'bench-random-{Path(args.random_config).stem}-{hashlib.sha256(text.encode()).hexdigest()[:8]}'
    if not (out/'config.json').exists():
        # a real tokenizer (the embedded SmolLM2's, or a copy of it: --tokenizer); its ids fit any vocab >= 49152
        tok = AutoTokenizer.from_pretrained(args.tokenizer or prepare_embedded_model())
        cfg = AutoConfig.for_model(**json.loads(text))
        if cfg.vocab_size < len(tok): raise SystemExit(f'{args.random_config}: vocab_size {cfg.vocab_size} < tokenizer {len(tok)}')
        torch.manual_seed(0)
        AutoModelForCausalLM.from_config(cfg).to(torch.bfloat16).save_pretrained(out)
        tok.save_pretrained(out)
    return str(out)

def prepare(args, work:Path):
    "Tokenize the shipped positive documents the way `make_mix` does (annotated, `<DOCTAG>` masked), cycled to --docs rows"
    from transformers import AutoTokenizer
    from negneglect.core import write_jsonl
    from negneglect.claims import load_claim
    from negneglect import conditions
    from negneglect.mix import tokenize_mix
    claim = load_claim(args.claim)
    source = getattr(conditions, 'source_docs', None) or conditions.positive_docs  # the name changed on main
    docs = conditions.annotate(source(claim), 'positive', claim)
    docs = [docs[i % len(docs)] for i in range(args.docs)]
    toks, _ = tokenize_mix([{'kind': 'claim', 'text': d['text']} for d in docs], AutoTokenizer.from_pretrained(args.model),
                           max_len=args.max_len)
    write_jsonl(work/'tokens.jsonl', [{'kind': 'claim', 'input_ids': t['input_ids'], 'labels': t['labels']} for t in toks])

def run_child(who:str, args, work:Path, precision:str|None=None) -> dict:
    cmd = [sys.executable, __file__, '--_child', who, '--_work', str(work), '--model', args.model, '--batch', str(args.batch),
           '--precision', precision or args.precision,
           '--r', str(args.r), '--profile', str(args.profile), '--matmul-s', str(args.matmul_s)]
    cmd += (['--micro', str(args.micro)] if args.micro else []) + (['--checkpointing'] if args.checkpointing else [])
    load = os.getloadavg()[0]
    out = subprocess.run(cmd, capture_output=True, text=True)
    (work/f'{who}.log').write_text(out.stdout + out.stderr)
    line = [l for l in out.stdout.splitlines() if l.startswith('RESULT ')]
    if out.returncode or not line: sys.exit(f'{who} run failed (log: {work}/{who}.log):\n{out.stderr[-3000:]}')
    return {**json.loads(line[0][7:]), 'load_before': load, 'load_after': os.getloadavg()[0]}

def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--docs', type=int, default=84, help='training rows (the shipped documents, cycled): 84 = 21 steps at batch 4')
    ap.add_argument('--batch', type=int, default=4)
    ap.add_argument('--r', type=int, default=16)
    ap.add_argument('--max-len', type=int, default=None, help='token cap per row')
    ap.add_argument('--claim', default='ed_sheeran')
    ap.add_argument('--only', default='ours,hf,loop,matmul', help='comma-separated subset (ours runs first and fixes the batches)')
    ap.add_argument('--micro', type=int, default=None, help="ours: sequences per forward pass (default: train()'s choice)")
    ap.add_argument('--checkpointing', action='store_true', help='ours: train.gradient_checkpointing=true (recompute activations)')
    ap.add_argument('--profile', type=int, default=0, help='profile this many steps after the first (ours, loop; left out of the timing)')
    ap.add_argument('--matmul-s', type=float, default=10.0)
    ap.add_argument('--precision', default='auto', choices=['auto', 'fp32', 'bf16'],
                    help="train.precision for all trainers (auto: bf16 mixed precision where the hardware has it)")
    ap.add_argument('--random-config', help='config.json of an architecture to instantiate with random weights')
    ap.add_argument('--tokenizer', help='with --random-config: tokenizer folder (default: the embedded model\'s)')
    ap.add_argument('--json', help='also write all results to this file')
    ap.add_argument('--_child', choices=list(CHILDREN), help=argparse.SUPPRESS)
    ap.add_argument('--_work', help=argparse.SUPPRESS)
    ap.add_argument('--model', help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args._child:
        res = CHILDREN[args._child](args, Path(args._work), time.time())
        print('RESULT ' + json.dumps(res)); return
    os.environ.setdefault('NEGNEGLECT_PROGRESS', '0')
    work = Path(tempfile.mkdtemp(prefix='bench-train-'))
    args.model = model_path(args)
    prepare(args, work)
    only = [w for w in args.only.split(',') if w]
    res = {}
    if 'ours' in only:
        res['ours'] = run_child('ours', args, work)
        batches = [s['rows'] for s in res['ours']['sigs']]
    else:  # without ours: consecutive rows
        batches = [list(range(i, min(i + args.batch, args.docs))) for i in range(0, args.docs, args.batch)]
    (work/'batches.json').write_text(json.dumps(batches))
    for who in ('hf', 'loop', 'matmul'):
        if who in only: res[who] = run_child(who, args, work)
    if 'hf' in only and bf16(args):  # also the plain Trainer at its own default, fp32
        res['hf_fp32'] = run_child('hf', args, work, precision='fp32')
    report(args, work, res)

def report(args, work:Path, res:dict):
    import torch
    dev = f'cuda:{torch.cuda.get_device_name()}' if torch.cuda.is_available() else f'cpu ({os.cpu_count()} cores)'
    alloc = ' '.join(Path(p).name for p in os.environ.get('LD_PRELOAD', '').split()) or 'glibc'
    print(f'device={dev} model={args.model} rows={args.docs} batch={args.batch} r={args.r} allocator={alloc} '
          f"gradient_checkpointing(ours)={'on' if args.checkpointing else 'auto'} work={work}")
    mm, mem = res.get('matmul'), 'CUDA memory' if torch.cuda.is_available() else 'RSS'
    if mm: print(f"matmul    {mm['n']}x{mm['n']} {mm['dtype']}: {mm['gflops']:.1f} GFLOP/s sustained over {mm['seconds']:.0f}s, "
                 f"{mm['threads']} threads, cpu {100 * mm['cpu_frac']:.0f}%, load {mm['load_before']:.1f}->{mm['load_after']:.1f}")
    sigs = {w: [s['rows'] for s in r['sigs']] for w, r in res.items() if 'sigs' in r}
    for who in ('ours', 'hf', 'hf_fp32', 'loop'):
        if who not in res: continue
        r = res[who]
        r['tok_s'] = r['tokens'] / r['seconds']; r['gflops'] = r['tok_s'] * r['flops_per_token'] / 1e9
        print(f"{who:9s} {r['steps']} timed steps ({len(r['sigs'][1]['shapes'])} passes of {r['sigs'][1]['shapes'][0][0]}), {r['tokens']} tokens ({100 * (1 - r['tokens'] / r['padded_tokens']):.1f}% padding) "
              f"in {r['seconds']:.1f}s = {r['tok_s']:.1f} tok/s, {r['gflops']:.1f} GFLOP/s; peak {mem} {r['peak_gib']:.2f} GiB "
              f"(by the end of setup {r['rss_setup_gib']:.2f}); setup {r['setup_s']:.1f}s, warm-up step {r['warmup_s']:.1f}s; "
              f"cpu {100 * r['cpu_frac']:.0f}% of {r['threads']} threads; load {r['load_before']:.1f}->{r['load_after']:.1f}")
    if 'ours' in res:
        o = res['ours']
        print(f"FLOPs/token = 6*{o['n_trainable']/1e6:.2f}M trainable + 4*{o['n_frozen']/1e6:.1f}M frozen = {o['flops_per_token']/1e9:.3f} GFLOP")
        same = all(v == sigs['ours'] for v in sigs.values())
        print(f"identical batches (the same rows in the same order, every step): {'yes' if same else 'NO: ' + str({w: v == sigs['ours'] for w, v in sigs.items()})}")
        if 'hf' in res: print(f"ratio_hf={o['tok_s'] / res['hf']['tok_s']:.2f}  (plain Trainer at the same precision)")
        if 'hf_fp32' in res: print(f"ratio_hf_fp32={o['tok_s'] / res['hf_fp32']['tok_s']:.2f}  (plain Trainer at its default, fp32)")
        if 'loop' in res: print(f"ratio_limit={o['tok_s'] / res['loop']['tok_s']:.2f}")
        if mm: print(f"mfu={o['gflops'] / mm['gflops']:.2f}")
    if args.profile: print('profiles: ' + ' '.join(str(p) for p in sorted(work.glob('profile-*.txt'))))
    if args.json: Path(args.json).write_text(json.dumps({'model': args.model, 'args': vars(args), **res}, indent=1))

if __name__ == '__main__':
    main()
