/// Teacher forcing on the KV-cached decoder that translation uses: each target is fed token by
/// token ([bos] + target without its last token), and each step's logits give the log-probability of
/// the target token it must produce. Run on the same decoder, step for step, as beam search, so a
/// translation's score here is the one search computed. Optionally records each target token's
/// cross-attention of one decoder layer, averaged over heads (the word alignment's raw material).
///
/// Dims: B pairs, S padded source length, T longest target (eos included), V target vocabulary.
struct ForcedDecoding {
    /// One pair's result.
    struct Result {
        /// log p(target[t] | source, target[..<t]), one per target token (eos included).
        var logProbs: [Float]
        /// Their sum, accumulated in beam search's order ((sum + logit) - log-normalizer), so that it is
        /// bit for bit the log-probability search reports for the same tokens on the same batch.
        var sum: Float = 0
        /// [T][source length, eos included]: the layer's cross-attention over source tokens, averaged
        /// over heads, for each target token; empty unless requested.
        var attention: [[Float]]
    }

    /// Scores `targets` (ids ending in eos) given `sources` (ids ending in eos); both at most
    /// max_positions long, checked by the caller. `attentionLayer`: the decoder layer whose
    /// cross-attention to record, or nil.
    static func run(_ model: Transformer, decoder dec: IncrementalDecoder, sources: [[Int32]], targets: [[Int32]],
                    attentionLayer: Int? = nil) throws -> [Result] {
        let c = model.config, v = c.tgtVocabSize, b = sources.count
        guard b > 0 else { return [] }
        let s = sources.map(\.count).max()!, t = targets.map(\.count).max()!
        var src = [Int32](repeating: Int32(c.padId), count: b * s)
        for (r, ids) in sources.enumerated() { for (j, id) in ids.enumerated() { src[r * s + j] = id } }
        let (memory, valid) = try model.encode(src: src, batch: b, length: s, workspace: dec.encoderWorkspace)
        dec.start(rows: b, capacity: max(t, 1), memory: memory, sourceLength: s, sourceValid: valid)
        var results = targets.map { _ in Result(logProbs: [], attention: []) }
        var step = 0
        if let layer = attentionLayer {
            let heads = Float(c.nHeads)
            var sums = [[Float]](repeating: [Float](repeating: 0, count: s), count: b)
            dec.attentionObserver = { l, cross, row, head, probs in
                guard cross, l == layer, step < targets[row].count else { return }
                for j in 0..<sources[row].count { sums[row][j] += probs[j] / heads }
                if head == c.nHeads - 1 {
                    results[row].attention.append(Array(sums[row].prefix(sources[row].count)))
                    for j in 0..<s { sums[row][j] = 0 }
                }
            }
        }
        defer { dec.attentionObserver = nil }
        for i in 0..<t {
            step = i
            let logits = dec.step(targets.map { i == 0 ? Int32(c.bosId) : ($0.count >= i ? $0[i - 1] : Int32(c.padId)) })
            collect(logits, step: i, targets: targets, vocabulary: v, into: &results)
        }
        return results
    }

    /// Appends log p(targets[r][step]) from the logits [B, V] of each row still inside its target.
    private static func collect(_ logits: FloatPtr, step: Int, targets: [[Int32]], vocabulary v: Int, into results: inout [Result]) {
        for (r, target) in targets.enumerated() where step < target.count {
            let row = logits + r * v
            let logit = row[Int(target[step])], lse = logSumExp(row, v)
            results[r].logProbs.append(logit - lse)
            results[r].sum = results[r].sum + logit - lse
        }
    }
}
