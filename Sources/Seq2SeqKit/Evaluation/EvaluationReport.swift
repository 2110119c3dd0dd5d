import Foundation

/// Corpus BLEU, chrF and chrF++ of a system against one or more references: what `seq2seq eval`,
/// `translate --ref` and validation during training print.
public struct EvaluationReport: Codable, Sendable {
    public var bleu: Double
    public var precisions: [Double]
    public var bp: Double
    public var sysLen: Int
    public var refLen: Int
    public var signature: String
    public var chrf: Double
    public var chrfSignature: String
    public var chrfPlusPlus: Double
    public var sentenceBLEU: [Double]?

    enum CodingKeys: String, CodingKey {
        case bleu, precisions, bp, sysLen = "sys_len", refLen = "ref_len", signature, chrf
        case chrfSignature = "chrf_signature", chrfPlusPlus = "chrf_plus_plus", sentenceBLEU = "sentence_bleu"
    }

    /// Line counts must agree (hypotheses and every reference).
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
