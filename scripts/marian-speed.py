#!/usr/bin/env python3
"""seq2seq against CTranslate2 on an OPUS-MT-base-shaped Marian model (random weights).

    ../shared/bench/.venv/bin/python scripts/marian-speed.py make /tmp/opus-base-hf   # the HF folder
    seq2seq import /tmp/opus-base-hf --output /tmp/opus-base                          # ours
    ct2-transformers-converter --model /tmp/opus-base-hf --output_dir /tmp/opus-base-ct2
    ../shared/bench/.venv/bin/python scripts/marian-speed.py ct2 /tmp/opus-base-ct2 /tmp/opus-base-hf \\
        --input ../shared/corpora/multi30k/test2016.de --lines 200

The model is Helsinki-NLP/opus-mt-de-en's shape: d 512, 6+6 layers, 8 heads, ff 2048, SiLU, post-norm,
58,101 shared pieces (the fixture's two unigram models' pieces, then filler pieces up to 58,100,
then <pad>). Weights are transformers' own initialization (std 0.02); final_logits_bias gives eos
-1e4, so no hypothesis ever ends early: every sentence decodes exactly `--cap` tokens in both
engines, the same work whatever tokens each picks.
"""
import argparse, json, os, shutil, sys, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SPM = os.path.join(ROOT, "Tests/Seq2SeqKitTests/Fixtures/marian/spm")


def make(out):
    import sentencepiece as spm
    import torch
    from transformers import MarianConfig, MarianMTModel
    os.makedirs(out, exist_ok=True)
    shutil.copy(f"{SPM}/de.spm", f"{out}/source.spm")
    shutil.copy(f"{SPM}/en.spm", f"{out}/target.spm")
    vocab = {"</s>": 0, "<unk>": 1}
    for p in ["de", "en"]:
        sp = spm.SentencePieceProcessor(model_file=f"{SPM}/{p}.spm")
        for i in range(sp.get_piece_size()):
            piece = sp.id_to_piece(i)
            if not (sp.is_control(i) or sp.is_unknown(i)) and piece not in vocab:
                vocab[piece] = len(vocab)
    while len(vocab) < 58100:
        vocab[f"\u2581w{len(vocab)}"] = len(vocab)
    vocab["<pad>"] = 58100
    json.dump(vocab, open(f"{out}/vocab.json", "w"), ensure_ascii=False)
    json.dump({"source_lang": "de", "target_lang": "en", "separate_vocabs": False}, open(f"{out}/tokenizer_config.json", "w"))
    config = MarianConfig(vocab_size=58101, d_model=512, encoder_layers=6, decoder_layers=6, encoder_attention_heads=8,
                          decoder_attention_heads=8, encoder_ffn_dim=2048, decoder_ffn_dim=2048, max_position_embeddings=512,
                          activation_function="swish", scale_embedding=True, pad_token_id=58100, decoder_start_token_id=58100,
                          eos_token_id=0, forced_eos_token_id=0, num_beams=4, max_length=512, bad_words_ids=[[58100]])
    torch.manual_seed(0)
    model = MarianMTModel(config).eval()
    with torch.no_grad():
        model.final_logits_bias[0, 0] = -1e4
    model.save_pretrained(out, safe_serialization=True)
    print(f"wrote {out}")


def ct2(model_dir, hf_dir, src, lines, cap, repeats):
    import ctranslate2
    from transformers import MarianTokenizer
    tok = MarianTokenizer.from_pretrained(hf_dir)
    text = open(src, encoding="utf-8").read().split("\n")[:lines]
    tokens = [tok.convert_ids_to_tokens(tok(t)["input_ids"]) for t in text]
    tr = ctranslate2.Translator(model_dir, device="cpu", intra_threads=1, inter_threads=1)
    for beam, batch in [(4, 32), (1, 1)]:
        best = None
        for _ in range(repeats + 1):  # the first is a warm-up
            t0 = time.perf_counter()
            out = tr.translate_batch(tokens, beam_size=beam, max_batch_size=batch, max_decoding_length=cap,
                                     min_decoding_length=0, return_end_token=True, length_penalty=1.0)
            dt = time.perf_counter() - t0
            best = dt if best is None else min(best, dt)
        n = sum(len(o.hypotheses[0]) for o in out)
        print(f"ctranslate2 {ctranslate2.__version__}  beam {beam} batch {batch:2d}: {len(text) / best:7.1f} sent/s"
              f"  {n / best:8.0f} tok/s  ({n} tokens, {len(text)} sentences, best of {repeats})")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["make", "ct2"])
    ap.add_argument("dirs", nargs="+")
    ap.add_argument("--input", default=os.path.join(ROOT, "..", "shared/corpora/multi30k/test2016.de"))
    ap.add_argument("--lines", type=int, default=200)
    ap.add_argument("--cap", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=2)
    a = ap.parse_args()
    if a.what == "make":
        make(a.dirs[0])
    else:
        ct2(a.dirs[0], a.dirs[1], a.input, a.lines, a.cap, a.repeats)


if __name__ == "__main__":
    main()
