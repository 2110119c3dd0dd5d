import Foundation
@_spi(Testing) import Seq2SeqKit

/// `seq2seq bench bpe`: time to learn a vocabulary and to encode a corpus, as
/// ../shared/bench/bpe_bench.py measures sentencepiece and Hugging Face tokenizers.
public enum TokenizerBenchmark {
    public struct Result: Sendable {
        /// Learning = reading the files + counting words + merging (as sentencepiece's trainer,
        /// which reads its input files, is timed); the parts are best-of-repeats each.
        public var readSeconds: Double, countSeconds: Double, learnSeconds: Double
        public var lines: Int, encodeSentencesPerSecond: Double
        public var tokensPerSentence: Double, vocabularySize: Int
    }

    public static func run(files: [String], size: Int, repeats: Int = 3) throws -> Result {
        guard repeats >= 1 else { throw TokenizerBenchmarkError.noRepeats(repeats) }
        var bestRead = Double.infinity, bestCount = Double.infinity, bestLearn = Double.infinity
        var vocab: Vocabulary? = nil
        var lines: [String] = []
        for _ in 0..<repeats {
            let t0 = DispatchTime.now().uptimeNanoseconds
            lines = try files.flatMap { try TextFile.lines($0) }
            let t1 = DispatchTime.now().uptimeNanoseconds
            let counts = Vocabulary.wordCounts(lines: lines, normalizer: Normalizer())
            let t2 = DispatchTime.now().uptimeNanoseconds
            let (alphabet, merges) = BPELearner().learn(wordCounts: counts, vocabularySize: size)
            vocab = try Vocabulary(normalizer: Normalizer(), alphabet: alphabet, merges: merges)
            let t3 = DispatchTime.now().uptimeNanoseconds
            bestRead = min(bestRead, Double(t1 - t0) / 1e9)
            bestCount = min(bestCount, Double(t2 - t1) / 1e9)
            bestLearn = min(bestLearn, Double(t3 - t0) / 1e9)
        }
        guard let vocab else { throw TokenizerBenchmarkError.noRepeats(repeats) }
        var bestEncode = Double.infinity, tokens = 0
        for _ in 0..<repeats {
            // A vocabulary with an empty word cache, so that every repeat encodes from scratch.
            let fresh = try Vocabulary(normalizer: Normalizer(), alphabet: vocab.alphabet, merges: vocab.merges)
            let t0 = DispatchTime.now().uptimeNanoseconds
            let ids = fresh.encodeBatch(lines)
            let t1 = DispatchTime.now().uptimeNanoseconds
            tokens = ids.reduce(0) { $0 + $1.count }
            bestEncode = min(bestEncode, Double(t1 - t0) / 1e9)
        }
        return Result(readSeconds: bestRead, countSeconds: bestCount, learnSeconds: bestLearn, lines: lines.count,
                      encodeSentencesPerSecond: Double(lines.count) / bestEncode,
                      tokensPerSentence: Double(tokens) / Double(lines.count), vocabularySize: vocab.count)
    }
}

public enum TokenizerBenchmarkError: Error, CustomStringConvertible {
    case noRepeats(Int)

    public var description: String {
        switch self {
        case .noRepeats(let n): return "the tokenizer benchmark needs at least 1 repeat (got \(n))"
        }
    }
}
