/// chrF and chrF++ exactly as sacreBLEU 2.x computes them: character n-grams up to `charOrder`
/// (whitespace removed), word n-grams up to `wordOrder` (2 for chrF++), β = 2, corpus statistics
/// summed over segments, the best-scoring reference per segment.
public struct CHRF: Sendable {
    /// The highest character n-gram order (default 6).
    public var charOrder = 6
    /// The highest word n-gram order (default 0: chrF; 2: chrF++).
    public var wordOrder = 0
    /// β of the F-score: recall weighs β times as much as precision (default 2).
    public var beta = 2
    /// Whether text is lowercased before scoring.
    public var lowercase = false

    /// A scorer; the defaults are sacreBLEU's chrF (chrF++ with `wordOrder: 2`).
    public init(charOrder: Int = 6, wordOrder: Int = 0, beta: Int = 2, lowercase: Bool = false) {
        self.charOrder = charOrder; self.wordOrder = wordOrder; self.beta = beta; self.lowercase = lowercase
    }

    static let punctuation = Set("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~".unicodeScalars)

    /// Counts of n-grams of each order: char orders 1...charOrder, then word orders 1...wordOrder.
    func ngrams(_ line: String) -> [[NGram: Int]] {
        let text = lowercase ? line.lowercased() : line
        let scalars = Array(text.unicodeScalars)
        let chars = scalars.filter { !isPythonSpace($0) }
        var out: [[NGram: Int]] = []
        for n in 1...charOrder {
            var c: [NGram: Int] = [:]
            if chars.count >= n { for i in 0...(chars.count - n) { c[NGram(scalars: chars[i..<(i + n)]), default: 0] += 1 } }
            out.append(c)
        }
        if wordOrder > 0 {
            let words = separatePunctuation(splitWords(scalars))
            for n in 1...wordOrder {
                var c: [NGram: Int] = [:]
                if words.count >= n { for i in 0...(words.count - n) { c[NGram(words[i..<(i + n)]), default: 0] += 1 } }
                out.append(c)
            }
        }
        return out
    }

    /// sacreBLEU's punctuation stripper: a word longer than one character loses a trailing
    /// (else a leading) ASCII punctuation mark as a word of its own.
    func separatePunctuation(_ words: [[Unicode.Scalar]]) -> [[Unicode.Scalar]] {
        var out: [[Unicode.Scalar]] = []
        for w in words {
            if w.count == 1 { out.append(w) }
            else if Self.punctuation.contains(w.last!) { out.append(Array(w.dropLast())); out.append([w.last!]) }
            else if Self.punctuation.contains(w.first!) { out.append([w.first!]); out.append(Array(w.dropFirst())) }
            else { out.append(w) }
        }
        return out
    }

    /// [hyp, ref, match] per order, flattened.
    func segmentStats(_ hypothesis: String, _ references: [String]) -> [Int] {
        let hyp = ngrams(hypothesis)
        var best: [Int] = [], bestF = -1.0
        for r in references {
            let ref = ngrams(r)
            var stats: [Int] = []
            for (h, rf) in zip(hyp, ref) {
                var match = 0, hypCount = 0
                for (g, c) in h {
                    hypCount += c
                    if let rc = rf[g] { match += min(c, rc) }
                }
                stats += [rf.isEmpty ? 0 : hypCount, rf.values.reduce(0, +), match]
            }
            let f = fScore(stats)
            if f > bestF { bestF = f; best = stats }
        }
        return best
    }

    func fScore(_ stats: [Int]) -> Double {
        let factor = Double(beta * beta)
        var avgPrec = 0.0, avgRec = 0.0, effective = 0
        for i in 0..<(stats.count / 3) {
            let nHyp = stats[3 * i], nRef = stats[3 * i + 1], nMatch = stats[3 * i + 2]
            let prec = nHyp > 0 ? Double(nMatch) / Double(nHyp) : 1e-16
            let rec = nRef > 0 ? Double(nMatch) / Double(nRef) : 1e-16
            if nHyp > 0 && nRef > 0 {
                avgPrec += prec
                avgRec += rec
                effective += 1
            }
        }
        if effective == 0 { return 0 }
        avgPrec /= Double(effective)
        avgRec /= Double(effective)
        if avgPrec + avgRec == 0 { return 0 }
        return 100 * (1 + factor) * avgPrec * avgRec / (factor * avgPrec + avgRec)
    }

    /// Corpus chrF, 0–100: `references[k][i]` is the k-th reference of segment i, and each list must have
    /// one line per hypothesis.
    public func corpusScore(_ hypotheses: [String], _ references: [[String]]) -> Double {
        var total = [Int](repeating: 0, count: 3 * (charOrder + wordOrder))
        for (i, h) in hypotheses.enumerated() {
            for (j, v) in segmentStats(h, references.map { $0[i] }).enumerated() { total[j] += v }
        }
        return fScore(total)
    }

    /// chrF of one segment, 0–100, against its best-scoring reference.
    public func sentenceScore(_ hypothesis: String, _ references: [String]) -> Double {
        fScore(segmentStats(hypothesis, references))
    }

    /// sacreBLEU's signature of these settings for `references` references
    /// (`nrefs:1|case:mixed|eff:yes|nc:6|nw:0|…`).
    public func signature(references: Int) -> String {
        "nrefs:\(references)|case:\(lowercase ? "lc" : "mixed")|eff:yes|nc:\(charOrder)|nw:\(wordOrder)|space:no|version:\(sacreBLEUVersion)"
    }
}
