"""seq2seq's model in PyTorch, read from a seq2seq model directory: the same network, weights and
vocabulary, so that speed comparisons do the same work.

It follows the model specification of docs/formats.md: encoder-decoder or decoder-only
(encoder_layers 0), pre- or post-norm, ReLU, GELU (erf form) or SiLU, sinusoidal or learned
positions, shared and tied embeddings and final_logits_bias as config.json says. It reads
config.json, model.safetensors (float32, or int8 from `seq2seq quantize`, dequantized here) and
tokenizer.json (or source.tokenizer.json and target.tokenizer.json) with Hugging Face tokenizers.
It imports nothing else from this folder, so it can be used on its own.

Decoding keeps a KV cache and follows seq2seq's rules (Sources/Seq2SeqKit/Decoding): sources end
with </s>; the decoder starts from <s>; <pad> and <s> are never chosen; each sentence may generate
min(2 x its source length + 10, --max-len, max_positions - 1) tokens, </s> included; greedy takes
the argmax; beam search is fairseq's (the 2k best candidates per step, those ending in </s> among
the first k are finished, a sentence is done once k are finished or at its cap) with scores
divided by len^alpha (power, as CTranslate2) or ((5 + len) / 6)^alpha (gnmt).

Trust check, comparing greedy translations with seq2seq's:

    seq2seq translate --model DIR --input test.de --beam 1 --output seq2seq.en
    benchmarks/.venv/bin/python benchmarks/reference_model.py --check DIR --input test.de --expected seq2seq.en

and for a language model, with seq2seq's greedy continuation of a prompt:

    seq2seq generate --model DIR --prompt "ROMEO:" --temperature 0 --max-tokens 40 > seq2seq.txt
    benchmarks/.venv/bin/python benchmarks/reference_model.py --check DIR --prompt "ROMEO:" --max-tokens 40 --expected seq2seq.txt
"""
import argparse
import json
import math
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

CONFIG_FIELDS = ["src_vocab_size", "tgt_vocab_size", "d_model", "n_heads", "d_ff", "encoder_layers",
                 "decoder_layers", "max_positions", "positional", "norm", "activation", "scale_embedding",
                 "share_embeddings", "tie_output", "layer_norm_eps", "dropout", "pad_id", "bos_id", "eos_id"]
OPTIONAL_FIELDS = dict(quantization=None, final_logits_bias=False)
ACTIVATIONS = dict(relu=F.relu, gelu=F.gelu, silu=F.silu)  # F.gelu is the exact erf form


def complete_config(c):
    """config.json's fields, checked; the optional ones filled in."""
    missing = [k for k in CONFIG_FIELDS if k not in c]
    if missing:
        raise ValueError(f"config.json lacks {', '.join(missing)}")
    c = dict(OPTIONAL_FIELDS, **c)
    if c["positional"] not in ("sinusoidal", "learned") or c["norm"] not in ("pre", "post") \
            or c["activation"] not in ACTIVATIONS:
        raise ValueError(f"config.json: unknown positional/norm/activation "
                         f"({c['positional']}, {c['norm']}, {c['activation']})")
    if c["quantization"] not in (None, "int8"):
        raise ValueError(f"config.json: unknown quantization {c['quantization']}")
    return c


def read_config(model_dir):
    path = os.path.join(model_dir, "config.json")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path} not found: is {model_dir} a seq2seq model directory?")
    with open(path) as f:
        return complete_config(json.load(f))


def sinusoidal_positions(n, d):
    """P[t, i] = sin(t / 10000^(2i/d)), P[t, d/2 + i] = cos(same): (n, d), computed in double as
    seq2seq computes it."""
    i = torch.arange(d // 2, dtype=torch.float64)
    angle = torch.arange(n, dtype=torch.float64)[:, None] / torch.pow(10000.0, 2 * i / d)[None, :]
    return torch.cat([angle.sin(), angle.cos()], dim=1).float()


# ---- the network, bottom up ----

class Attention(nn.Module):
    """Multi-head attention: queries from x, keys and values from a memory (x itself for
    self-attention). Masks are boolean, True where a query may look."""

    def __init__(self, d, heads, dropout):
        super().__init__()
        self.heads, self.dropout = heads, dropout
        self.q_proj, self.k_proj, self.v_proj, self.out_proj = (nn.Linear(d, d) for _ in range(4))

    def split(self, x):  # (B, T, d) -> (B, h, T, dh)
        B, T, d = x.shape
        return x.view(B, T, self.heads, d // self.heads).transpose(1, 2)

    def keys_values(self, memory):  # (B, S, d) -> k, v (B, h, S, dh)
        return self.split(self.k_proj(memory)), self.split(self.v_proj(memory))

    def attend(self, x, k, v, mask):  # x (B, T, d) -> (B, T, d)
        q = self.split(self.q_proj(x))
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask,
                                           dropout_p=self.dropout if self.training else 0.0)  # (B, h, T, dh)
        B, h, T, dh = y.shape
        return self.out_proj(y.transpose(1, 2).reshape(B, T, h * dh))

    def forward(self, x, memory, mask):
        k, v = self.keys_values(memory)
        return self.attend(x, k, v, mask)


class Layer(nn.Module):
    """An encoder or decoder layer: self-attention, cross-attention (decoders of encoder-decoder
    models), feed-forward, each in a residual block with its own LayerNorm."""

    def __init__(self, c, cross):
        super().__init__()
        d = c["d_model"]
        norm = lambda: nn.LayerNorm(d, eps=c["layer_norm_eps"])
        self.self_attn, self.self_attn_layer_norm = Attention(d, c["n_heads"], c["dropout"]), norm()
        if cross:
            self.encoder_attn, self.encoder_attn_layer_norm = Attention(d, c["n_heads"], c["dropout"]), norm()
        self.fc1, self.fc2, self.final_layer_norm = nn.Linear(d, c["d_ff"]), nn.Linear(c["d_ff"], d), norm()
        self.activation = ACTIVATIONS[c["activation"]]
        self.pre_norm = c["norm"] == "pre"
        self.drop = nn.Dropout(c["dropout"])

    def residual(self, x, norm, sublayer):
        if self.pre_norm:
            return x + self.drop(sublayer(norm(x)))
        return norm(x + self.drop(sublayer(x)))

    def feed_forward(self, x):
        return self.fc2(self.activation(self.fc1(x)))

    def forward(self, x, mask, memory=None, memory_mask=None):
        x = self.residual(x, self.self_attn_layer_norm, lambda h: self.self_attn(h, h, mask))
        if memory is not None:
            x = self.residual(x, self.encoder_attn_layer_norm, lambda h: self.encoder_attn(h, memory, memory_mask))
        return self.residual(x, self.final_layer_norm, self.feed_forward)

    def step(self, x, cache, memory_mask):
        """One new position per row, x (R, 1, d). `cache` holds this layer's self-attention keys
        and values so far ("k", "v": appended here) and the cross-attention ones ("mk", "mv")."""
        def self_attention(h):
            k, v = self.self_attn.keys_values(h)
            if "k" in cache:
                k, v = torch.cat([cache["k"], k], 2), torch.cat([cache["v"], v], 2)
            cache["k"], cache["v"] = k, v
            return self.self_attn.attend(h, k, v, None)

        x = self.residual(x, self.self_attn_layer_norm, self_attention)
        if "mk" in cache:
            x = self.residual(x, self.encoder_attn_layer_norm,
                              lambda h: self.encoder_attn.attend(h, cache["mk"], cache["mv"], memory_mask))
        return self.residual(x, self.final_layer_norm, self.feed_forward)


class Stack(nn.Module):
    """Token table, positions (learned ones only as a parameter), layers, final LayerNorm (pre-norm)."""

    def __init__(self, c, layers, vocab, cross):
        super().__init__()
        self.embed_tokens = nn.Embedding(vocab, c["d_model"])
        if c["positional"] == "learned":
            self.embed_positions = nn.Embedding(c["max_positions"], c["d_model"])
        self.layers = nn.ModuleList(Layer(c, cross) for _ in range(layers))
        if c["norm"] == "pre":
            self.layer_norm = nn.LayerNorm(c["d_model"], eps=c["layer_norm_eps"])


class DecoderState:
    """What incremental decoding keeps for each decoder row: every layer's self-attention keys and
    values so far, the cross-attention keys and values of the row's source (computed once), the
    source mask. `select` keeps, reorders or repeats rows."""

    def __init__(self, model, memory=None, memory_mask=None):
        self.layers = [{} for _ in model.decoder.layers]
        self.memory_mask = memory_mask
        self.length = 0
        if memory is not None:
            for layer, cache in zip(model.decoder.layers, self.layers):
                cache["mk"], cache["mv"] = layer.encoder_attn.keys_values(memory)

    def select(self, rows):
        for cache in self.layers:
            for key in cache:
                cache[key] = cache[key].index_select(0, rows)
        if self.memory_mask is not None:
            self.memory_mask = self.memory_mask.index_select(0, rows)


class Transformer(nn.Module):
    """Parameter names are the spec's (encoder.layers.0.self_attn.q_proj.weight, ...)."""

    def __init__(self, config):
        super().__init__()
        c = self.config = complete_config(config)
        d, vocab = c["d_model"], c["tgt_vocab_size"]
        self.decoder_only = c["encoder_layers"] == 0
        if not self.decoder_only:
            self.encoder = Stack(c, c["encoder_layers"], c["src_vocab_size"], cross=False)
        self.decoder = Stack(c, c["decoder_layers"], vocab, cross=not self.decoder_only)
        if c["share_embeddings"] and not self.decoder_only:
            self.encoder.embed_tokens = self.decoder.embed_tokens
        if not c["tie_output"]:
            self.lm_head = nn.Linear(d, vocab, bias=False)
        if c["final_logits_bias"]:
            self.final_logits_bias = nn.Parameter(torch.zeros(vocab))
        positions = sinusoidal_positions(c["max_positions"], d) if c["positional"] == "sinusoidal" else None
        self.register_buffer("positions", positions, persistent=False)
        self.embed_scale = math.sqrt(d) if c["scale_embedding"] else 1.0
        self.drop = nn.Dropout(c["dropout"])

    def spec_names(self):
        """The tensors model.safetensors holds: the state dict without the shared encoder table."""
        names = list(self.state_dict())
        if self.config["share_embeddings"] and not self.decoder_only:
            names.remove("encoder.embed_tokens.weight")
        return names

    def embed(self, stack, ids, start=0):  # ids (B, T) at positions start.. -> (B, T, d)
        T = ids.size(1)
        table = self.positions if self.positions is not None else stack.embed_positions.weight
        return self.drop(stack.embed_tokens(ids) * self.embed_scale + table[start:start + T])

    def final_norm(self, stack, x):
        return stack.layer_norm(x) if self.config["norm"] == "pre" else x

    def output(self, h):  # (..., d) -> logits (..., V_tgt)
        w = self.lm_head.weight if not self.config["tie_output"] else self.decoder.embed_tokens.weight
        logits = F.linear(h, w)
        return logits + self.final_logits_bias if self.config["final_logits_bias"] else logits

    def encode(self, src):
        """src (B, S) padded with pad_id -> memory (B, S, d), source mask (B, 1, 1, S)."""
        mask = (src != self.config["pad_id"])[:, None, None, :]
        x = self.embed(self.encoder, src)
        for layer in self.encoder.layers:
            x = layer(x, mask)
        return self.final_norm(self.encoder, x), mask

    def forward(self, src, tgt_in):
        """Teacher-forced logits (B, T, V_tgt); src is None for a decoder-only model."""
        memory = memory_mask = None
        if not self.decoder_only:
            memory, memory_mask = self.encode(src)
        T = tgt_in.size(1)
        keys = tgt_in != self.config["pad_id"]
        keys[:, 0] = True  # the first position is never hidden (Marian models start from <pad>)
        causal = torch.ones(T, T, dtype=torch.bool, device=tgt_in.device).tril()
        mask = causal[None, None] & keys[:, None, None, :]  # (B, 1, T, T)
        x = self.embed(self.decoder, tgt_in)
        for layer in self.decoder.layers:
            x = layer(x, mask, memory, memory_mask)
        return self.output(self.final_norm(self.decoder, x))

    # ---- incremental decoding ----

    @torch.no_grad()
    def start(self, src=None):
        """A decoder state for the sources src (B, S), or an empty one for a language model."""
        if self.decoder_only:
            return DecoderState(self)
        memory, mask = self.encode(src)
        return DecoderState(self, memory, mask)

    @torch.no_grad()
    def step(self, state, tokens):
        """tokens (R,) at the next position of every row -> logits (R, V_tgt)."""
        x = self.embed(self.decoder, tokens[:, None], state.length)  # (R, 1, d)
        for layer, cache in zip(self.decoder.layers, state.layers):
            x = layer.step(x, cache, state.memory_mask)
        state.length += 1
        return self.output(self.final_norm(self.decoder, x))[:, 0]


@torch.no_grad()
def initialize(model, seed):
    """A new model as seq2seq starts one (docs/formats.md): token and learned position tables from
    N(0, 1/d) with the pad row of token tables zero, other matrices Xavier-uniform, biases 0,
    LayerNorm weights 1."""
    g = torch.Generator().manual_seed(seed)
    c = model.config
    for name, p in model.named_parameters():  # a shared table is listed once
        if "embed_" in name:
            p.normal_(0.0, c["d_model"] ** -0.5, generator=g)
            if "embed_tokens" in name:
                p[c["pad_id"]].zero_()
        elif name.endswith("layer_norm.weight"):
            p.fill_(1.0)
        elif p.dim() == 2:
            bound = math.sqrt(6.0 / (p.shape[0] + p.shape[1]))
            p.uniform_(-bound, bound, generator=g)
        else:
            p.zero_()
    return model


def read_weights(path, config):
    """The tensors of a weights file, float32; an int8 model's matrices (I8 `NAME` with F32
    `NAME_scale`, one scale per row) become q x scale."""
    from safetensors.torch import load_file
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path} not found")
    raw = load_file(path)
    tensors = {}
    for name, t in raw.items():
        if name.endswith("_scale") and name[:-len("_scale")] in raw and config["quantization"] == "int8":
            continue
        scale = raw.get(name + "_scale")
        if t.dtype == torch.int8 and scale is not None:
            tensors[name] = t.float() * scale.float()[:, None]
        else:
            tensors[name] = t.float()
    return tensors


def load_model(model_dir, weights="model.safetensors"):
    """The model of a seq2seq model directory, in evaluation mode."""
    model = Transformer(read_config(model_dir))
    path = os.path.join(model_dir, weights)
    tensors = read_weights(path, model.config)
    expected = set(model.spec_names())
    missing, unexpected = sorted(expected - set(tensors)), sorted(set(tensors) - expected)
    if missing or unexpected:
        raise ValueError(f"{path} does not match config.json: missing {missing[:5]}, unexpected {unexpected[:5]}")
    if model.config["share_embeddings"] and not model.decoder_only:
        tensors["encoder.embed_tokens.weight"] = tensors["decoder.embed_tokens.weight"]
    model.load_state_dict(tensors, strict=True)
    return model.eval()


class Vocabularies:
    """tokenizer.json (joint), or source.tokenizer.json and target.tokenizer.json, read with
    Hugging Face tokenizers, which encodes text to the ids seq2seq gives it (docs/formats.md)."""

    def __init__(self, model_dir):
        from tokenizers import Tokenizer
        joint = os.path.join(model_dir, "tokenizer.json")
        sides = [os.path.join(model_dir, f"{s}.tokenizer.json") for s in ("source", "target")]
        if os.path.isfile(joint):
            self.source = self.target = Tokenizer.from_file(joint)
        elif all(os.path.isfile(p) for p in sides):
            self.source, self.target = (Tokenizer.from_file(p) for p in sides)
        else:
            raise FileNotFoundError(
                f"{model_dir} has no tokenizer.json (nor source.tokenizer.json and target.tokenizer.json); "
                f"only vocabularies that seq2seq learned are read here (imported OPUS-MT models keep "
                f"SentencePiece files)")

    def encode(self, text):
        return self.source.encode(text, add_special_tokens=False).ids

    def decode(self, ids):
        """Text of target ids; special tokens (</s>) are dropped."""
        return self.target.decode(ids, skip_special_tokens=True)

    @staticmethod
    def pieces(tokenizer, size):
        """The token strings of ids 0..size-1 (unique placeholders where the vocabulary is smaller
        than the model's table)."""
        return [tokenizer.id_to_token(i) or f"<unused_{i}>" for i in range(size)]


# ---- decoding ----

def output_cap(source_tokens, config, max_len=None, a=2.0, b=10):
    """Tokens a sentence may generate, </s> included, for a source of `source_tokens` tokens (</s>
    included): min(a x n + b, max_len, max_positions - 1), as seq2seq's Translator.outputCap."""
    cap = min(int(a * source_tokens + b), config["max_positions"] - 1)
    if max_len is not None:
        cap = min(cap, max_len)
    return max(1, cap)


def prepare_sources(vocab, lines, config):
    """Source ids as seq2seq translates them: truncated to max_positions - 1, then </s>; None for a
    line with no tokens (its translation is empty)."""
    out = []
    for line in lines:
        ids = vocab.encode(line)
        out.append(ids[:config["max_positions"] - 1] + [config["eos_id"]] if ids else None)
    return out


def pad_batch(rows, pad):
    out = torch.full((len(rows), max(map(len, rows))), pad, dtype=torch.long)
    for i, r in enumerate(rows):
        out[i, :len(r)] = torch.tensor(r, dtype=torch.long)
    return out


def length_penalty(alpha, normalization):
    if alpha == 0:
        return lambda n: 1.0
    if normalization == "power":
        return lambda n: max(1, n) ** alpha
    return lambda n: ((5 + n) / 6) ** alpha


@torch.no_grad()
def greedy_search(model, sources, caps):
    """Each row grows by its argmax token (never pad or bos) until </s> or its cap; finished rows
    leave the batch. Returns the generated ids per source, </s> included when emitted."""
    c = model.config
    pad, bos, eos = c["pad_id"], c["bos_id"], c["eos_id"]
    state = model.start(pad_batch(sources, pad))
    out = [[] for _ in sources]
    alive = list(range(len(sources)))
    last = torch.full((len(sources),), bos, dtype=torch.long)
    while alive:
        logits = model.step(state, last)
        logits[:, [pad, bos]] = -math.inf
        chosen = logits.argmax(-1).tolist()
        keep = []
        for row, s in enumerate(alive):
            out[s].append(chosen[row])
            if chosen[row] != eos and len(out[s]) < caps[s]:
                keep.append(row)
        if not keep:
            break
        if len(keep) < len(alive):
            state.select(torch.tensor(keep))
        alive = [alive[r] for r in keep]
        last = torch.tensor([chosen[r] for r in keep], dtype=torch.long)
    return out


@torch.no_grad()
def beam_search(model, sources, caps, k, alpha=1.0, normalization="power"):
    """fairseq's beam search as seq2seq runs it (BeamSearch.search): per step the 2k best
    (beam, token) candidates by summed log-probability; one ending in </s> among the first k is
    finished (until k are); at the cap every candidate is finished, cut; k others live on (the
    first repeated when fewer remain). A sentence is done when k hypotheses are finished; the best
    by log-probability / penalty(length, </s> included) is returned."""
    c = model.config
    pad, bos, eos = c["pad_id"], c["bos_id"], c["eos_id"]
    penalty = length_penalty(alpha, normalization)
    state = model.start(pad_batch(sources, pad))
    n = len(sources)
    active = list(range(n))                   # the sentences still decoding, in row-group order
    live = [[([], 0.0)] for _ in range(n)]    # per sentence: (tokens, summed log-probability) per row
    finished = [[] for _ in range(n)]         # per sentence: (score, tokens)
    last = torch.full((n,), bos, dtype=torch.long)
    width, step = 1, 0                        # rows per active sentence: 1 until the first token
    while active:
        step += 1
        logp = model.step(state, last).float().log_softmax(-1)
        logp[:, [pad, bos]] = -math.inf
        V = logp.size(1)
        base = torch.tensor([lp for s in active for _, lp in live[s]], dtype=logp.dtype)
        candidates = (logp + base[:, None]).view(len(active), width * V)
        top, index = candidates.topk(min(2 * k, width * V), dim=1)
        top, index = top.tolist(), index.tolist()
        next_active, rows, next_last = [], [], []
        for slot, s in enumerate(active):
            at_cap = step >= caps[s]
            kept = []  # (tokens, log-probability, decoder row)
            for rank, (score, flat) in enumerate(zip(top[slot], index[slot])):
                if score == -math.inf:
                    break
                beam, token = divmod(flat, V)
                tokens = live[s][beam][0] + [token]
                if token == eos:
                    if rank < k and len(finished[s]) < k:
                        finished[s].append((score / penalty(len(tokens)), tokens))
                elif at_cap:
                    if len(finished[s]) < k:
                        finished[s].append((score / penalty(len(tokens)), tokens))
                elif len(kept) < k:
                    kept.append((tokens, score, slot * width + beam))
                if len(kept) == k and (at_cap or len(finished[s]) >= k):
                    break
            if len(finished[s]) >= k or at_cap or not kept:
                if not finished[s]:
                    finished[s] = [(lp / penalty(len(t)), t) for t, lp, _ in kept]
                continue
            kept += [kept[0]] * (k - len(kept))
            live[s] = [(t, lp) for t, lp, _ in kept]
            rows += [r for _, _, r in kept]
            next_last += [t[-1] for t, _, _ in kept]
            next_active.append(s)
        if not next_active:
            break
        state.select(torch.tensor(rows, dtype=torch.long))
        active, width = next_active, k
        last = torch.tensor(next_last, dtype=torch.long)
    return [max(f, key=lambda x: x[0])[1] if f else [] for f in finished]


def length_sorted_batches(sources, batch_size):
    """Indices of the sources (None: an empty line, left out) sorted by length, ties in input order,
    cut into batches, as seq2seq's Translator batches them."""
    order = sorted((i for i, s in enumerate(sources) if s is not None), key=lambda i: len(sources[i]))
    return [order[j:j + batch_size] for j in range(0, len(order), batch_size)]


def decode_all(model, sources, caps, beam, batch_size, alpha=1.0, normalization="power"):
    """Generated ids for every source (nothing for an empty line): greedy when beam is 1."""
    out = [[] for _ in sources]
    for chunk in length_sorted_batches(sources, batch_size):
        rows, row_caps = [sources[i] for i in chunk], [caps[i] for i in chunk]
        hyps = greedy_search(model, rows, row_caps) if beam == 1 else \
            beam_search(model, rows, row_caps, beam, alpha, normalization)
        for i, h in zip(chunk, hyps):
            out[i] = h
    return out


@torch.no_grad()
def generate_greedy(model, prompt_ids, count):
    """A language model's argmax continuation of the prompt (<s> when empty), as seq2seq generate
    --temperature 0: pad and bos never chosen, </s> does not stop it."""
    c = model.config
    context = prompt_ids or [c["bos_id"]]
    if len(context) + count > c["max_positions"]:
        raise ValueError(f"{len(context)} prompt tokens + {count} new ones exceed max_positions "
                         f"{c['max_positions']}: pass a smaller --max-tokens, here and to seq2seq generate")
    state = model.start()
    for t in context:
        logits = model.step(state, torch.tensor([t]))
    out = []
    for i in range(count):
        logits[:, [c["pad_id"], c["bos_id"]]] = -math.inf
        out.append(int(logits.argmax(-1)))
        if i + 1 < count:
            logits = model.step(state, torch.tensor([out[-1]]))
    return out


# ---- the trust check ----

def read_lines(path):
    """Lines split at \n only, as seq2seq reads them; a final newline ends the last line."""
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    return lines[:-1] if lines and lines[-1] == "" else lines


def check_translation(model, vocab, a):
    lines, expected = read_lines(a.input), read_lines(a.expected)
    if len(expected) != len(lines):
        raise SystemExit(f"error: {a.expected} has {len(expected)} lines, {a.input} {len(lines)}; "
                         f"give seq2seq translate's output for that input")
    sources = prepare_sources(vocab, lines, model.config)
    caps = [s and output_cap(len(s), model.config, a=a.max_len_a, b=a.max_len_b) for s in sources]
    return [vocab.decode(h) for h in decode_all(model, sources, caps, 1, a.batch_size)], expected


def check_language_model(model, vocab, a):
    """seq2seq generate prints the prompt, the continuation (</s> as a newline in subword
    vocabularies) and a newline."""
    ids = generate_greedy(model, vocab.encode(a.prompt) if a.prompt else [], a.max_tokens)
    eos = model.config["eos_id"]
    character_level = vocab.target.pre_tokenizer is None
    if character_level:
        text = vocab.decode(ids)
    else:
        pieces, segment = [], []
        for t in ids + [eos]:
            if t == eos:
                pieces.append(vocab.decode(segment))
                segment = []
            else:
                segment.append(t)
        text = "\n".join(pieces)
    with open(a.expected, encoding="utf-8") as f:
        expected = f.read()
    return [a.prompt + text], [expected[:-1] if expected.endswith("\n") else expected]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--check", metavar="MODEL_DIR", required=True, help="the seq2seq model directory")
    p.add_argument("--expected", required=True, metavar="FILE",
                   help="seq2seq's output: `translate --beam 1 --output FILE` (translation) or "
                        "`generate --temperature 0` (language model)")
    p.add_argument("--input", metavar="FILE", help="translation: the source file seq2seq translated")
    p.add_argument("--prompt", default="", help="language model: generate's --prompt")
    p.add_argument("--max-tokens", type=int, default=500, help="language model: generate's --max-tokens (default 500)")
    p.add_argument("--checkpoint", default="model.safetensors", help="weights file inside the model directory")
    p.add_argument("--batch-size", type=int, default=32, help="sentences per batch (default 32)")
    p.add_argument("--max-len-a", type=float, default=2.0, help="translate's --max-len-a (default 2)")
    p.add_argument("--max-len-b", type=int, default=10, help="translate's --max-len-b (default 10)")
    p.add_argument("--min-identical", type=float, default=0.99,
                   help="fraction of lines that must be identical (default 0.99: a rare near-tie of two "
                        "tokens may round differently)")
    p.add_argument("--threads", type=int, help="PyTorch threads (default: PyTorch's choice)")
    a = p.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    try:
        model = load_model(a.check, a.checkpoint)
        vocab = Vocabularies(a.check)
    except (OSError, ValueError) as e:
        raise SystemExit(f"error: {e}")
    if model.decoder_only:
        got, expected = check_language_model(model, vocab, a)
    else:
        if not a.input:
            raise SystemExit("error: a translation model needs --input (the file seq2seq translated)")
        got, expected = check_translation(model, vocab, a)
    same = sum(g == e for g, e in zip(got, expected))
    print(f"identical: {same} of {len(got)} ({100 * same / max(1, len(got)):.1f}%)")
    shown = 0
    for i, (g, e) in enumerate(zip(got, expected)):
        if g != e and shown < 5:
            print(f"line {i + 1}:\n  seq2seq:   {e}\n  reference: {g}")
            shown += 1
    sys.exit(0 if same >= a.min_identical * len(got) else 1)


if __name__ == "__main__":
    main()
