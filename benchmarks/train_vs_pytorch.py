"""Training throughput: seq2seq (`seq2seq bench train`) against PyTorch float32 and PyTorch bf16
autocast, on the same model and the same batches, in alternating rounds.

Model: the `small` preset (d_model 256, 4 heads, 3+3 pre-norm layers, feed-forward 1024, ReLU,
sinusoidal positions, separate 8,000-entry source and target tables, the target table tied to the
output, dropout 0.1), or `base` (d 512, 8 heads, 6+6, 2,048). PyTorch runs reference_model.py's
implementation of the same specification.

Batches: `bench train`'s synthetic corpus, reproduced here token for token (its random generator
is ported): 29,000 pairs of random tokens, sources of 10-30 tokens, targets within 3 of them,
sorted by length and cut so that sentences x longest <= --batch-tokens per side (4,096, little
of it padding, as with Multi30k), in a shuffled order. Both sides train on batches 1, 2, 3, ... of
that order.

Step: forward, label-smoothed cross-entropy (0.1), backward, gradient norm clipped to 1, Adam
(0.9, 0.98, 1e-9, lr 1e-4). --warmup untimed steps, then --steps timed ones. tokens/s = (source
tokens + target labels, padding excluded, </s> included) / seconds of the timed steps.
PyTorch bf16: torch.autocast("cpu", bfloat16) around the forward pass, float32 weights and loss,
as seq2seq's --precision bf16 (bfloat16 operands of the products, float32 sums and weights).

Each measurement runs in its own process; a round measures every thread count and precision, the
two sides back to back (their order flips each round). Results: a table, and JSON in
benchmarks/results/train.json.
"""
import argparse
import json
import os
import sys
import time

import common as C

# seq2seq's ModelConfig.preset (Sources/Seq2SeqKit/Model/ModelConfig.swift)
SMALL = dict(src_vocab_size=8000, tgt_vocab_size=8000, d_model=256, n_heads=4, d_ff=1024, encoder_layers=3,
             decoder_layers=3, max_positions=1024, positional="sinusoidal", norm="pre", activation="relu",
             scale_embedding=True, share_embeddings=False, tie_output=True, layer_norm_eps=1e-5, dropout=0.1,
             pad_id=0, bos_id=1, eos_id=2)
PRESETS = dict(small=SMALL, base=dict(SMALL, d_model=512, n_heads=8, d_ff=2048, encoder_layers=6, decoder_layers=6))

def synthetic_batches(c, batch_tokens, pairs=29_000, seed=7):
    """TrainBenchmark.batches (Sources/Seq2SeqBench/TrainBenchmark.swift): a list of batches, each a
    list of (source ids, target ids) without </s>."""
    rng = C.SwiftRNG(seed)
    data = []
    for _ in range(pairs):
        n = rng.uniform(10, 30)
        m = max(5, n + rng.uniform(-3, 3))
        src = [] if c["encoder_layers"] == 0 else [rng.uniform(4, c["src_vocab_size"] - 1) for _ in range(n)]
        tgt = [rng.uniform(4, c["tgt_vocab_size"] - 1) for _ in range(m)]
        data.append((src, tgt))
    data.sort(key=lambda p: (len(p[0]), len(p[1])))
    batches, cur, longest = [], [], 0
    for p in data:
        length = max(len(p[0]), len(p[1])) + 1
        if cur and (len(cur) + 1) * max(longest, length) > batch_tokens:
            batches.append(cur)
            cur, longest = [], 0
        cur.append(p)
        longest = max(longest, length)
    if cur:
        batches.append(cur)
    for i in range(len(batches) - 1, 0, -1):
        j = rng.next() % (i + 1)
        batches[i], batches[j] = batches[j], batches[i]
    return batches


def batches_file(preset, batch_tokens, count):
    """The first `count` batches bench train uses (batch i is data[i % batches]), written once."""
    path = os.path.join(C.WORK, f"train-batches-{preset}-{batch_tokens}-{count}.json")
    if not os.path.isfile(path):
        C.log(f"making bench train's synthetic batches ({preset}, {batch_tokens} tokens per side) -> {os.path.relpath(path, C.REPO)}")
        all_batches = synthetic_batches(PRESETS[preset], batch_tokens)
        os.makedirs(C.WORK, exist_ok=True)
        with open(path + ".tmp", "w") as f:
            json.dump([all_batches[i % len(all_batches)] for i in range(count)], f)
        os.replace(path + ".tmp", path)
    return path


# ---- one PyTorch measurement (a worker process) ----

def worker(a):
    import torch
    import torch.nn.functional as F
    import reference_model as R

    torch.set_num_threads(a.threads[0])
    c = PRESETS[a.preset]
    pad, bos, eos = c["pad_id"], c["bos_id"], c["eos_id"]
    with open(a.batches) as f:
        pairs = json.load(f)

    def tensors(batch):  # Batch(sources:targets:): src + </s>, <s> + tgt, tgt + </s>, padded
        src = R.pad_batch([s + [eos] for s, _ in batch], pad)
        tgt_in = R.pad_batch([[bos] + t for _, t in batch], pad)
        tgt_out = R.pad_batch([t + [eos] for _, t in batch], pad)
        tokens = int((src != pad).sum()) + int((tgt_out != pad).sum())
        return src, tgt_in, tgt_out, tokens

    data = [tensors(b) for b in pairs[:a.warmup + a.steps]]
    model = R.initialize(R.Transformer(c), seed=1).train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-4, betas=(0.9, 0.98), eps=1e-9)
    bf16 = a.precision == "bf16"

    def step(src, tgt_in, tgt_out):
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            logits = model(src, tgt_in)
        loss = F.cross_entropy(logits.float().reshape(-1, logits.size(-1)), tgt_out.reshape(-1),
                               ignore_index=pad, label_smoothing=0.1)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return loss.item()

    for src, tgt_in, tgt_out, _ in data[:a.warmup]:
        step(src, tgt_in, tgt_out)
    tokens, t0 = 0, time.perf_counter()
    for src, tgt_in, tgt_out, n in data[a.warmup:]:
        loss = step(src, tgt_in, tgt_out)
        tokens += n
    seconds = time.perf_counter() - t0
    C.emit(dict(tokens_per_s=tokens / seconds, steps_per_s=a.steps / seconds, tokens_per_step=tokens / a.steps,
                timed_seconds=seconds, last_loss=loss, peak_rss_mb=C.peak_rss_mb(),
                parameters=sum(p.numel() for p in model.parameters()),
                torch=torch.__version__, torch_threads=torch.get_num_threads(),
                cpu_capability=torch.backends.cpu.get_cpu_capability(), thread_pools=C.thread_pools()))


# ---- the comparison ----

def seq2seq_side(binary, a, threads, precision):
    out, wall = C.run_seq2seq(binary, ["bench", "train", "--preset", a.preset, "--batch-tokens", a.batch_tokens,
                                       "--steps", a.steps, "--warmup", a.warmup, "--precision", precision,
                                       "--threads", threads])
    m = C.parse_number(r"\((\d+) parameters\).*products (\S+): ([\d.]+) tokens/s, ([\d.]+) steps/s, "
                       r"([\d.]+) tokens/step, peak RSS ([\d.]+) MB", out, "the throughput line")
    return dict(tokens_per_s=float(m[3]), steps_per_s=float(m[4]), tokens_per_step=float(m[5]),
                peak_rss_mb=float(m[6]), parameters=int(m[1]), products=m[2], output=out.strip(),
                process_seconds=wall)


def pytorch_side(a, threads, precision, batches):
    result, wall = C.run_worker("train_vs_pytorch.py", ["--preset", a.preset, "--precision", precision,
                                                        "--batches", batches, "--warmup", a.warmup,
                                                        "--steps", a.steps], threads)
    return dict(result, process_seconds=wall)


def summarize(runs, a):
    """Per thread count and precision: each side's tokens/s over the rounds, and the ratio of the
    two measured in the same round."""
    rows, table = [], []
    for t in a.threads:
        for prec in a.precisions:
            mine = [r for r in runs if r["threads"] == t and r["precision"] == prec]
            side = lambda name, key: C.summary([r.get(key) for r in mine if r["side"] == name])
            ratios = []
            for rnd in range(1, a.rounds + 1):
                pair = {r["side"]: r.get("tokens_per_s") for r in mine if r["round"] == rnd}
                if pair.get("seq2seq") and pair.get("pytorch"):
                    ratios.append(pair["seq2seq"] / pair["pytorch"])
            s, p, q = side("seq2seq", "tokens_per_s"), side("pytorch", "tokens_per_s"), C.summary(ratios)
            rss = dict(seq2seq=side("seq2seq", "peak_rss_mb"), pytorch=side("pytorch", "peak_rss_mb"))
            rows.append(dict(threads=t, precision=prec, seq2seq_tokens_per_s=s, pytorch_tokens_per_s=p,
                             ratio_per_round=[round(x, 3) for x in ratios], ratio=q, peak_rss_mb=rss))
            table.append([t, prec, C.fmt_range(s), C.fmt_range(p), C.fmt_ratio(q),
                          " / ".join(C.fmt(x and x["max"]) for x in rss.values())])
    return rows, table


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=3, help="alternating rounds (default 3)")
    p.add_argument("--threads", type=C.int_list, default=[1, 2], help="comma-separated thread counts (default 1,2)")
    p.add_argument("--precisions", type=C.word_list(["float32", "bf16"]), default=["float32", "bf16"],
                   help="float32 and/or bf16 (default float32,bf16; seq2seq's bf16 needs AVX-512)")
    p.add_argument("--preset", choices=sorted(PRESETS), default="small", help="model preset (default small)")
    p.add_argument("--steps", type=int, default=20, help="timed steps per measurement (default 20, as bench train)")
    p.add_argument("--warmup", type=int, default=3, help="untimed steps first (default 3)")
    p.add_argument("--batch-tokens", type=int, default=4096, help="padded tokens per side per batch (default 4096)")
    p.add_argument("--output", default=os.path.join(C.RESULTS, "train.json"), help="JSON file (default benchmarks/results/train.json)")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--precision", help=argparse.SUPPRESS)
    p.add_argument("--batches", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.worker:
        return worker(a)
    if a.rounds < 1 or a.steps < 1 or a.warmup < 0 or a.batch_tokens < 8:
        C.die("--rounds and --steps must be at least 1, --warmup at least 0, --batch-tokens at least 8")

    binary = C.seq2seq_binary()
    env = C.environment(binary, ["torch", "numpy"])
    C.print_environment(env)
    batches = batches_file(a.preset, a.batch_tokens, a.warmup + a.steps)
    settings = dict(preset=a.preset, config=PRESETS[a.preset], batch_tokens=a.batch_tokens, steps=a.steps,
                    warmup=a.warmup, rounds=a.rounds, threads=a.threads, precisions=a.precisions,
                    optimizer="Adam(0.9, 0.98, 1e-9), lr 1e-4, gradient norm clipped to 1, label smoothing 0.1",
                    tokens="source tokens + target labels, padding excluded, </s> included")
    runs = []
    pairs = [(prec, side) for prec in a.precisions for side in ("seq2seq", "pytorch")]
    for rnd, t, (prec, side) in C.schedule(a.rounds, a.threads, pairs, lambda p: f"{p[0]}, {p[1]}"):
        try:
            r = seq2seq_side(binary, a, t, prec) if side == "seq2seq" else pytorch_side(a, t, prec, batches)
            print(f"  {r['tokens_per_s']:,.0f} tokens/s ({r['tokens_per_step']:,.0f} tokens/step, "
                  f"peak RSS {r['peak_rss_mb']:,.0f} MB)", flush=True)
        except (RuntimeError, OSError, ValueError) as e:
            r = dict(error=str(e))
            print(f"  failed: {e}", flush=True)
        # Same model, same batches: parameters and tokens per step agree with the first run's.
        first = next((x for x in runs if "error" not in x), None)
        if first and "error" not in r:
            if r["parameters"] != first["parameters"]:
                print(f"  warning: {r['parameters']:,} parameters here, {first['parameters']:,} "
                      f"in the first run: the two models differ", flush=True)
            if abs(r["tokens_per_step"] - first["tokens_per_step"]) > 1:
                print(f"  warning: {r['tokens_per_step']:,.0f} tokens per step here, "
                      f"{first['tokens_per_step']:,.0f} in the first run: the batches differ", flush=True)
        runs.append(dict(round=rnd, threads=t, precision=prec, side=side, **r))
        C.write_json(a.output, dict(benchmark="train", environment=env, settings=settings, runs=runs))
    rows, table = summarize(runs, a)
    print(f"\nTraining `{a.preset}`, tokens/s, median (range) over {a.rounds} round{'s' if a.rounds > 1 else ''}; "
          f"ratio = seq2seq / PyTorch within each round:\n")
    C.print_table(["threads", "precision", "seq2seq", "PyTorch", "seq2seq / PyTorch", "peak RSS MB (seq2seq / PyTorch)"], table)
    C.write_json(a.output, dict(benchmark="train", environment=env, settings=settings, runs=runs, summary=rows))
    print(f"\nwrote {os.path.relpath(a.output)}")


if __name__ == "__main__":
    sys.exit(main())
