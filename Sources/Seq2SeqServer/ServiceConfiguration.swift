import Foundation
import Seq2SeqKit

/// Everything `seq2seq serve` is told: where to listen, how to batch, what to refuse, and the
/// decoding defaults (the same as `seq2seq translate`'s, so that answers equal offline ones).
public struct ServiceConfiguration: Sendable {
    public var host = "127.0.0.1"
    /// 0 picks a free port (printed on standard error once listening).
    public var port = 8080
    /// Sentences decoded together at most (also the translator's batch size, as `translate --batch-size`).
    public var maxBatch = 32
    /// How long the worker waits for more sentences after the first one of a batch arrived.
    public var maxWaitMilliseconds = 5
    /// Sentences waiting at most; more are refused with 503 and `Retry-After`.
    public var maxQueue = 1024
    /// Largest request body.
    public var maxRequestBytes = 1 << 20
    /// Longest line (UTF-8 bytes); nil: the request limit, ``maxRequestBytes`` (a line longer than
    /// the model's positions is translated sentence by sentence, never truncated).
    public var maxLineBytes: Int?
    /// Largest `beam` a request may ask for.
    public var maxBeam = 16
    /// Tokens `/generate` produces at most per request.
    public var maxGenerateTokens = 2048
    public var beam = BeamSearch.defaultBeam
    public var lengthPenalty: Float = 1.4
    public var lengthNormalization: BeamSearch.LengthNormalization = .gnmt
    public var maxLenA: Double = 2
    public var maxLenB = 10
    /// Split each line of a request into sentences (ICU, by the rules of ``sourceLanguage``) and
    /// translate them separately, joined back with their whitespace (default true, as LibreTranslate
    /// does with `q`).
    public var splitSentences = true
    /// Language codes `/languages` reports and `source`/`target` are checked against (nil: any).
    public var sourceLanguage: String?
    public var targetLanguage: String?
    /// The model directory's name, for `/health` and `/languages`.
    public var modelName = "model"

    public init() {}
}
