import Foundation
import Seq2SeqKit

/// One model a service serves: its language pair, its batching worker (which owns it), and what
/// handlers may know about it without touching it.
final class ServedModel: Sendable {
    /// "de-en" for a named pair, else the model directory's name (or `ServiceConfiguration.modelName`).
    let name: String
    /// Language codes requests' `source` and `target` are matched against (nil: any).
    let source: String?
    let target: String?
    let worker: BatchingWorker
    let isDecoderOnly: Bool
    let maxPositions: Int

    /// Loads `directory` (float or int8) and starts its worker thread.
    init(directory: String, name: String, source: String?, target: String?, configuration: ServiceConfiguration,
         metrics: ServiceMetrics) throws {
        let model = try ModelDirectory.load(directory)
        let vocabularies = try ModelDirectory.loadVocabularies(directory, for: model.config)
        self.name = name
        self.source = source
        self.target = target
        isDecoderOnly = model.config.isDecoderOnly
        maxPositions = model.config.maxPositions
        worker = BatchingWorker(engine: Engine(model: model, vocabularies: vocabularies, configuration: configuration,
                                               sourceLanguage: source),
                                metrics: metrics)
        worker.start()
    }
}

/// A model directory `seq2seq serve` is given, with the language pair it translates.
public struct ModelEntry: Sendable, Equatable {
    /// The model directory.
    public var directory: String
    /// Its source and target language codes (nil for a single model served without a pair).
    public var source: String?
    public var target: String?

    /// A model directory for a pair (or without one).
    public init(directory: String, source: String? = nil, target: String? = nil) {
        self.directory = directory
        self.source = source
        self.target = target
    }

    /// Parses `seq2seq serve --model`'s value: `DIR`, or `SRC-TGT=DIR` (`de-en=runs/de-en`).
    /// - Throws: ``ModelEntryError`` naming the value when the pair is not two language codes.
    public static func parse(_ value: String) throws -> ModelEntry {
        guard let eq = value.firstIndex(of: "="), !value[..<eq].contains("/") else { return ModelEntry(directory: value) }
        let pair = value[..<eq], dir = String(value[value.index(after: eq)...])
        let codes = pair.split(separator: "-", omittingEmptySubsequences: false)
        let valid = { (c: Substring) in !c.isEmpty && c.count <= 16 && c.allSatisfy { $0.isASCII && ($0.isLetter || $0 == "_") } }
        guard codes.count == 2, codes.allSatisfy(valid), !dir.isEmpty else {
            throw ModelEntryError(message: "--model \(value): name a model SRC-TGT=DIR with two language codes, e.g. de-en=runs/de-en")
        }
        return ModelEntry(directory: dir, source: String(codes[0]), target: String(codes[1]))
    }
}

/// A `--model` value that names no usable pair.
public struct ModelEntryError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}

/// Models that cannot be served together; the message says which and why.
public struct ServiceSetupError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}
