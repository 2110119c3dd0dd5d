import RealModule

/// Batched beam search over the KV-cached decoder (fairseq-style): each step extends every live
/// hypothesis by every token, keeps the 2k best candidates per sentence, finalizes those that end
/// in `eos` among the k best, and keeps k live ones. A sentence is done when k hypotheses are
/// finished, or when no live hypothesis can still beat the worst finished one. Finished sentences
/// leave the batch (their cache rows are dropped). With k = 1 this is exactly greedy decoding.
/// Scores are summed log-probabilities divided by a length penalty: GNMT's ((5 + len) / 6)^α by
/// default, or len^α as in fairseq, Marian and CTranslate2 (len counts eos).
public struct BeamSearch: Sendable {
    /// The length penalty that a hypothesis's summed log-probability is divided by for ranking
    /// (``BeamSearch/Style/fairseq`` only).
    public enum LengthNormalization: String, Sendable, CaseIterable {
        /// ((5 + len) / 6)^α (Wu et al. 2016; Joey NMT, OpenNMT).
        case gnmt
        /// len^α (fairseq's --lenpen, Marian's --normalize, CTranslate2's length_penalty).
        case power
    }

    /// Which beam search: fairseq's (the default) or Hugging Face's `generate` (`huggingface`).
    public enum Style: String, Sendable, CaseIterable {
        /// Finished hypotheses are the first k to end; stop when k have ended or none can improve.
        case fairseq
        /// transformers' `generate(num_beams=k, early_stopping=False)`: ended hypotheses compete for
        /// k slots by score; a sentence stops once all slots are full and the best live hypothesis,
        /// normalized by its current length, scores no better than the worst slot.
        case huggingface
    }

    /// Constraint phrases one sentence may have.
    public static let maxConstraints = 64
    /// The beam size of `translate`, `serve` and every other decoder when none is given.
    public static let defaultBeam = 5

    /// Hypotheses kept per sentence (k, default ``defaultBeam``); 1 is greedy decoding. The initializer clamps it to at least 1.
    public var beam: Int = BeamSearch.defaultBeam
    /// Whose beam search to run (default ``Style/fairseq``); not an initializer parameter: set it afterwards.
    public var style: Style = .fairseq
    /// The length penalty's exponent α (default 1.0); 0 ranks by summed log-probability alone.
    public var lengthPenalty: Float = 1.0
    /// The length penalty's form (default ``LengthNormalization/gnmt``); ignored by ``Style/huggingface``,
    /// which always uses len^α.
    public var normalization: LengthNormalization = .gnmt
    /// Hypotheses returned per sentence (≤ beam).
    public var nBest: Int = 1
    /// The repetition penalty and the n-gram ban (default: off); not an initializer parameter: set it afterwards.
    public var repetition = RepetitionControl()

    /// Creates search settings; `beam` is clamped to at least 1 and `nBest` to 1...`beam`.
    ///
    /// ``style`` starts as ``Style/fairseq``.
    public init(beam: Int = BeamSearch.defaultBeam, lengthPenalty: Float = 1.0, normalization: LengthNormalization = .gnmt, nBest: Int = 1) {
        self.beam = max(1, beam); self.lengthPenalty = lengthPenalty; self.normalization = normalization
        self.nBest = max(1, min(nBest, max(1, beam)))
    }

    /// One finished (or, at the length cap, cut) translation of a sentence.
    public struct Hypothesis: Sendable, Equatable {
        /// Generated tokens (without bos; with eos when it was emitted).
        public var tokens: [Int32]
        /// Sum of token log-probabilities.
        public var logProb: Float
        /// logProb divided by the length penalty (the ranking score).
        public var score: Float
    }

    /// The ranking score of a hypothesis of `length` tokens (eos included) with summed log-probability
    /// `logProb`, as this search computes it: logProb divided by the length penalty of ``normalization``
    /// (``Style/huggingface``: always length^α).
    public func score(logProb: Float, length: Int) -> Float {
        if style == .huggingface { return logProb / Float(Double.pow(Double(length), Double(lengthPenalty))) }
        return logProb / penalty(length)
    }

    func penalty(_ length: Int) -> Float {
        if lengthPenalty == 0 { return 1 }
        switch normalization {
        case .gnmt: return Float.pow((5 + Float(length)) / 6, lengthPenalty)
        case .power: return Float.pow(Float(max(1, length)), lengthPenalty)
        }
    }

    /// Decodes a padded source batch src [B, S]; `maxLength[b]` caps the generated tokens (eos included).
    /// Returns the n-best hypotheses of each sentence, best first.
    /// - Parameters:
    ///   - model: An encoder-decoder model.
    ///   - src: Source ids [B, S], row-major, each row padded with the model's pad id (and usually ending in eos).
    ///   - b: The number of sentences B.
    ///   - s: The padded source length S (at most max_positions).
    ///   - maxLength: B caps on generated tokens, one per sentence; keep each within 1...max_positions - 1,
    ///     as ``Translator`` does.
    ///   - decoder: A decoder of `model` to reuse (its buffers are kept between calls); nil creates one.
    ///     A decoder must not be used by two searches at once.
    ///   - prefixes: B target prefixes (token ids, no bos or eos), or nil for none: sentence b's
    ///     translation starts with `prefixes[b]` and search continues it (CTranslate2's `target_prefix`).
    ///     The prefix's tokens are part of each hypothesis and their log-probabilities of its score.
    ///   - constraints: B lists of target phrases (token ids), or nil: sentence b's translations must
    ///     contain each of `constraints[b]` (lexically constrained decoding by dynamic beam allocation,
    ///     see `ConstrainedSearch.swift`; ``Style/fairseq`` only). A batch with constraints is searched
    ///     that way for all its sentences; batch sentences without constraints separately
    ///     (``Translator`` does) to get exactly the unconstrained search for them.
    /// - Returns: B lists of at most ``nBest`` hypotheses, best (highest ``Hypothesis/score``) first.
    /// - Throws: ``ModelError/invalidInput(_:)`` if the model is decoder-only, a source id is outside the
    ///   source vocabulary, S exceeds max_positions, a prefix id is a special token or outside the target
    ///   vocabulary, or a prefix leaves no room under its sentence's `maxLength`.
    public func translate(_ model: Transformer, src: [Int32], batch b: Int, srcLength s: Int, maxLength: [Int],
                          prefixes: [[Int32]]? = nil, constraints: [[[Int32]]]? = nil,
                          decoder: IncrementalDecoder? = nil) throws -> [[Hypothesis]] {
        let c = model.config, k = beam
        let forced = prefixes ?? [[Int32]](repeating: [], count: b)
        guard forced.count == b, maxLength.count == b else {
            throw ModelError.invalidInput("\(forced.count) prefixes and \(maxLength.count) length caps for \(b) sentences")
        }
        for (i, p) in forced.enumerated() {
            if let bad = p.first(where: { Int($0) < 0 || Int($0) >= c.tgtVocabSize || Int($0) == c.padId || Int($0) == c.bosId || Int($0) == c.eosId }) {
                throw ModelError.invalidInput("target prefix \(i): token id \(bad) is a special token or outside the target vocabulary (0..<\(c.tgtVocabSize))")
            }
            if p.count >= maxLength[i] {
                throw ModelError.invalidInput("target prefix \(i) has \(p.count) tokens; its sentence may generate at most \(maxLength[i]) (eos included)")
            }
        }
        let phrases = (constraints ?? [[[Int32]]](repeating: [], count: b)).map { $0.filter { !$0.isEmpty } }
        guard phrases.count == b else { throw ModelError.invalidInput("\(phrases.count) constraint lists for \(b) sentences") }
        let constrained = phrases.contains { !$0.isEmpty }
        if constrained && style != .fairseq {
            throw ModelError.invalidInput("constrained decoding uses the fairseq beam style, not \(style.rawValue)")
        }
        for (i, list) in phrases.enumerated() {
            if list.count > Self.maxConstraints {
                throw ModelError.invalidInput("constraints \(i): \(list.count) phrases; a sentence takes at most \(Self.maxConstraints)")
            }
            for p in list {
                if let bad = p.first(where: { Int($0) < 0 || Int($0) >= c.tgtVocabSize || Int($0) == c.padId || Int($0) == c.bosId || Int($0) == c.eosId }) {
                    throw ModelError.invalidInput("constraints \(i): token id \(bad) is a special token or outside the target vocabulary (0..<\(c.tgtVocabSize))")
                }
            }
            let needed = forced[i].count + list.reduce(0) { $0 + $1.count }
            if constrained && needed >= maxLength[i] {
                throw ModelError.invalidInput("constraints \(i): \(needed) constraint and prefix tokens; its sentence may generate at most \(maxLength[i]) (eos included)")
            }
        }
        let dec = decoder ?? IncrementalDecoder(model: model)
        let (memory, valid) = try model.encode(src: src, batch: b, length: s, workspace: dec.encoderWorkspace)
        let cap = maxLength.max() ?? 1
        // One row per sentence until the first token; then rows b·k ..< (b+1)·k are sentence b's
        // beams, sharing its encoder output.
        dec.start(rows: b, capacity: cap + 1, memory: memory, sourceLength: s, sourceValid: valid, group: 1,
                  maxRows: b * k)
        if constrained {
            return searchConstrained(dec, sentences: b, start: Int32(c.bosId), maxLength: maxLength, forced: forced, constraints: phrases)
        }
        if style == .huggingface { return searchHuggingFace(dec, sentences: b, start: Int32(c.bosId), maxLength: maxLength, forced: forced) }
        return search(dec, sentences: b, prefix: [Int32(c.bosId)], maxLength: maxLength, forced: forced)
    }

    /// Hugging Face's beam search (generation/utils.py, `_beam_search`, early_stopping=False), on a
    /// started decoder with one row per sentence. Each step: the 2k best (beam, token) candidates by
    /// summed log-probability (log-softmax over the whole vocabulary, then pad and bos banned); those
    /// ending in eos (or reaching the cap) among the first k are scored logProb / len^α and merged
    /// into the sentence's k finished slots, best first; the k best others live on. A sentence is
    /// done when its slots are full and its best live logProb / (generated length)^α is no better
    /// than the worst slot, or at the cap. Scores always use len^α (`normalization` is ignored).
    /// While a sentence's `forced` tokens last, its one live hypothesis is extended by the next of them only.
    func searchHuggingFace(_ dec: IncrementalDecoder, sentences: Int, start: Int32, maxLength: [Int],
                           forced: [[Int32]]) -> [[Hypothesis]] {
        let c = dec.model.config, v = c.tgtVocabSize, k = beam
        let pad = c.padId, bos = c.bosId, eos = Int32(c.eosId)
        func normalized(_ logProb: Float, _ length: Int) -> Float {
            logProb / Float(Double.pow(Double(length), Double(lengthPenalty)))
        }
        var active = Array(0..<sentences)
        var live = [[Hypothesis]](repeating: [Hypothesis(tokens: [], logProb: 0, score: 0)], count: sentences)
        var finished = [[Hypothesis]](repeating: [], count: sentences)
        var width = 1
        var logits = dec.step([Int32](repeating: start, count: sentences))
        var generated = 0  // tokens generated before this step
        while !active.isEmpty {
            var nextLive: [[Hypothesis]] = [], order: [Int] = [], stillActive: [Int] = []
            for (slot, sent) in active.enumerated() {
                var best = TopK(capacity: 2 * k)
                for (j, h) in live[sent].enumerated() where h.logProb > -.infinity {
                    let row = logits + (slot * width + j) * v
                    // transformers' greedy search edits the logits, its beam search the log-probabilities.
                    if !repetition.isOff && k == 1 { repetition.apply(toLogits: row, previous: h.tokens) }
                    let lse = logSumExp(row, v)
                    if !repetition.isOff && k > 1 { repetition.apply(toLogProbabilities: row, logNormalizer: lse, previous: h.tokens) }
                    if generated < forced[sent].count {
                        let t = Int(forced[sent][generated])
                        best.insert(h.logProb + (row[t] - lse), beam: j, token: t)
                        continue
                    }
                    best.offer(row, count: v, beam: j, excluding: { $0 == pad || $0 == bos }) { h.logProb + ($0 - lse) }
                }
                let length = generated + 1
                let atCap = length >= maxLength[sent]
                var kept: [Hypothesis] = [], keptRows: [Int] = []
                var ended: [Hypothesis] = []
                for (rank, cand) in best.sorted().enumerated() {
                    let tokens = live[sent][cand.beam].tokens + [Int32(cand.token)]
                    if Int32(cand.token) == eos || atCap {
                        if rank < k { ended.append(Hypothesis(tokens: tokens, logProb: cand.score, score: normalized(cand.score, length))) }
                    } else if kept.count < k {
                        kept.append(Hypothesis(tokens: tokens, logProb: cand.score, score: normalized(cand.score, length)))
                        keptRows.append(slot * width + cand.beam)
                    }
                }
                // The k best of the old slots and the new ones (old ones first on equal scores).
                var merged = finished[sent] + ended
                merged = merged.enumerated().sorted { $0.element.score != $1.element.score ? $0.element.score > $1.element.score : $0.offset < $1.offset }.map(\.element)
                finished[sent] = Array(merged.prefix(k))
                let full = finished[sent].count >= k
                let bestLive = kept.first.map { normalized($0.logProb, length) } ?? -.infinity
                let worst = finished[sent].last?.score ?? -.infinity
                if atCap || kept.isEmpty || (full && bestLive <= worst) { continue }
                while kept.count < k {  // rows for the missing beams, never extended (logProb -inf)
                    kept.append(Hypothesis(tokens: kept[0].tokens, logProb: -.infinity, score: -.infinity))
                    keptRows.append(keptRows[0])
                }
                stillActive.append(sent)
                nextLive.append(kept)
                order += keptRows
            }
            generated += 1
            if stillActive.isEmpty { break }
            for (i, sent) in stillActive.enumerated() { live[sent] = nextLive[i] }
            active = stillActive
            dec.reorder(order, group: k)
            width = k
            logits = dec.step(nextLive.flatMap { $0.map { $0.tokens.last! } })
        }
        return finished.map { Array($0.prefix(nBest)) }
    }

    /// The search proper, on a started decoder with one row per sentence (widened to `beam` rows
    /// per sentence after the first token: until then all beams would be the same).
    /// While a sentence's `forced` tokens last, its one live hypothesis is extended by the next of
    /// them only (the other beam rows are idle placeholders whose log-probability is -∞).
    func search(_ dec: IncrementalDecoder, sentences: Int, prefix: [Int32], maxLength: [Int],
                forced: [[Int32]]) -> [[Hypothesis]] {
        let c = dec.model.config, v = c.tgtVocabSize, k = beam
        let pad = c.padId, bos = c.bosId, eos = Int32(c.eosId)
        var active = Array(0..<sentences)                       // sentence of each active slot
        var live = [[Hypothesis]](repeating: [Hypothesis(tokens: [], logProb: 0, score: 0)], count: sentences)
        var finished = [[Hypothesis]](repeating: [], count: sentences)
        var logits: FloatPtr = dec.logits.pointer
        var width = 1  // decoder rows per active sentence
        for t in prefix.indices { logits = dec.step([Int32](repeating: prefix[t], count: active.count)) }
        var step = 0
        while !active.isEmpty {
            step += 1
            var nextLive: [[Hypothesis]] = []
            var order: [Int] = []       // decoder row for each new row
            var stillActive: [Int] = []
            for (slot, sent) in active.enumerated() {
                // Candidates: top 2k over (beam j, token) of logProb_j + log p(token).
                var best = TopK(capacity: 2 * k)
                for (j, h) in live[sent].enumerated() where h.logProb > -.infinity {
                    let row = logits + (slot * width + j) * v
                    if !repetition.isOff { repetition.apply(toLogits: row, previous: h.tokens) }
                    let lse = logSumExp(row, v)
                    if step <= forced[sent].count {
                        let t = Int(forced[sent][step - 1])
                        best.insert(h.logProb + row[t] - lse, beam: j, token: t)
                        continue
                    }
                    best.offer(row, count: v, beam: j, excluding: { $0 == pad || $0 == bos }) { h.logProb + $0 - lse }
                }
                var kept: [Hypothesis] = []
                var keptRows: [Int] = []
                let atCap = step >= maxLength[sent]
                for (rank, cand) in best.sorted().enumerated() {
                    // The token list is built only for a candidate that is kept (copying it is O(length)).
                    func hyp() -> Hypothesis {
                        let tokens = live[sent][cand.beam].tokens + [Int32(cand.token)]
                        return Hypothesis(tokens: tokens, logProb: cand.score, score: cand.score / penalty(tokens.count))
                    }
                    if Int32(cand.token) == eos {
                        if rank < k && finished[sent].count < k { finished[sent].append(hyp()) }
                    } else if atCap {
                        if finished[sent].count < k { finished[sent].append(hyp()) }  // cut at the length cap
                    } else if kept.count < k {
                        kept.append(hyp())
                        keptRows.append(slot * width + cand.beam)
                    }
                    if kept.count == k && (atCap || finished[sent].count >= k) { break }
                }
                if finished[sent].count >= k || atCap || kept.isEmpty || cannotImprove(finished[sent], kept, maxLength[sent]) {
                    if finished[sent].isEmpty { finished[sent] = kept }
                    continue
                }
                if step <= forced[sent].count {  // one live hypothesis; the other rows idle
                    while kept.count < k {
                        kept.append(Hypothesis(tokens: kept[0].tokens, logProb: -.infinity, score: -.infinity))
                        keptRows.append(keptRows[0])
                    }
                }
                while kept.count < k { kept.append(kept[0]); keptRows.append(keptRows[0]) }  // pad the beam
                stillActive.append(sent)
                nextLive.append(kept)
                order += keptRows
            }
            if stillActive.isEmpty { break }
            for (i, sent) in stillActive.enumerated() { live[sent] = nextLive[i] }
            active = stillActive
            dec.reorder(order, group: k)
            width = k
            logits = dec.step(nextLive.flatMap { $0.map { $0.tokens.last! } })
        }
        return finished.map { hyps in
            Array(hyps.sorted { $0.score > $1.score }.prefix(nBest))
        }
    }

    /// True when even the best live hypothesis, growing to the length cap, cannot outscore the worst
    /// of k finished ones (log-probabilities only fall; the penalty grows with length).
    func cannotImprove(_ finished: [Hypothesis], _ live: [Hypothesis], _ cap: Int) -> Bool {
        guard finished.count >= beam, let worst = finished.map(\.score).min() else { return false }
        let bestLive = live.map(\.logProb).max() ?? -.infinity
        let bound = lengthPenalty >= 0 ? bestLive / penalty(cap) : bestLive / penalty(live[0].tokens.count)
        return bound <= worst
    }
}

/// The k best (score, beam, token) triples seen, kept sorted descending; ties keep the earlier one.
struct TopK {
    struct Item { var score: Float; var beam: Int; var token: Int }
    let capacity: Int
    private(set) var items: [Item] = []
    var threshold: Float { items.count < capacity ? -.infinity : items[items.count - 1].score }

    init(capacity: Int) { self.capacity = capacity; items.reserveCapacity(capacity + 1) }

    mutating func insert(_ score: Float, beam: Int, token: Int) {
        var i = items.count
        while i > 0 && items[i - 1].score < score { i -= 1 }
        items.insert(Item(score: score, beam: beam, token: token), at: i)
        if items.count > capacity { items.removeLast() }
    }

    func sorted() -> [Item] { items }

    /// Offers token t of a row of `v` logits, for each t not `excluded`, with the score `score(row[t])`
    /// (which must not fall as the logit grows). Once `capacity` items are held most blocks of 16
    /// logits cannot enter: a block whose largest logit scores no more than the threshold is skipped.
    @inline(__always)
    mutating func offer(_ row: ConstFloatPtr, count v: Int, beam: Int, excluding excluded: (Int) -> Bool,
                        score: (Float) -> Float) {
        var tok = 0
        while tok < v {
            let end = min(tok + 16, v)
            if end - tok == 16 && score(horizontalMax(load16(row + tok))) <= threshold { tok = end; continue }
            for t in tok..<end where !excluded(t) {
                let s = score(row[t])
                if s > threshold { insert(s, beam: beam, token: t) }
            }
            tok = end
        }
    }
}
