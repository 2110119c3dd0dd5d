#!/usr/bin/env python3
"""Parity fixtures for seq2seq's GPT-2 support, made with Hugging Face transformers and tokenizers.
Development only: nothing here runs at run time or in CI.

    benchmarks/.venv/bin/pip install transformers     # once, beside the benchmarks' tools
    benchmarks/.venv/bin/python scripts/make-gpt2-fixtures.py

What it writes under Tests/Seq2SeqKitTests/Fixtures/gpt2/:
  <config>/                     a Hugging Face GPT-2 folder (config.json, model.safetensors, the tokenizer)
                                of a tiny random GPT2LMHeadModel:
                                  tied     F32, tokenizer.json (+ vocab.json, merges.txt), transformers'
                                           own tensor names (transformer.h.0.attn.c_attn.weight, ...)
                                  legacy   BF16, vocab.json + merges.txt only, the names of the Hub's gpt2
                                           checkpoint (h.0.attn.c_attn.weight: no "transformer." prefix),
                                           lm_head.weight saved beside wte, gelu (erf) instead of gelu_new
  <config>/expected.safetensors  prompts [B, T] and their logits [B, T, V] (no padding), each prompt's
                                greedy continuation (generate, max_new_tokens 24, stopping at
                                <|endoftext|>; rows padded with -1)
  tokenize.json                 lines (TRICKY and PLAYLIKE below, none from the corpus) with
                                GPT2TokenizerFast's ids and decoded text
  tinyshakespeare.json          line count and FNV-1a 64 hashes per block of 1,000 lines of the ids of
                                tinyshakespeare's lines (the corpus is never committed; the test reads it
                                when present)

The byte-level BPE (GPT-2's pre-tokenizer regex, byte-to-unicode map and merges) is trained with
tokenizers on tinyshakespeare; <|endoftext|> is added after the merges, so that, as in GPT-2, it is the
last id (bos = eos = the last id).
"""
import json, os, shutil, sys
import torch
from safetensors.torch import load_file, save_file
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import GPT2Config, GPT2LMHeadModel, GPT2TokenizerFast

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Tests/Seq2SeqKitTests/Fixtures/gpt2")
CORPUS = os.environ.get("SEQ2SEQ_CORPORA", os.path.join(ROOT, "..", "shared", "corpora")) + "/tinyshakespeare/input.txt"

TRICKY = [
    "Second Herald:",
    "Before the bells have done, we ride for Westmarch.",
    "  Two   spaces\tand a tab, then  trailing spaces   ",
    "I'm sure you've heard they'll say it's 'quoted' -- 'S 'T ok",
    "Numbers 12345 and 3.14159, ½ ² Ⅻ ٣",
    "Emoji 🙂🙂 and 中文 and ελληνικά and Ǆ",
    "Control\u0001chars\u007f and\u00a0nbsp\u200b zero width \u3000 ideographic",
    "line one\nline two\n\n\nafter blank lines\r\nwindows",
    "<|endoftext|>A new document<|endoftext|>",
    "",
    " ",
    "\n",
    "Ünïcödé çàfé naïve coöperate ÅÆØ",
    "a\u0301 combining and \U0001F1E9\U0001F1EA flag",
]

# Lines in tinyshakespeare's style, written for these fixtures (the corpus's own text is never committed).
PLAYLIKE = [
    "KING ARTHUR:", "Bring forth the lanterns, for the night grows long.", "",
    "QUEEN:", "My lord, the riders wait upon the hill;", "They say the river rose an ell since dawn.", "",
    "FOOL:", "Ha! A river that rises is a river that sings;", "I'd sing too, were I paid in wine and bread.", "",
    "KING ARTHUR:", "Peace, fool. What news from Westmarch?", "",
    "MESSENGER:", "Twelve ships, my liege, and none of them our own.", "Their sails are black; their oars, 400 strong.", "",
    "QUEEN:", "Then we must haste. Send word to Gloucester's men,", "And bid them meet us where the old roads cross.", "",
    "FOOL:", "Old roads, old men, old quarrels--all the same!", "Who'll pay the piper when the pipes are cold?", "",
    "KING ARTHUR:", "Enough! Go thou; and thou, attend the gate.", "We'll not be caught like hares within a net.", "",
    "All:", "God save the king!", "",
    "Exeunt.", "", "SCENE II. A field near the river.", "", "Enter two SOLDIERS.",
]

CONFIGS = {
    "tied": dict(d=32, heads=4, layers=2, inner=None, positions=64, act="gelu_new", dtype=torch.float32, seed=0),
    "legacy": dict(d=24, heads=2, layers=3, inner=40, positions=48, act="gelu", dtype=torch.bfloat16, seed=2),
}


def fnv(data: bytes, h=0xcbf29ce484222325):
    for b in data:
        h ^= b
        h = (h * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h


def train_tokenizer(text_lines):
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=700, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  special_tokens=[], show_progress=False)
    tok.train_from_iterator(text_lines, trainer=trainer)
    tok.add_special_tokens(["<|endoftext|>"])
    return GPT2TokenizerFast(tokenizer_object=tok, bos_token="<|endoftext|>", eos_token="<|endoftext|>",
                             unk_token="<|endoftext|>")


def make_model(name, spec, tok, prompts):
    folder = os.path.join(OUT, name)
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    eos = tok.convert_tokens_to_ids("<|endoftext|>")
    config = GPT2Config(vocab_size=len(tok), n_positions=spec["positions"], n_embd=spec["d"], n_layer=spec["layers"],
                        n_head=spec["heads"], n_inner=spec["inner"], activation_function=spec["act"],
                        bos_token_id=eos, eos_token_id=eos, resid_pdrop=0.1, embd_pdrop=0.1, attn_pdrop=0.1,
                        tie_word_embeddings=True)
    torch.manual_seed(spec["seed"])
    model = GPT2LMHeadModel(config).eval()
    # Larger than GPT-2's N(0, 0.02²) initialization, so that logits differ by more than rounding and
    # greedy continuations are decided by the model, not by ties.
    with torch.no_grad():
        for n, p in model.named_parameters():
            if n.endswith("ln_1.weight") or n.endswith("ln_2.weight") or n.endswith("ln_f.weight"):
                p.copy_(1 + 0.1 * torch.randn_like(p))
            elif "wte" in n or "wpe" in n:
                p.copy_(0.5 * torch.randn_like(p))
            else:
                p.copy_(0.3 * torch.randn_like(p))
    model = model.to(spec["dtype"])
    model.save_pretrained(folder, safe_serialization=True)
    tok.save_pretrained(folder)
    for f in ["generation_config.json"]:
        if os.path.exists(os.path.join(folder, f)):
            os.remove(os.path.join(folder, f))
    if name == "legacy":
        # The Hub's gpt2 checkpoint: GPT2Model's names, lm_head saved beside wte, no tokenizer.json.
        weights = load_file(os.path.join(folder, "model.safetensors"))
        renamed = {k.removeprefix("transformer."): v.contiguous() for k, v in weights.items()}
        renamed["lm_head.weight"] = renamed["wte.weight"].clone()
        save_file(renamed, os.path.join(folder, "model.safetensors"), metadata={"format": "pt"})
        # GPT2Tokenizer's files: vocab.json (added tokens included) and merges.txt ("#version" line,
        # then one "left right" merge per line), written from the trained tokenizer.
        state = json.loads(open(os.path.join(folder, "tokenizer.json"), encoding="utf-8").read())
        vocab = dict(state["model"]["vocab"])
        for t in state["added_tokens"]:
            vocab[t["content"]] = t["id"]
        json.dump(vocab, open(os.path.join(folder, "vocab.json"), "w", encoding="utf-8"), ensure_ascii=False)
        with open(os.path.join(folder, "merges.txt"), "w", encoding="utf-8") as f:
            f.write("#version: 0.2\n")
            for a, b in state["model"]["merges"]:
                f.write(f"{a} {b}\n")
        os.remove(os.path.join(folder, "tokenizer.json"))
        tok = GPT2TokenizerFast.from_pretrained(folder)  # the references use what the folder holds
    # References from the saved folder loaded in float32, as a user would load it.
    model = GPT2LMHeadModel.from_pretrained(folder, dtype=torch.float32).eval()
    ids = [tok(p)["input_ids"] for p in prompts]
    t = min(len(i) for i in ids)
    batch = torch.tensor([i[:t] for i in ids])
    with torch.no_grad():
        logits = model(input_ids=batch).logits.float().contiguous()
    greedy = torch.full((len(ids), 24), -1, dtype=torch.int64)
    margins = []
    for r, i in enumerate(ids):
        with torch.no_grad():
            out = model.generate(input_ids=torch.tensor([i]), attention_mask=torch.ones(1, len(i), dtype=torch.long),
                                 max_new_tokens=24, do_sample=False, eos_token_id=eos, pad_token_id=eos,
                                 output_scores=True, return_dict_in_generate=True)
        new = out.sequences[0, len(i):].tolist()
        greedy[r, :len(new)] = torch.tensor(new)
        for s in out.scores:
            top = torch.topk(s[0].float(), 2).values
            margins.append(float(top[0] - top[1]))
    prompt_rows = torch.full((len(ids), max(len(i) for i in ids)), -1, dtype=torch.int64)
    for r, i in enumerate(ids):
        prompt_rows[r, :len(i)] = torch.tensor(i)
    save_file({"logit_ids": batch.to(torch.int64), "logits": logits, "prompts": prompt_rows, "greedy": greedy},
              os.path.join(folder, "expected.safetensors"),
              metadata={"max_new_tokens": "24", "prompts": json.dumps(prompts, ensure_ascii=False),
                        "greedy_text": json.dumps([tok.decode([x for x in row if x >= 0]) for row in greedy.tolist()],
                                                  ensure_ascii=False)})
    print(name, "vocab", len(tok), "eos", eos, "greedy lengths", [int((r >= 0).sum()) for r in greedy],
          "smallest top-2 margin %.4f" % min(margins), "largest logit %.2f" % float(logits.abs().max()))
    return min(margins)


def main():
    if not os.path.exists(CORPUS):
        sys.exit(f"{CORPUS} not found: set SEQ2SEQ_CORPORA to the folder holding tinyshakespeare/")
    lines = open(CORPUS, encoding="utf-8").read().split("\n")
    os.makedirs(OUT, exist_ok=True)
    tok = train_tokenizer(lines)
    prompts = ["KING ARTHUR:\nBring forth the lanterns", "FOOL: I'd sing too, were I", "<|endoftext|>What say'st thou?<|endoftext|> 12 The"]
    for name, spec in CONFIGS.items():
        margin = make_model(name, spec, tok, prompts)
        if margin < 0.005:
            sys.exit(f"{name}: a greedy step's top two logits are {margin} apart; choose another seed")

    tricky = []
    for line in TRICKY + PLAYLIKE:
        ids = tok(line)["input_ids"]
        tricky.append({"line": line, "ids": ids, "decoded": tok.decode(ids),
                       "decoded_skipping_specials": tok.decode(ids, skip_special_tokens=True)})
    json.dump(tricky, open(os.path.join(OUT, "tokenize.json"), "w"), ensure_ascii=False, indent=0)

    blocks = []
    body = lines[:-1] if lines and lines[-1] == "" else lines
    for start in range(0, len(body), 1000):
        h = 0xcbf29ce484222325
        for line in body[start:start + 1000]:
            h = fnv((" ".join(map(str, tok(line)["input_ids"])) + "\n").encode(), h)
        blocks.append(f"{h:016x}")
    json.dump({"lines": len(body), "blocks": blocks}, open(os.path.join(OUT, "tinyshakespeare.json"), "w"), indent=0)


if __name__ == "__main__":
    main()
