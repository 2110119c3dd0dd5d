import Foundation
import HTTPTestSupport
import Seq2SeqKit
import Seq2SeqServer
import XCTest

/// The HTTP service in process: `TranslationService.run` on a loopback port inside the test
/// process (no binary), spoken to over HTTP: every route's answer and status, each bad request's
/// JSON error, n-best shapes, LibreTranslate's fields, the OpenAPI document, and the batching
/// worker's answers equal to the library's `Translator` for the same lines. (ServeTests in
/// Seq2SeqKitTests runs the real binary: signals, the page in Chromium, oneDNN failures.)
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
    func offline(_ lines: [String], beam: Int = 5, nBest: Int = 1,
                 repetition: RepetitionControl = RepetitionControl()) throws -> [Translator.Output] {
        let dir = try trainedModel()
        let model = try ModelDirectory.load(dir)
        let translator = Translator(model: model, vocabularies: try ModelDirectory.loadVocabularies(dir, for: model.config))
        let c = ServiceConfiguration()
        translator.search = BeamSearch(beam: beam, lengthPenalty: c.lengthPenalty, normalization: c.lengthNormalization, nBest: nBest)
        translator.search.repetition = repetition
        translator.batchSize = c.maxBatch
        return try translator.translate(lines)
    }

    /// Serves the trained model on a free loopback port while `body` runs (requests are made from
    /// this thread and from Dispatch threads, never from Swift's cooperative pool, which the server
    /// uses), then cancels the service, which answers what is in flight and stops its worker.
    func withService(_ configure: (inout ServiceConfiguration) -> Void = { _ in }, _ body: (Client) throws -> Void) throws {
        var c = ServiceConfiguration()
        c.host = "127.0.0.1"
        c.port = 0
        configure(&c)
        let service = try TranslationService(modelDirectory: try trainedModel(), configuration: c)
        let listening = Locked(0), finished = DispatchSemaphore(value: 0)
        let task = Task {
            defer { finished.signal() }
            try await service.run(onListening: { port in listening.update { $0 = port } })
        }
        defer {
            task.cancel()
            finished.wait()
        }
        let deadline = Date().addingTimeInterval(30)
        while listening.value == 0 && Date() < deadline { usleep(10_000) }
        XCTAssertNotEqual(listening.value, 0, "the service did not start listening")
        try body(Client(port: listening.value))
    }

    struct Client: Sendable {
        let port: Int
        func get(_ path: String) throws -> HTTPTestClient.Reply { try HTTPTestClient.request(port: port, "GET", path) }
        func post(_ path: String, _ body: String) throws -> HTTPTestClient.Reply {
            try HTTPTestClient.request(port: port, "POST", path, body: Data(body.utf8), headers: ["Content-Type": "application/json"])
        }
        func post(_ path: String, json: Any) throws -> HTTPTestClient.Reply { try HTTPTestClient.post(port: port, path, json: json) }
        func request(_ method: String, _ path: String, _ body: String) throws -> HTTPTestClient.Reply {
            try HTTPTestClient.request(port: port, method, path, body: Data(body.utf8), headers: ["Content-Type": "application/json"])
        }
    }

    static func json(_ r: HTTPTestClient.Reply) throws -> [String: Any] {
        try XCTUnwrap(try r.json() as? [String: Any], r.text)
    }

    func testTranslateEqualsTheLibrarysTranslator() throws {
        let lines = try sampleLines(12)
        let expected = try offline(lines).map(\.text)
        let expectedNBest = try offline(Array(lines.prefix(3)), beam: 4, nBest: 3)
        let steered = RepetitionControl(penalty: 1.3, noRepeatNgram: 2)
        let expectedSteered = try offline(Array(lines.prefix(6)), repetition: steered).map(\.text)
        XCTAssertNotEqual(expectedSteered, Array(expected.prefix(6)), "the repetition controls changed nothing on these lines")
        try withService { client in
            // An HTML form, as LibreTranslate's clients post it, is the same request.
            let form = "q=" + (lines[0].addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "") + "&source=auto&format=text"
            let posted = try HTTPTestClient.request(port: client.port, "POST", "/translate", body: Data(form.utf8),
                                                    headers: ["Content-Type": "application/x-www-form-urlencoded"])
            XCTAssertEqual(try Self.json(posted)["translatedText"] as? String, expected[0])
            // One string: one string back.
            let one = try client.post("/translate", json: ["q": lines[0]])
            XCTAssertEqual(one.status, 200)
            XCTAssertEqual(try Self.json(one)["translatedText"] as? String, expected[0])
            XCTAssertTrue(one.headers["content-type"]?.hasPrefix("application/json") == true)
            // An array, and a text of several lines: answers in order, lines joined with "\n".
            let many = try client.post("/translate", json: ["q": Array(lines[1..<6]) + [lines[6...8].joined(separator: "\r\n")]])
            XCTAssertEqual(many.status, 200)
            XCTAssertEqual(try Self.json(many)["translatedText"] as? [String],
                           Array(expected[1..<6]) + [expected[6...8].joined(separator: "\n")])
            // Concurrent clients share the worker's batches; every answer is still its own line's.
            let answers = Locked([Int: String]())
            DispatchQueue.concurrentPerform(iterations: 3) { k in
                let i = 9 + k
                let text = (try? client.post("/translate", json: ["q": lines[i]])).flatMap { try? Self.json($0)["translatedText"] as? String }
                answers.update { $0[i] = text }
            }
            for i in 9..<12 { XCTAssertEqual(answers.value[i], expected[i], "line \(i)") }
            // Repetition control, CTranslate2's field names: the library's translations with the same control.
            let rc = try client.post("/translate", json: ["q": Array(lines.prefix(6)), "repetition_penalty": 1.3, "no_repeat_ngram_size": 2])
            XCTAssertEqual(rc.status, 200, rc.text)
            XCTAssertEqual(try Self.json(rc)["translatedText"] as? [String], expectedSteered)
            // n-best: alternatives and scores in the same shape as translatedText, best first.
            let nb = try client.post("/translate", json: ["q": Array(lines.prefix(3)), "beam": 4, "n_best": 3])
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

    func testTargetPrefixAlignmentsAndSentenceSplitting() throws {
        let lines = try sampleLines(4)
        let dir = try trainedModel()
        let model = try ModelDirectory.load(dir)
        let translator = Translator(model: model, vocabularies: try ModelDirectory.loadVocabularies(dir, for: model.config))
        let c = ServiceConfiguration()
        translator.search = BeamSearch(beam: c.beam, lengthPenalty: c.lengthPenalty, normalization: c.lengthNormalization)
        translator.alignments = true
        let prefixed = try translator.translate([TranslationInput(lines[0], targetPrefix: "A dog"), TranslationInput(lines[1]),
                                                 TranslationInput(lines[2], targetPrefix: "Two")])
        let paragraph = lines[2] + " " + lines[3]
        translator.splitSentences = true
        let split = try translator.translate([paragraph])[0]
        XCTAssertEqual(split.parts, 2)
        try withService { client in
            let one = try Self.json(try client.post("/translate", json: ["q": lines[0], "target_prefix": "A dog", "alignments": true]))
            XCTAssertEqual(one["translatedText"] as? String, prefixed[0].text)
            XCTAssertTrue((one["translatedText"] as? String)?.hasPrefix("A dog") == true)
            XCTAssertEqual(one["alignment"] as? String, WordAlignment.pharaoh(prefixed[0].alignments))
            // With an array q, one prefix (or null) per text; a text's prefix steers its first line.
            let many = try Self.json(try client.post("/translate", json: ["q": [lines[0], lines[1] + "\n" + lines[2]],
                                                                            "target_prefix": ["A dog", NSNull()], "alignments": true]))
            XCTAssertEqual(many["translatedText"] as? [String], [prefixed[0].text, prefixed[1].text + "\n" + (try translator.translate([lines[2]]))[0].text])
            let alignments = try XCTUnwrap(many["alignment"] as? [String])
            let shift = lines[1].split(separator: " ").count, shiftOut = prefixed[1].text.split(separator: " ").count
            let second = prefixed[1].alignments + (try translator.translate([lines[2]])[0].alignments)
                .map { WordAlignment(source: $0.source + shift, target: $0.target + shiftOut) }
            XCTAssertEqual(alignments, [WordAlignment.pharaoh(prefixed[0].alignments), WordAlignment.pharaoh(second)])
            // A glossary: lines that hold a source term contain its target term.
            let glossed = try Self.json(try client.post("/translate", json: ["q": ["Ein Mann läuft.", "Eine Frau läuft."],
                                                                               "glossary": ["Mann": "gentleman"]]))
            let glossedTexts = try XCTUnwrap(glossed["translatedText"] as? [String])
            XCTAssertTrue(glossedTexts[0].contains("gentleman"), glossedTexts[0])
            XCTAssertEqual(glossedTexts[1], try translator.translate(["Eine Frau läuft."])[0].text)
            // Without "alignments", no alignment field.
            XCTAssertNil(try Self.json(try client.post("/translate", json: ["q": lines[0]]))["alignment"])
            // Sentences of a paragraph are translated one by one (the server's default).
            XCTAssertEqual(try Self.json(try client.post("/translate", json: ["q": paragraph]))["translatedText"] as? String, split.text)
            // HTML: the blocks' texts translated with alignments, the markup kept, inline tags projected.
            let html = "<h1>\(lines[0])</h1><p><i>\(lines[1])</i> <b>\(lines[2])</b></p>"
            let document = HTMLText(parsing: html)
            XCTAssertEqual(document.texts, [lines[0], lines[1] + " " + lines[2]])
            let expected = document.rendered(with: try translator.translate(document.texts.map { TranslationInput($0) }))
            let answer = try Self.json(try client.post("/translate", json: ["q": [html, "a &amp; b"], "format": "html"]))
            let texts = try XCTUnwrap(answer["translatedText"] as? [String])
            XCTAssertEqual(texts.first, expected)
            XCTAssertTrue(expected.hasPrefix("<h1>") && expected.contains("<i>") && expected.contains("</b></p>"), expected)
            // Bad prefixes.
            for (body, words) in [(#"{"q": "a", "target_prefix": 3}"#, "\"target_prefix\" must be a string"),
                                  (#"{"q": ["a", "b"], "target_prefix": "x"}"#, "array of 2 strings"),
                                  (#"{"q": "a", "alignments": "yes"}"#, "\"alignments\" must be true or false"),
                                  (#"{"q": "a", "glossary": ["Hund"]}"#, "\"glossary\" must be an object"),
                                  (#"{"q": "a", "glossary": {"Hund": ""}}"#, "\"glossary\" must be an object"),
                                  (#"{"q": "a", "target_prefix": "\#(String(repeating: "dog ", count: 1100))"}"#, "\"target_prefix\": the target prefix has")] {
                let r = try client.post("/translate", body)
                XCTAssertEqual(r.status, 400, r.text)
                XCTAssertTrue((try Self.json(r)["error"] as? String)?.contains(words) == true, "expected '\(words)' in \(r.text)")
            }
            // A bad prefix batched with good requests fails alone.
            let answers = Locked([Int: Int]())
            DispatchQueue.concurrentPerform(iterations: 3) { k in
                let body: [String: Any] = k == 1 ? ["q": lines[k], "target_prefix": String(repeating: "dog ", count: 1100)] : ["q": lines[k]]
                let status = (try? client.post("/translate", json: body))?.status ?? 0
                answers.update { $0[k] = status }
            }
            XCTAssertEqual(answers.value, [0: 200, 1: 400, 2: 200])
        }
    }

    func testBadRequestsGetJSONErrorsWithTheirStatus() throws {
        try withService({ c in
            c.maxRequestBytes = 2000; c.maxLineBytes = 300; c.maxQueue = 6
            c.sourceLanguage = "de"; c.targetLanguage = "en"
        }) { client in
            func expect(_ r: HTTPTestClient.Reply, _ status: Int, _ words: String, line: UInt = #line) throws {
                XCTAssertEqual(r.status, status, r.text, line: line)
                let error = try Self.json(r)["error"] as? String
                XCTAssertTrue(error?.contains(words) == true, "expected '\(words)' in \(r.text)", line: line)
                XCTAssertTrue(r.headers["content-type"]?.hasPrefix("application/json") == true, line: line)
            }
            try expect(try client.post("/translate", "{\"q\": "), 400, "not valid JSON")
            try expect(try client.post("/translate", "[1, 2]"), 400, "JSON object")
            try expect(try client.post("/translate", "{}"), 400, "missing \"q\"")
            try expect(try client.post("/translate", #"{"q": 5}"#), 400, "\"q\" must be a string or an array")
            try expect(try client.post("/translate", #"{"q": "a", "beam": "5"}"#), 400, "\"beam\" must be an integer")
            try expect(try client.post("/translate", #"{"q": "a", "beam": 0}"#), 400, "\"beam\" must be between 1 and 16")
            try expect(try client.post("/translate", #"{"q": "a", "beam": 2, "n_best": 3}"#), 400, "\"n_best\" must be between 1 and beam")
            try expect(try client.post("/translate", #"{"q": "a", "repetition_penalty": 0}"#), 400, "\"repetition_penalty\" must be a number from 0.01 to 100")
            try expect(try client.post("/translate", #"{"q": "a", "repetition_penalty": "x"}"#), 400, "\"repetition_penalty\" must be a number")
            try expect(try client.post("/translate", #"{"q": "a", "no_repeat_ngram_size": -1}"#), 400, "\"no_repeat_ngram_size\" must be between 0")
            try expect(try client.post("/translate", #"{"q": "a", "source": "fr"}"#), 400, "from \"de\"")
            try expect(try client.post("/translate", #"{"q": "a", "format": "xml"}"#), 400, "\"format\" must be \"text\" or \"html\"")
            try expect(try client.post("/translate", #"{"q": "<p>a</p>", "format": "html", "target_prefix": "x"}"#), 400, "\"target_prefix\" is for")
            try expect(try client.post("/translate", #"{"q": "\#(String(repeating: "a", count: 3000))"}"#), 413, "--max-request-bytes")
            try expect(try client.post("/translate", #"{"q": "\#(String(repeating: "Hund ", count: 80))"}"#), 413, "--max-line-bytes")
            try expect(try client.post("/translate", #"{"q": ["a","b","c","d","e","f","g"]}"#), 413, "--max-queue")
            try expect(try client.post("/generate", #"{"prompt": "x"}"#), 400, "POST /translate")
            try expect(try client.post("/attention", #"{"q": ["a", "b"]}"#), 400, "one sentence")
            try expect(try client.get("/nowhere"), 404, "no such path")
            let wrong = try client.get("/translate")
            try expect(wrong, 405, "POST")
            XCTAssertEqual(wrong.headers["allow"], "POST")
            // The service answered every one of them and is still well.
            let health = try client.get("/health")
            XCTAssertEqual(health.status, 200)
            XCTAssertEqual(try Self.json(health)["status"] as? String, "ok")
        }
    }

    func testHealthLanguagesMetricsAndPage() throws {
        try withService({ c in c.sourceLanguage = "de"; c.targetLanguage = "en"; c.modelName = "de-en" }) { client in
            let health = try Self.json(try client.get("/health"))
            XCTAssertEqual(health["model"] as? String, "de-en")
            XCTAssertEqual(health["kind"] as? String, "translation")
            XCTAssertEqual(health["queue"] as? Int, 0)
            let list = try XCTUnwrap(try client.get("/languages").json() as? [[String: Any]])
            XCTAssertEqual(list.count, 1)
            XCTAssertEqual(list.first?["code"] as? String, "de")
            XCTAssertEqual(list.first?["targets"] as? [String], ["en"])
            _ = try client.post("/translate", #"{"q": ["Ein Hund.", "Eine Katze."]}"#)
            _ = try client.post("/translate", #"{"q": 1}"#)
            let metrics = try client.get("/metrics").text
            XCTAssertTrue(metrics.contains("status=\"400\""), metrics)
            XCTAssertTrue(metrics.contains("status=\"200\""), metrics)
            let sentences = metrics.split(separator: "\n").first { $0.hasPrefix("seq2seq_translated_sentences_total") }
            XCTAssertEqual(sentences.flatMap { $0.split(separator: " ").last }.flatMap { Double($0) }, 2, metrics)
            let page = try client.get("/")
            XCTAssertEqual(page.status, 200)
            XCTAssertTrue(page.text.contains("<html"))
        }
    }

    func testAttentionAnswersTheTranslationAndItsWeights() throws {
        let line = try sampleLines(1)[0]
        let expected = try offline([line])[0].text
        try withService { client in
            let r = try client.post("/attention", json: ["q": line])
            XCTAssertEqual(r.status, 200, r.text)
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
    func testOpenAPIDocumentIsServedAndNamesEveryRoute() throws {
        let file = try Data(contentsOf: URL(fileURLWithPath: Self.repository + "/docs/openapi.json"))
        let document = try XCTUnwrap(try JSONSerialization.jsonObject(with: file) as? NSDictionary)
        let paths = try XCTUnwrap(document["paths"] as? [String: [String: Any]])
        try withService { client in
            let served = try client.get("/openapi.json")
            XCTAssertEqual(served.status, 200)
            XCTAssertEqual(try XCTUnwrap(try served.json() as? NSDictionary), document,
                           "GET /openapi.json differs from docs/openapi.json: run scripts/sync-openapi.sh")
            for (path, operations) in paths {
                for method in operations.keys {
                    let r = try client.request(method.uppercased(), path, "{}")
                    XCTAssertFalse([404, 405].contains(r.status), "\(method) \(path): \(r.status)")
                }
            }
        }
        XCTAssertEqual(Set(paths.keys), ["/", "/translate", "/attention", "/generate", "/health", "/languages", "/metrics", "/openapi.json"])
    }
}
