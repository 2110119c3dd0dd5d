import Foundation

/// `seq2seq bench bpe`: time to learn a vocabulary and to encode a corpus, as
/// ../shared/bench/bpe_bench.py measures sentencepiece and Hugging Face tokenizers.
public enum TokenizerBenchmark {
    public struct Result: Sendable {
        public var countSeconds: Double, learnSeconds: Double, encodeSentencesPerSecond: Double
        public var tokensPerSentence: Double, vocabularySize: Int
    }

    public static func run(lines: [String], size: Int, repeats: Int = 3) -> Result {
        var bestCount = Double.infinity, bestLearn = Double.infinity
        var vocab: Vocabulary? = nil
        for _ in 0..<repeats {
            let t0 = DispatchTime.now().uptimeNanoseconds
            let counts = Vocabulary.wordCounts(lines: lines, normalizer: Normalizer())
            let t1 = DispatchTime.now().uptimeNanoseconds
            let (alphabet, merges) = BPELearner().learn(wordCounts: counts, vocabularySize: size)
            vocab = try! Vocabulary(normalizer: Normalizer(), alphabet: alphabet, merges: merges)
            let t2 = DispatchTime.now().uptimeNanoseconds
            bestCount = min(bestCount, Double(t1 - t0) / 1e9)
            bestLearn = min(bestLearn, Double(t2 - t0) / 1e9)
        }
        var bestEncode = Double.infinity, tokens = 0
        for _ in 0..<repeats {
            let fresh = try! Vocabulary(normalizer: Normalizer(), alphabet: vocab!.alphabet, merges: vocab!.merges)
            let t0 = DispatchTime.now().uptimeNanoseconds
            let ids = fresh.encodeBatch(lines)
            let t1 = DispatchTime.now().uptimeNanoseconds
            tokens = ids.reduce(0) { $0 + $1.count }
            bestEncode = min(bestEncode, Double(t1 - t0) / 1e9)
        }
        return Result(countSeconds: bestCount, learnSeconds: bestLearn,
                      encodeSentencesPerSecond: Double(lines.count) / bestEncode,
                      tokensPerSentence: Double(tokens) / Double(lines.count), vocabularySize: vocab!.count)
    }
}
