import Foundation
import Hummingbird
import HummingbirdTesting
import Seq2SeqKit
@_spi(Testing) import Seq2SeqServer
import XCTest

/// The HTTP service in process, through Hummingbird's router test client (no socket, no binary):
/// every route's answer and status, each bad request's JSON error, n-best shapes, LibreTranslate's
/// fields, and the batching worker's answers equal to the library's `Translator` for the same lines.
/// (ServeTests in Seq2SeqKitTests speaks to the real binary over loopback: signals, concurrency over
/// sockets, the page in Chromium.)
final class ServiceRouteTests: XCTestCase {
    /// A tiny translation model trained once for the class with the library's TrainingRun.
    nonisolated(unsafe) static var model = ""
    nonisolated(unsafe) static var directory = ""

    static var repository: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    }
    static var sample: String { repository + "/corpora/sample" }

    override class func setUp() {
        directory = NSTemporaryDirectory() + "seq2seq-service-\(getpid())-\(UUID().uuidString.prefix(8))"
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }
    override class func tearDown() { try? FileManager.default.removeItem(atPath: directory) }

    func trainedModel() throws -> String {
        if !Self.model.isEmpty { return Self.model }
        Threads.set(1)
        var options = TrainingRun.Options(modelDirectory: Self.directory + "/model")
        options.source = Self.sample + "/train.de"
        options.target = Self.sample + "/train.en"
        options.vocabularySize = 500
        options.architecture.dModel = 32
        options.architecture.dFF = 64
        options.architecture.layers = 1
        options.architecture.heads = 2
        options.maxSteps = 60
        options.threads = 1
        _ = try TrainingRun(options).run(log: { _ in })
        Self.model = options.modelDirectory
        return Self.model
    }

    func sampleLines(_ n: Int) throws -> [String] {
        Array(try String(contentsOfFile: Self.sample + "/test.de", encoding: .utf8).split(separator: "\n").prefix(n).map(String.init))
    }

    /// The library's translations of `lines` with the service's decoding defaults.
    func offline(_ lines: [String], beam: Int = 5, nBest: Int = 1) throws -> [Translator.Output] {
        let dir = try trainedModel()
        let model = try ModelDirectory.load(dir)
        let translator = Translator(model: model, vocabularies: try ModelDirectory.loadVocabularies(dir, for: model.config))
        let c = ServiceConfiguration()
        translator.search = BeamSearch(beam: beam, lengthPenalty: c.lengthPenalty, normalization: c.lengthNormalization, nBest: nBest)
        translator.batchSize = c.maxBatch
        return try translator.translate(lines)
    }

    /// Runs `body` against a service on the trained model, then stops its worker.
    func withService(_ configure: (inout ServiceConfiguration) -> Void = { _ in },
                     _ body: @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        var c = ServiceConfiguration()
        configure(&c)
        let service = try TranslationService(modelDirectory: try trainedModel(), configuration: c)
        defer { service.stopWorker() }
        let app = Application(router: service.makeRouter())
        try await app.test(.router, body)
    }

    static func json(_ r: TestResponse) throws -> [String: Any] {
        try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(buffer: r.body)) as? [String: Any], String(buffer: r.body))
    }

    static func post(_ client: any TestClientProtocol, _ path: String, _ body: String) async throws -> TestResponse {
        try await client.execute(uri: path, method: .post, headers: [.contentType: "application/json"],
                                 body: ByteBuffer(string: body))
    }

    func testTranslateEqualsTheLibrarysTranslator() async throws {
        let lines = try sampleLines(12)
        let expected = try offline(lines).map(\.text)
        let expectedNBest = try offline(Array(lines.prefix(3)), beam: 4, nBest: 3)
        try await withService { client in
            // One string: one string back.
            let one = try await Self.post(client, "/translate", try String(data: JSONSerialization.data(withJSONObject: ["q": lines[0]]), encoding: .utf8)!)
            XCTAssertEqual(one.status, .ok)
            XCTAssertEqual(try Self.json(one)["translatedText"] as? String, expected[0])
            XCTAssertTrue(one.headers[.contentType]?.hasPrefix("application/json") == true)
            // An array, and a text of several lines: answers in order, lines joined with "\n".
            let body = try JSONSerialization.data(withJSONObject: ["q": Array(lines[1..<6]) + [lines[6...8].joined(separator: "\r\n")]])
            let many = try await Self.post(client, "/translate", String(data: body, encoding: .utf8)!)
            XCTAssertEqual(many.status, .ok)
            XCTAssertEqual(try Self.json(many)["translatedText"] as? [String],
                           Array(expected[1..<6]) + [expected[6...8].joined(separator: "\n")])
            // Concurrent clients share the worker's batches; every answer is still its own line's.
            try await withThrowingTaskGroup(of: (Int, String?).self) { group in
                for i in 9..<12 {
                    group.addTask {
                        let r = try await Self.post(client, "/translate", try String(data: JSONSerialization.data(withJSONObject: ["q": lines[i]]), encoding: .utf8)!)
                        return (i, try Self.json(r)["translatedText"] as? String)
                    }
                }
                for try await (i, text) in group { XCTAssertEqual(text, expected[i], "line \(i)") }
            }
            // n-best: alternatives and scores in the same shape as translatedText, best first.
            let nb = try await Self.post(client, "/translate", #"{"q": ["\#(lines[0])", "\#(lines[1])", "\#(lines[2])"], "beam": 4, "n_best": 3}"#)
            let j = try Self.json(nb)
            XCTAssertEqual(j["translatedText"] as? [String], expectedNBest.map(\.text))
            let alternatives = try XCTUnwrap(j["alternatives"] as? [[String]])
            let scores = try XCTUnwrap(j["scores"] as? [[Double]])
            for (k, out) in expectedNBest.enumerated() {
                XCTAssertEqual(alternatives[k], Array(out.hypotheses.dropFirst().map(\.text)))
                XCTAssertEqual(scores[k].count, out.hypotheses.count)
                for (s, h) in zip(scores[k], out.hypotheses) { XCTAssertEqual(Float(s), h.score, accuracy: 1e-5) }
                XCTAssertEqual(scores[k], scores[k].sorted(by: >))
            }
        }
    }

    func testBadRequestsGetJSONErrorsWithTheirStatus() async throws {
        try await withService({ c in
            c.maxRequestBytes = 2000; c.maxLineBytes = 300; c.maxQueue = 6
            c.sourceLanguage = "de"; c.targetLanguage = "en"
        }) { client in
            func expect(_ r: TestResponse, _ status: HTTPResponse.Status, _ words: String, line: UInt = #line) throws {
                XCTAssertEqual(r.status, status, String(buffer: r.body), line: line)
                let error = try Self.json(r)["error"] as? String
                XCTAssertTrue(error?.contains(words) == true, "expected '\(words)' in \(String(buffer: r.body))", line: line)
            }
            try expect(try await Self.post(client, "/translate", "{\"q\": "), .badRequest, "not valid JSON")
            try expect(try await Self.post(client, "/translate", "[1, 2]"), .badRequest, "JSON object")
            try expect(try await Self.post(client, "/translate", "{}"), .badRequest, "missing \"q\"")
            try expect(try await Self.post(client, "/translate", #"{"q": 5}"#), .badRequest, "\"q\" must be a string or an array")
            try expect(try await Self.post(client, "/translate", #"{"q": "a", "beam": "5"}"#), .badRequest, "\"beam\" must be an integer")
            try expect(try await Self.post(client, "/translate", #"{"q": "a", "beam": 0}"#), .badRequest, "\"beam\" must be between 1 and 16")
            try expect(try await Self.post(client, "/translate", #"{"q": "a", "beam": 2, "n_best": 3}"#), .badRequest, "\"n_best\" must be between 1 and beam")
            try expect(try await Self.post(client, "/translate", #"{"q": "a", "source": "fr"}"#), .badRequest, "from \"de\"")
            try expect(try await Self.post(client, "/translate", #"{"q": "a", "format": "html"}"#), .badRequest, "\"format\"")
            try expect(try await Self.post(client, "/translate", #"{"q": "\#(String(repeating: "a", count: 3000))"}"#), .contentTooLarge, "--max-request-bytes")
            try expect(try await Self.post(client, "/translate", #"{"q": "\#(String(repeating: "Hund ", count: 80))"}"#), .contentTooLarge, "--max-line-bytes")
            try expect(try await Self.post(client, "/translate", #"{"q": ["a","b","c","d","e","f","g"]}"#), .contentTooLarge, "--max-queue")
            try expect(try await Self.post(client, "/generate", #"{"prompt": "x"}"#), .badRequest, "POST /translate")
            try expect(try await Self.post(client, "/attention", #"{"q": ["a", "b"]}"#), .badRequest, "one sentence")
            try expect(try await client.execute(uri: "/nowhere", method: .get), .notFound, "no such path")
            let wrong = try await client.execute(uri: "/translate", method: .get)
            try expect(wrong, .methodNotAllowed, "POST")
            XCTAssertEqual(wrong.headers[.allow], "POST")
            // The service answered every one of them and is still well.
            let health = try await client.execute(uri: "/health", method: .get)
            XCTAssertEqual(health.status, .ok)
            XCTAssertEqual(try Self.json(health)["status"] as? String, "ok")
        }
    }

    func testHealthLanguagesMetricsAndPage() async throws {
        try await withService({ c in c.sourceLanguage = "de"; c.targetLanguage = "en"; c.modelName = "de-en" }) { client in
            let health = try Self.json(try await client.execute(uri: "/health", method: .get))
            XCTAssertEqual(health["model"] as? String, "de-en")
            XCTAssertEqual(health["kind"] as? String, "translation")
            XCTAssertEqual(health["queue"] as? Int, 0)
            let languages = try await client.execute(uri: "/languages", method: .get)
            let list = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(buffer: languages.body)) as? [[String: Any]])
            XCTAssertEqual(list.count, 1)
            XCTAssertEqual(list.first?["code"] as? String, "de")
            XCTAssertEqual(list.first?["targets"] as? [String], ["en"])
            _ = try await Self.post(client, "/translate", #"{"q": ["Ein Hund.", "Eine Katze."]}"#)
            _ = try await Self.post(client, "/translate", #"{"q": 1}"#)
            let metrics = String(buffer: try await client.execute(uri: "/metrics", method: .get).body)
            XCTAssertTrue(metrics.contains("status=\"400\""), metrics)
            XCTAssertTrue(metrics.contains("status=\"200\""), metrics)
            let sentences = metrics.split(separator: "\n").first { $0.hasPrefix("seq2seq_translated_sentences_total") }
            XCTAssertEqual(sentences.flatMap { $0.split(separator: " ").last }.flatMap { Double($0) }, 2, metrics)
            let page = try await client.execute(uri: "/", method: .get)
            XCTAssertEqual(page.status, .ok)
            XCTAssertTrue(String(buffer: page.body).contains("<html"))
        }
    }

    func testAttentionAnswersTheTranslationAndItsWeights() async throws {
        let line = try sampleLines(1)[0]
        let expected = try offline([line])[0].text
        try await withService { client in
            let r = try await Self.post(client, "/attention", try String(data: JSONSerialization.data(withJSONObject: ["q": line]), encoding: .utf8)!)
            XCTAssertEqual(r.status, .ok, String(buffer: r.body))
            let j = try Self.json(r)
            XCTAssertEqual(j["translatedText"] as? String, expected)
            let pieces = try XCTUnwrap(j["source_pieces"] as? [String]), targets = try XCTUnwrap(j["target_pieces"] as? [String])
            let weights = try XCTUnwrap(j["weights"] as? [[Double]])
            XCTAssertEqual(weights.count, targets.count)
            for row in weights {
                XCTAssertEqual(row.count, pieces.count)
                XCTAssertEqual(row.reduce(0, +), 1, accuracy: 1e-4)  // each target piece's attention sums to 1
            }
            XCTAssertTrue((j["svg"] as? String)?.hasPrefix("<svg") == true)
        }
    }

    /// GET /openapi.json is docs/openapi.json, and every path and method the document names is
    /// answered (not 404 or 405); the rest of the contract is checked by schemathesis
    /// (scripts/check-openapi.sh).
    func testOpenAPIDocumentIsServedAndNamesEveryRoute() async throws {
        let file = try Data(contentsOf: URL(fileURLWithPath: Self.repository + "/docs/openapi.json"))
        let document = try XCTUnwrap(try JSONSerialization.jsonObject(with: file) as? [String: Any])
        let paths = try XCTUnwrap(document["paths"] as? [String: [String: Any]])
        let operations = paths.flatMap { path, ops in ops.keys.map { [path, $0] } }
        try await withService { client in
            let served = try await client.execute(uri: "/openapi.json", method: .get)
            XCTAssertEqual(served.status, .ok)
            let parsed = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(buffer: served.body)) as? NSDictionary)
            let expected = try XCTUnwrap(try JSONSerialization.jsonObject(with: file) as? NSDictionary)
            XCTAssertEqual(parsed, expected, "GET /openapi.json differs from docs/openapi.json: run scripts/sync-openapi.sh")
            for operation in operations {
                let (path, method) = (operation[0], operation[1])
                let r = try await client.execute(uri: path, method: HTTPRequest.Method(rawValue: method.uppercased())!,
                                                 headers: [.contentType: "application/json"], body: ByteBuffer(string: "{}"))
                XCTAssertFalse([.notFound, .methodNotAllowed].contains(r.status), "\(method) \(path): \(r.status)")
            }
        }
        XCTAssertEqual(Set(paths.keys), ["/", "/translate", "/attention", "/generate", "/health", "/languages", "/metrics", "/openapi.json"])
    }
}
