"""Character-level GPT on tinyshakespeare: seq2seq (`seq2seq train --lm`) against nanoGPT's
shakespeare_char configuration for CPUs in PyTorch, with wall time and final validation loss.

nanoGPT's README trains on a CPU with

    python train.py config/train_shakespeare_char.py --device=cpu --compile=False --eval_iters=20
        --log_interval=1 --block_size=64 --batch_size=12 --n_layer=4 --n_head=4 --n_embd=128
        --max_iters=2000 --lr_decay_iters=2000 --dropout=0.0

that is: 4 pre-norm layers of width 128 with 4 heads and a 512-wide GELU feed-forward, learned
positions, no biases, the token table tied to the output, N(0, 0.02) initialization; batches of 12
random 64-character windows of the first 90% of the text; AdamW (0.9, 0.99), weight decay 0.1 on
matrices, lr 1e-3 with 100 warm-up iterations and a cosine to 1e-4 at iteration 2,000, gradient norm
clipped to 1; every 250 iterations the loss on 20 random batches of each split (the last 10% is
validation). The PyTorch side here is a minimal model and loop written to that description, float32.

seq2seq's language-model recipe is the same configuration (the `small` GPT preset and nanoGPT's
optimizer settings, Sources/Seq2SeqKit/Training/TrainingRun+Recipe.swift). What differs is the
spec's, not the run's: its linear layers and LayerNorms have biases, its character vocabulary adds
3 special and 256 byte tokens to the 65 characters, it initializes as docs/formats.md says, and it
validates on 20 fixed batches of the validation split (nanoGPT draws 20 random ones of each split).

`--recipe medium` compares the `medium` language-model preset instead (`seq2seq train --lm
--preset medium`, the best character model 30 minutes buy on two cores, docs/language-models.md):
6 layers of width 256 with 4 heads and a 1,024-wide feed-forward, blocks of 256 characters, 16 per
batch, dropout 0.05, lr 1.5e-3 with 100 warm-up iterations and a cosine to 1e-4 at iteration 3,000.
The PyTorch side is the same model and loop with those values, float32 and/or bf16 autocast
(`--pytorch-precisions`: torch.autocast("cpu", bfloat16) around the forward pass, as
train_vs_pytorch.py; seq2seq's preset trains with bf16 products where the processor has them).

Measured: the wall time of each process from start to exit (seq2seq learning its vocabulary and
writing checkpoints, Python importing PyTorch: everything a user waits for), the training time
with its evaluations (seq2seq's from its metrics.jsonl), iterations/s without the evaluations, and
the validation loss after the last iteration. Results: a table, and JSON in
benchmarks/results/charlm.json.
"""
import argparse
import json
import math
import os
import sys
import time

import common as C

CHARLM_WORK = os.path.join(C.WORK, "charlm")

# Each recipe on both sides: seq2seq's preset, and nanoGPT's names for the PyTorch side.
RECIPES = dict(
    cpu=dict(preset="small", n_layer=4, n_head=4, n_embd=128, block_size=64, batch_size=12, dropout=0.0,
             lr=1e-3, min_lr=1e-4, warmup_iters=100, default_iters=2000, default_eval_interval=250),
    medium=dict(preset="medium", n_layer=6, n_head=4, n_embd=256, block_size=256, batch_size=16, dropout=0.05,
                lr=1.5e-3, min_lr=1e-4, warmup_iters=100, default_iters=3000, default_eval_interval=500),
)


# ---- nanoGPT's run in PyTorch (a worker process) ----

def gpt(vocab_size, a):
    """nanoGPT's GPT (model.py) with bias=False, built bottom up; returns the model."""
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    class SelfAttention(nn.Module):
        def __init__(self):
            super().__init__()
            self.c_attn = nn.Linear(a.n_embd, 3 * a.n_embd, bias=False)
            self.c_proj = nn.Linear(a.n_embd, a.n_embd, bias=False)
            self.drop = nn.Dropout(a.dropout)

        def forward(self, x):
            B, T, C_ = x.shape
            q, k, v = (t.view(B, T, a.n_head, C_ // a.n_head).transpose(1, 2)  # (B, nh, T, hs)
                       for t in self.c_attn(x).split(C_, dim=2))
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True, dropout_p=a.dropout if self.training else 0.0)
            return self.drop(self.c_proj(y.transpose(1, 2).reshape(B, T, C_)))

    class MLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.c_fc = nn.Linear(a.n_embd, 4 * a.n_embd, bias=False)
            self.c_proj = nn.Linear(4 * a.n_embd, a.n_embd, bias=False)
            self.drop = nn.Dropout(a.dropout)

        def forward(self, x):
            return self.drop(self.c_proj(F.gelu(self.c_fc(x))))

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln_1, self.attn = nn.LayerNorm(a.n_embd, bias=False), SelfAttention()
            self.ln_2, self.mlp = nn.LayerNorm(a.n_embd, bias=False), MLP()

        def forward(self, x):
            x = x + self.attn(self.ln_1(x))
            return x + self.mlp(self.ln_2(x))

    class GPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.wte, self.wpe = nn.Embedding(vocab_size, a.n_embd), nn.Embedding(a.block_size, a.n_embd)
            self.drop = nn.Dropout(a.dropout)
            self.h = nn.ModuleList(Block() for _ in range(a.n_layer))
            self.ln_f = nn.LayerNorm(a.n_embd, bias=False)
            self.lm_head = nn.Linear(a.n_embd, vocab_size, bias=False)
            self.wte.weight = self.lm_head.weight  # tied
            for name, p in self.named_parameters():
                if p.dim() == 2:
                    std = 0.02 / math.sqrt(2 * a.n_layer) if name.endswith("c_proj.weight") else 0.02
                    torch.nn.init.normal_(p, mean=0.0, std=std)

        def forward(self, idx, targets):  # (B, T) each -> mean cross-entropy
            T = idx.size(1)
            x = self.drop(self.wte(idx) + self.wpe(torch.arange(T)))
            for block in self.h:
                x = block(x)
            logits = self.lm_head(self.ln_f(x))  # (B, T, V)
            return F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))

    return GPT()


def worker(a):
    start = time.perf_counter()
    import torch
    bf16 = a.precision == "bf16"
    torch.set_num_threads(a.threads[0])
    torch.manual_seed(1337 + a.seed)
    with open(a.text, encoding="utf-8") as f:
        text = f.read()
    chars = sorted(set(text))
    index = {ch: i for i, ch in enumerate(chars)}
    data = torch.tensor([index[ch] for ch in text], dtype=torch.long)
    n = int(0.9 * len(data))
    splits = dict(train=data[:n], val=data[n:])

    def batch(split):
        d = splits[split]
        ix = torch.randint(len(d) - a.block_size, (a.batch_size,))
        return (torch.stack([d[i:i + a.block_size] for i in ix]),
                torch.stack([d[i + 1:i + 1 + a.block_size] for i in ix]))

    @torch.no_grad()
    def estimate():
        model.eval()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            out = {s: sum(model(*batch(s)).float().item() for _ in range(a.eval_iters)) / a.eval_iters
                   for s in ("train", "val")}
        model.train()
        return out

    def learning_rate(it):  # nanoGPT's get_lr
        if it < a.warmup_iters:
            return a.lr * (it + 1) / (a.warmup_iters + 1)
        if it > a.lr_decay_iters:
            return a.min_lr
        ratio = (it - a.warmup_iters) / (a.lr_decay_iters - a.warmup_iters)
        return a.min_lr + 0.5 * (1.0 + math.cos(math.pi * ratio)) * (a.lr - a.min_lr)

    model = gpt(len(chars), a)
    matrices = [p for p in model.parameters() if p.dim() >= 2]
    others = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([dict(params=matrices, weight_decay=0.1), dict(params=others, weight_decay=0.0)],
                            lr=a.lr, betas=(0.9, 0.99))
    evals, train_seconds = [], 0.0
    x, y = batch("train")
    loop_start = time.perf_counter()
    for it in range(a.iters + 1):
        lr = learning_rate(it)
        for group in opt.param_groups:
            group["lr"] = lr
        if it % a.eval_interval == 0 or it == a.iters:
            evals.append(dict(iter=it, **estimate()))
            C.log(f"  iter {it}: train loss {evals[-1]['train']:.4f}, val loss {evals[-1]['val']:.4f}")
        if it == a.iters:
            break
        t0 = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = model(x, y)
        x, y = batch("train")
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        train_seconds += time.perf_counter() - t0
    C.emit(dict(iters=a.iters, wall_seconds=time.perf_counter() - start, train_seconds=train_seconds,
                loop_seconds=time.perf_counter() - loop_start,
                iters_per_s=a.iters / train_seconds, tokens_per_s=a.iters * a.batch_size * a.block_size / train_seconds,
                final_val_loss=evals[-1]["val"], final_train_loss=evals[-1]["train"], evals=evals,
                vocabulary=len(chars), parameters=sum(p.numel() for p in model.parameters()),
                peak_rss_mb=C.peak_rss_mb(), torch=torch.__version__, torch_threads=torch.get_num_threads(),
                thread_pools=C.thread_pools()))


# ---- the comparison ----

def seq2seq_side(binary, a, text, threads, precision, rnd):
    name = f"seq2seq-{precision}-t{threads}-r{rnd}"
    model = C.fresh_dir(os.path.join(CHARLM_WORK, name))
    log_file = os.path.join(CHARLM_WORK, name + ".log")
    args = ["train", "--lm", "--text", text, "--model", model, "--threads", threads, "--preset", a.preset,
            "--max-steps", a.iters,
            "--validate-every", a.eval_interval, "--eval-batches", a.eval_iters, "--seed", rnd,
            "--log-every", a.eval_interval]
    args += ["--precision", precision]
    print(f"  (seq2seq's log: {os.path.relpath(log_file)})", flush=True)
    _, wall = C.run_seq2seq(binary, args, log_file=log_file)
    records = []
    with open(os.path.join(model, "metrics.jsonl")) as f:
        for line in f:
            if line.strip():
                records.append(json.loads(line))
    valid = [r for r in records if "valid_loss" in r]
    steps = [r for r in records if "loss" in r and "elapsed" in r]
    if not valid or not steps:
        raise RuntimeError(f"{model}/metrics.jsonl has no validation or step records")
    # "elapsed" counts from the start of training, validations included; a validation record's
    # "seconds" is its own duration.
    last = steps[-1]
    validating = sum(r.get("seconds", 0) for r in valid if r["step"] < last["step"])
    train = last["elapsed"] - validating
    return dict(process_seconds=wall, loop_seconds=last["elapsed"] + valid[-1].get("seconds", 0),
                train_seconds=train, iters=last["step"], iters_per_s=last["step"] / train,
                final_val_loss=valid[-1]["valid_loss"], final_val_step=valid[-1]["step"],
                evals=[dict(iter=r["step"], val=r["valid_loss"]) for r in valid], log=os.path.relpath(log_file, C.REPO))


def pytorch_side(a, text, threads, precision, rnd):
    args = ["--text", text, "--iters", a.iters, "--eval-interval", a.eval_interval, "--eval-iters", a.eval_iters,
            "--seed", rnd, "--recipe", a.recipe, "--precision", precision]
    result, wall = C.run_worker("charlm_vs_nanogpt.py", args, threads)
    return dict(result, process_seconds=wall)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=C.int_list, default=[2], help="comma-separated thread counts (default 2)")
    p.add_argument("--rounds", type=int, default=1, help="rounds, the order of the two sides flipping (default 1)")
    p.add_argument("--seq2seq-precisions", type=C.word_list(["float32", "bf16"]), default=["float32"],
                   help="seq2seq's --precision runs: float32 and/or bf16 (default float32; nanoGPT's CPU run is float32)")
    p.add_argument("--recipe", choices=sorted(RECIPES), default="cpu",
                   help="cpu: nanoGPT's CPU configuration, seq2seq's preset small (default); medium: seq2seq's preset "
                        "medium, the 30-minute character model")
    p.add_argument("--pytorch-precisions", type=C.word_list(["float32", "bf16"]), default=["float32"],
                   help="PyTorch runs: float32 and/or bf16 autocast (default float32)")
    p.add_argument("--iters", type=int, help="iterations (default: the recipe's, 2000 or 3000); the cosine ends there")
    p.add_argument("--eval-interval", type=int, help="evaluate every N iterations (default: the recipe's, 250 or 500)")
    p.add_argument("--eval-iters", type=int, default=20, help="batches per evaluation (default 20)")
    p.add_argument("--output", default=os.path.join(C.RESULTS, "charlm.json"), help="JSON file (default benchmarks/results/charlm.json)")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--text", help=argparse.SUPPRESS)
    p.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--precision", default="float32", help=argparse.SUPPRESS)
    a = p.parse_args()
    # the recipe (the worker reads these; not options, so both sides stay comparable)
    for key, value in RECIPES[a.recipe].items():
        setattr(a, key, value)
    if a.iters is None:
        a.iters = a.default_iters
    if a.eval_interval is None:
        a.eval_interval = a.default_eval_interval
    a.lr_decay_iters = a.iters
    if a.worker:
        return worker(a)
    if a.rounds < 1 or a.iters <= a.warmup_iters or a.eval_interval < 1 or a.eval_iters < 1:
        C.die(f"--rounds, --eval-interval and --eval-iters must be at least 1, --iters above {a.warmup_iters}")

    binary = C.seq2seq_binary()
    (text,) = C.corpus_files("tinyshakespeare/input.txt")
    env = C.environment(binary, ["torch"])
    C.print_environment(env)
    settings = dict(text=text, recipe=a.recipe, preset=a.preset, iters=a.iters, eval_interval=a.eval_interval,
                    eval_iters=a.eval_iters, threads=a.threads, rounds=a.rounds,
                    seq2seq_precisions=a.seq2seq_precisions, pytorch_precisions=a.pytorch_precisions,
                    nanogpt=dict(n_layer=a.n_layer, n_head=a.n_head, n_embd=a.n_embd, block_size=a.block_size,
                                 batch_size=a.batch_size, dropout=a.dropout, lr=a.lr, min_lr=a.min_lr,
                                 warmup_iters=a.warmup_iters, lr_decay_iters=a.lr_decay_iters,
                                 betas=[0.9, 0.99], weight_decay=0.1, grad_clip=1.0))
    runs = []
    sides = ([("seq2seq", prec) for prec in a.seq2seq_precisions]
             + [("pytorch", prec) for prec in a.pytorch_precisions])
    for rnd, t, (side, prec) in C.schedule(a.rounds, a.threads, sides, lambda s: " ".join(s)):
        try:
            r = seq2seq_side(binary, a, text, t, prec, rnd) if side == "seq2seq" else pytorch_side(a, text, t, prec, rnd)
            print(f"  {r['process_seconds']:.1f} s, validation loss {r['final_val_loss']:.4f}", flush=True)
        except (RuntimeError, OSError, ValueError) as e:
            r = dict(error=str(e))
            print(f"  failed: {e}", flush=True)
        runs.append(dict(round=rnd, threads=t, side=side, precision=prec, **r))
        C.write_json(a.output, dict(benchmark="charlm", environment=env, settings=settings, runs=runs))

    table, summary = [], []
    for t in a.threads:
        for side, prec in sides:
            mine = [r for r in runs if r["threads"] == t and r["side"] == side and r["precision"] == prec and "error" not in r]
            get = lambda key, better=True: C.summary([r.get(key) for r in mine], better)
            wall = get("process_seconds", False)
            ratios = [q["process_seconds"] / r["process_seconds"] for r in mine for q in runs
                      if side == "seq2seq" and q["side"] == "pytorch" and q["precision"] == prec and q["threads"] == t
                      and q["round"] == r["round"]
                      and "error" not in q]
            summary.append(dict(threads=t, side=side, precision=prec, process_seconds=wall,
                                loop_seconds=get("loop_seconds", False), iters_per_s=get("iters_per_s"),
                                final_val_loss=[r["final_val_loss"] for r in mine],
                                pytorch_wall_over_this=C.summary(ratios)))
            table.append([t, f"{'seq2seq' if side == 'seq2seq' else 'PyTorch'} {prec}",
                          C.fmt_range(wall, 1), C.fmt_range(get("loop_seconds", False), 1),
                          C.fmt_range(get("iters_per_s"), 1),
                          ", ".join(f"{r['final_val_loss']:.3f}" for r in mine) or "-",
                          C.fmt_ratio(C.summary(ratios)) if side == "seq2seq" else ""])
    print(f"\nCharacter-level GPT, recipe {a.recipe}, {a.iters} iterations on tinyshakespeare; seconds and iterations/s as median "
          f"(range) over rounds; PyTorch / seq2seq = ratio of wall times in the same round:\n")
    C.print_table(["threads", "run", "wall s (process)", "training s (with evaluations)", "iterations/s",
                   f"validation loss at {a.iters}", "PyTorch / seq2seq (wall, same precision)"], table)
    C.write_json(a.output, dict(benchmark="charlm", environment=env, settings=settings, runs=runs, summary=summary))
    print(f"\nwrote {os.path.relpath(a.output)}")


if __name__ == "__main__":
    sys.exit(main())
