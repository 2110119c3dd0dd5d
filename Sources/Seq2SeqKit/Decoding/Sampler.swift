import RealModule

/// Sampling from a decoder-only model with the KV cache, as nanoGPT's `generate`: temperature,
/// top-k and nucleus (top-p) filtering, a seeded RNG. The context is the last `max_positions`
/// tokens: a longer prompt keeps its last block, and when the cache is full the decoder restarts
/// from the last half block (recomputed), so generation can run past the block size.
///
/// A value type: copies sample independently (each has its own ``rng``).
/// ``generate(_:prompt:maxTokens:emit:)`` creates its own ``IncrementalDecoder``, so samplers on
/// different threads may share one model.
public struct Sampler {
    /// Divides the logits before the softmax (default 1); 0 or below takes the argmax (greedy).
    public var temperature: Float = 1
    /// Draws only from the `topK` most likely tokens; 0 (the default) keeps them all.
    public var topK: Int = 0
    /// Nucleus sampling: draws only from the smallest set of most likely tokens whose probabilities
    /// (after top-k) sum to at least `topP`; 1 (the default) keeps them all.
    public var topP: Float = 1
    /// The repetition penalty and the n-gram ban over the prompt and the tokens generated so far
    /// (default: off), applied to the logits before the temperature; set it after creating the sampler.
    public var repetition = RepetitionControl()
    /// The random generator the draws advance; seeded by the initializer, so a seed repeats its samples.
    public var rng: RNG

    /// Creates a sampler; `seed` (default 1) seeds ``rng``.
    public init(temperature: Float = 1, topK: Int = 0, topP: Float = 1, seed: UInt64 = 1) {
        self.temperature = temperature; self.topK = topK; self.topP = topP; rng = RNG(seed: seed)
    }

    /// Generates `maxTokens` tokens after `prompt` (bos when empty), calling `emit` with each.
    /// - Parameters:
    ///   - model: A decoder-only model (an encoder-decoder one has no source here).
    ///   - prompt: Token ids to continue; only the last max_positions of them are read.
    ///   - maxTokens: Tokens to generate. Generation does not stop at eos: eos is drawn like any other
    ///     token (pad and bos are never drawn, unless one of them is eos: ``ModelConfig/neverGenerated``).
    ///   - emit: Called with each generated id, in order.
    public mutating func generate(_ model: Transformer, prompt: [Int32], maxTokens: Int, emit: (Int32) -> Void) {
        let c = model.config
        let block = c.maxPositions
        var context = prompt.isEmpty ? [Int32(c.bosId)] : Array(prompt.suffix(block))
        var history = prompt  // what the repetition control looks back over: all of it, not only the window
        let dec = IncrementalDecoder(model: model)
        var logits = prefill(dec, context, block)
        for _ in 0..<maxTokens {
            if !repetition.isOff { repetition.apply(toLogits: logits, previous: history) }
            let next = sample(logits, vocab: c.tgtVocabSize, banned: c.neverGenerated)
            emit(next)
            context.append(next)
            if !repetition.isOff { history.append(next) }
            if dec.length >= block {
                context = Array(context.suffix(block / 2))
                logits = prefill(dec, context, block)
            } else {
                logits = dec.step([next])
            }
        }
    }

    func prefill(_ dec: IncrementalDecoder, _ tokens: [Int32], _ block: Int) -> FloatPtr {
        dec.start(rows: 1, capacity: block)
        return dec.prefill([tokens])
    }

    /// Draws one token from softmax(logits / T) restricted to the top-k and top-p set: `logits`
    /// holds `vocab` scores, ids in `banned` are never drawn, temperature 0 (or below) takes the
    /// argmax. Advances `rng`.
    public mutating func sample(_ logits: ConstFloatPtr, vocab v: Int, banned: [Int]) -> Int32 {
        var scored: [(Float, Int)] = []
        scored.reserveCapacity(v)
        let t = max(temperature, 1e-5)
        for i in 0..<v where !banned.contains(i) { scored.append((logits[i] / t, i)) }
        if temperature <= 0 { return Int32(scored.max { $0.0 < $1.0 }!.1) }
        scored.sort { $0.0 > $1.0 }
        if topK > 0 && topK < scored.count { scored.removeLast(scored.count - topK) }
        let m = scored[0].0
        var probs = scored.map { Float.exp($0.0 - m) }
        let z = probs.reduce(0, +)
        for i in probs.indices { probs[i] /= z }
        if topP < 1 {
            var cum: Float = 0, keep = probs.count
            for (i, p) in probs.enumerated() {
                cum += p
                if cum >= topP { keep = i + 1; break }
            }
            probs.removeLast(probs.count - keep)
            let z2 = probs.reduce(0, +)
            for i in probs.indices { probs[i] /= z2 }
        }
        var u = rng.nextFloat()
        for (i, p) in probs.enumerated() {
            u -= p
            if u < 0 { return Int32(scored[i].1) }
        }
        return Int32(scored[probs.count - 1].1)
    }
}

/// Turns generated ids into text as they come: pieces become UTF-8 bytes ("▁" a space, `</s>`
/// a newline for word-level vocabularies), and bytes that do not yet form a whole character wait
/// for the rest.
///
/// One value per stream: it holds the stream's pending bytes and whether a line has just begun
/// (a line's leading space is dropped).
public struct StreamingDetokenizer {
    let vocabulary: Vocabulary
    var pending: [UInt8] = []
    var atStart = true

    /// Starts a stream for ids of `vocabulary`.
    public init(vocabulary: Vocabulary) { self.vocabulary = vocabulary }

    /// Adds one generated id and returns the text it completes (possibly empty).
    ///
    /// Byte tokens and pieces are appended as UTF-8; eos becomes a newline (except for character-level
    /// vocabularies, where it is dropped); pad, bos and unknown ids are ignored. A byte-level (GPT-2)
    /// vocabulary's tokens are their bytes, and its special tokens their text (`<|endoftext|>`). An incomplete
    /// multi-byte character is held until its remaining bytes arrive.
    public mutating func push(_ id: Int32) -> String {
        if let bl = vocabulary.byteLevel {  // GPT-2's tokens are bytes; a special token is its text
            pending += bl.bytes(of: id)
            return flush(final: false)
        }
        let i = Int(id)
        if id == Vocabulary.eosId && !vocabulary.characterLevel {
            pending.append(0x0A)
            atStart = true
        } else if i >= Vocabulary.firstByteId && i < Vocabulary.firstPieceId {
            pending.append(UInt8(i - Vocabulary.firstByteId))
        } else if i >= Vocabulary.firstPieceId && i < vocabulary.count {
            var piece = vocabulary.pieces[i]
            if !vocabulary.characterLevel {
                piece = piece.replacingOccurrences(of: "\u{2581}", with: " ")
                if atStart && piece.hasPrefix(" ") { piece.removeFirst() }
            }
            atStart = false
            pending.append(contentsOf: piece.utf8)
        }
        return flush(final: false)
    }

    /// Emits the longest complete UTF-8 prefix (everything, with replacements, when `final`).
    public mutating func flush(final: Bool) -> String {
        var end = pending.count
        if !final {
            // Hold back an incomplete multi-byte sequence at the end.
            var k = pending.count - 1, back = 0
            while k >= 0 && back < 4 && pending[k] & 0xC0 == 0x80 { k -= 1; back += 1 }
            if k >= 0 {
                let lead = pending[k]
                let need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1
                if pending.count - k < need { end = k }
            }
        }
        let out = String(decoding: pending[0..<end], as: UTF8.self)
        pending.removeFirst(end)
        return out
    }
}
