import Foundation

/// One text to translate, with what steers its translation.
public struct TranslationInput: Sendable, Hashable {
    /// The source text: a sentence, or (with ``Translator/splitSentences``) any text.
    public var text: String
    /// Target text the translation must start with (CTranslate2's `target_prefix`); nil or empty:
    /// none. When the text is translated in several sentences, the prefix starts the first one.
    public var targetPrefix: String?
    /// Target phrases the translation must contain (lexically constrained decoding, see
    /// ``BeamSearch/translate(_:src:batch:srcLength:maxLength:prefixes:constraints:decoder:)``).
    public var constraints: [Constraint] = []

    /// A phrase the translation must contain; with a source term, a glossary entry.
    public struct Constraint: Sendable, Hashable {
        /// The target phrase.
        public var target: String
        /// The source term it translates, or nil. When a text is translated in several parts
        /// (sentences), a constraint with a source term applies to the first part that holds the
        /// term as whole words, and is dropped when no part does; one without applies to the first part.
        public var source: String?

        /// A constraint (`source` nil) or a glossary entry.
        public init(_ target: String, source: String? = nil) {
            self.target = target
            self.source = source
        }
    }

    /// Creates an input.
    public init(_ text: String, targetPrefix: String? = nil, constraints: [Constraint] = []) {
        self.text = text
        self.targetPrefix = targetPrefix
        self.constraints = constraints
    }

    /// The glossary entries (source term → target phrase) whose source term occurs in `text` as
    /// whole words (case-sensitive), as constraints; longer terms first, so that a term inside a
    /// longer matched one is not added again.
    public static func glossaryConstraints(_ glossary: [String: String], in text: String) -> [Constraint] {
        var out: [Constraint] = []
        var covered: [Range<String.Index>] = []
        for (source, target) in glossary.sorted(by: { $0.key.count != $1.key.count ? $0.key.count > $1.key.count : $0.key < $1.key }) {
            guard let r = wholeWords(source, in: text), !covered.contains(where: { $0.overlaps(r) }) else { continue }
            covered.append(r)
            out.append(Constraint(target, source: source))
        }
        return out
    }

    /// The first range of `term` in `text` that starts and ends at word boundaries.
    static func wholeWords(_ term: String, in text: String) -> Range<String.Index>? {
        guard !term.isEmpty else { return nil }
        var from = text.startIndex
        while let r = text.range(of: term, range: from..<text.endIndex) {
            let before = r.lowerBound == text.startIndex || !(text[text.index(before: r.lowerBound)].isLetter || text[text.index(before: r.lowerBound)].isNumber)
            let after = r.upperBound == text.endIndex || !(text[r.upperBound].isLetter || text[r.upperBound].isNumber)
            if before && after { return r }
            from = text.index(after: r.lowerBound)
        }
        return nil
    }
}

/// Text in, text out: normalizes and encodes source lines, sorts them by length into batches,
/// decodes each batch with beam search (greedy at beam 1) and returns detokenized outputs in input
/// order. Empty lines give empty outputs. Nothing is truncated: a source longer than the model's
/// positions is split into its sentences (ICU), and a sentence that is still too long into runs of
/// whole words; the parts are translated in the same batches and joined back with the whitespace
/// between them. With ``splitSentences`` every text is split into sentences that way.
///
/// Not thread-safe: a translator keeps one ``IncrementalDecoder`` (KV cache and scratch buffers), so
/// it must be used from one thread at a time. Translators on different threads may share one
/// ``Transformer``: each runs the encoder in its own decoder's workspace.
///
/// The settings (``search``, ``maxLenA``, ``maxLenB``, ``maxOutput``, ``batchSize``, ``sourceEOS``,
/// ``splitSentences``, ``sentenceSplitter``, ``alignments``) can be changed between calls to `translate`.
public final class Translator {
    /// The encoder-decoder model that translates (a decoder-only model cannot: `translate` throws).
    public let model: Transformer
    /// Encodes the sources (``Vocabularies/source``) and decodes the hypotheses (``Vocabularies/target``).
    public let vocabularies: Vocabularies
    /// The beam search settings: beam size, length penalty and normalization, n-best.
    public var search: BeamSearch
    /// Output cap per sentence: min(maxLenA × its source length + maxLenB, max_positions - 1). Per
    /// sentence, not per batch, so that a sentence's translation does not depend on its neighbours
    /// (the cap also bounds beam search's early stop), as `seq2seq serve`'s dynamic batches need.
    /// A target prefix raises the cap to its length plus maxLenB when that is more (still within
    /// max_positions - 1).
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
    /// Split every text into sentences (``sentenceSplitter``) and translate them one by one, in one
    /// batch, joining the translations with the whitespace that separated the sentences (default
    /// false: a text is one sentence unless it is too long for the model).
    public var splitSentences = false
    /// The sentence rules: ICU's for the source language (default: ICU's root rules).
    public var sentenceSplitter = SentenceSplitter()
    /// Compute each output's word ``Output/alignments`` (default false): one more teacher-forced
    /// decoder pass over the best hypotheses.
    public var alignments = false
    let decoder: IncrementalDecoder

    /// One source text's translation.
    public struct Output: Sendable {
        /// The best hypothesis, detokenized (empty for an empty source).
        public var text: String
        /// The ``BeamSearch/nBest`` best hypotheses, best first: their text, their ranking score (summed
        /// log-probability divided by the length penalty, see ``BeamSearch/Hypothesis``) and summed
        /// log-probability. Empty for an empty source. A text translated in several parts has the
        /// parts' k-th hypotheses joined (a part's best where it has fewer), with summed scores.
        public var hypotheses: [(text: String, score: Float, logProb: Float)]
        /// Set to the source's token count when it was longer than the model's positions and so was
        /// translated in parts (``parts``).
        public var splitFrom: Int?
        /// Each of ``hypotheses``' token ids (eos included when it was emitted), best first; a text in
        /// several parts has the parts' k-th hypotheses one after the other (a part's best where it has fewer).
        public var hypothesisTokens: [[Int32]] = []
        /// The best hypothesis's token ids (the first of ``hypothesisTokens``; empty for an empty source).
        public var tokens: [Int32] { hypothesisTokens.first ?? [] }
        /// How many parts (sentences, or runs of words of an over-long sentence) the text was
        /// translated in: 1 for an ordinary sentence, 0 for an empty text.
        public var parts = 0
        /// Word alignment of the source text and ``text`` (see ``WordAlignment``), when
        /// ``Translator/alignments`` is set; otherwise empty.
        public var alignments: [WordAlignment] = []

        /// An output made elsewhere (to render with ``HTMLText/rendered(with:)``, say): one hypothesis,
        /// `text`, with score 0, translated in one part.
        public init(text: String, alignments: [WordAlignment] = []) {
            self.text = text
            self.hypotheses = [(text: text, score: 0, logProb: 0)]
            self.parts = 1
            self.alignments = alignments
        }

        init(text: String, hypotheses: [(text: String, score: Float, logProb: Float)], parts: Int = 0) {
            self.text = text
            self.hypotheses = hypotheses
            self.parts = parts
        }
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

    /// Generated tokens allowed (eos included) for a source of `n` tokens (</s> included) and a target
    /// prefix of `p` tokens.
    func outputCap(sourceTokens n: Int, prefix p: Int = 0) -> Int {
        let c = model.config
        let wanted = max(Int(maxLenA * Double(n) + Double(maxLenB)), p > 0 ? p + max(1, maxLenB) : 0)
        return max(1, min(wanted, maxOutput.map { max($0, p + 1) } ?? c.maxPositions - 1, c.maxPositions - 1))
    }

    /// Longest source (in tokens, </s> included) the model takes.
    public var maxSourceTokens: Int { model.config.maxPositions }

    /// Translates lines of text: one ``Output`` per line, in input order.
    ///
    /// Each line is normalized and encoded with the source vocabulary, then decoded as
    /// ``translate(ids:prefixes:)`` does. Empty lines (and lines that encode to no tokens) give empty outputs.
    /// - Throws: ``ModelError/invalidInput(_:)`` if the model is decoder-only, or if an encoded id is
    ///   outside the model's source vocabulary (the vocabulary is not the model's).
    public func translate(_ lines: [String]) throws -> [Output] {
        try translate(lines.map { TranslationInput($0) })
    }

    /// One piece of source decoded on its own: a whole text, one of its sentences, or a run of
    /// words of an over-long sentence.
    struct Part {
        var input: Int
        var ids: [Int32]
        var prefix: [Int32]
        /// Target phrases this part's translation must contain.
        var constraints: [[Int32]] = []
        /// Whitespace written after this part's translation.
        var joiner: String
        /// Space-separated source words before this part in its text (for alignments).
        var sourceWordOffset: Int
    }

    /// Translates texts with their target prefixes: one ``Output`` per input, in input order.
    /// - Throws: ``ModelError/invalidInput(_:)`` if the model is decoder-only, an encoded id is
    ///   outside the model's source vocabulary, or a target prefix is longer than the model can write
    ///   (the message names the input, 0-based).
    public func translate(_ inputs: [TranslationInput]) throws -> [Output] {
        let limit = maxSourceTokens - (sourceEOS ? 1 : 0)
        var outputs = [Output](repeating: Output(text: "", hypotheses: []), count: inputs.count)
        var leading = [String](repeating: "", count: inputs.count)
        var parts: [Part] = []
        for (i, input) in inputs.enumerated() {
            let whole = vocabularies.source.encode(input.text)
            var pieces: [(ids: [Int32], trailing: String, text: String)]
            if splitSentences || whole.count > limit {
                let (lead, sentences) = sentenceSplitter.split(input.text)
                leading[i] = String(lead)
                pieces = sentences.map { (vocabularies.source.encode($0.text), $0.trailing, $0.text) }
                if whole.count > limit { outputs[i].splitFrom = whole.count + (sourceEOS ? 1 : 0) }
            } else {
                pieces = whole.isEmpty ? [] : [(whole, "", input.text)]
            }
            var prefix = input.targetPrefix.map { vocabularies.target.encode($0) } ?? []
            if !prefix.isEmpty && prefix.count + 1 > model.config.maxPositions - 1 {
                throw ModelError.invalidInput("input \(i): the target prefix has \(prefix.count) tokens; the model writes at most \(model.config.maxPositions - 2) before </s>")
            }
            // Each constraint goes to the first piece with its source term (or the first piece).
            var constraintsOf = [[[Int32]]](repeating: [], count: pieces.count)
            for constraint in input.constraints {
                let ids = vocabularies.target.encode(constraint.target)
                guard !ids.isEmpty else { continue }
                let at = constraint.source.map { term in pieces.firstIndex { !$0.ids.isEmpty && Self.hasWords(term, $0.text) } }
                    ?? pieces.firstIndex { !$0.ids.isEmpty }
                if let at { constraintsOf[at].append(ids) }
            }
            for (p, list) in constraintsOf.enumerated() {
                if list.count > BeamSearch.maxConstraints {
                    throw ModelError.invalidInput("input \(i): \(list.count) constraint phrases in one sentence; at most \(BeamSearch.maxConstraints)")
                }
                let forcedTokens = list.reduce(0) { $0 + $1.count } + (p == 0 ? prefix.count : 0)
                if forcedTokens + 1 > model.config.maxPositions - 1 {
                    throw ModelError.invalidInput("input \(i): the constraints (and prefix) have \(forcedTokens) tokens; the model writes at most \(model.config.maxPositions - 2) before </s>")
                }
            }
            var words = 0
            for (p, (ids, trailing, _)) in pieces.enumerated() where !ids.isEmpty {
                let runs = Self.wordRuns(ids, limit: limit, vocabulary: vocabularies.source)
                for (r, run) in runs.enumerated() {
                    parts.append(Part(input: i, ids: run, prefix: prefix, constraints: r == 0 ? constraintsOf[p] : [],
                                      joiner: r == runs.count - 1 ? trailing : " ", sourceWordOffset: words))
                    prefix = []
                    words += (WordAlignment.wordIndices(run, vocabularies.source).compactMap { $0 }.last ?? -1) + 1
                }
            }
        }
        try assemble(parts, into: &outputs, leading: leading)
        return outputs
    }

    /// Translates `parts` and writes each text's output: its leading whitespace, then each part's
    /// translation followed by the part's joiner; n-best lists, scores, tokens and alignments (word
    /// indices shifted past the earlier parts) add up likewise.
    private func assemble(_ parts: [Part], into outputs: inout [Output], leading: [String]) throws {
        let results = try translate(parts: parts)
        // Words written so far per output (alignment offsets), counted as parts arrive: re-counting
        // the text, or copying it, per part would make a text of many parts quadratic.
        var targetWords = [Int](repeating: 0, count: outputs.count)
        func words(_ s: String) -> Int { s.split(whereSeparator: \.isWhitespace).count }
        for (part, result) in zip(parts, results) {
            let i = part.input
            if outputs[i].parts == 0 {
                outputs[i].text = leading[i]
                outputs[i].hypotheses = result.hypotheses.map { (text: leading[i] + $0.text, score: $0.score, logProb: $0.logProb) }
            } else {
                for k in outputs[i].hypotheses.indices {
                    let h = result.hypotheses.isEmpty ? (text: "", score: Float(0), logProb: Float(0))
                        : result.hypotheses[min(k, result.hypotheses.count - 1)]
                    outputs[i].hypotheses[k].text += h.text
                    outputs[i].hypotheses[k].score += h.score
                    outputs[i].hypotheses[k].logProb += h.logProb
                }
            }
            let offset = targetWords[i]
            outputs[i].alignments += result.alignments.map {
                WordAlignment(source: $0.source + part.sourceWordOffset, target: $0.target + offset)
            }
            targetWords[i] += words(result.text)
            outputs[i].text += result.text
            outputs[i].text += part.joiner
            for k in outputs[i].hypotheses.indices { outputs[i].hypotheses[k].text += part.joiner }
            if outputs[i].hypothesisTokens.isEmpty {
                outputs[i].hypothesisTokens = result.hypothesisTokens
            } else {
                for k in outputs[i].hypothesisTokens.indices where !result.hypothesisTokens.isEmpty {
                    outputs[i].hypothesisTokens[k] += result.hypothesisTokens[min(k, result.hypothesisTokens.count - 1)]
                }
            }
            outputs[i].parts += 1
        }
    }

    static func hasWords(_ term: String, _ text: String) -> Bool { TranslationInput.wholeWords(term, in: text) != nil }

    /// Splits `ids` into runs of at most `limit` tokens, cutting before a word's first piece where
    /// one is in reach (a single word longer than `limit` is cut inside): how a sentence too long
    /// for the model is translated.
    public static func wordRuns(_ ids: [Int32], limit: Int, vocabulary: Vocabulary) -> [[Int32]] {
        guard ids.count > limit else { return [ids] }
        let words = WordAlignment.wordIndices(ids, vocabulary)
        var runs: [[Int32]] = []
        var start = 0
        while ids.count - start > limit {
            var cut = start + limit
            // Back off to the start of the word the cut falls in, unless that word began this run.
            var j = cut
            while j > start + 1, words[j] == nil || words[j] == words[j - 1] { j -= 1 }
            if j > start + 1 { cut = j }
            runs.append(Array(ids[start..<cut]))
            start = cut
        }
        runs.append(Array(ids[start...]))
        return runs
    }

    /// Source token ids (without </s>) → outputs, in input order.
    ///
    /// Sources are decoded in batches of ``batchSize``, shortest first, each padded to its longest
    /// source; a source longer than ``maxSourceTokens`` (</s> included) is translated in runs of
    /// words (``Output/splitFrom``). An empty source gives an empty output.
    /// - Parameters:
    ///   - sources: Source token ids, one list per sentence (no </s>: it is appended).
    ///   - prefixes: Target prefixes as token ids (no bos or eos), one per source, or nil.
    /// - Throws: ``ModelError/invalidInput(_:)`` if the model is decoder-only, an id is outside
    ///   the model's source vocabulary, or a prefix holds a special token or is too long.
    public func translate(ids sources: [[Int32]], prefixes: [[Int32]]? = nil) throws -> [Output] {
        let limit = maxSourceTokens - (sourceEOS ? 1 : 0)
        var parts: [Part] = []
        var outputs = [Output](repeating: Output(text: "", hypotheses: []), count: sources.count)
        for (i, s) in sources.enumerated() where !s.isEmpty {
            let runs = Self.wordRuns(s, limit: limit, vocabulary: vocabularies.source)
            if runs.count > 1 { outputs[i].splitFrom = s.count + (sourceEOS ? 1 : 0) }
            var words = 0
            for (r, run) in runs.enumerated() {
                parts.append(Part(input: i, ids: run, prefix: r == 0 ? prefixes?[i] ?? [] : [], joiner: r == runs.count - 1 ? "" : " ",
                                  sourceWordOffset: words))
                words += (WordAlignment.wordIndices(run, vocabularies.source).compactMap { $0 }.last ?? -1) + 1
            }
        }
        try assemble(parts, into: &outputs, leading: [String](repeating: "", count: sources.count))
        return outputs
    }

    /// Decodes parts (each within the model's positions) in batches sorted by length: one output
    /// per part, with ``Output/parts`` 1.
    func translate(parts: [Part]) throws -> [Output] {
        let c = model.config
        var outputs = [Output](repeating: Output(text: "", hypotheses: [], parts: 1), count: parts.count)
        var prepared: [(index: Int, ids: [Int32])] = []
        for (i, p) in parts.enumerated() {
            prepared.append((i, sourceEOS ? p.ids + [Int32(c.eosId)] : p.ids))
        }
        // Parts with constraints are searched apart from the others (the search is chosen per batch).
        let constrained = { (i: Int) in !parts[i].constraints.isEmpty }
        prepared.sort {
            if constrained($0.index) != constrained($1.index) { return !constrained($0.index) }
            return $0.ids.count != $1.ids.count ? $0.ids.count < $1.ids.count : $0.index < $1.index
        }
        var start = 0
        while start < prepared.count {
            var end = min(start + batchSize, prepared.count)
            if let cut = (start..<end).first(where: { constrained(prepared[$0].index) != constrained(prepared[start].index) }) { end = cut }
            let chunk = prepared[start..<end]
            start += chunk.count
            let s = chunk.map(\.ids.count).max()!
            var src = [Int32](repeating: Int32(c.padId), count: chunk.count * s)
            for (r, item) in chunk.enumerated() { for (j, id) in item.ids.enumerated() { src[r * s + j] = id } }
            let prefixes = chunk.map { parts[$0.index].prefix }, constraints = chunk.map { parts[$0.index].constraints }
            // Room for the prefix and every constraint phrase.
            let forcedTokens = zip(prefixes, constraints).map { $0.count + $1.reduce(0) { $0 + $1.count } }
            let hyps = try search.translate(model, src: src, batch: chunk.count, srcLength: s,
                                            maxLength: zip(chunk, forcedTokens).map { outputCap(sourceTokens: $0.ids.count, prefix: $1) },
                                            prefixes: prefixes.allSatisfy(\.isEmpty) ? nil : prefixes,
                                            constraints: constraints.allSatisfy(\.isEmpty) ? nil : constraints, decoder: decoder)
            for (item, h) in zip(chunk, hyps) {
                outputs[item.index].hypothesisTokens = h.map(\.tokens)
                let decoded = h.map { (text: vocabularies.target.decode($0.tokens), score: $0.score, logProb: $0.logProb) }
                outputs[item.index].text = decoded.first?.text ?? ""
                outputs[item.index].hypotheses = decoded
            }
            if alignments {
                let items = Array(chunk)
                let forced = try ForcedDecoding.run(model, decoder: decoder, sources: items.map(\.ids),
                                                    targets: items.map { outputs[$0.index].tokens.isEmpty ? [Int32(c.eosId)] : outputs[$0.index].tokens },
                                                    attentionLayer: c.decoderLayers - 1)
                for (item, f) in zip(items, forced) {
                    outputs[item.index].alignments = WordAlignment.links(attention: f.attention, source: item.ids,
                                                                        target: outputs[item.index].tokens, vocabularies: vocabularies,
                                                                        eos: Int32(c.eosId))
                }
            }
        }
        return outputs
    }
}
