"""Lexically constrained decoding on Multi30k test2016: constraints taken from the references (one
phrase per sentence: a word of four or more letters, or two adjacent words, chosen at random with
a fixed seed), then `seq2seq translate` without and with `--constraints`, side by side: the share of
constraints met, BLEU and sentences/s (wall time of the whole command, loading included).

    benchmarks/constrained_decoding.sh --model runs/m30k [--beam 5] [--threads 2] [--rounds 2]
"""
import argparse
import os
import random
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402


def pick_constraints(references, seed):
    rng = random.Random(seed)
    out = []
    for ref in references:
        words = [w.strip(".,;:!?\"'()") for w in ref.split()]
        words = [w for w in words if w and w.isalpha()]
        singles = [w for w in words if len(w) >= 4]
        pairs = [f"{a} {b}" for a, b in zip(words, words[1:])]
        if pairs and (not singles or rng.random() < 0.5):
            out.append(rng.choice(pairs))
        elif singles:
            out.append(rng.choice(singles))
        else:
            out.append("")
    return out


def met(outputs, constraints):
    pairs = [(o, c) for o, c in zip(outputs, constraints) if c]
    hits = sum(1 for o, c in pairs if re.search(r"(?<!\w)" + re.escape(c), o))
    return hits, len(pairs)


def bleu(binary, hyp, ref):
    text, _ = common.run_seq2seq(binary, ["eval", "--hyp", hyp, "--ref", ref])
    return float(common.parse_number(r"BLEU = ([0-9.]+)", text, "BLEU").group(1))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="a German-English translation model directory")
    ap.add_argument("--beam", type=int, default=5)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--output", default=os.path.join(common.RESULTS, "constraints.json"))
    args = ap.parse_args()
    binary = common.seq2seq_binary()
    test_de, test_en = common.corpus_files("multi30k/test2016.de", "multi30k/test2016.en")
    refs = common.read_lines(test_en)
    env = common.environment(binary, [])
    common.print_environment(env)
    work = common.fresh_dir(os.path.join(common.WORK, "constraints"))
    constraints = pick_constraints(refs, args.seed)
    cfile = os.path.join(work, "constraints.en")
    with open(cfile, "w", encoding="utf-8") as f:
        f.write("".join(c + "\n" for c in constraints))
    sides = {"unconstrained": [], "constrained": ["--constraints", cfile]}
    results = {s: dict(seconds=[]) for s in sides}
    for rnd, threads, side in common.schedule(args.rounds, [args.threads], list(sides)):
        out = os.path.join(work, f"{side}.en")
        _, seconds = common.run_seq2seq(binary, ["translate", "--model", args.model, "--input", test_de, "--output", out,
                                                 "--beam", str(args.beam), "--threads", str(threads)] + sides[side])
        results[side]["seconds"].append(seconds)
        print(f"  {len(refs) / seconds:.1f} sentences/s", flush=True)
    rows = []
    for side in sides:
        out = os.path.join(work, f"{side}.en")
        outputs = common.read_lines(out)
        hits, n = met(outputs, constraints)
        r = results[side]
        r.update(bleu=bleu(binary, out, test_en), met=hits, constraints=n,
                 sentences_per_second=[len(refs) / s for s in r["seconds"]])
        rows.append([side, f"{hits} of {n} ({100 * hits / n:.1f}%)", f"{r['bleu']:.2f}",
                     common.fmt_range(common.summary(r["sentences_per_second"]), 1)])
    common.print_table(["decoding", "constraints met", "BLEU", "sentences/s"], rows)
    common.write_json(args.output, dict(environment=env, beam=args.beam, threads=args.threads, seed=args.seed,
                                        model=args.model, results=results))
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
