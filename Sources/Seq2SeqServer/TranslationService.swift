import Foundation
import Hummingbird
import Seq2SeqKit

/// `seq2seq serve`: the HTTP routes in front of one batching worker that owns the model.
///
///     GET  /            the page: a text box, the translation and its cross-attention heatmap
///     POST /translate   {"q": "text" | [...], "beam"?, "n_best"?, "max_len"?} → {"translatedText": ...}
///     POST /attention   {"q": "one sentence"} → translation, pieces, cross-attention weights and SVG
///     POST /generate    {"prompt": ..., "max_tokens"?, ...} → Server-Sent Events (language models)
///     GET  /health, /metrics (Prometheus text), /languages (LibreTranslate's shape)
///     GET  /openapi.json  the contract of all of these (docs/openapi.json)
public final class TranslationService: Sendable {
    public let configuration: ServiceConfiguration
    let worker: BatchingWorker
    let metrics = ServiceMetrics()
    /// What handlers may know about the model without touching it.
    let isDecoderOnly: Bool
    let maxPositions: Int
    let maxLineBytes: Int

    /// The methods each path answers (for 405s and the router).
    static let routes: [String: [String]] = [
        "/": ["GET"], "/translate": ["POST"], "/attention": ["POST"], "/generate": ["POST"],
        "/health": ["GET"], "/metrics": ["GET"], "/languages": ["GET"], "/openapi.json": ["GET"],
    ]

    /// Loads the model directory (float or int8) and starts the worker thread.
    public init(modelDirectory: String, configuration: ServiceConfiguration) throws {
        let model = try ModelDirectory.load(modelDirectory)
        let vocabularies = try ModelDirectory.loadVocabularies(modelDirectory, for: model.config)
        var c = configuration
        if c.modelName == "model" { c.modelName = URL(fileURLWithPath: modelDirectory).lastPathComponent }
        self.configuration = c
        isDecoderOnly = model.config.isDecoderOnly
        maxPositions = model.config.maxPositions
        maxLineBytes = c.maxLineBytes ?? c.maxRequestBytes
        worker = BatchingWorker(engine: Engine(model: model, vocabularies: vocabularies, configuration: c), metrics: metrics)
        worker.start()
    }

    /// Serves until SIGTERM or SIGINT: then stops accepting, answers the requests in flight, lets
    /// the worker finish and returns. `onListening` receives the bound port (useful with port 0).
    public func run(onListening: @escaping @Sendable (Int) -> Void = { _ in }) async throws {
        let app = Application(
            router: makeRouter(),
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "seq2seq"),
            onServerRunning: { channel in onListening(channel.localAddress?.port ?? 0) }
        )
        defer { worker.stop() }
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
            JSONResponse.make(Health(status: "ok", model: self.configuration.modelName,
                                     kind: self.isDecoderOnly ? "language model" : "translation", queue: self.worker.depth))
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
            let c = self.configuration
            let source = c.sourceLanguage ?? "src", target = c.targetLanguage ?? "tgt"
            return JSONResponse.make(self.isDecoderOnly ? [] : [Language(code: source, name: source, targets: [target])])
        }
        return router
    }

    struct Health: Encodable { var status: String; var model: String; var kind: String; var queue: Int }
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
