import Foundation
@_spi(Testing) import Seq2SeqKit

/// `seq2seq bench translate`: sentences/s and generated target tokens/s (eos included) for beam and
/// batch settings, as ../shared/bench/nmt_translate_bench.py measures PyTorch and CTranslate2: sources
/// sorted by length and cut into batches, output capped at min(maxLen, 2 × longest source + 10).
public enum TranslateBenchmark {
    public struct Row: Sendable {
        public var beam: Int, batchSize: Int, threads: Int
        public var sentencesPerSecond: Double, tokensPerSecond: Double, tokens: Int, hitCap: Int
        public var bleu: Double?
    }

    public static func run(translator: Translator, sources: [[Int32]], references: [String]?, beam: Int, batchSize: Int,
                           repeats: Int) throws -> Row {
        let style = translator.search.style
        translator.search = BeamSearch(beam: beam, lengthPenalty: translator.search.lengthPenalty,
                                       normalization: translator.search.normalization)
        translator.search.style = style
        translator.batchSize = batchSize
        _ = try translator.translate(ids: Array(sources.prefix(batchSize)))  // warm-up
        var best = Double.infinity
        var outputs: [Translator.Output] = []
        for _ in 0..<max(1, repeats) {
            let t0 = DispatchTime.now().uptimeNanoseconds
            outputs = try translator.translate(ids: sources)
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
        }
        let eos = Int32(translator.model.config.eosId)
        let tokens = outputs.reduce(0) { $0 + $1.tokens.count }
        let hitCap = outputs.filter { $0.tokens.last != eos }.count
        let bleu = try references.map { try EvaluationReport.evaluate(hypotheses: outputs.map(\.text), references: [$0]).bleu }
        return Row(beam: beam, batchSize: batchSize, threads: Threads.count, sentencesPerSecond: Double(sources.count) / best,
                   tokensPerSecond: Double(tokens) / best, tokens: tokens, hitCap: hitCap, bleu: bleu)
    }
}
