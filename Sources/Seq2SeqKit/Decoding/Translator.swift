import Foundation

/// Text in, text out: normalizes and encodes source lines, sorts them by length into batches,
/// decodes each batch with beam search (greedy at beam 1) and returns detokenized outputs in input
/// order. Empty lines give empty outputs; sources longer than the model's positions are truncated.
///
/// Not thread-safe: a translator keeps one ``IncrementalDecoder`` (KV cache and scratch buffers), so
/// it must be used from one thread at a time. Translators on different threads may share one
/// ``Transformer``: each runs the encoder in its own decoder's workspace.
///
/// The settings (``search``, ``maxLenA``, ``maxLenB``, ``maxOutput``, ``batchSize``, ``sourceEOS``) can
/// be changed between calls to ``translate(_:)``.
public final class Translator {
    /// The encoder-decoder model that translates (a decoder-only model cannot: ``translate(_:)`` throws).
    public let model: Transformer
    /// Encodes the sources (``Vocabularies/source``) and decodes the hypotheses (``Vocabularies/target``).
    public let vocabularies: Vocabularies
    /// The beam search settings: beam size, length penalty and normalization, n-best.
    public var search: BeamSearch
    /// Output cap per sentence: min(maxLenA × its source length + maxLenB, max_positions - 1). Per
    /// sentence, not per batch, so that a sentence's translation does not depend on its neighbours
    /// (the cap also bounds beam search's early stop), as `seq2seq serve`'s dynamic batches need.
    public var maxLenA: Double = 2
    /// The constant term of the output cap (default 10 tokens); see ``maxLenA`` (default 2).
    public var maxLenB: Int = 10
    /// Absolute cap on generated tokens (eos included); nil: max_positions - 1.
    public var maxOutput: Int? = nil
    /// Sentences decoded together (default 32), after sorting by source length.
    ///
    /// Only speed and memory depend on it: each sentence's output cap is its own, so a sentence's
    /// translation does not depend on the other sentences of its batch.
    public var batchSize: Int = 32
    /// Sources end with </s>, as in training.
    public var sourceEOS = true
    let decoder: IncrementalDecoder

    /// One source line's translation.
    public struct Output: Sendable {
        /// The best hypothesis, detokenized (empty for an empty source).
        public var text: String
        /// The ``BeamSearch/nBest`` best hypotheses, best first: their text, their ranking score (summed
        /// log-probability divided by the length penalty, see ``BeamSearch/Hypothesis``) and summed
        /// log-probability. Empty for an empty source.
        public var hypotheses: [(text: String, score: Float, logProb: Float)]
        /// Set when the source had to be truncated to fit the model.
        public var truncatedFrom: Int?
        /// The best hypothesis's token ids (eos included when it was emitted).
        public var tokens: [Int32] = []
    }

    /// Creates a translator for an encoder-decoder model and its vocabularies.
    ///
    /// The model is not checked here; ``ModelDirectory/loadVocabularies(_:for:)`` checks that a
    /// vocabulary fits its model.
    /// - Parameters:
    ///   - model: The model; it is used, not copied.
    ///   - vocabularies: The model's source and target vocabularies.
    ///   - search: Beam search settings (default: beam 5, GNMT length penalty 1.0, 1-best).
    public init(model: Transformer, vocabularies: Vocabularies, search: BeamSearch = BeamSearch()) {
        self.model = model
        self.vocabularies = vocabularies
        self.search = search
        decoder = IncrementalDecoder(model: model)
    }

    /// Generated tokens allowed (eos included) for a source of `n` tokens (</s> included).
    func outputCap(sourceTokens n: Int) -> Int {
        let c = model.config
        return max(1, min(Int(maxLenA * Double(n) + Double(maxLenB)), maxOutput ?? c.maxPositions - 1, c.maxPositions - 1))
    }

    /// Longest source (in tokens, </s> included) the model takes.
    public var maxSourceTokens: Int { model.config.maxPositions }

    /// Translates lines of text: one ``Output`` per line, in input order.
    ///
    /// Each line is normalized and encoded with the source vocabulary, then decoded as
    /// ``translate(ids:)`` does. Empty lines (and lines that encode to no tokens) give empty outputs.
    /// - Throws: ``ModelError/invalidInput(_:)`` if the model is decoder-only, or if an encoded id is
    ///   outside the model's source vocabulary (the vocabulary is not the model's).
    public func translate(_ lines: [String]) throws -> [Output] {
        try translate(ids: lines.map { vocabularies.source.encode($0) })
    }

    /// Source token ids (without </s>) → outputs, in input order.
    ///
    /// Sources are decoded in batches of ``batchSize``, shortest first, each padded to its longest
    /// source; a source longer than ``maxSourceTokens`` (</s> included) keeps its first tokens and sets
    /// ``Output/truncatedFrom``. An empty source gives an empty output.
    /// - Throws: ``ModelError/invalidInput(_:)`` if the model is decoder-only, or if an id is outside
    ///   the model's source vocabulary.
    public func translate(ids sources: [[Int32]]) throws -> [Output] {
        let c = model.config
        var outputs = [Output](repeating: Output(text: "", hypotheses: [], truncatedFrom: nil), count: sources.count)
        var prepared: [(index: Int, ids: [Int32])] = []
        for (i, s) in sources.enumerated() where !s.isEmpty {
            var ids = s
            let limit = maxSourceTokens - (sourceEOS ? 1 : 0)
            if ids.count > limit { outputs[i].truncatedFrom = ids.count; ids = Array(ids.prefix(limit)) }
            if sourceEOS { ids.append(Int32(c.eosId)) }
            prepared.append((i, ids))
        }
        prepared.sort { $0.ids.count != $1.ids.count ? $0.ids.count < $1.ids.count : $0.index < $1.index }
        var start = 0
        while start < prepared.count {
            let chunk = prepared[start..<min(start + batchSize, prepared.count)]
            start += chunk.count
            let s = chunk.map(\.ids.count).max()!
            var src = [Int32](repeating: Int32(c.padId), count: chunk.count * s)
            for (r, item) in chunk.enumerated() { for (j, id) in item.ids.enumerated() { src[r * s + j] = id } }
            let hyps = try search.translate(model, src: src, batch: chunk.count, srcLength: s,
                                            maxLength: chunk.map { outputCap(sourceTokens: $0.ids.count) }, decoder: decoder)
            for (item, h) in zip(chunk, hyps) {
                outputs[item.index].tokens = h.first?.tokens ?? []
                let decoded = h.map { (text: vocabularies.target.decode($0.tokens), score: $0.score, logProb: $0.logProb) }
                outputs[item.index].text = decoded.first?.text ?? ""
                outputs[item.index].hypotheses = decoded
            }
        }
        return outputs
    }
}
