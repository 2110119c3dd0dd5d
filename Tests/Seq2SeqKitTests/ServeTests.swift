import Foundation
import HTTPTestSupport
import Seq2SeqKit
import XCTest

/// `seq2seq serve`, the real binary on a loopback port: answers equal offline `translate`'s for the
/// same lines whatever batches concurrent clients form, every bad request gets a JSON error with its
/// status, /generate streams what `generate` prints, SIGTERM answers the requests in flight and
/// exits 0, and the page translates and draws a heatmap in headless Chromium.
final class ServeTests: XCTestCase {
    nonisolated(unsafe) static var dir = ""
    nonisolated(unsafe) static var translationModel = ""

    override class func setUp() {
        dir = NSTemporaryDirectory() + "seq2seq-serve-\(getpid())-\(UUID().uuidString.prefix(8))"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }
    override class func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    override func setUpWithError() throws {
        guard CLI.binary != nil else { throw CLI.Missing("the seq2seq binary is not built beside the tests (swift test builds it)") }
    }

    var sample: String { CLI.repository + "/corpora/sample" }

    /// A tiny translation model, trained once for the whole class (a few seconds).
    func model() throws -> String {
        if !Self.translationModel.isEmpty { return Self.translationModel }
        let m = "\(Self.dir)/model"
        try CLI.trainTinyModel(m)
        Self.translationModel = m
        return m
    }

    func sampleLines(_ n: Int) throws -> [String] {
        Array(try String(contentsOfFile: "\(sample)/test.de", encoding: .utf8).split(separator: "\n").prefix(n).map(String.init))
    }

    /// Offline `seq2seq translate` of `lines` (with `extra` flags and `environment`), one output line per input line.
    func offline(_ m: String, _ lines: [String], _ extra: [String] = [], environment: [String: String] = [:]) throws -> [String] {
        let input = "\(Self.dir)/in-\(UUID().uuidString.prefix(6)).txt"
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: input))
        let out = input + ".out"
        let r = try CLI.run(["translate", "--model", m, "--input", input, "--output", out, "--threads", "1"] + extra,
                            environment: environment)
        XCTAssertEqual(r.status, 0, r.output)
        return try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
            .dropLast().map(String.init)
    }

    func testAnswersEqualOfflineTranslateUnderConcurrentClients() throws {
        let m = try model()
        let lines = try sampleLines(40)
        let expected = try offline(m, lines)
        XCTAssertEqual(expected.count, lines.count)
        let server = try ServerProcess.start(["--model", m, "--max-batch", "8", "--max-wait-ms", "30", "--threads", "1"], dir: Self.dir)
        defer { server.stop() }

        // 40 one-sentence clients at once, 10 connections at a time: the worker batches them.
        let answers = Locked([String?](repeating: nil, count: lines.count))
        DispatchQueue.concurrentPerform(iterations: 10) { worker in
            for i in stride(from: worker, to: lines.count, by: 10) {
                if let r = try? HTTPTestClient.post(port: server.port, "/translate", json: ["q": lines[i]]),
                   r.status == 200, let o = try? r.json() as? [String: Any] {
                    answers.update { $0[i] = o["translatedText"] as? String }
                }
            }
        }
        for (i, a) in answers.value.enumerated() { XCTAssertEqual(a, expected[i], "line \(i + 1): \(lines[i])") }

        // An array in, an array out, in order; a multi-line text is translated line by line.
        let batch = try HTTPTestClient.post(port: server.port, "/translate", json: ["q": Array(lines.prefix(5)), "source": "de"])
        XCTAssertEqual(batch.status, 200, batch.text)
        XCTAssertEqual((try batch.json() as? [String: Any])?["translatedText"] as? [String], Array(expected.prefix(5)))
        let joined = try HTTPTestClient.post(port: server.port, "/translate", json: ["q": lines[0] + "\r\n" + lines[1]])
        XCTAssertEqual((try joined.json() as? [String: Any])?["translatedText"] as? String, expected[0] + "\n" + expected[1])

        // n_best: the alternatives and scores offline --n-best prints.
        let nbest = try offline(m, Array(lines.prefix(3)), ["--n-best", "3"])
        let r = try HTTPTestClient.post(port: server.port, "/translate", json: ["q": lines[1], "n_best": 3])
        XCTAssertEqual(r.status, 200, r.text)
        let o = try XCTUnwrap(try r.json() as? [String: Any])
        let rows = nbest.filter { $0.hasPrefix("2\t") }.map { $0.split(separator: "\t", omittingEmptySubsequences: false) }
        XCTAssertEqual(rows.count, 3)
        XCTAssertEqual(o["translatedText"] as? String, rows.first.map { String($0[1]) })
        XCTAssertEqual(o["alternatives"] as? [String], rows.dropFirst().map { String($0[1]) })
        let scores = try XCTUnwrap(o["scores"] as? [Double])
        for (s, row) in zip(scores, rows) { XCTAssertEqual(s, Double(row[2])!, accuracy: 1e-4) }

        // Greedy and a token cap go through the same search.
        let greedy = try offline(m, [lines[2]], ["--beam", "1"])
        let g = try HTTPTestClient.post(port: server.port, "/translate", json: ["q": lines[2], "beam": 1])
        XCTAssertEqual((try g.json() as? [String: Any])?["translatedText"] as? String, greedy[0])

        // Batches of more than one sentence were formed, and the metrics say so.
        let metrics = try HTTPTestClient.request(port: server.port, "GET", "/metrics")
        XCTAssertEqual(metrics.status, 200)
        XCTAssertTrue(metrics.text.contains("seq2seq_requests_total{route=\"/translate\",status=\"200\"}"), metrics.text)
        XCTAssertTrue(metrics.text.contains("seq2seq_request_duration_seconds_bucket"), metrics.text)
        XCTAssertTrue(metrics.text.contains("seq2seq_queue_sentences"), metrics.text)
        let count = Self.metric(metrics.text, "seq2seq_batch_sentences_count"), sum = Self.metric(metrics.text, "seq2seq_batch_sentences_sum")
        XCTAssertGreaterThan(sum, 40)
        XCTAssertLessThan(count, sum, "every batch held one sentence: \(metrics.text)")
        XCTAssertGreaterThan(Self.metric(metrics.text, "seq2seq_generated_tokens_total"), 40)

        let health = try HTTPTestClient.request(port: server.port, "GET", "/health")
        XCTAssertEqual((try health.json() as? [String: Any])?["status"] as? String, "ok")
        let languages = try HTTPTestClient.request(port: server.port, "GET", "/languages")
        XCTAssertEqual(languages.status, 200)
        XCTAssertEqual((try languages.json() as? [[String: Any]])?.count, 1)
    }

    static func metric(_ text: String, _ name: String) -> Double {
        for line in text.split(separator: "\n") where line.hasPrefix(name + " ") {
            return Double(line.split(separator: " ").last ?? "") ?? -1
        }
        return -1
    }

    func testBadRequestsGetJSONErrors() throws {
        let m = try model()
        let server = try ServerProcess.start(["--model", m, "--max-request-bytes", "2000", "--max-line-bytes", "300",
                                              "--max-queue", "6", "--max-batch", "64", "--max-wait-ms", "3000",
                                              "--source-lang", "de", "--target-lang", "en", "--threads", "1"], dir: Self.dir)
        defer { server.stop() }
        func expect(_ r: HTTPTestClient.Reply, _ status: Int, _ words: String, line: UInt = #line) {
            XCTAssertEqual(r.status, status, r.text, line: line)
            let error = (try? r.json() as? [String: Any])?["error"] as? String
            XCTAssertNotNil(error, "no JSON error: \(r.text)", line: line)
            XCTAssertTrue(error?.contains(words) == true, "expected '\(words)' in \(r.text)", line: line)
            XCTAssertTrue(r.headers["content-type"]?.hasPrefix("application/json") == true, line: line)
        }
        let p = server.port
        func raw(_ body: String) throws -> HTTPTestClient.Reply {
            try HTTPTestClient.request(port: p, "POST", "/translate", body: Data(body.utf8), headers: ["Content-Type": "application/json"])
        }
        expect(try raw("{\"q\": "), 400, "not valid JSON")
        expect(try raw("[1, 2]"), 400, "JSON object")
        expect(try raw("{}"), 400, "missing \"q\"")
        expect(try raw("{\"q\": 5}"), 400, "\"q\" must be a string or an array")
        expect(try raw("{\"q\": [\"a\", 3]}"), 400, "\"q\" must be a string or an array")
        expect(try raw("{\"q\": \"a\", \"beam\": \"5\"}"), 400, "\"beam\" must be an integer")
        expect(try raw("{\"q\": \"a\", \"beam\": 0}"), 400, "\"beam\" must be between 1 and 16")
        expect(try raw("{\"q\": \"a\", \"beam\": 2, \"n_best\": 3}"), 400, "\"n_best\" must be between 1 and beam")
        expect(try raw("{\"q\": \"a\", \"max_len\": 100000}"), 400, "\"max_len\" must be between 1")
        expect(try raw("{\"q\": \"a\", \"source\": \"fr\"}"), 400, "from \"de\"")
        expect(try raw("{\"q\": \"a\", \"format\": \"markdown\"}"), 400, "\"format\" must be \"text\" or \"html\"")
        var invalid = Data("{\"q\": \"".utf8); invalid += Data([0xC3, 0x28]); invalid += Data("\"}".utf8)
        expect(try HTTPTestClient.request(port: p, "POST", "/translate", body: invalid), 400, "not valid UTF-8")
        expect(try raw("{\"q\": \"" + String(repeating: "a", count: 3000) + "\"}"), 413, "--max-request-bytes")
        expect(try raw("{\"q\": \"" + String(repeating: "Hund ", count: 80) + "\"}"), 413, "--max-line-bytes")
        expect(try raw("{\"q\": [\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\"]}"), 413, "--max-queue")
        expect(try HTTPTestClient.post(port: p, "/generate", json: ["prompt": "x"]), 400, "POST /translate")
        expect(try HTTPTestClient.request(port: p, "GET", "/nowhere"), 404, "no such path")
        let wrongMethod = try HTTPTestClient.request(port: p, "GET", "/translate")
        expect(wrongMethod, 405, "POST")
        XCTAssertEqual(wrongMethod.headers["allow"], "POST")
        expect(try HTTPTestClient.request(port: p, "DELETE", "/health"), 405, "GET")

        // A full queue: the worker waits up to 3 s for a batch of 64, so 4 queued sentences stay
        // queued; 3 more do not fit under --max-queue 6 and get 503 with Retry-After, while the
        // first request is still answered.
        let first = Locked<HTTPTestClient.Reply?>(nil)
        let group = DispatchGroup()
        DispatchQueue.global().async(group: group) {
            first.update { $0 = try? HTTPTestClient.post(port: p, "/translate", json: ["q": ["Ein Hund.", "Eine Katze.", "Ein Mann.", "Eine Frau."]]) }
        }
        var full: HTTPTestClient.Reply?
        for _ in 0..<40 {
            usleep(50_000)
            let r = try HTTPTestClient.post(port: p, "/translate", json: ["q": ["a", "b", "c"]])
            if r.status == 503 { full = r; break }
        }
        let r = try XCTUnwrap(full, "no 503 from a full queue")
        expect(r, 503, "queue is full")
        XCTAssertEqual(r.headers["retry-after"], "1")
        group.wait()
        XCTAssertEqual(first.value?.status, 200, first.value?.text ?? "no answer")
        let metrics = try HTTPTestClient.request(port: p, "GET", "/metrics").text
        XCTAssertGreaterThanOrEqual(Self.metric(metrics, "seq2seq_rejected_total"), 1)
        XCTAssertTrue(metrics.contains("status=\"413\""), metrics)
    }

    func testSIGTERMAnswersRequestsInFlightAndExitsZero() throws {
        let m = try model()
        let lines = try sampleLines(3)
        let expected = try offline(m, lines)
        // The worker waits 1.5 s for company, so the request is in flight when SIGTERM comes.
        let server = try ServerProcess.start(["--model", m, "--max-batch", "64", "--max-wait-ms", "1500", "--threads", "1"], dir: Self.dir)
        let reply = Locked<HTTPTestClient.Reply?>(nil)
        let group = DispatchGroup()
        DispatchQueue.global().async(group: group) {
            reply.update { $0 = try? HTTPTestClient.post(port: server.port, "/translate", json: ["q": lines]) }
        }
        usleep(400_000)
        kill(server.process.processIdentifier, SIGTERM)
        group.wait()
        server.process.waitUntilExit()
        XCTAssertEqual(reply.value?.status, 200, reply.value?.text ?? "no answer")
        XCTAssertEqual((try reply.value?.json() as? [String: Any])?["translatedText"] as? [String], expected)
        XCTAssertEqual(server.process.terminationReason, .exit)
        XCTAssertEqual(server.process.terminationStatus, 0, server.log)
        XCTAssertThrowsError(try HTTPTestClient.request(port: server.port, "GET", "/health"), "still accepting after SIGTERM")
    }

    /// oneDNN failing on every call the server's products make (the test hook
    /// SEQ2SEQ_TEST_FAIL_ONEDNN=any:all), on an int8 copy of the model with SEQ2SEQ_INT8_ENGINE=onednn
    /// sending every int8 product to oneDNN (float32 decoding never calls it: its products run on the
    /// batch-invariant kernels): the server does not stop; every request, and the next ones, is
    /// answered 200 with exactly what `translate` prints when oneDNN works (our own engine
    /// recomputes each product's integers from the same bytes); /metrics counts the failures, the log
    /// reports the first one once, and SIGTERM still exits 0.
    func testOneDNNFailuresAreAnsweredWithOurEnginesResults() throws {
        guard Engines.oneDNN else { throw XCTSkip("this build has no oneDNN (the package trait OneDNN is off)") }
        let working = "onednn"  // without failures: the same integers as our engine's
        let m = "\(Self.dir)/model-int8"
        if !FileManager.default.fileExists(atPath: m) {
            let q = try CLI.run(["quantize", "--model", try model(), "--output", m])
            XCTAssertEqual(q.status, 0, q.output)
        }
        let lines = try sampleLines(12)
        let expected = try offline(m, lines, environment: ["SEQ2SEQ_INT8_ENGINE": working])
        let nbest = try offline(m, [lines[3]], ["--n-best", "2"], environment: ["SEQ2SEQ_INT8_ENGINE": working])
        let server = try ServerProcess.start(["--model", m, "--max-batch", "16", "--max-wait-ms", "20", "--threads", "1"], dir: Self.dir,
                                             environment: ["SEQ2SEQ_INT8_ENGINE": "onednn",
                                                           "SEQ2SEQ_TEST_FAIL_ONEDNN": "any:all"])
        defer { server.stop() }
        let p = server.port

        let all = try HTTPTestClient.post(port: p, "/translate", json: ["q": lines])
        XCTAssertEqual(all.status, 200, all.text)
        XCTAssertEqual((try all.json() as? [String: Any])?["translatedText"] as? [String], expected)
        for i in 0..<3 {
            let one = try HTTPTestClient.post(port: p, "/translate", json: ["q": lines[i]])
            XCTAssertEqual(one.status, 200, one.text)
            XCTAssertEqual((try one.json() as? [String: Any])?["translatedText"] as? String, expected[i], "line \(i + 1)")
        }
        let alternatives = try HTTPTestClient.post(port: p, "/translate", json: ["q": lines[3], "n_best": 2])
        XCTAssertEqual(alternatives.status, 200, alternatives.text)
        XCTAssertEqual((try alternatives.json() as? [String: Any])?["alternatives"] as? [String],
                       nbest.filter { $0.hasPrefix("1\t") }.dropFirst().map { String($0.split(separator: "\t", omittingEmptySubsequences: false)[1]) })
        let attention = try HTTPTestClient.post(port: p, "/attention", json: ["q": lines[4]])
        XCTAssertEqual(attention.status, 200, attention.text)
        XCTAssertEqual((try attention.json() as? [String: Any])?["translatedText"] as? String, expected[4])

        let metrics = try HTTPTestClient.request(port: p, "GET", "/metrics")
        XCTAssertGreaterThan(Self.metric(metrics.text, "seq2seq_onednn_failures_total"), 10, metrics.text)
        let health = try HTTPTestClient.request(port: p, "GET", "/health")
        XCTAssertEqual((try health.json() as? [String: Any])?["status"] as? String, "ok")
        XCTAssertEqual(server.log.components(separatedBy: "seq2seq: oneDNN ").count - 1, 1, server.log)

        kill(server.process.processIdentifier, SIGTERM)
        server.process.waitUntilExit()
        XCTAssertEqual(server.process.terminationReason, .exit)
        XCTAssertEqual(server.process.terminationStatus, 0, server.log)
    }

    func testGenerateStreamsWhatGeneratePrints() throws {
        let m = "\(Self.dir)/lm"
        let t = try CLI.run(["train", "--lm", "--text", "\(sample)/train.en", "--model", m, "--d-model", "32", "--d-ff", "64",
                             "--layers", "1", "--heads", "2", "--block-size", "32", "--max-steps", "20", "--threads", "1"])
        XCTAssertEqual(t.status, 0, t.output)
        let offline = try CLI.run(["generate", "--model", m, "--prompt", "A man", "--max-tokens", "40", "--seed", "7", "--threads", "1"])
        XCTAssertEqual(offline.status, 0, offline.output)
        let server = try ServerProcess.start(["--model", m, "--threads", "1"], dir: Self.dir)
        defer { server.stop() }
        let r = try HTTPTestClient.post(port: server.port, "/generate", json: ["prompt": "A man", "max_tokens": 40, "seed": 7])
        XCTAssertEqual(r.status, 200, r.text)
        XCTAssertEqual(r.headers["content-type"], "text/event-stream; charset=utf-8")
        var pieces = "", final: [String: Any]?
        for event in r.text.components(separatedBy: "\n\n") where !event.isEmpty {
            let data = try XCTUnwrap(event.split(separator: "\n").first { $0.hasPrefix("data: ") })
            let o = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(data.dropFirst(6).utf8)) as? [String: Any])
            if event.hasPrefix("event: done") { final = o } else { pieces += o["text"] as? String ?? "" }
        }
        XCTAssertGreaterThan(r.text.components(separatedBy: "data: ").count, 3, "not streamed piece by piece: \(r.text)")
        XCTAssertEqual(final?["tokens"] as? Int, 40)
        XCTAssertEqual(final?["text"] as? String, pieces)
        // `generate` prints the prompt, then the continuation and a newline.
        XCTAssertEqual("A man" + pieces + "\n", offline.stdout)
        let wrong = try HTTPTestClient.post(port: server.port, "/translate", json: ["q": "x"])
        XCTAssertEqual(wrong.status, 400)
        let bad = try HTTPTestClient.post(port: server.port, "/generate", json: ["prompt": "x", "top_p": 0])
        XCTAssertEqual(bad.status, 400, bad.text)
    }

    /// The page in real headless Chromium: `/#q=…` types the sentence into the box and presses
    /// Translate; the dumped DOM must hold the translation and the heatmap's SVG.
    func testPageTranslatesAndDrawsHeatmapInChromium() throws {
        guard let chromium = CLI.which("chromium") ?? CLI.which("chromium-browser") else {
            throw CLI.Missing("chromium is not installed (.ci/setup installs Debian's chromium)")
        }
        let m = try model()
        let sentence = try sampleLines(1)[0]
        let expected = try offline(m, [sentence])[0]
        let server = try ServerProcess.start(["--model", m, "--threads", "1"], dir: Self.dir)
        defer { server.stop() }
        let page = try HTTPTestClient.request(port: server.port, "GET", "/")
        XCTAssertEqual(page.status, 200)
        XCTAssertTrue(page.text.contains("<textarea id=\"source\""))
        XCTAssertFalse(page.text.contains("http://") || page.text.contains("https://"), "the page loads something from outside")

        let url = "http://127.0.0.1:\(server.port)/#q=" + (sentence.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")
        let profile = "\(Self.dir)/chromium-\(UUID().uuidString.prefix(6))"
        let r = try CLI.run(executable: chromium, ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                                                  "--user-data-dir=\(profile)", "--virtual-time-budget=20000",
                                                  "--dump-dom", url], timeout: 120)
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(r.stdout.contains("data-state=\"done\""), "the page did not finish: \(r.output)")
        XCTAssertTrue(r.stdout.contains("<svg"), "no heatmap: \(r.stdout)")
        XCTAssertTrue(r.stdout.contains("cross-attention"), r.stdout)
        let escaped = expected.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;")
        XCTAssertTrue(r.stdout.contains("<div id=\"output\" aria-live=\"polite\">\(escaped)</div>"), "translation \(expected) not shown: \(r.stdout)")
    }

    /// Two models behind one server: a LibreTranslate client's requests go to the pair they name,
    /// and the page offers both pairs (headless Chromium picks the second through `#pair=`).
    func testTwoModelsServeTheirPairsAndThePageOffersBoth() throws {
        let deEn = try model()
        let enDe = "\(Self.dir)/model-en-de"
        if !FileManager.default.fileExists(atPath: enDe + "/config.json") {
            try CLI.trainTinyModel(enDe, from: "en", to: "de", steps: 40)
        }
        let german = try sampleLines(3)
        let english = Array(try String(contentsOfFile: "\(sample)/test.en", encoding: .utf8).split(separator: "\n").prefix(3).map(String.init))
        let expectedDeEn = try offline(deEn, german, ["--split-sentences"])
        let expectedEnDe = try offline(enDe, english, ["--split-sentences"])
        let server = try ServerProcess.start(["--model", "de-en=\(deEn)", "--model", "en-de=\(enDe)", "--threads", "1"], dir: Self.dir)
        defer { server.stop() }
        func post(_ body: [String: Any]) throws -> (Int, [String: Any]) {
            let r = try HTTPTestClient.post(port: server.port, "/translate", json: body)
            return (r.status, (try? r.json() as? [String: Any]) ?? [:])
        }
        XCTAssertEqual(try post(["q": german, "source": "de", "target": "en"]).1["translatedText"] as? [String], expectedDeEn)
        XCTAssertEqual(try post(["q": english, "source": "en", "target": "de"]).1["translatedText"] as? [String], expectedEnDe)
        XCTAssertEqual(try post(["q": english, "source": "auto", "target": "de"]).1["translatedText"] as? [String], expectedEnDe)
        let (status, error) = try post(["q": german])
        XCTAssertEqual(status, 400)
        XCTAssertTrue((error["error"] as? String)?.contains("de-en, en-de") == true, "\(error)")
        let (status2, error2) = try post(["q": german, "source": "fr", "target": "en"])
        XCTAssertEqual(status2, 400)
        XCTAssertTrue((error2["error"] as? String)?.contains("no model translates \"fr\" into \"en\"") == true, "\(error2)")
        let languages = try XCTUnwrap(try HTTPTestClient.request(port: server.port, "GET", "/languages").json() as? [[String: Any]])
        XCTAssertEqual(languages.map { $0["code"] as? String }, ["de", "en"])
        XCTAssertEqual(languages.map { $0["targets"] as? [String] }, [["en"], ["de"]])
        let health = try XCTUnwrap(try HTTPTestClient.request(port: server.port, "GET", "/health").json() as? [String: Any])
        XCTAssertEqual(health["models"] as? [String], ["de-en", "en-de"])

        guard let chromium = CLI.which("chromium") ?? CLI.which("chromium-browser") else {
            throw CLI.Missing("chromium is not installed (.ci/setup installs Debian's chromium)")
        }
        let url = "http://127.0.0.1:\(server.port)/#pair=en-de&q=" + (english[0].addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")
        let r = try CLI.run(executable: chromium, ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                                                  "--user-data-dir=\(Self.dir)/chromium-\(UUID().uuidString.prefix(6))",
                                                  "--virtual-time-budget=20000", "--dump-dom", url], timeout: 120)
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(r.stdout.contains("<option value=\"de-en\">de → en</option><option value=\"en-de\">en → de</option>"), r.stdout)
        let escaped = expectedEnDe[0].replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;")
        XCTAssertTrue(r.stdout.contains("<div id=\"output\" aria-live=\"polite\">\(escaped)</div>"), "translation \(escaped) not shown: \(r.stdout)")
    }
}

/// `seq2seq serve` started on a free loopback port (`--port 0`; the port is read from its log).
final class ServerProcess: @unchecked Sendable {
    let process: Process
    let port: Int
    let logPath: String
    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    private init(process: Process, port: Int, logPath: String) {
        self.process = process; self.port = port; self.logPath = logPath
    }

    static func start(_ args: [String], dir: String, environment: [String: String] = [:]) throws -> ServerProcess {
        let logPath = "\(dir)/serve-\(UUID().uuidString.prefix(6)).log"
        let p = try CLI.start([CLI.binary!, "serve", "--port", "0"] + args, log: logPath, environment: environment)
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
            if let r = text.range(of: "on http://127.0.0.1:") {
                let digits = text[r.upperBound...].prefix { $0.isNumber }
                if let port = Int(digits), port > 0 { return ServerProcess(process: p, port: port, logPath: logPath) }
            }
            if !p.isRunning { throw CLI.Missing("seq2seq serve exited: \(text)") }
            usleep(20_000)
        }
        p.terminate()
        throw CLI.Missing("seq2seq serve did not start listening within 60 s")
    }

    func stop() {
        if process.isRunning { kill(process.processIdentifier, SIGTERM) }
        process.waitUntilExit()
    }
}

extension CLI {
    /// Trains a tiny translation model (32 wide, 1 layer, 500 pieces) on the bundled sample into
    /// `directory`, with `seq2seq train`, in a few seconds; its translations are poor but fixed.
    static func trainTinyModel(_ directory: String, from source: String = "de", to target: String = "en", steps: Int = 60,
                               file: StaticString = #filePath, line: UInt = #line) throws {
        let sample = repository + "/corpora/sample"
        let r = try run(["train", "--src", "\(sample)/train.\(source)", "--tgt", "\(sample)/train.\(target)", "--model", directory,
                         "--d-model", "32", "--d-ff", "64", "--layers", "1", "--heads", "2", "--vocab-size", "500",
                         "--max-steps", "\(steps)", "--threads", "1"])
        XCTAssertEqual(r.status, 0, r.output, file: file, line: line)
    }

    struct Output { var status: Int32; var stdout: String; var stderr: String; var output: String { stdout + stderr } }

    /// Runs the seq2seq binary (or `executable`) to the end, killing it after `timeout` seconds, with
    /// `environment` added to this process's.
    static func run(executable: String? = nil, _ args: [String], timeout: TimeInterval = 600,
                    environment: [String: String] = [:]) throws -> Output {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable ?? binary!)
        p.arguments = args
        if !environment.isEmpty { p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
        let base = NSTemporaryDirectory() + "seq2seq-run-\(getpid())-\(UUID().uuidString.prefix(8))"
        FileManager.default.createFile(atPath: base + ".out", contents: nil)
        FileManager.default.createFile(atPath: base + ".err", contents: nil)
        defer { try? FileManager.default.removeItem(atPath: base + ".out"); try? FileManager.default.removeItem(atPath: base + ".err") }
        p.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: base + ".out"))
        p.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: base + ".err"))
        p.standardInput = FileHandle.nullDevice
        try p.run()
        let deadline = Date().addingTimeInterval(timeout)
        while p.isRunning && Date() < deadline { usleep(20_000) }
        if p.isRunning { p.terminate() }
        p.waitUntilExit()
        return Output(status: p.terminationStatus,
                      stdout: (try? String(contentsOfFile: base + ".out", encoding: .utf8)) ?? "",
                      stderr: (try? String(contentsOfFile: base + ".err", encoding: .utf8)) ?? "")
    }
}
