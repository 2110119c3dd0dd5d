import Foundation

/// Corpus and sentence BLEU exactly as sacreBLEU 2.x computes them (defaults: 13a tokenization,
/// exponential smoothing, mixed case, 4-grams), with any number of references per segment.
///
/// Scores are on sacreBLEU's 0–100 scale. A value is plain settings: scoring is thread-safe.
public struct BLEU: Sendable {
    /// The tokenization applied to hypotheses and references (default ``SacreTokenizer/tok13a``).
    public var tokenizer: SacreTokenizer = .tok13a
    /// Whether hypotheses and references are lowercased before tokenizing (sacreBLEU's `-lc`).
    public var lowercase = false
    /// Whether the geometric mean stops at the highest n-gram order the hypothesis has (sacreBLEU's
    /// `--effective-order`, usual for sentence BLEU).
    public var effectiveOrder = false
    /// The highest n-gram order (4-grams).
    public static let maxOrder = 4

    /// A scorer with sacreBLEU's defaults unless told otherwise.
    public init(tokenizer: SacreTokenizer = .tok13a, lowercase: Bool = false, effectiveOrder: Bool = false) {
        self.tokenizer = tokenizer; self.lowercase = lowercase; self.effectiveOrder = effectiveOrder
    }

    /// A BLEU score with its parts, as sacreBLEU reports them.
    public struct Score: Sendable, Equatable, Codable {
        /// BLEU, 0–100.
        public var score: Double
        /// The n-gram precisions for n = 1…4, in percent (smoothed where there are no matches).
        public var precisions: [Double]
        /// The brevity penalty, in [0, 1]: below 1 when the hypotheses are shorter than the references.
        public var brevityPenalty: Double
        /// Hypothesis tokens.
        public var sysLen: Int
        /// Reference tokens: for each segment the closest reference length (the shorter on ties).
        public var refLen: Int
        /// Matching n-grams for n = 1…4 (clipped by the references' counts).
        public var counts: [Int]
        /// Hypothesis n-grams for n = 1…4.
        public var totals: [Int]
    }

    /// Sufficient statistics of one segment: hypothesis length, closest reference length, matches and totals.
    struct Stats {
        var sysLen = 0, refLen = 0
        var correct = [Int](repeating: 0, count: BLEU.maxOrder)
        var total = [Int](repeating: 0, count: BLEU.maxOrder)
        mutating func add(_ o: Stats) {
            sysLen += o.sysLen; refLen += o.refLen
            for n in 0..<BLEU.maxOrder { correct[n] += o.correct[n]; total[n] += o.total[n] }
        }
    }

    func preprocess(_ s: String) -> [[Unicode.Scalar]] {
        var line = lowercase ? s.lowercased() : s
        // sacreBLEU strips trailing whitespace before tokenizing
        while let last = line.unicodeScalars.last, isPythonSpace(last) { line.unicodeScalars.removeLast() }
        return splitWords(Array(tokenizer(line).unicodeScalars))
    }

    static func ngrams(_ words: [[Unicode.Scalar]]) -> [Int: [NGram: Int]] {
        var out: [Int: [NGram: Int]] = [:]
        for n in 1...maxOrder where words.count >= n {
            var counts: [NGram: Int] = [:]
            for i in 0...(words.count - n) { counts[NGram(words[i..<(i + n)]), default: 0] += 1 }
            out[n] = counts
        }
        return out
    }

    func segmentStats(_ hypothesis: String, _ references: [String]) -> Stats {
        let hyp = preprocess(hypothesis)
        var refCounts: [Int: [NGram: Int]] = [:]
        var refLens: [Int] = []
        for r in references {
            let words = preprocess(r)
            refLens.append(words.count)
            for (n, counts) in Self.ngrams(words) {
                for (g, c) in counts { refCounts[n, default: [:]][g] = max(refCounts[n]?[g] ?? 0, c) }
            }
        }
        var s = Stats()
        s.sysLen = hyp.count
        // closest reference length, the shorter on ties
        var bestDiff = -1, bestLen = -1
        for l in refLens {
            let diff = abs(hyp.count - l)
            if bestDiff == -1 || diff < bestDiff { bestDiff = diff; bestLen = l }
            else if diff == bestDiff && l < bestLen { bestLen = l }
        }
        s.refLen = bestLen
        for (n, counts) in Self.ngrams(hyp) {
            for (g, c) in counts {
                s.total[n - 1] += c
                if let rc = refCounts[n]?[g] { s.correct[n - 1] += min(c, rc) }
            }
        }
        return s
    }

    /// Corpus BLEU: `references[k][i]` is the k-th reference of segment i.
    ///
    /// Every reference list must have one line per hypothesis: ``EvaluationReport`` checks the counts,
    /// this does not.
    public func corpusScore(_ hypotheses: [String], _ references: [[String]]) -> Score {
        var total = Stats()
        for (i, h) in hypotheses.enumerated() { total.add(segmentStats(h, references.map { $0[i] })) }
        return compute(total)
    }

    /// BLEU of one segment against its references, with this scorer's settings (set ``effectiveOrder`` for
    /// sacreBLEU's sentence BLEU).
    public func sentenceScore(_ hypothesis: String, _ references: [String]) -> Score {
        compute(segmentStats(hypothesis, references))
    }

    func compute(_ s: Stats) -> Score {
        var bp = 1.0
        if s.sysLen < s.refLen { bp = s.sysLen > 0 ? exp(1 - Double(s.refLen) / Double(s.sysLen)) : 0 }
        var precisions = [Double](repeating: 0, count: Self.maxOrder)
        if s.correct.allSatisfy({ $0 == 0 }) {
            return Score(score: 0, precisions: precisions, brevityPenalty: bp, sysLen: s.sysLen, refLen: s.refLen,
                         counts: s.correct, totals: s.total)
        }
        var smooth = 1.0
        var effOrder = Self.maxOrder
        for n in 1...Self.maxOrder {
            if s.total[n - 1] == 0 { break }
            if effectiveOrder { effOrder = n }
            if s.correct[n - 1] == 0 {
                smooth *= 2
                precisions[n - 1] = 100 / (smooth * Double(s.total[n - 1]))
            } else {
                precisions[n - 1] = 100 * Double(s.correct[n - 1]) / Double(s.total[n - 1])
            }
        }
        let logSum = precisions[0..<effOrder].reduce(0.0) { $0 + ($1 == 0 ? -9_999_999_999 : log($1)) }
        return Score(score: bp * exp(logSum / Double(effOrder)), precisions: precisions, brevityPenalty: bp,
                     sysLen: s.sysLen, refLen: s.refLen, counts: s.correct, totals: s.total)
    }

    /// sacreBLEU's signature of these settings for `references` references (`nrefs:1|case:mixed|eff:no|tok:13a|…`).
    public func signature(references: Int) -> String {
        "nrefs:\(references)|case:\(lowercase ? "lc" : "mixed")|eff:\(effectiveOrder ? "yes" : "no")|tok:\(tokenizer.rawValue)|smooth:exp|version:\(sacreBLEUVersion)"
    }
}

/// The sacreBLEU release whose scores these implementations reproduce (checked by the tests).
public let sacreBLEUVersion = "2.6.0"

/// A word or character n-gram as a hashable key.
struct NGram: Hashable {
    let scalars: [Unicode.Scalar]
    init(_ words: ArraySlice<[Unicode.Scalar]>) {
        var s: [Unicode.Scalar] = []
        for (i, w) in words.enumerated() {
            if i > 0 { s.append(" ") }
            s.append(contentsOf: w)
        }
        scalars = s
    }
    init(scalars: ArraySlice<Unicode.Scalar>) { self.scalars = Array(scalars) }
}
