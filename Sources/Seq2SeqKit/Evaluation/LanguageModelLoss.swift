import Foundation

/// A language model's mean token loss (nats) and perplexity on a text: the token stream (encoded as
/// `train --lm` and `prepare --lm` encode it) is cut into consecutive blocks of `block` + 1 tokens
/// that overlap by one, so every token after the first is predicted once, from up to `block`
/// tokens of its own block.
public enum LanguageModelLoss {
    /// The evaluation's outcome.
    public struct Result: Sendable {
        /// Mean loss per predicted token (nats), the number of tokens predicted, and the wall-clock time.
        public let loss: Double, tokens: Int, seconds: Double
        /// exp(loss).
        public var perplexity: Double { exp(loss) }
    }

    /// The ids of a text, line by line, as the LM corpora hold them.
    public static func encode(lines: [String], vocabulary v: Vocabulary) -> [Int32] {
        Array(v.encodeTextLines(lines).joined())
    }

    /// Runs the model over `tokens` in blocks of `block` tokens, `batch` blocks at a time, without dropout.
    ///
    /// Uses the model's own workspaces: not to be run while the model trains or evaluates elsewhere.
    /// - Throws: ``ModelError/invalidInput(_:)`` if the model has an encoder, `block` is not in
    ///   1...max_positions, the text has fewer than 2 tokens, or an id is outside the vocabulary.
    public static func evaluate(_ model: Transformer, tokens: [Int32], block: Int, batch: Int = 16) throws -> Result {
        guard model.config.isDecoderOnly else { throw ModelError.invalidInput("the model is not a language model (it has an encoder)") }
        guard block >= 1, block <= model.config.maxPositions else {
            throw ModelError.invalidInput("a block of \(block) tokens does not fit the model's \(model.config.maxPositions) positions")
        }
        guard tokens.count >= 2 else { throw ModelError.invalidInput("the text has fewer than 2 tokens") }
        let t0 = Date()
        var starts: [Int] = []
        var s = 0
        while s + 1 < tokens.count { starts.append(s); s += block }
        var sum = 0.0, count = 0
        var rng = RNG(seed: 0)
        var i = 0
        while i < starts.count {
            let group = starts[i..<min(starts.count, i + batch)]
            // Blocks shorter than `block` (the last) are padded; padded labels do not count.
            let t = group.map { min(block, tokens.count - 1 - $0) }.max()!
            var x = [Int32](repeating: Int32(model.config.padId), count: group.count * t), y = x
            for (r, st) in group.enumerated() {
                let n = min(t, tokens.count - 1 - st)
                for k in 0..<n { x[r * t + k] = tokens[st + k]; y[r * t + k] = tokens[st + k + 1] }
            }
            try model.forward(Batch(batchSize: group.count, srcLength: 0, tgtLength: t, src: [], tgtIn: x, tgtOut: y),
                              training: false, logitRows: .labelled, rng: &rng)
            let l = model.loss(smoothing: 0, computeGradient: false)
            sum += l.sum; count += l.count
            i += batch
        }
        return Result(loss: sum / Double(max(1, count)), tokens: count, seconds: Date().timeIntervalSince(t0))
    }
}
