/// A request ``GreedyDecoder/complete(_:prompts:maxLength:)`` cannot serve; the message says why.
public enum GenerationError: Error, CustomStringConvertible, Equatable {
    /// The prompts or the output cap are unusable; the message says which and why.
    case prompts(String)
    /// The error message.
    public var description: String {
        switch self { case .prompts(let m): return m }
    }
}

/// Greedy decoding as the spec's fixtures define it: each row starts with `bos` (encoder-decoder) or
/// its prompt (decoder-only) and grows by the argmax token, never `pad` or `bos`, until it emits
/// `eos` (kept) or holds `maxLength` tokens; a finished row is filled with `pad`.
///
/// Each call creates or takes one ``IncrementalDecoder``; a decoder must not be shared between threads.
public enum GreedyDecoder {
    /// Encoder-decoder: src [B, S] (padded with pad_id) → tokens [B, maxLength].
    ///
    /// Each returned row starts with bos, and `maxLength` counts it.
    /// - Parameters:
    ///   - model: The encoder-decoder model.
    ///   - src: Source ids [B, S], row-major.
    ///   - b: The number of sentences B.
    ///   - s: The padded source length S.
    ///   - maxLength: Tokens per output row, bos included; at most max_positions.
    ///   - decoder: A decoder of `model` to reuse; nil creates one.
    /// - Throws: ``ModelError/invalidInput(_:)`` if the model is decoder-only, a source id is outside the
    ///   source vocabulary, or S exceeds max_positions.
    public static func translate(_ model: Transformer, src: [Int32], batch b: Int, srcLength s: Int,
                                 maxLength: Int, decoder: IncrementalDecoder? = nil) throws -> [[Int32]] {
        let dec = decoder ?? IncrementalDecoder(model: model)
        let (memory, valid) = try model.encode(src: src, batch: b, length: s, workspace: dec.encoderWorkspace)
        dec.start(rows: b, capacity: maxLength, memory: memory, sourceLength: s, sourceValid: valid)
        let start = [[Int32]](repeating: [Int32(model.config.bosId)], count: b)
        return run(dec, prefixes: start, maxLength: maxLength)
    }

    /// Decoder-only: prompts of equal length → tokens [B, maxLength], the prompt included.
    /// - Throws: ``GenerationError/prompts(_:)`` if the prompts are empty or of different lengths,
    ///   if `maxLength` exceeds max_positions or does not exceed the prompt length, or if a prompt id is
    ///   outside the vocabulary.
    public static func complete(_ model: Transformer, prompts: [[Int32]], maxLength: Int) throws -> [[Int32]] {
        let plen = prompts.first?.count ?? 0
        guard plen > 0, prompts.allSatisfy({ $0.count == plen }) else {
            throw GenerationError.prompts("prompts must be non-empty and of one length (got lengths \(Set(prompts.map(\.count)).sorted()))")
        }
        guard maxLength <= model.config.maxPositions, plen < maxLength else {
            throw GenerationError.prompts("prompts of \(plen) tokens and an output cap of \(maxLength) must fit the model's \(model.config.maxPositions) positions")
        }
        for p in prompts { for id in p where id < 0 || Int(id) >= model.config.tgtVocabSize {
            throw GenerationError.prompts("token id \(id) is not in the model's vocabulary (0..<\(model.config.tgtVocabSize))")
        } }
        let dec = IncrementalDecoder(model: model)
        dec.start(rows: prompts.count, capacity: maxLength)
        return run(dec, prefixes: prompts, maxLength: maxLength)
    }

    static func run(_ dec: IncrementalDecoder, prefixes: [[Int32]], maxLength: Int) -> [[Int32]] {
        let c = dec.model.config, v = c.tgtVocabSize, b = prefixes.count
        let pad = Int32(c.padId), eos = Int32(c.eosId), banned = c.neverGenerated
        var rows = prefixes
        var done = [Bool](repeating: false, count: b)
        let plen = prefixes.map(\.count).max() ?? 0
        precondition(prefixes.allSatisfy { $0.count == plen && plen > 0 }, "prefixes must share a positive length")
        // Feed the prefix; the logits after its last token choose the first new token.
        var logits = dec.prefill(rows)
        while rows[0].count < maxLength && !done.allSatisfy({ $0 }) {
            var next = [Int32](repeating: pad, count: b)
            for r in 0..<b where !done[r] {
                let row = logits + r * v
                var best = -Float.infinity, arg = 0
                for j in 0..<v where !banned.contains(j) && row[j] > best { best = row[j]; arg = j }
                next[r] = Int32(arg)
            }
            for r in 0..<b {
                rows[r].append(next[r])
                if next[r] == eos { done[r] = true }
            }
            if rows[0].count < maxLength && !done.allSatisfy({ $0 }) { logits = dec.step(next) }
        }
        return rows.map { $0 + [Int32](repeating: pad, count: maxLength - $0.count) }
    }
}
