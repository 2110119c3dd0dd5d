/// Corpus BLEU, chrF and chrF++ accumulated segment by segment: only the sufficient statistics
/// are kept (n-gram match counts and lengths), so scoring a stream of any length takes constant
/// memory. `EvaluationReport.evaluate` scores a whole corpus through it.
public struct StreamingEvaluation: Sendable {
    let bleu: BLEU, chrf: CHRF, chrfpp: CHRF
    var bleuStats = BLEU.Stats()
    var chrfStats: [Int], chrfppStats: [Int]
    /// Segments added so far.
    public private(set) var segments = 0
    let references: Int

    /// An empty evaluation; `references` is the number of references per segment (it goes into the signatures).
    public init(references: Int = 1, tokenizer: SacreTokenizer = .tok13a, lowercase: Bool = false) {
        bleu = BLEU(tokenizer: tokenizer, lowercase: lowercase)
        chrf = CHRF(lowercase: lowercase)
        chrfpp = CHRF(wordOrder: 2, lowercase: lowercase)
        chrfStats = [Int](repeating: 0, count: 3 * chrf.charOrder)
        chrfppStats = [Int](repeating: 0, count: 3 * (chrfpp.charOrder + chrfpp.wordOrder))
        self.references = references
    }

    /// Adds one segment: a hypothesis and its references (as many as `init`'s `references`).
    public mutating func add(hypothesis: String, references refs: [String]) {
        bleuStats.add(bleu.segmentStats(hypothesis, refs))
        for (j, v) in chrf.segmentStats(hypothesis, refs).enumerated() { chrfStats[j] += v }
        for (j, v) in chrfpp.segmentStats(hypothesis, refs).enumerated() { chrfppStats[j] += v }
        segments += 1
    }

    /// The scores of the segments added so far (``EvaluationReport/sentenceBLEU`` is nil).
    public func report() -> EvaluationReport {
        let b = bleu.compute(bleuStats)
        return EvaluationReport(bleu: b.score, precisions: b.precisions, bp: b.brevityPenalty, sysLen: b.sysLen, refLen: b.refLen,
                                signature: bleu.signature(references: references), chrf: chrf.fScore(chrfStats),
                                chrfSignature: chrf.signature(references: references), chrfPlusPlus: chrfpp.fScore(chrfppStats))
    }
}
