"""Translation speed on the same weights: seq2seq (`seq2seq bench translate`, float32, and the int8
model `seq2seq quantize` writes) against CTranslate2 (float32 and int8) and PyTorch with a KV cache,
on Multi30k test2016 (1,000 German sentences), with sentences/s, tokens/s and BLEU for each.

Weights: --model is a float32 seq2seq model directory (config.json, model.safetensors,
tokenizer.json). CTranslate2 gets the same tensors written into a TransformerSpec (q, k and v
fused as it expects, the same position table, the same vocabulary), once per run; its int8 is
that model loaded with compute_type=int8 (CTranslate2 quantizes the weights per row as it loads
them, the scheme seq2seq's int8 follows). PyTorch runs reference_model.py on the same tensors.
The seq2seq int8 model is --int8-model, or made here with `seq2seq quantize`.

Same work on every side:
- sources: tokenized by the model's tokenizer.json, ending with </s>; sorted by length (ties in
  input order) and cut into batches of --batch-sizes; decoding starts from <s>; <pad> and <s> are
  never generated;
- length cap: a sentence may generate min(2 x its source length + 10, --max-len, max_positions - 1)
  tokens, </s> included. seq2seq and PyTorch apply it per sentence; CTranslate2 takes one cap per
  batch, the largest of its sentences' (sentences of a batch have nearly equal lengths);
- beam search: score = log-probability / len^alpha with len counting </s> (--length-penalty alpha,
  default 1): CTranslate2's length_penalty, `--length-normalization power` for seq2seq, the same
  formula in PyTorch. Greedy when the beam is 1.
- counted: sentences/s = sentences / seconds, tokens/s = generated tokens (</s> included) / seconds,
  the best of --repeats passes over all sentences after an untimed batch; detokenized output is
  scored with sacreBLEU (13a, cased). Equal tokens and BLEU show equal work.

Each engine runs in its own process, one thread count at a time; a round runs every engine, and
their order flips from one round to the next. Results: two tables, the translations of each engine
in benchmarks/results/work/translate/, and JSON in benchmarks/results/translate.json.
"""
import argparse
import json
import os
import re
import sys
import time

import common as C

ENGINES = ["seq2seq", "seq2seq-int8", "ctranslate2", "ctranslate2-int8", "pytorch"]
TRANSLATE_WORK = os.path.join(C.WORK, "translate")


# ---- CTranslate2's copy of the model ----

def convert_to_ctranslate2(model_dir, out_dir):
    """Writes the seq2seq model's float32 weights as a CTranslate2 TransformerSpec in out_dir."""
    import numpy as np
    from ctranslate2.specs import common_spec, transformer_spec
    from safetensors.numpy import load_file
    import reference_model as R

    c = R.read_config(model_dir)
    vocab = R.Vocabularies(model_dir)
    w = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in load_file(os.path.join(model_dir, "model.safetensors")).items()}
    activation = dict(relu=common_spec.Activation.RELU, gelu=common_spec.Activation.GELU,  # GELU: the erf form
                      silu=common_spec.Activation.SWISH)[c["activation"]]
    spec = transformer_spec.TransformerSpec.from_config((c["encoder_layers"], c["decoder_layers"]), c["n_heads"],
                                                        pre_norm=c["norm"] == "pre", activation=activation)

    def linear(target, *names):  # several projections stacked along the output rows
        target.weight = np.concatenate([w[n + ".weight"] for n in names])
        target.bias = np.concatenate([w[n + ".bias"] for n in names])

    def norm(target, name):
        target.gamma, target.beta = w[name + ".weight"], w[name + ".bias"]

    sinusoidal = R.sinusoidal_positions(c["max_positions"], c["d_model"]).numpy()
    for side, stack in (("encoder", spec.encoder), ("decoder", spec.decoder)):
        embeddings = stack.embeddings[0] if side == "encoder" else stack.embeddings
        shared = side == "encoder" and c["share_embeddings"]
        embeddings.weight = w["decoder.embed_tokens.weight" if shared else f"{side}.embed_tokens.weight"]
        stack.scale_embeddings = bool(c["scale_embedding"])
        # Always an explicit table: CTranslate2's own sinusoids use other frequencies.
        stack.position_encodings.encodings = (sinusoidal if c["positional"] == "sinusoidal"
                                              else w[f"{side}.embed_positions.weight"])
        if c["norm"] == "pre":
            norm(stack.layer_norm, f"{side}.layer_norm")
        for i, layer in enumerate(stack.layer):
            p = f"{side}.layers.{i}"
            linear(layer.self_attention.linear[0], f"{p}.self_attn.q_proj", f"{p}.self_attn.k_proj", f"{p}.self_attn.v_proj")
            linear(layer.self_attention.linear[1], f"{p}.self_attn.out_proj")
            norm(layer.self_attention.layer_norm, f"{p}.self_attn_layer_norm")
            if side == "decoder":
                linear(layer.attention.linear[0], f"{p}.encoder_attn.q_proj")
                linear(layer.attention.linear[1], f"{p}.encoder_attn.k_proj", f"{p}.encoder_attn.v_proj")
                linear(layer.attention.linear[2], f"{p}.encoder_attn.out_proj")
                norm(layer.attention.layer_norm, f"{p}.encoder_attn_layer_norm")
            linear(layer.ffn.linear_0, f"{p}.fc1")
            linear(layer.ffn.linear_1, f"{p}.fc2")
            norm(layer.ffn.layer_norm, f"{p}.final_layer_norm")
    spec.decoder.projection.weight = w["decoder.embed_tokens.weight" if c["tie_output"] else "lm_head.weight"]
    if c["final_logits_bias"]:
        spec.decoder.projection.bias = w["final_logits_bias"]
    target = R.Vocabularies.pieces(vocab.target, c["tgt_vocab_size"])
    spec.config.layer_norm_epsilon = float(c["layer_norm_eps"])
    spec.config.bos_token = spec.config.decoder_start_token = target[c["bos_id"]]
    spec.config.eos_token = target[c["eos_id"]]
    # seq2seq's vocabularies have no <unk>: CTranslate2 appends one after the model's ids, where the
    # output layer never reaches, and inputs here only hold known pieces.
    spec.register_source_vocabulary(R.Vocabularies.pieces(vocab.source, c["src_vocab_size"]))
    spec.register_target_vocabulary(target)
    spec.validate()
    spec.optimize(quantization="float32")
    spec.save(out_dir)


# ---- one engine's measurements (a worker process) ----

def measure(a, engine, decode_batch, sources, vocab, config):
    """Times decode_batch(indices, beam) -> generated ids per sentence over all batches, for every
    batch size and beam, and scores the detokenized output."""
    import sacrebleu
    import reference_model as R
    refs = C.read_lines(a.ref)
    eos = config["eos_id"]
    rows = []
    for bs in a.batch_sizes:
        batches = R.length_sorted_batches(sources, bs)
        for beam in a.beams:
            def translate_all():
                ids = [[] for _ in sources]
                for b in batches:
                    for i, h in zip(b, decode_batch(b, beam)):
                        ids[i] = h
                return ids, [vocab.decode(h) for h in ids]

            decode_batch(batches[0], beam)  # untimed warm-up
            seconds = []
            for _ in range(a.repeats):
                t0 = time.perf_counter()
                ids, texts = translate_all()
                seconds.append(time.perf_counter() - t0)
            best = min(seconds)
            tokens = sum(map(len, ids))
            name = f"{engine}-t{a.threads[0]}-beam{beam}-batch{bs}.txt"
            with open(os.path.join(a.outputs, name), "w", encoding="utf-8") as f:
                f.writelines(t + "\n" for t in texts)
            row = dict(engine=engine, threads=a.threads[0], beam=beam, batch_size=bs,
                       sentences_per_s=len(sources) / best, tokens_per_s=tokens / best, tokens=tokens,
                       hit_cap=sum(1 for h in ids if not h or h[-1] != eos),
                       bleu=round(sacrebleu.corpus_bleu(texts, [refs]).score, 2),
                       seconds=[round(s, 4) for s in seconds], translations=os.path.relpath(os.path.join(a.outputs, name), C.REPO))
            C.log(f"  {engine}, {a.threads[0]} thread(s), beam {beam}, batch {bs}: {row['sentences_per_s']:.1f} sentences/s, "
                  f"{row['tokens_per_s']:.0f} tokens/s, {tokens} tokens, BLEU {row['bleu']}")
            rows.append(row)
    return rows


def worker(a):
    import reference_model as R
    if a.task == "convert":
        convert_to_ctranslate2(a.model, a.ct2_model)
        return C.emit(dict(converted=a.ct2_model))
    config = R.read_config(a.model)
    vocab = R.Vocabularies(a.model)
    sources = R.prepare_sources(vocab, C.read_lines(a.src), config)
    caps = [None if s is None else R.output_cap(len(s), config, a.max_len) for s in sources]
    os.makedirs(a.outputs, exist_ok=True)
    threads = a.threads[0]
    rows, info = [], {}
    if a.task == "pytorch":
        import torch
        torch.set_num_threads(threads)
        model = R.load_model(a.model)

        def decode_batch(idx, beam):
            rows_, caps_ = [sources[i] for i in idx], [caps[i] for i in idx]
            if beam == 1:
                return R.greedy_search(model, rows_, caps_)
            return R.beam_search(model, rows_, caps_, beam, a.length_penalty, "power")

        rows += measure(a, "pytorch", decode_batch, sources, vocab, config)
        info = dict(torch=torch.__version__, torch_threads=torch.get_num_threads(),
                    cpu_capability=torch.backends.cpu.get_cpu_capability())
    else:
        import ctranslate2
        source_pieces = R.Vocabularies.pieces(vocab.source, config["src_vocab_size"])
        target_pieces = R.Vocabularies.pieces(vocab.target, config["tgt_vocab_size"])
        piece_id = {p: i for i, p in enumerate(target_pieces)}
        token_sources = [None if s is None else [source_pieces[i] for i in s] for s in sources]
        banned = [[target_pieces[config["pad_id"]]], [target_pieces[config["bos_id"]]]]
        info = dict(ctranslate2=ctranslate2.__version__, compute_types={},
                    supported_compute_types=sorted(ctranslate2.get_supported_compute_types("cpu")))
        for compute_type in a.compute_types:
            engine = "ctranslate2" if compute_type == "float32" else f"ctranslate2-{compute_type}"
            try:
                translator = ctranslate2.Translator(a.ct2_model, device="cpu", compute_type=compute_type,
                                                    inter_threads=1, intra_threads=threads)
            except (ValueError, RuntimeError) as e:  # e.g. a compute type this processor lacks
                C.log(f"  {engine}: {e}")
                info["compute_types"][engine] = f"failed: {e}"
                continue
            info["compute_types"][engine] = translator.compute_type

            def decode_batch(idx, beam, translator=translator):
                results = translator.translate_batch(
                    [token_sources[i] for i in idx], max_batch_size=0, beam_size=beam,
                    length_penalty=a.length_penalty, max_decoding_length=max(caps[i] for i in idx),
                    min_decoding_length=0, return_end_token=True, suppress_sequences=banned,
                    max_input_length=0)
                return [[piece_id[t] for t in r.hypotheses[0]] for r in results]

            rows += measure(a, engine, decode_batch, sources, vocab, config)
            del translator
    C.emit(dict(rows=rows, info=dict(info, thread_pools=C.thread_pools()), peak_rss_mb=C.peak_rss_mb()))


# ---- the comparison ----

ROW = (r"threads\s+(\d+)\s+beam\s+(\d+)\s+batch\s+(\d+):\s+([\d.]+) sent/s\s+([\d.]+) tok/s\s+"
       r"\((\d+) tokens, (\d+) hit the cap(?:, BLEU ([\d.]+))?\)")


def seq2seq_engine(binary, a, engine, model, threads, src, ref):
    out, _ = C.run_seq2seq(binary, ["bench", "translate", "--model", model, "--input", src, "--ref", ref,
                                    "--beams", ",".join(map(str, a.beams)),
                                    "--batch-sizes", ",".join(map(str, a.batch_sizes)),
                                    "--threads", threads, "--max-len", a.max_len,
                                    "--length-penalty", a.length_penalty, "--length-normalization", "power",
                                    "--repeats", a.repeats])
    rows = [dict(engine=engine, threads=int(m[1]), beam=int(m[2]), batch_size=int(m[3]),
                 sentences_per_s=float(m[4]), tokens_per_s=float(m[5]), tokens=int(m[6]), hit_cap=int(m[7]),
                 bleu=float(m[8]) if m[8] else None) for m in re.finditer(ROW, out)]
    if len(rows) != len(a.beams) * len(a.batch_sizes):
        raise RuntimeError(f"expected {len(a.beams) * len(a.batch_sizes)} result lines from bench translate:\n{out}")
    rss = C.parse_number(r"peak RSS ([\d.]+) MB", out, "the peak memory line")
    return rows, dict(peak_rss_mb=float(rss[1]), output=out.strip())


def python_engine(a, task, threads, src, ref, ct2_model):
    args = ["--task", task, "--model", a.model, "--ct2-model", ct2_model, "--src", src, "--ref", ref,
            "--beams", ",".join(map(str, a.beams)), "--batch-sizes", ",".join(map(str, a.batch_sizes)),
            "--repeats", a.repeats, "--max-len", a.max_len, "--length-penalty", a.length_penalty,
            "--outputs", os.path.join(TRANSLATE_WORK, "outputs")]
    if task == "ctranslate2":
        types = [e.split("-")[1] if "-" in e else "float32" for e in a.engines if e.startswith("ctranslate2")]
        args += ["--compute-types", ",".join(types)]
    result, _ = C.run_worker("translate_vs_ctranslate2.py", args, threads)
    return result["rows"], dict(result["info"], peak_rss_mb=result["peak_rss_mb"])


def model_config(path, what):
    config_path = os.path.join(path, "config.json")
    if not os.path.isfile(config_path):
        C.die(f"{what} {path}: no config.json (a seq2seq model directory is config.json, model.safetensors, tokenizer.json)")
    with open(config_path) as f:
        return json.load(f)


def check_models(a):
    c = model_config(a.model, "--model")
    if c.get("quantization"):
        C.die(f"--model {a.model} is an {c['quantization']} model: give the float32 model (its int8 copy "
              f"goes to --int8-model, or is made here with seq2seq quantize)")
    if c.get("encoder_layers", 0) == 0:
        C.die(f"--model {a.model} is a language model (no encoder): this benchmark translates")
    has_vocab = os.path.isfile(os.path.join(a.model, "tokenizer.json")) or all(
        os.path.isfile(os.path.join(a.model, f"{s}.tokenizer.json")) for s in ("source", "target"))
    if not has_vocab:
        C.die(f"--model {a.model} has no tokenizer.json: only models trained by seq2seq (with their "
              f"learned vocabulary) can be given to PyTorch and CTranslate2 here")
    if a.int8_model and model_config(a.int8_model, "--int8-model").get("quantization") != "int8":
        C.die(f"--int8-model {a.int8_model} is not an int8 model (make one with seq2seq quantize)")


def test_files(a):
    src, ref = C.corpus_files("multi30k/test2016.de", "multi30k/test2016.en")
    if a.sentences is None:
        return src, ref, len(C.read_lines(src))
    os.makedirs(TRANSLATE_WORK, exist_ok=True)
    out = []
    for path, ext in ((src, "de"), (ref, "en")):
        lines = C.read_lines(path)[:a.sentences]
        cut = os.path.join(TRANSLATE_WORK, f"test2016.first{a.sentences}.{ext}")
        with open(cut, "w", encoding="utf-8") as f:
            f.writelines(line + "\n" for line in lines)
        out.append(cut)
    return out[0], out[1], len(lines)


def agreement(a):
    """Fraction of identical translations between CTranslate2 and PyTorch (float32, same weights),
    per beam and batch size: how faithful the conversion is."""
    result = {}
    out = os.path.join(TRANSLATE_WORK, "outputs")
    for t in a.threads[:1]:
        for bs in a.batch_sizes:
            for beam in a.beams:
                files = [os.path.join(out, f"{e}-t{t}-beam{beam}-batch{bs}.txt") for e in ("ctranslate2", "pytorch")]
                if all(os.path.isfile(f) for f in files):
                    x, y = (C.read_lines(f) for f in files)
                    result[f"beam{beam}_batch{bs}"] = round(sum(p == q for p, q in zip(x, y)) / max(1, len(x)), 4)
    return result


def summarize(runs, a):
    engines = [e for e in ENGINES if e in a.engines]
    speed, work, rows = [], [], []
    for t in a.threads:
        for bs in a.batch_sizes:
            for beam in a.beams:
                mine = [r for r in runs if r.get("threads") == t and r.get("beam") == beam and r.get("batch_size") == bs]
                per = {e: [r for r in mine if r["engine"] == e] for e in engines}
                s = {e: C.summary([r["sentences_per_s"] for r in per[e]]) for e in engines}
                ratio = lambda x, y: C.summary([p["sentences_per_s"] / q["sentences_per_s"]
                                               for p in per.get(x, []) for q in per.get(y, []) if p["round"] == q["round"]])
                ratios = {"seq2seq / ctranslate2": ratio("seq2seq", "ctranslate2"),
                          "seq2seq-int8 / ctranslate2-int8": ratio("seq2seq-int8", "ctranslate2-int8"),
                          "seq2seq / pytorch": ratio("seq2seq", "pytorch")}
                last = {e: per[e][-1] if per[e] else None for e in engines}
                rows.append(dict(threads=t, beam=beam, batch_size=bs, sentences_per_s=s,
                                 tokens_per_s={e: C.summary([r["tokens_per_s"] for r in per[e]]) for e in engines},
                                 tokens={e: last[e] and last[e]["tokens"] for e in engines},
                                 hit_cap={e: last[e] and last[e]["hit_cap"] for e in engines},
                                 bleu={e: last[e] and last[e]["bleu"] for e in engines}, ratios=ratios))
                setting = [t, beam, bs]
                speed.append(setting + [C.fmt_range(s[e], 1) for e in engines]
                             + [C.fmt_ratio(ratios[k]) for k in ratios if all(x in engines for x in k.split(" / "))])
                work.append(setting + [("-" if last[e] is None else
                                        f"{last[e]['tokens']} / {last[e]['hit_cap']} / {last[e]['bleu']}") for e in engines])
    ratio_names = [k for k in ("seq2seq / ctranslate2", "seq2seq-int8 / ctranslate2-int8", "seq2seq / pytorch")
                   if all(x in engines for x in k.split(" / "))]
    return rows, (["threads", "beam", "batch"] + engines + ratio_names, speed), (["threads", "beam", "batch"] + engines, work)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", help="a float32 seq2seq model directory (required)")
    p.add_argument("--int8-model", help="its int8 copy (default: made with seq2seq quantize into benchmarks/results/work)")
    p.add_argument("--engines", type=C.word_list(ENGINES), default=ENGINES,
                   help=f"comma-separated (default {','.join(ENGINES)})")
    p.add_argument("--threads", type=C.int_list, default=[1, 2], help="comma-separated thread counts (default 1,2)")
    p.add_argument("--beams", type=C.int_list, default=[5, 1], help="comma-separated beam sizes (default 5,1)")
    p.add_argument("--batch-sizes", type=C.int_list, default=[32, 1], help="comma-separated batch sizes (default 32,1)")
    p.add_argument("--repeats", type=int, default=3, help="timed passes per setting, best reported (default 3)")
    p.add_argument("--rounds", type=int, default=1, help="rounds over all engines, order flipping (default 1)")
    p.add_argument("--max-len", type=int, default=128, help="cap on generated tokens, </s> included (default 128)")
    p.add_argument("--length-penalty", type=float, default=1.0, help="alpha of len^alpha (default 1)")
    p.add_argument("--sentences", type=int, help="only the first N sentences of test2016 (default all)")
    p.add_argument("--output", default=os.path.join(C.RESULTS, "translate.json"),
                   help="JSON file (default benchmarks/results/translate.json)")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--task", choices=["convert", "pytorch", "ctranslate2"], help=argparse.SUPPRESS)
    p.add_argument("--ct2-model", help=argparse.SUPPRESS)
    p.add_argument("--src", help=argparse.SUPPRESS)
    p.add_argument("--ref", help=argparse.SUPPRESS)
    p.add_argument("--outputs", help=argparse.SUPPRESS)
    p.add_argument("--compute-types", type=lambda s: s.split(","), default=["float32"], help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.worker:
        return worker(a)
    if not a.model:
        p.error("--model DIR is required (a float32 seq2seq model directory, e.g. runs/m30k)")
    if a.repeats < 1 or a.rounds < 1 or a.max_len < 1 or (a.sentences is not None and a.sentences < 1):
        C.die("--repeats, --rounds, --max-len and --sentences must be at least 1")
    a.model = os.path.abspath(a.model)
    check_models(a)

    binary = C.seq2seq_binary()
    src, ref, count = test_files(a)
    env = C.environment(binary, ["torch", "ctranslate2", "tokenizers", "sacrebleu", "numpy", "safetensors"])
    C.print_environment(env)
    C.fresh_dir(os.path.join(TRANSLATE_WORK, "outputs"))  # no translations of an earlier run
    name = os.path.basename(os.path.normpath(a.model))
    int8_model = a.int8_model
    ct2_model = os.path.join(TRANSLATE_WORK, f"{name}-ctranslate2")
    try:
        if "seq2seq-int8" in a.engines and not int8_model:
            int8_model = C.fresh_dir(os.path.join(TRANSLATE_WORK, f"{name}-int8"))
            C.run_seq2seq(binary, ["quantize", "--model", a.model, "--output", int8_model])
        if any(e.startswith("ctranslate2") for e in a.engines):
            C.fresh_dir(ct2_model)
            print("converting the weights for CTranslate2 ...", flush=True)
            C.run_worker("translate_vs_ctranslate2.py", ["--task", "convert", "--model", a.model, "--ct2-model", ct2_model], 1)
    except (RuntimeError, OSError, ValueError) as e:
        C.die(str(e))
    settings = dict(model=a.model, int8_model=int8_model, ctranslate2_model=ct2_model, source=src, reference=ref,
                    sentences=count, engines=a.engines, threads=a.threads, beams=a.beams, batch_sizes=a.batch_sizes,
                    repeats=a.repeats, rounds=a.rounds, max_len=a.max_len, length_penalty=a.length_penalty,
                    length_normalization="len^alpha, len counting </s>",
                    cap="min(2 x source tokens (</s> included) + 10, max_len, max_positions - 1) per sentence; "
                        "CTranslate2: the largest cap of the batch")
    groups = [g for g in ("seq2seq", "seq2seq-int8", "ctranslate2", "pytorch")
              if g in a.engines or (g == "ctranslate2" and "ctranslate2-int8" in a.engines)]
    runs, processes = [], []
    for rnd, t, group in C.schedule(a.rounds, a.threads, groups):
        try:
            if group == "seq2seq":
                rows, info = seq2seq_engine(binary, a, "seq2seq", a.model, t, src, ref)
            elif group == "seq2seq-int8":
                rows, info = seq2seq_engine(binary, a, "seq2seq-int8", int8_model, t, src, ref)
            else:
                rows, info = python_engine(a, group, t, src, ref, ct2_model)
        except (RuntimeError, OSError, ValueError) as e:
            print(f"  failed: {e}", flush=True)
            processes.append(dict(round=rnd, threads=t, engines=group, error=str(e)))
            continue
        for r in rows:
            r["round"] = rnd
            print(f"  {r['engine']}: beam {r['beam']}, batch {r['batch_size']}: {r['sentences_per_s']:,.1f} "
                  f"sentences/s, {r['tokens_per_s']:,.0f} tokens/s, {r['tokens']} tokens, BLEU {r['bleu']}", flush=True)
        runs += rows
        processes.append(dict(round=rnd, threads=t, engines=group, **info))
        C.write_json(a.output, dict(benchmark="translate", environment=env, settings=settings,
                                    runs=runs, processes=processes))
    rows, speed, work = summarize(runs, a)
    same = agreement(a)
    over = f"median (range) over {a.rounds} rounds" if a.rounds > 1 else "one round"
    print(f"\nSentences/s on {count} sentences of test2016, best of {a.repeats} passes, {over}; "
          f"ratios of sentences/s within a round:\n")
    C.print_table(*speed)
    print("\nThe work done: generated tokens / outputs cut at the cap / BLEU:\n")
    C.print_table(*work)
    if same:
        print(f"\nCTranslate2 and PyTorch translations identical (same float32 weights): "
              + ", ".join(f"{k} {100 * v:.1f}%" for k, v in same.items()))
    C.write_json(a.output, dict(benchmark="translate", environment=env, settings=settings, runs=runs,
                                processes=processes, summary=rows, ctranslate2_equals_pytorch=same))
    print(f"\nwrote {os.path.relpath(a.output)}")


if __name__ == "__main__":
    sys.exit(main())
