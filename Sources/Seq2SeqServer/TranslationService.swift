import Foundation
import Hummingbird
import Seq2SeqKit

/// `seq2seq serve`: the HTTP routes in front of one batching worker per model (each owns its model;
/// requests are routed to a model by their `source` and `target` languages).
///
///     GET  /            the page: a text box, the translation and its cross-attention heatmap
///     POST /translate   {"q": "text" | [...], "beam"?, "n_best"?, "max_len"?} → {"translatedText": ...}
///     POST /attention   {"q": "one sentence"} → translation, pieces, cross-attention weights and SVG
///     POST /generate    {"prompt": ..., "max_tokens"?, ...} → Server-Sent Events (language models)
///     GET  /health, /metrics (Prometheus text), /languages (LibreTranslate's shape)
///     GET  /openapi.json  the contract of all of these (docs/openapi.json)
public final class TranslationService: Sendable {
    public let configuration: ServiceConfiguration
    /// The models, in the order given; each loaded once, with a worker of its own.
    let models: [ServedModel]
    let metrics = ServiceMetrics()
    let maxLineBytes: Int

    /// The methods each path answers (for 405s and the router).
    static let routes: [String: [String]] = [
        "/": ["GET"], "/translate": ["POST"], "/attention": ["POST"], "/generate": ["POST"],
        "/health": ["GET"], "/metrics": ["GET"], "/languages": ["GET"], "/openapi.json": ["GET"],
    ]

    /// Loads the model directory (float or int8) and starts its worker thread. Its languages are
    /// the configuration's ``ServiceConfiguration/sourceLanguage`` and ``ServiceConfiguration/targetLanguage``.
    public convenience init(modelDirectory: String, configuration: ServiceConfiguration) throws {
        try self.init(models: [ModelEntry(directory: modelDirectory, source: configuration.sourceLanguage,
                                          target: configuration.targetLanguage)],
                      configuration: configuration)
    }

    /// Loads several translation models, one per language pair (or one model of any kind), each
    /// with a worker thread of its own.
    /// - Throws: ``ServiceSetupError`` when no model is given, two share a pair, a model of several
    ///   lacks its pair or is a language model; and what loading a model directory throws.
    public init(models entries: [ModelEntry], configuration: ServiceConfiguration) throws {
        guard !entries.isEmpty else { throw ServiceSetupError(message: "no model to serve") }
        if entries.count > 1 {
            for e in entries where e.source == nil || e.target == nil {
                throw ServiceSetupError(message: "--model \(e.directory): with several models, name each one's pair: SRC-TGT=DIR")
            }
            var seen = Set<String>()
            for e in entries where !seen.insert("\(e.source!)-\(e.target!)").inserted {
                throw ServiceSetupError(message: "two models translate \(e.source!)-\(e.target!); serve one model per pair")
            }
        }
        var c = configuration
        if c.modelName == "model" && entries.count == 1 {
            c.modelName = URL(fileURLWithPath: entries[0].directory).lastPathComponent
        }
        self.configuration = c
        maxLineBytes = c.maxLineBytes ?? c.maxRequestBytes
        var loaded: [ServedModel] = []
        do {
            for e in entries {
                let name = entries.count > 1 ? "\(e.source!)-\(e.target!)" : c.modelName
                let m = try ServedModel(directory: e.directory, name: name, source: e.source, target: e.target,
                                        configuration: c, metrics: metrics)
                loaded.append(m)
                if entries.count > 1 && m.isDecoderOnly {
                    throw ServiceSetupError(message: "--model \(e.directory) is a language model; serve it on its own")
                }
            }
        } catch {
            for m in loaded { m.worker.stop() }
            throw error
        }
        models = loaded
    }

    /// Serves until SIGTERM or SIGINT: then stops accepting, answers the requests in flight, lets
    /// the worker finish and returns. `onListening` receives the bound port (useful with port 0).
    public func run(onListening: @escaping @Sendable (Int) -> Void = { _ in }) async throws {
        let app = Application(
            router: makeRouter(),
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "seq2seq"),
            onServerRunning: { channel in onListening(channel.localAddress?.port ?? 0) }
        )
        defer { for m in models { m.worker.stop() } }
        try await app.runService(gracefulShutdownSignals: [.sigterm, .sigint])
    }

    func makeRouter() -> Router<BasicRequestContext> {
        let router = Router()
        router.add(middleware: RequestMetricsMiddleware(metrics: metrics))
        router.add(middleware: JSONErrorMiddleware(routes: Self.routes))
        router.get("/") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8"],
                     body: ResponseBody(byteBuffer: ByteBuffer(string: Page.html)))
        }
        router.post("/translate") { request, _ in try await self.translate(request) }
        router.post("/attention") { request, _ in try await self.attention(request) }
        router.post("/generate") { request, _ in try await self.generate(request) }
        router.get("/health") { _, _ in
            JSONResponse.make(Health(status: "ok", model: self.models.map(\.name).joined(separator: ", "),
                                     models: self.models.map(\.name),
                                     kind: self.models[0].isDecoderOnly ? "language model" : "translation",
                                     queue: self.models.reduce(0) { $0 + $1.worker.depth }))
        }
        router.get("/metrics") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                     body: ResponseBody(byteBuffer: ByteBuffer(string: self.metrics.text())))
        }
        router.get("/openapi.json") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/json; charset=utf-8"],
                     body: ResponseBody(byteBuffer: ByteBuffer(string: OpenAPIDocument.json)))
        }
        router.get("/languages") { _, _ in
            // LibreTranslate's shape: one entry per source language, with the targets it reaches.
            var languages: [Language] = []
            for m in self.models where !m.isDecoderOnly {
                let source = m.source ?? "src", target = m.target ?? "tgt"
                if let i = languages.firstIndex(where: { $0.code == source }) {
                    if !languages[i].targets.contains(target) { languages[i].targets.append(target) }
                } else {
                    languages.append(Language(code: source, name: source, targets: [target]))
                }
            }
            return JSONResponse.make(languages)
        }
        return router
    }

    struct Health: Encodable { var status: String; var model: String; var models: [String]; var kind: String; var queue: Int }

    /// The model a request goes to: the one whose pair matches its `source` and `target` ("auto"
    /// or no source matches any source). A single model takes every request its languages allow.
    func model(source: String?, target: String?) throws -> ServedModel {
        let source = source == "auto" ? nil : source
        let matching = models.filter { m in
            (source == nil || m.source == nil || m.source == source) && (target == nil || m.target == nil || m.target == target)
        }
        if matching.count == 1 { return matching[0] }
        let pairs = models.map(\.name).joined(separator: ", ")
        if matching.isEmpty {
            if models.count == 1, let want = models[0].source, let s = source, s != want {
                throw ServiceError.badRequest("this model translates from \"\(want)\", not \"\(s)\" (see GET /languages)")
            }
            if models.count == 1, let want = models[0].target, let t = target {
                throw ServiceError.badRequest("this model translates into \"\(want)\", not \"\(t)\" (see GET /languages)")
            }
            throw ServiceError.badRequest("no model translates \"\(source ?? "auto")\" into \"\(target ?? "any")\"; this server has \(pairs) (see GET /languages)")
        }
        throw ServiceError.badRequest("several models match; give \"source\" and \"target\" (this server has \(pairs))")
    }
    struct Language: Encodable { var code: String; var name: String; var targets: [String] }

    /// The body, refused beyond `--max-request-bytes` (413) whatever Content-Length claims.
    func body(_ request: Request) async throws -> Data {
        let limit = configuration.maxRequestBytes
        if let declared = request.headers[.contentLength].flatMap(Int.init), declared > limit {
            throw ServiceError.tooLarge("the body has \(declared) bytes; this server takes at most \(limit) (--max-request-bytes)")
        }
        var data = Data()
        for try await chunk in request.body {
            data.append(contentsOf: chunk.readableBytesView)
            if data.count > limit {
                throw ServiceError.tooLarge("the body exceeds \(limit) bytes (--max-request-bytes)")
            }
        }
        return data
    }

    /// A request's lines: each text split at newlines as `translate` reads a file ("\n" ends a line,
    /// a "\r" before it is dropped; split on bytes, since "\r\n" is one Character), every line
    /// within `maxLineBytes`.
    func lines(of text: String) throws -> [String] {
        let lines = text.utf8.split(separator: 0x0A, omittingEmptySubsequences: false).map { l in
            String(decoding: l.last == 0x0D ? l.dropLast() : l, as: UTF8.self)
        }
        for l in lines where l.utf8.count > maxLineBytes {
            throw ServiceError.tooLarge("a line of \(l.utf8.count) bytes; this server takes at most \(maxLineBytes) per line (--max-line-bytes)")
        }
        return lines
    }
}
