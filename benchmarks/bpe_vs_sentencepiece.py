"""Subword learning and encoding: seq2seq (`seq2seq bench bpe`) against sentencepiece and Hugging
Face tokenizers, a BPE vocabulary of 8,000 entries on Multi30k's training set (train.de and train.en,
58,000 lines), on the same files.

- seq2seq: learning = reading both files, normalizing (NFKC, whitespace), counting words and the
  merges; its 8,000 entries include 3 special and 256 byte-fallback tokens. Encoding = every line,
  in one call on all threads. Best of 3 each (bench bpe's own repeats).
- sentencepiece: SentencePieceTrainer.train(model_type=bpe, vocab_size=8000,
  character_coverage=1.0, num_threads=T) on the two files (it reads them itself, with its default
  nmt_nfkc normalization); encoding = encode(every line, num_threads=T).
- HF tokenizers: a BPE model with the NFKC normalizer and the Metaspace pre-tokenizer
  (sentencepiece's layout), trained by BpeTrainer(vocab_size=8000, 4 special tokens) on the two
  files; encoding = encode_batch(every line); its thread pool has RAYON_NUM_THREADS=T threads.

Times are wall seconds; encoding rate = lines / seconds. Each tool runs in its own process per
thread count; a round measures all three, their order flipping from round to round. Results: a
table, and JSON in benchmarks/results/bpe.json.
"""
import argparse
import os
import shutil
import sys
import tempfile
import time

import common as C

TOOLS = ["seq2seq", "sentencepiece", "tokenizers"]


# ---- sentencepiece and HF tokenizers (a worker process) ----

def timed(fn, repeats):
    seconds, result = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        seconds.append(time.perf_counter() - t0)
    return seconds, result


def worker(a):
    threads = a.threads[0]
    lines = [line for f in a.files for line in C.read_lines(f)]
    tmp = tempfile.mkdtemp(prefix="bpe-bench-")
    try:
        if a.tool == "sentencepiece":
            import sentencepiece as spm
            version = spm.__version__

            def learn():
                spm.SentencePieceTrainer.train(input=",".join(a.files), model_prefix=os.path.join(tmp, "sp"),
                                               vocab_size=a.size, model_type="bpe", character_coverage=1.0,
                                               num_threads=threads, minloglevel=2)
                return spm.SentencePieceProcessor(model_file=os.path.join(tmp, "sp.model"))

            learn_s, sp = timed(learn, a.repeats)
            encode_s, ids = timed(lambda: sp.encode(lines, num_threads=threads), a.repeats)
            vocabulary = sp.get_piece_size()
        else:
            import tokenizers
            from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
            version = tokenizers.__version__

            def learn():
                tok = Tokenizer(models.BPE(unk_token="<unk>"))
                tok.normalizer = normalizers.NFKC()
                tok.pre_tokenizer = pre_tokenizers.Metaspace()
                tok.decoder = decoders.Metaspace()
                tok.train(a.files, trainers.BpeTrainer(vocab_size=a.size, show_progress=False,
                                                       special_tokens=["<pad>", "<s>", "</s>", "<unk>"]))
                return tok

            learn_s, tok = timed(learn, a.repeats)
            encode_s, encodings = timed(lambda: tok.encode_batch(lines), a.repeats)
            ids = [e.ids for e in encodings]
            vocabulary = tok.get_vocab_size()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    C.emit(dict(tool=a.tool, version=version, lines=len(lines), learn_seconds=learn_s,
                encode_sentences_per_s=[len(lines) / s for s in encode_s],
                tokens_per_sentence=sum(map(len, ids)) / len(lines), vocabulary=vocabulary,
                peak_rss_mb=C.peak_rss_mb(), thread_pools=C.thread_pools()))


# ---- the comparison ----

def seq2seq_side(binary, a, threads, files):
    out, _ = C.run_seq2seq(binary, ["bench", "bpe", "--size", a.size, "--threads", threads, "--text"] + files)
    m = C.parse_number(r"(\d+) lines, (\d+) threads: learn ([\d.]+) s \(reading ([\d.]+) s, counting words ([\d.]+) s\), "
                       r"encode ([\d.]+) sentences/s, ([\d.]+) tokens/sentence, vocabulary (\d+)", out, "the result line")
    return dict(tool="seq2seq", lines=int(m[1]), learn_seconds=[float(m[3])], reading_seconds=float(m[4]),
                counting_seconds=float(m[5]), encode_sentences_per_s=[float(m[6])], tokens_per_sentence=float(m[7]),
                vocabulary=int(m[8]), output=out.strip())


def python_side(a, tool, threads, files):
    result, _ = C.run_worker("bpe_vs_sentencepiece.py", ["--tool", tool, "--size", a.size, "--repeats", a.repeats,
                                                         "--files"] + files, threads,
                             extra_env=dict(RAYON_NUM_THREADS=str(threads), TOKENIZERS_PARALLELISM="true"))
    return result


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=C.int_list, default=[1, 2], help="comma-separated thread counts (default 1,2)")
    p.add_argument("--rounds", type=int, default=1, help="rounds over the three tools, order flipping (default 1)")
    p.add_argument("--size", type=int, default=8000, help="vocabulary size (default 8000)")
    p.add_argument("--repeats", type=int, default=3, help="sentencepiece and tokenizers: repeats, best reported (default 3, as bench bpe)")
    p.add_argument("--output", default=os.path.join(C.RESULTS, "bpe.json"), help="JSON file (default benchmarks/results/bpe.json)")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--tool", choices=TOOLS[1:], help=argparse.SUPPRESS)
    p.add_argument("--files", nargs="+", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.worker:
        return worker(a)
    if a.rounds < 1 or a.repeats < 1 or a.size < 300:
        C.die("--rounds and --repeats must be at least 1, --size at least 300")

    binary = C.seq2seq_binary()
    files = C.corpus_files("multi30k/train.de", "multi30k/train.en")
    env = C.environment(binary, ["sentencepiece", "tokenizers"])
    C.print_environment(env)
    settings = dict(files=files, size=a.size, threads=a.threads, rounds=a.rounds, repeats=a.repeats)
    runs = []
    for rnd, t, tool in C.schedule(a.rounds, a.threads, TOOLS):
        try:
            r = seq2seq_side(binary, a, t, files) if tool == "seq2seq" else python_side(a, tool, t, files)
            print(f"  learn {min(r['learn_seconds']):.3f} s, encode {max(r['encode_sentences_per_s']):,.0f} "
                  f"sentences/s, {r['tokens_per_sentence']:.2f} tokens/sentence, vocabulary {r['vocabulary']}", flush=True)
        except (RuntimeError, OSError, ValueError) as e:
            r = dict(tool=tool, error=str(e))
            print(f"  failed: {e}", flush=True)
        runs.append(dict(r, round=rnd, threads=t))
        C.write_json(a.output, dict(benchmark="bpe", environment=env, settings=settings, runs=runs))

    table, summary = [], []
    for t in a.threads:
        best = {}
        for tool in TOOLS:
            mine = [r for r in runs if r["threads"] == t and r["tool"] == tool and "error" not in r]
            learn = C.summary([min(r["learn_seconds"]) for r in mine], higher_is_better=False)
            encode = C.summary([max(r["encode_sentences_per_s"]) for r in mine])
            best[tool] = (learn, encode)
            summary.append(dict(threads=t, tool=tool, learn_seconds=learn, encode_sentences_per_s=encode,
                                tokens_per_sentence=mine[-1]["tokens_per_sentence"] if mine else None,
                                vocabulary=mine[-1]["vocabulary"] if mine else None))
        for tool in TOOLS:
            learn, encode = best[tool]
            mine = [r for r in runs if r["threads"] == t and r["tool"] == tool and "error" not in r]
            versus = ""
            if tool != "seq2seq":
                (s_learn, s_encode) = best["seq2seq"]
                versus = " / ".join([
                    f"{learn['median'] / s_learn['median']:.2f}x" if learn and s_learn else "-",
                    f"{s_encode['median'] / encode['median']:.2f}x" if encode and s_encode else "-"])
            table.append([t, tool, C.fmt_range(learn, 3), C.fmt_range(encode),
                          f"{mine[-1]['tokens_per_sentence']:.2f}" if mine else "-",
                          mine[-1]["vocabulary"] if mine else "-", versus])
    print(f"\nBPE, {a.size} entries; learning seconds (best per round) and encoding sentences/s (best per round), "
          f"median (range) over rounds; seq2seq's speed-up = the other tool's time / seq2seq's:\n")
    C.print_table(["threads", "tool", "learn s", "encode sentences/s", "tokens/sentence", "vocabulary",
                   "seq2seq faster: learn / encode"], table)
    C.write_json(a.output, dict(benchmark="bpe", environment=env, settings=settings, runs=runs, summary=summary))
    print(f"\nwrote {os.path.relpath(a.output)}")


if __name__ == "__main__":
    sys.exit(main())
