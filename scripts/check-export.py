#!/usr/bin/env python3
"""`seq2seq export --format huggingface` against the systems it exports to: real transformers and
CTranslate2 (from PyPI, in benchmarks/.venv; scripts/check-export.sh sets it up and runs this).

For each model (small ones trained here on corpora/sample, and the Marian and GPT-2 fixtures that
transformers made, imported): export it, then
  - transformers loads the folder with AutoTokenizer and AutoModelForSeq2SeqLM / AutoModelForCausalLM;
  - the tokenizer's ids are `seq2seq tokenize`'s (with the </s> sources end with);
  - each pair's log-probability under the model equals `seq2seq score`'s (teacher forcing: the logits);
  - generate(num_beams=1) and generate(num_beams=4, length_penalty=1, early_stopping=False) give the
    text `seq2seq translate --beam 1` and `--beam 4 --beam-style huggingface` give (language models:
    greedy continuations of prompts, as `seq2seq generate --temperature 0`);
  - ct2-transformers-converter accepts the folder, and CTranslate2's greedy output is ours.
Exits non-zero at the first difference, printing it.

    benchmarks/.venv/bin/python scripts/check-export.py --cli .build/release/seq2seq --work DIR
"""
import argparse, json, math, os, shutil, subprocess, sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLE = os.path.join(ROOT, "corpora", "sample")
FIXTURES = os.path.join(ROOT, "Tests", "Seq2SeqKitTests", "Fixtures")
MAX_NEW = 24
failures = []


def run(args, stdin=None):
    p = subprocess.run(args, input=stdin, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"check-export: {' '.join(args)} failed ({p.returncode}):\n{p.stderr}")
    return p.stdout


def check(name, what, ours, theirs):
    if ours == theirs:
        example = f" (first: {ours[0]!r:.70})" if isinstance(ours, list) and ours and isinstance(ours[0], str) else ""
        print(f"  ok   {name}: {what}{example}")
    else:
        failures.append(f"{name}: {what}")
        print(f"  FAIL {name}: {what}\n       seq2seq: {ours!r}\n       other:   {theirs!r}")


def lines(path, n):
    with open(path, encoding="utf-8") as f:
        return [l.rstrip("\n") for l in f][:n]


def export(cli, model, out):
    shutil.rmtree(out, ignore_errors=True)
    run([cli, "export", "--model", model, "--output", out])


def convert(hf, out):
    """ct2-transformers-converter (beside this Python) on the folder `hf`; returns `out`."""
    shutil.rmtree(out, ignore_errors=True)
    run([os.path.join(os.path.dirname(sys.executable), "ct2-transformers-converter"), "--model", hf, "--output_dir", out])
    return out


def bad_words(hf):
    """generation_config.json's bad_words_ids: the tokens seq2seq never generates."""
    with open(os.path.join(hf, "generation_config.json")) as f:
        return [w for ws in json.load(f).get("bad_words_ids") or [] for w in ws]


def check_translation(cli, name, model, hf, work, sources, targets):
    import torch
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer
    tok = AutoTokenizer.from_pretrained(hf)
    target_dir = os.path.join(hf, "target_tokenizer")
    ttok = AutoTokenizer.from_pretrained(target_dir) if os.path.isdir(target_dir) else tok
    m = AutoModelForSeq2SeqLM.from_pretrained(hf, dtype=torch.float32).eval()
    print(f"{name}: transformers loads it as {type(m).__name__} with {type(tok).__name__}")
    src_file, tgt_file = os.path.join(work, f"{name}.src"), os.path.join(work, f"{name}.tgt")
    with open(src_file, "w", encoding="utf-8") as f:
        f.write("\n".join(sources) + "\n")
    with open(tgt_file, "w", encoding="utf-8") as f:
        f.write("\n".join(targets) + "\n")

    # Token ids: `seq2seq tokenize` (no </s>) and the tokenizer's (with the </s> it appends).
    if not os.path.exists(os.path.join(model, "source.spm")):
        ours = [[int(t) for t in l.split()] + [2] for l in run([cli, "tokenize", "--vocab", model, "--side", "source"], "\n".join(sources) + "\n").splitlines()]
        check(name, "source token ids", ours, [tok(s)["input_ids"] for s in sources])

    # Teacher forcing: each pair's log-probability (</s> included).
    ours = [float(l.split("\t")[1]) for l in run([cli, "score", "--model", model, "--src", src_file, "--tgt", tgt_file]).splitlines()]
    theirs = []
    start = m.generation_config.decoder_start_token_id
    with torch.no_grad():
        for s, t in zip(sources, targets):
            src = tok(s, return_tensors="pt")
            labels = ttok(t, return_tensors="pt")["input_ids"] if ttok is not tok else tok(text_target=t, return_tensors="pt")["input_ids"]
            dec_in = torch.cat([torch.tensor([[start]]), labels[:, :-1]], dim=1)
            logits = m(**src, decoder_input_ids=dec_in).logits.log_softmax(-1)
            theirs.append(float(logits[0].gather(1, labels[0][:, None]).sum()))
    worst = max(abs(a - b) / max(1.0, abs(b)) for a, b in zip(ours, theirs))
    check(name, f"log-probabilities of {len(ours)} pairs (largest relative difference {worst:.2e})", worst <= 1e-4, True)

    # Generation, greedy and beam 4 as transformers' beam search.
    enc = tok(sources, return_tensors="pt", padding=True)
    for beam, flags in [(1, []), (4, ["--beam-style", "huggingface", "--length-penalty", "1", "--length-normalization", "power"])]:
        ours = run([cli, "translate", "--model", model, "--input", src_file, "--beam", str(beam), "--max-len-a", "0",
                    "--max-len-b", str(MAX_NEW)] + flags).splitlines()
        with torch.no_grad():
            out = m.generate(**enc, num_beams=beam, max_new_tokens=MAX_NEW, do_sample=False, length_penalty=1.0, early_stopping=False)
        check(name, f"generate(num_beams={beam}) text", ours, ttok.batch_decode(out, skip_special_tokens=True))
    return tok, ttok


def check_ctranslate2_translation(cli, name, model, hf, work, sources, tok, ttok, pegasus):
    import ctranslate2
    ct2 = convert(hf, os.path.join(work, f"{name}-ct2"))
    if pegasus:
        # CTranslate2's Pegasus loader starts decoding from the padding token; ours start from <s>.
        path = os.path.join(ct2, "config.json")
        with open(path) as f:
            cfg = json.load(f)
        cfg["decoder_start_token"] = "<s>"
        with open(path, "w") as f:
            json.dump(cfg, f, indent=2)
    t = ctranslate2.Translator(ct2, device="cpu", inter_threads=1, intra_threads=1)
    src_tokens = [tok.convert_ids_to_tokens(tok(s)["input_ids"]) for s in sources]
    # The tokens seq2seq never generates (CTranslate2's Marian loader removes Marian's <pad> row itself).
    never = [[ttok.convert_ids_to_tokens(i)] for i in bad_words(hf)] if pegasus else None
    res = t.translate_batch(src_tokens, beam_size=1, max_decoding_length=MAX_NEW, suppress_sequences=never)
    theirs = [ttok.decode(ttok.convert_tokens_to_ids(r.hypotheses[0]), skip_special_tokens=True) for r in res]
    src_file = os.path.join(work, f"{name}.src")
    ours = run([cli, "translate", "--model", model, "--input", src_file, "--beam", "1", "--max-len-a", "0", "--max-len-b", str(MAX_NEW)]).splitlines()
    check(name, "CTranslate2 greedy text", ours, theirs)


def check_language_model(cli, name, model, hf, work, prompts, ct2_too=True):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    tok = AutoTokenizer.from_pretrained(hf)
    m = AutoModelForCausalLM.from_pretrained(hf, dtype=torch.float32).eval()
    print(f"{name}: transformers loads it as {type(m).__name__} with {type(tok).__name__}")
    ours, theirs, ct2_out = [], [], []
    ids_all = []
    for p in prompts:
        ours.append(run([cli, "generate", "--model", model, "--prompt", p, "--max-tokens", str(MAX_NEW), "--temperature", "0"]).rstrip("\n"))
        ids = tok(p, return_tensors="pt")["input_ids"]
        ids_all.append(ids[0].tolist())
        with torch.no_grad():
            out = m.generate(ids, attention_mask=torch.ones_like(ids), do_sample=False, max_new_tokens=MAX_NEW)
        theirs.append(tok.decode(out[0], skip_special_tokens=True).rstrip("\n"))
    check(name, "greedy continuations", ours, theirs)
    if ct2_too:
        import ctranslate2
        ct2 = convert(hf, os.path.join(work, f"{name}-ct2"))
        g = ctranslate2.Generator(ct2, device="cpu", inter_threads=1, intra_threads=1)
        never = [[tok.convert_ids_to_tokens(i)] for i in bad_words(hf)]
        for p, ids in zip(prompts, ids_all):
            r = g.generate_batch([tok.convert_ids_to_tokens(ids)], max_length=MAX_NEW, sampling_topk=1,
                                 include_prompt_in_result=False, suppress_sequences=never or None)
            ct2_out.append(tok.decode(ids + r[0].sequences_ids[0], skip_special_tokens=True).rstrip("\n"))
        check(name, "CTranslate2 greedy continuations", ours, ct2_out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cli", default=os.path.join(ROOT, ".build/release/seq2seq"))
    ap.add_argument("--work", required=True)
    a = ap.parse_args()
    cli, work = os.path.abspath(a.cli), os.path.abspath(a.work)
    os.makedirs(work, exist_ok=True)
    de, en = os.path.join(SAMPLE, "train.de"), os.path.join(SAMPLE, "train.en")
    sources, targets = lines(os.path.join(SAMPLE, "valid.de"), 8), lines(os.path.join(SAMPLE, "valid.en"), 8)
    # small's recipe (warm-up, dropout) with a smaller shape.
    small = ["--preset", "small", "--d-model", "64", "--d-ff", "128", "--layers", "2", "--heads", "4", "--vocab-size", "600",
             "--max-steps", "500", "--lr", "3e-3", "--threads", "2", "--seed", "3"]

    # The training default (pre-norm, joint vocabulary) → Pegasus; post-norm with separate vocabularies → Marian.
    for name, extra, pegasus in [("pre-joint", [], True),
                                 ("post-separate", ["--norm", "post", "--separate-vocab", "--activation", "gelu"], False)]:
        model, hf = os.path.join(work, name), os.path.join(work, name + "-hf")
        run([cli, "train", "--src", de, "--tgt", en, "--model", model] + small + extra)
        export(cli, model, hf)
        tok, ttok = check_translation(cli, name, model, hf, work, sources, targets)
        if pegasus:  # CTranslate2's Marian loader drops the last vocabulary row: only OPUS-MT's layout converts
            check_ctranslate2_translation(cli, name, model, hf, work, sources, tok, ttok, pegasus)

    # An imported OPUS-MT-shaped model (the transformers-made fixture) → Marian again, with its SentencePiece files.
    fx = os.path.join(FIXTURES, "marian", "shared-f16")
    hf_in = os.path.join(work, "marian-in")
    shutil.rmtree(hf_in, ignore_errors=True)
    shutil.copytree(fx, hf_in)
    shutil.copy(os.path.join(FIXTURES, "marian", "spm", "de.spm"), os.path.join(hf_in, "source.spm"))
    shutil.copy(os.path.join(FIXTURES, "marian", "spm", "en.spm"), os.path.join(hf_in, "target.spm"))
    # OPUS-MT's <pad> row (the last) is zeros, which CTranslate2 relies on (it starts decoding from a
    # zero embedding); the random fixture's is not, so it is zeroed here, as in a real OPUS-MT model.
    from safetensors.numpy import load_file, save_file
    weights = load_file(os.path.join(hf_in, "model.safetensors"))
    for key, value in weights.items():
        if key.endswith("embed_tokens.weight") or key in ("model.shared.weight", "lm_head.weight"):
            value[-1] = 0
    save_file(weights, os.path.join(hf_in, "model.safetensors"), metadata={"format": "pt"})
    model, hf = os.path.join(work, "marian"), os.path.join(work, "marian-hf")
    shutil.rmtree(model, ignore_errors=True)
    run([cli, "import", hf_in, "--output", model])
    export(cli, model, hf)
    tok, ttok = check_translation(cli, "marian", model, hf, work, sources, targets)
    check_ctranslate2_translation(cli, "marian", model, hf, work, sources, tok, ttok, False)

    # Language models: a character model trained here (learned positions), one with sinusoidal
    # positions and BPE, and the imported GPT-2 fixture (byte-level BPE, gelu_new).
    prompts = ["A man", "Two dogs play in the", "The"]
    lm_small = ["--d-model", "64", "--d-ff", "128", "--layers", "2", "--heads", "4", "--max-steps", "400", "--threads", "2",
                "--block-size", "64", "--seed", "3"]
    for name, extra in [("lm-char", []), ("lm-bpe-sinusoidal", ["--vocab-size", "400", "--positional", "sinusoidal", "--activation", "relu"])]:
        model, hf = os.path.join(work, name), os.path.join(work, name + "-hf")
        run([cli, "train", "--lm", "--text", en, "--model", model] + lm_small + extra)
        export(cli, model, hf)
        check_language_model(cli, name, model, hf, work, prompts)
    model, hf = os.path.join(work, "gpt2"), os.path.join(work, "gpt2-hf")
    shutil.rmtree(model, ignore_errors=True)
    run([cli, "import", os.path.join(FIXTURES, "gpt2", "tied"), "--output", model])
    export(cli, model, hf)
    check_language_model(cli, "gpt2", model, hf, work, prompts)

    if failures:
        sys.exit("check-export: " + str(len(failures)) + " difference(s):\n  " + "\n  ".join(failures))
    print("check-export: every exported model computes and decodes as seq2seq does")


if __name__ == "__main__":
    main()
