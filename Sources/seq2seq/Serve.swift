import ArgumentParser
import Foundation
import Seq2SeqKit
import Seq2SeqServer

struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve a model over HTTP: POST /translate (LibreTranslate's JSON), /generate (SSE), a page at /.",
        discussion: """
        Requests from concurrent clients are gathered into batches for one model worker; each answer
        equals `seq2seq translate`'s for the same line. SIGTERM or SIGINT stops accepting, answers the
        requests in flight and exits 0.
          seq2seq serve --model runs/de-en --port 8080
          curl -s localhost:8080/translate -H 'Content-Type: application/json' -d '{"q": "Ein Mann fährt Fahrrad."}'
        Several models, one per language pair, each loaded once and batched on its own; requests are
        routed by LibreTranslate's "source" and "target":
          seq2seq serve --model de-en=runs/de-en --model en-de=runs/en-de
        """
    )

    @Option(help: "Model directory (translation or language model, float or int8), or SRC-TGT=DIR; repeat for several pairs (de-en=runs/de-en).")
    var model: [String]
    @Option(help: "Address to listen on.") var host = "127.0.0.1"
    @Option(help: "Port (0: any free port, printed on standard error).") var port = 8080
    @Option(help: "Sentences decoded together at most.") var maxBatch = 32
    @Option(help: "Milliseconds a batch waits for more sentences after its first arrived.") var maxWaitMs = 5
    @Option(help: "Sentences waiting at most; beyond, requests get 503.") var maxQueue = 1024
    @Option(help: "Largest request body in bytes (beyond: 413).") var maxRequestBytes = 1 << 20
    @Option(help: "Longest line in UTF-8 bytes (beyond: 413; default: --max-request-bytes).") var maxLineBytes: Int?
    @Option(help: "Largest beam a request may ask for.") var maxBeam = 16
    @Option(help: "Most tokens one /generate request may ask for.") var maxGenerateTokens = 2048
    @Option(help: "Default beam size (1: greedy).") var beam = BeamSearch.defaultBeam
    @Option(help: "Length penalty α (as translate).") var lengthPenalty: Float = 1.4
    @Option(help: "gnmt or power (as translate).") var lengthNormalization: BeamSearch.LengthNormalization = .gnmt
    @Option(help: "Output cap: a · source length + b tokens (a).") var maxLenA: Double = 2
    @Option(help: "Output cap: a · source length + b tokens (b).") var maxLenB = 10
    @Option(help: "Source language code for /languages (and to check requests' \"source\").") var sourceLang: String?
    @Option(help: "Target language code for /languages (and to check requests' \"target\").") var targetLang: String?
    @Flag(inversion: .prefixedNo, help: "Split each line of a request into sentences (ICU, --source-lang's rules) and translate them separately.")
    var splitSentences = true
    @OptionGroup var compute: ComputeOptions

    func validate() throws {
        if model.isEmpty { throw ValidationError("give --model DIR (or --model SRC-TGT=DIR for each pair)") }
        let entries = try model.map { v in
            do { return try ModelEntry.parse(v) } catch let e as ModelEntryError { throw ValidationError(e.message) }
        }
        if entries.contains(where: { $0.source != nil }) && (sourceLang != nil || targetLang != nil) {
            throw ValidationError("--source-lang and --target-lang are for one unnamed model; a --model SRC-TGT=DIR names its pair")
        }
        if entries.count > 1, let e = entries.first(where: { $0.source == nil }) {
            throw ValidationError("--model \(e.directory): with several models, name each one's pair: SRC-TGT=DIR")
        }
        try Check.int(port, "--port", 0...65_535)
        try Check.int(maxBatch, "--max-batch", 1...4096)
        try Check.int(maxWaitMs, "--max-wait-ms", 0...60_000)
        try Check.int(maxQueue, "--max-queue", 1...10_000_000)
        try Check.int(maxRequestBytes, "--max-request-bytes", 16...(1 << 30))
        try Check.int(maxLineBytes, "--max-line-bytes", 1...(1 << 30))
        try Check.int(maxBeam, "--max-beam", 1...256)
        try Check.int(maxGenerateTokens, "--max-generate-tokens", 0...10_000_000)
        try Check.int(beam, "--beam", 1...maxBeam)
        try Check.real(lengthPenalty, "--length-penalty", 0...10)
        try Check.real(maxLenA, "--max-len-a", 0...64)
        try Check.int(maxLenB, "--max-len-b", 0...1_000_000)
    }

    func run() throws {
        // Before any thread starts: the model worker runs oneDNN, which a handler must not interrupt (StopSignals).
        StopSignals.blockOnThisAndLaterThreads()
        compute.apply()
        var c = ServiceConfiguration()
        c.host = host; c.port = port
        c.maxBatch = maxBatch; c.maxWaitMilliseconds = maxWaitMs; c.maxQueue = maxQueue
        c.maxRequestBytes = maxRequestBytes; c.maxLineBytes = maxLineBytes; c.maxBeam = maxBeam
        c.maxGenerateTokens = maxGenerateTokens
        c.beam = beam; c.lengthPenalty = lengthPenalty; c.lengthNormalization = lengthNormalization
        c.maxLenA = maxLenA; c.maxLenB = maxLenB
        c.sourceLanguage = sourceLang; c.targetLanguage = targetLang
        c.splitSentences = splitSentences
        var entries = try model.map { try ModelEntry.parse($0) }
        if entries.count == 1 && entries[0].source == nil { entries[0].source = sourceLang; entries[0].target = targetLang }
        let service: TranslationService
        do {
            service = try TranslationService(models: entries, configuration: c)
        } catch let e as ServiceSetupError {
            throw InputError(e.message)
        }
        let host = self.host, names = model.joined(separator: ", ")
        try runAsync {
            try await service.run { port in stderrLine("serving \(names) on http://\(host):\(port)") }
        }
        stderrLine("stopped")
    }
}

/// Runs async work from a synchronous command and waits for it (the root command is not async).
func runAsync(_ work: @escaping @Sendable () async throws -> Void) throws {
    final class Outcome: @unchecked Sendable { var error: (any Error)? }
    let outcome = Outcome()
    let done = DispatchSemaphore(value: 0)
    Task {
        do { try await work() } catch { outcome.error = error }
        done.signal()
    }
    done.wait()
    if let e = outcome.error { throw e }
}
