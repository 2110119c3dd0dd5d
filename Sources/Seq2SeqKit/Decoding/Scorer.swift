/// Scores given translations: each pair's log-probability under the model by teacher forcing
/// (Marian's `marian-scorer`, CTranslate2's `score_batch`, fairseq's `--score-reference`), batched.
/// The forward pass is the KV-cached decoder's, the one beam search runs, so scoring a translation
/// that `translate` produced gives back the log-probability it reported (without repetition control,
/// which edits the search's logits on purpose).
///
/// Not thread-safe, like ``Translator``: it keeps one ``IncrementalDecoder``.
public final class Scorer {
    /// The encoder-decoder model.
    public let model: Transformer
    /// Encodes sources and targets.
    public let vocabularies: Vocabularies
    /// The length penalty that ``Score/score`` divides by: ``BeamSearch/score(logProb:length:)``.
    public var search: BeamSearch
    /// Pairs per batch (default 64), after sorting by length.
    public var batchSize = 64
    let decoder: IncrementalDecoder

    /// One pair's score.
    public struct Score: Sendable, Equatable {
        /// Summed log-probability of the target's tokens, eos included (natural log).
        public var logProb: Float
        /// Target tokens scored (eos included).
        public var tokens: Int
        /// ``logProb`` divided by the length penalty: what `translate` ranks hypotheses by.
        public var score: Float
        /// Each target token's log-probability, eos last.
        public var tokenLogProbs: [Float]
        /// ``logProb`` / ``tokens``: the negated per-token cross-entropy (as in dual conditional
        /// cross-entropy filtering).
        public var perToken: Float { tokens > 0 ? logProb / Float(tokens) : 0 }
    }

    /// Creates a scorer; `search` supplies the length penalty (default: ``BeamSearch``'s defaults).
    public init(model: Transformer, vocabularies: Vocabularies, search: BeamSearch = BeamSearch()) {
        self.model = model
        self.vocabularies = vocabularies
        self.search = search
        decoder = IncrementalDecoder(model: model)
    }

    /// Scores line-aligned sources and targets (text, encoded with the model's vocabularies).
    /// - Throws: ``ModelError/invalidInput(_:)`` naming the pair (0-based) when the counts differ, a
    ///   source or target is longer than the model's positions, or the model is decoder-only.
    public func score(sources: [String], targets: [String]) throws -> [Score] {
        guard sources.count == targets.count else {
            throw ModelError.invalidInput("\(sources.count) sources but \(targets.count) targets; they must be line-aligned")
        }
        return try score(sourceIDs: sources.map { vocabularies.source.encode($0) },
                         targetIDs: targets.map { vocabularies.target.encode($0) })
    }

    /// Scores token ids (without eos: it is appended to both sides).
    /// - Throws: as ``score(sources:targets:)``, and for ids outside the vocabularies.
    public func score(sourceIDs: [[Int32]], targetIDs: [[Int32]]) throws -> [Score] {
        let c = model.config
        guard !c.isDecoderOnly else { throw ModelError.invalidInput("a language model has no sources to score against; use `seq2seq perplexity`") }
        guard sourceIDs.count == targetIDs.count else {
            throw ModelError.invalidInput("\(sourceIDs.count) sources but \(targetIDs.count) targets; they must be line-aligned")
        }
        let eos = Int32(c.eosId)
        for (i, (s, t)) in zip(sourceIDs, targetIDs).enumerated() {
            if s.count + 1 > c.maxPositions {
                throw ModelError.invalidInput("pair \(i): the source has \(s.count + 1) tokens with </s>; the model reads at most \(c.maxPositions)")
            }
            if t.count + 1 > c.maxPositions - 1 {
                throw ModelError.invalidInput("pair \(i): the target has \(t.count + 1) tokens with </s>; the model writes at most \(c.maxPositions - 1)")
            }
            if let bad = t.first(where: { $0 < 0 || Int($0) >= c.tgtVocabSize }) {
                throw ModelError.invalidInput("pair \(i): target token id \(bad) is outside the target vocabulary (0..<\(c.tgtVocabSize))")
            }
        }
        let order = sourceIDs.indices.sorted {
            let a = sourceIDs[$0].count + targetIDs[$0].count, b = sourceIDs[$1].count + targetIDs[$1].count
            return a != b ? a < b : $0 < $1
        }
        var scores = [Score?](repeating: nil, count: sourceIDs.count)
        var start = 0
        while start < order.count {
            let chunk = Array(order[start..<min(start + batchSize, order.count)])
            start += chunk.count
            let results = try ForcedDecoding.run(model, decoder: decoder, sources: chunk.map { sourceIDs[$0] + [eos] },
                                                 targets: chunk.map { targetIDs[$0] + [eos] })
            for (i, r) in zip(chunk, results) {
                scores[i] = Score(logProb: r.sum, tokens: r.logProbs.count, score: search.score(logProb: r.sum, length: r.logProbs.count),
                                  tokenLogProbs: r.logProbs)
            }
        }
        return scores.map { $0! }
    }
}
