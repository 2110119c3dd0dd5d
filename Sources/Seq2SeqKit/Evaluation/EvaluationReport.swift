import Foundation

/// Corpus BLEU, chrF and chrF++ of a system against one or more references: what `seq2seq eval`,
/// `translate --ref` and validation during training print.
public struct EvaluationReport: Codable, Sendable {
    /// Corpus BLEU, 0–100.
    public var bleu: Double
    /// BLEU's 1- to 4-gram precisions, in percent.
    public var precisions: [Double]
    /// BLEU's brevity penalty.
    public var bp: Double
    /// Hypothesis tokens (after BLEU's tokenization).
    public var sysLen: Int
    /// Reference tokens (the closest reference length of each segment, summed).
    public var refLen: Int
    /// sacreBLEU's signature of the BLEU settings.
    public var signature: String
    /// Corpus chrF (β = 2), 0–100.
    public var chrf: Double
    /// sacreBLEU's signature of the chrF settings.
    public var chrfSignature: String
    /// Corpus chrF++ (chrF with word 1- and 2-grams), 0–100.
    public var chrfPlusPlus: Double
    /// Each segment's BLEU (with effective order), when asked for with `sentenceLevel`; nil otherwise.
    public var sentenceBLEU: [Double]?

    enum CodingKeys: String, CodingKey {
        case bleu, precisions, bp, sysLen = "sys_len", refLen = "ref_len", signature, chrf
        case chrfSignature = "chrf_signature", chrfPlusPlus = "chrf_plus_plus", sentenceBLEU = "sentence_bleu"
    }

    /// Line counts must agree (hypotheses and every reference).
    ///
    /// - Parameters:
    ///   - hypotheses: The system's lines.
    ///   - references: One or more reference sets, each with one line per hypothesis.
    ///   - names: File names for the error message (defaults: "hypotheses", "reference k").
    ///   - tokenizer: BLEU's tokenization (default 13a).
    ///   - lowercase: Score case-insensitively.
    ///   - sentenceLevel: Also compute ``sentenceBLEU``.
    /// - Throws: ``TextError/lineCountMismatch(_:_:_:_:)`` if a reference set has another number of lines.
    public static func evaluate(
        hypotheses: [String], references: [[String]], names: (hyp: String, refs: [String]) = ("hypotheses", []),
        tokenizer: SacreTokenizer = .tok13a, lowercase: Bool = false, sentenceLevel: Bool = false
    ) throws -> EvaluationReport {
        for (k, r) in references.enumerated() where r.count != hypotheses.count {
            let name = k < names.refs.count ? names.refs[k] : "reference \(k + 1)"
            throw TextError.lineCountMismatch(names.hyp, hypotheses.count, name, r.count)
        }
        var scorer = StreamingEvaluation(references: references.count, tokenizer: tokenizer, lowercase: lowercase)
        for (i, h) in hypotheses.enumerated() { scorer.add(hypothesis: h, references: references.map { $0[i] }) }
        var report = scorer.report()
        if sentenceLevel {
            let sb = BLEU(tokenizer: tokenizer, lowercase: lowercase, effectiveOrder: true)
            report.sentenceBLEU = hypotheses.indices.map { i in sb.sentenceScore(hypotheses[i], references.map { $0[i] }).score }
        }
        return report
    }

    /// The sacreBLEU-style text summary.
    public var text: String {
        let p = precisions.map { String(format: "%.1f", $0) }.joined(separator: "/")
        return String(format: "BLEU = %.2f %@ (BP = %.3f ratio = %.3f hyp_len = %d ref_len = %d)  [%@]\nchrF2 = %.2f  [%@]\nchrF2++ = %.2f",
                      bleu, p, bp, refLen > 0 ? Double(sysLen) / Double(refLen) : 0, sysLen, refLen, signature,
                      chrf, chrfSignature, chrfPlusPlus)
    }
}
