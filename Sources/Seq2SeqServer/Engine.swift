import Foundation
import Seq2SeqKit

/// The model and what decodes with it. Not thread-safe: only the batching worker's thread touches it
/// (handlers never do), so its buffers and KV cache need no locks.
final class Engine {
    let model: Transformer
    let vocabularies: Vocabularies
    let configuration: ServiceConfiguration
    /// The same `Translator` `seq2seq translate` uses, set per batch to the batch's settings.
    private let translator: Translator

    init(model: Transformer, vocabularies: Vocabularies, configuration: ServiceConfiguration, sourceLanguage: String?) {
        self.model = model
        self.vocabularies = vocabularies
        self.configuration = configuration
        translator = Translator(model: model, vocabularies: vocabularies)
        translator.batchSize = configuration.maxBatch
        translator.maxLenA = configuration.maxLenA
        translator.maxLenB = configuration.maxLenB
        translator.splitSentences = configuration.splitSentences
        translator.sentenceSplitter = SentenceSplitter(language: sourceLanguage)
    }

    /// Lines → outputs in order, exactly as `Translator.translate` (sorted by length, batched).
    func translate(_ lines: [TranslationInput], settings: DecodeSettings) throws -> [Translator.Output] {
        translator.search = BeamSearch(beam: settings.beam, lengthPenalty: configuration.lengthPenalty,
                                       normalization: configuration.lengthNormalization, nBest: settings.nBest)
        translator.search.repetition = settings.repetition
        translator.maxOutput = settings.maxLength
        translator.alignments = settings.alignments
        return try translator.translate(lines)
    }
}

/// Decoding settings a batch shares: requests asking for other ones wait for a batch of their own.
struct DecodeSettings: Hashable, Sendable {
    var beam: Int
    var nBest: Int
    /// Absolute cap on generated tokens (eos included); nil: a · source + b as offline.
    var maxLength: Int?
    /// The repetition penalty and the n-gram ban (off unless the request sets them).
    var repetition = RepetitionControl()
    /// Word alignments requested.
    var alignments = false
}
