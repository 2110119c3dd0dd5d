"""Generation speed on the same weights: seq2seq (`seq2seq bench generate`, float32, and the int8
model `seq2seq quantize` writes) against CTranslate2's Generator (float32 and int8), on a
GPT-2-small-shaped model (12 layers, d 768, 12 heads, 1,024 positions, 50,257 tokens).

Weights: a random GPT2LMHeadModel made with transformers (seeded; GPT-2's initialization) and
saved as a Hugging Face folder, with a byte-level BPE tokenizer of GPT-2's size (256 bytes, 50,000
two-byte merges, <|endoftext|>; the benchmark never tokenizes text). seq2seq gets it through
`seq2seq import` (and `seq2seq quantize` for int8); CTranslate2 through `ct2-transformers-converter`,
loaded with compute_type float32 or int8 (per-row int8 weights, as seq2seq's).

Same work on every side:
- prompts: --batch-sizes rows of --prompt-tokens random ids each, drawn by seq2seq's generator
  (xoshiro256** from seed 1, reproduced by common.SwiftRNG), never a special id;
- prompt phase: up to the first new token's logits: seq2seq's prefill; CTranslate2's
  generate_batch(max_length=1). Counted as prompt tokens (batch x prompt) / seconds;
- generation phase: the --new-tokens - 1 greedy steps after the first (CTranslate2: the time of
  generate_batch(max_length=new, min_length=new, sampling_topk=1) minus the prompt phase; the
  minimum length keeps every row generating, as seq2seq's benchmark does). Counted as
  batch x (new - 1) / seconds;
- the best of --repeats after an untimed pass; the first row's greedy tokens are compared between
  engines of the same precision (equal ids show equal work).

Each engine runs in its own process, one thread count at a time; a round runs every engine, and
their order flips from one round to the next. Results: a table, and JSON in
benchmarks/results/generate.json.
"""
import argparse
import json
import os
import subprocess
import sys
import time

import common as C

ENGINES = ["seq2seq", "seq2seq-int8", "ctranslate2", "ctranslate2-int8"]
WORK = os.path.join(C.WORK, "generate")


def prompts(batch, length, vocab, special):
    """GenerateBenchmark.prompts: the same ids seq2seq's benchmark feeds."""
    rng = C.SwiftRNG(1)
    rows = []
    for _ in range(batch):
        row = []
        for _ in range(length):
            while True:
                i = rng.next() % vocab
                if i not in special:
                    break
            row.append(i)
        rows.append(row)
    return rows


# ---- the model, its imports and conversions ----

def make_models(a, binary):
    """The random GPT-2 folder, seq2seq's float32 and int8 imports, CTranslate2's conversion."""
    hf, s2s, s2s8, ct2 = (os.path.join(WORK, n) for n in ["gpt2-small-hf", "gpt2-small", "gpt2-small-int8", "gpt2-small-ct2"])
    if not os.path.exists(os.path.join(hf, "model.safetensors")):
        import torch
        from tokenizers import Tokenizer, decoders, models, pre_tokenizers
        from transformers import GPT2Config, GPT2LMHeadModel, GPT2TokenizerFast
        C.log("making a random GPT-2-small model (transformers) in", hf)
        torch.manual_seed(0)
        model = GPT2LMHeadModel(GPT2Config()).eval()
        model.save_pretrained(hf, safe_serialization=True)
        alphabet = pre_tokenizers.ByteLevel.alphabet()
        alphabet.sort()
        vocab = {c: i for i, c in enumerate(alphabet)}
        merges = []
        for x in alphabet:
            for y in alphabet:
                if len(vocab) == 256 + 50000:
                    break
                if x + y not in vocab:
                    merges.append((x, y))
                    vocab[x + y] = len(vocab)
        tok = Tokenizer(models.BPE(vocab=vocab, merges=merges))
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        tok.add_special_tokens(["<|endoftext|>"])
        GPT2TokenizerFast(tokenizer_object=tok, bos_token="<|endoftext|>", eos_token="<|endoftext|>",
                          unk_token="<|endoftext|>").save_pretrained(hf)
    if not os.path.exists(os.path.join(s2s, "model.safetensors")):
        subprocess.run([binary, "import", hf, "--output", s2s, "--overwrite"], check=True)
    if not os.path.exists(os.path.join(s2s8, "model.safetensors")):
        subprocess.run([binary, "quantize", "--model", s2s, "--output", s2s8], check=True)
    if not os.path.exists(os.path.join(ct2, "model.bin")):
        exe = os.path.join(os.path.dirname(sys.executable), "ct2-transformers-converter")
        subprocess.run([exe, "--model", hf, "--output_dir", ct2, "--force"], check=True)
    return s2s, s2s8, ct2


# ---- one engine in one process ----

def worker(a):
    import ctranslate2
    gen = ctranslate2.Generator(a.ct2_model, device="cpu", compute_type=a.compute_type, inter_threads=1,
                                intra_threads=a.threads)
    out = []
    for b in C.int_list(a.batch_sizes):
        ids = prompts(b, a.prompt_tokens, 50257, {50256})
        tokens = [[a.vocab[i] for i in row] for row in ids]  # CTranslate2 takes the tokens' names

        def run(max_length):
            t0 = time.perf_counter()
            r = gen.generate_batch(tokens, max_length=max_length, min_length=max_length, sampling_topk=1,
                                   include_prompt_in_result=False, return_scores=False)
            return time.perf_counter() - t0, r
        run(1); run(a.new_tokens)  # warm-up
        best_prompt = best_total = float("inf")
        first = []
        for _ in range(a.repeats):
            tp, _ = run(1)
            tt, r = run(a.new_tokens)
            best_prompt = min(best_prompt, tp)
            best_total = min(best_total, tt)
            first = r[0].sequences_ids[0]
        gen_seconds = max(best_total - best_prompt, 1e-9)
        out.append(dict(threads=a.threads, batch=b, prompt_tokens=a.prompt_tokens, new_tokens=a.new_tokens,
                        prompt_tokens_per_s=b * a.prompt_tokens / best_prompt,
                        generated_tokens_per_s=b * (a.new_tokens - 1) / gen_seconds,
                        first_row=first, peak_rss_mb=C.peak_rss_mb()))
    C.emit(out)


def ct2_vocabulary(ct2_dir):
    """id → token of the converted model (vocabulary.json or vocabulary.txt)."""
    j = os.path.join(ct2_dir, "vocabulary.json")
    if os.path.exists(j):
        return json.load(open(j, encoding="utf-8"))
    return open(os.path.join(ct2_dir, "vocabulary.txt"), encoding="utf-8").read().split("\n")


def run_engine(a, binary, engine, threads, models):
    s2s, s2s8, ct2 = models
    if engine.startswith("seq2seq"):
        model = s2s8 if engine == "seq2seq-int8" else s2s
        out, _ = C.run_seq2seq(binary, ["bench", "generate", "--model", model, "--threads", str(threads), "--batch-sizes", a.batch_sizes,
                                     "--prompt-tokens", str(a.prompt_tokens), "--new-tokens", str(a.new_tokens),
                                     "--repeats", str(a.repeats), "--json"])
        return [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    args = ["--ct2-model", ct2, "--compute-type", "int8" if engine.endswith("int8") else "float32",
            "--batch-sizes", a.batch_sizes, "--prompt-tokens", str(a.prompt_tokens),
            "--new-tokens", str(a.new_tokens), "--repeats", str(a.repeats)]
    rows, _ = C.run_worker(os.path.basename(__file__), args, threads)
    return rows


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--engines", type=C.word_list(ENGINES), default=ENGINES, help="comma-separated: " + ",".join(ENGINES))
    p.add_argument("--threads", type=C.int_list, default=[1, 2], help="comma-separated thread counts (default 1,2)")
    p.add_argument("--batch-sizes", default="1,16", help="comma-separated batch sizes (default 1,16)")
    p.add_argument("--prompt-tokens", type=int, default=128)
    p.add_argument("--new-tokens", type=int, default=128)
    p.add_argument("--repeats", type=int, default=3, help="timed repeats per engine and setting (best reported)")
    p.add_argument("--rounds", type=int, default=1, help="rounds over all engines (order alternates)")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--ct2-model", help=argparse.SUPPRESS)
    p.add_argument("--compute-type", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.worker:
        a.threads = a.threads[0]
        a.vocab = ct2_vocabulary(a.ct2_model)
        return worker(a)
    binary = C.seq2seq_binary()
    os.makedirs(WORK, exist_ok=True)
    models = make_models(a, binary)
    env = C.environment(binary, ["ctranslate2", "transformers", "torch"])
    C.print_environment(env)
    results = []
    for rnd, threads, engine in C.schedule(a.rounds, a.threads, a.engines):
        for row in run_engine(a, binary, engine, threads, models):
            row.update(engine=engine, round=rnd)
            results.append(row)
    # The table: best of rounds per engine, threads, batch.
    best = {}
    for r in results:
        key = (r["engine"], r["threads"], r["batch"])
        b = best.setdefault(key, dict(r))
        b["prompt_tokens_per_s"] = max(b["prompt_tokens_per_s"], r["prompt_tokens_per_s"])
        b["generated_tokens_per_s"] = max(b["generated_tokens_per_s"], r["generated_tokens_per_s"])
    rows = []
    for threads in a.threads:
        for batch in C.int_list(a.batch_sizes):
            row = [str(threads), str(batch)]
            for phase in ["prompt_tokens_per_s", "generated_tokens_per_s"]:
                for e in a.engines:
                    v = best.get((e, threads, batch))
                    row.append(C.fmt(v[phase]) if v else "-")
                for ours, theirs in [("seq2seq", "ctranslate2"), ("seq2seq-int8", "ctranslate2-int8")]:
                    x, y = best.get((ours, threads, batch)), best.get((theirs, threads, batch))
                    row.append(f"{x[phase] / y[phase]:.2f}" if x and y else "-")
            rows.append(row)
    headers = ["threads", "batch"]
    for phase in ["prompt", "generation"]:
        headers += [f"{phase} {e}" for e in a.engines] + [f"{phase} f32 ratio", f"{phase} int8 ratio"]
    print(f"\ntokens/s, GPT-2-small shape, prompts of {a.prompt_tokens} tokens, {a.new_tokens} greedy tokens; best of {a.rounds} round(s) x {a.repeats} repeats")
    C.print_table(headers, rows)
    for threads in a.threads:
        for batch in C.int_list(a.batch_sizes):
            for ours, theirs in [("seq2seq", "ctranslate2"), ("seq2seq-int8", "ctranslate2-int8")]:
                x, y = best.get((ours, threads, batch)), best.get((theirs, threads, batch))
                if x and y:
                    same = sum(1 for i, j in zip(x["first_row"], y["first_row"]) if i == j)
                    print(f"{ours} vs {theirs}, {threads} threads, batch {batch}: first row's greedy tokens agree on {same} of {len(y['first_row'])}")
    C.write_json(os.path.join(C.RESULTS, "generate.json"), dict(environment=env, settings=vars(a) | {"threads": a.threads, "engines": a.engines}, results=results))


if __name__ == "__main__":
    main()
