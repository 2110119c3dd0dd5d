"""Checks `seq2seq translate --repetition-penalty/--no-repeat-ngram` against CTranslate2's
repetition_penalty and no_repeat_ngram_size on the same weights: the model is converted (into
MODEL_DIR-ct2) with benchmarks/translate_vs_ctranslate2.py's converter, both translate the first N lines of Multi30k's
test2016 (beam 5 and greedy, len^1 normalization, per-sentence output caps, CTranslate2 one
sentence per call so that its cap is the sentence's own) and the script prints how many
translations are identical for each setting.

Usage: benchmarks/.venv/bin/python scripts/check-repetition-vs-ctranslate2.py MODEL_DIR [N]
(benchmarks/setup.sh makes the environment; the corpora are found as the benchmarks find them.)"""
import sys, os, subprocess
here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "benchmarks"))
import common as C
import reference_model as R
from translate_vs_ctranslate2 import convert_to_ctranslate2
import ctranslate2
if len(sys.argv) < 2 or sys.argv[1] in ("-h", "--help"):
    print(__doc__); sys.exit(0 if len(sys.argv) > 1 else 2)
model, n = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 300
ct2 = model.rstrip("/") + "-ct2"
if not os.path.isfile(ct2 + "/model.bin"):
    os.makedirs(ct2, exist_ok=True); convert_to_ctranslate2(model, ct2)
config = R.read_config(model); vocab = R.Vocabularies(model)
lines = [l.rstrip("\n") for l in open(C.corpus_files("multi30k/test2016.de")[0], encoding="utf-8")][:n]
sources = R.prepare_sources(vocab, lines, config)
sp = R.Vocabularies.pieces(vocab.source, config["src_vocab_size"]); tp = R.Vocabularies.pieces(vocab.target, config["tgt_vocab_size"])
pid = {p: i for i, p in enumerate(tp)}
banned = [[tp[config["pad_id"]]], [tp[config["bos_id"]]]]
tr = ctranslate2.Translator(ct2, device="cpu", compute_type="float32", inter_threads=1, intra_threads=2)
for beam in (5, 1):
  for rp, ng in ((1.0, 0), (1.2, 0), (1.0, 3), (1.3, 2)):
    outs = []
    for s in sources:
        cap = R.output_cap(len(s), config)
        r = tr.translate_batch([[sp[i] for i in s]], beam_size=beam, length_penalty=1, max_decoding_length=cap,
                               min_decoding_length=0, return_end_token=True, suppress_sequences=banned, max_input_length=0,
                               repetition_penalty=rp, no_repeat_ngram_size=ng)
        outs.append(vocab.decode([pid[t] for t in r[0].hypotheses[0]]))
    cmd = [C.seq2seq_binary(), "translate", "--model", model, "--beam", str(beam), "--length-penalty", "1",
           "--length-normalization", "power", "--repetition-penalty", str(rp), "--no-repeat-ngram", str(ng), "--threads", "2"]
    ours = subprocess.run(cmd, input="\n".join(lines) + "\n", capture_output=True, text=True, check=True).stdout.split("\n")[:n]
    same = sum(a == b for a, b in zip(outs, ours))
    print(f"beam {beam} repetition_penalty {rp} no_repeat_ngram_size {ng}: identical {same}/{n}", flush=True)
    if same < n:
        for a, b in list((a, b) for a, b in zip(outs, ours) if a != b)[:2]: print("   ct2:", a, "\n   ours:", b)
