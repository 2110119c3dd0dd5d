import Foundation
import XCTest
import Seq2SeqKit

/// Faults during training: kill -9 at a random moment, SIGTERM and SIGINT; no work that was saved is lost
/// and `--resume` continues exactly.
final class FaultTests: XCTestCase {
    var dir = ""
    override func setUpWithError() throws {
        guard CLI.binary != nil else { throw CLI.Missing("the seq2seq binary is not built beside the tests (swift test builds it)") }
        dir = NSTemporaryDirectory() + "seq2seq-fault-\(getpid())-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }
    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    var sample: String { CLI.repository + "/corpora/sample" }

    func args(_ model: String, steps: Int, extra: [String] = []) -> [String] {
        [CLI.binary!, "train", "--src", "\(sample)/train.de", "--tgt", "\(sample)/train.en", "--model", model,
         "--d-model", "32", "--d-ff", "64", "--layers", "1", "--heads", "2", "--vocab-size", "600", "--dropout", "0.1",
         "--batch-tokens", "600", "--max-steps", "\(steps)", "--save-every", "7", "--log-every", "1", "--threads", "1"] + extra
    }

    func losses(_ model: String) throws -> [Int: Double] { try CLI.losses(model) }

    func savedStep(_ model: String) throws -> Int {
        let f = try SafeTensors(contentsOf: "\(model)/checkpoint_last.safetensors")
        let json = try XCTUnwrap(f.metadata["trainer_state"])
        let o = try JSONSerialization.jsonObject(with: Data(json.utf8)) as! [String: Any]
        return o["step"] as! Int
    }

    /// Waits until metrics.jsonl reaches `step` (or the process ends).
    func wait(for step: Int, in model: String, _ p: Process) {
        let deadline = Date().addingTimeInterval(60)
        while p.isRunning && Date() < deadline {
            if let l = try? losses(model), (l.keys.max() ?? 0) >= step { return }
            usleep(2_000)
        }
    }

    /// kill -9 at a random step between two checkpoints, then --resume: the loss curve is the
    /// uninterrupted run's, step for step (dropout on: its masks are a function of seed, step, rank).
    func testKillNineAtARandomStepThenResume() throws {
        let steps = 60
        let ref = try CLI.run(args("\(dir)/ref", steps: steps), log: "\(dir)/ref.log")
        XCTAssertEqual(ref.status, 0, ref.output)
        var rng = SystemRandomNumberGenerator()
        let target = Int.random(in: 9...45, using: &rng)
        let model = "\(dir)/killed"
        let p = try CLI.start(args(model, steps: 100_000), log: "\(dir)/killed.log")
        wait(for: target, in: model, p)
        XCTAssertTrue(p.isRunning, "the run ended before the kill")
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationReason, .uncaughtSignal)
        let saved = try savedStep(model)
        XCTAssertGreaterThanOrEqual(saved, 7, "a checkpoint every 7 steps (killed near step \(target))")
        let resumed = try CLI.run(args(model, steps: steps, extra: ["--resume"]), log: "\(dir)/resumed.log")
        XCTAssertEqual(resumed.status, 0, resumed.output)
        XCTAssertTrue(resumed.output.contains("resuming at step \(saved)"), resumed.output)
        XCTAssertEqual(try losses(model), try losses("\(dir)/ref"), "killed near step \(target), resumed at \(saved)")
    }

    /// SIGTERM (and SIGINT) save checkpoint_last and exit 0; resuming continues exactly.
    func testSignalsSaveAndStop() throws {
        let steps = 40
        let ref = try CLI.run(args("\(dir)/ref", steps: steps), log: "\(dir)/ref.log")
        XCTAssertEqual(ref.status, 0, ref.output)
        for (n, sig) in [(SIGTERM, "SIGTERM"), (SIGINT, "SIGINT")].enumerated() {
            let model = "\(dir)/sig\(n)"
            let p = try CLI.start(args(model, steps: 100_000), log: "\(dir)/sig\(n).log")
            wait(for: 10, in: model, p)
            kill(p.processIdentifier, sig.0)
            p.waitUntilExit()
            let out = try String(contentsOfFile: "\(dir)/sig\(n).log", encoding: .utf8)
            XCTAssertEqual(p.terminationReason, .exit, out)
            XCTAssertEqual(p.terminationStatus, 0, out)
            XCTAssertTrue(out.contains(sig.1), out)
            let last = try XCTUnwrap(losses(model).keys.max())
            XCTAssertEqual(try savedStep(model), last, "checkpoint_last holds the last finished update")
            let resumed = try CLI.run(args(model, steps: steps, extra: ["--resume"]), log: "\(dir)/sigr\(n).log")
            XCTAssertEqual(resumed.status, 0, resumed.output)
            XCTAssertEqual(try losses(model), try losses("\(dir)/ref"))
        }
    }

    /// A stop signal at random moments inside an update never corrupts the process: each run saves
    /// its last update and exits 0 (one or two threads; products on oneDNN where AVX-512 is present).
    /// A handler landing inside oneDNN's sgemm used to abort this test in 2 of 3 runs
    /// ("corrupted size vs. prev_size while consolidating"; StopSignals says why).
    func testStopSignalsAtRandomMomentsNeverCorrupt() throws {
        var rng = SystemRandomNumberGenerator()
        for n in 0..<16 {
            let model = "\(dir)/r\(n)"
            let p = try CLI.start(args(model, steps: 100_000, extra: ["--threads", n % 4 == 3 ? "2" : "1"]), log: "\(dir)/r\(n).log")
            wait(for: Int.random(in: 2...12, using: &rng), in: model, p)
            usleep(UInt32.random(in: 0...3_000, using: &rng))
            kill(p.processIdentifier, n % 2 == 0 ? SIGTERM : SIGINT)
            p.waitUntilExit()
            let out = try String(contentsOfFile: "\(dir)/r\(n).log", encoding: .utf8)
            XCTAssertEqual(p.terminationReason, .exit, out)
            XCTAssertEqual(p.terminationStatus, 0, out)
            XCTAssertEqual(try savedStep(model), try XCTUnwrap(losses(model).keys.max()), out)
        }
    }

    /// A fresh run never replaces another run's work unless asked to.
    func testFreshRunRefusesAnotherRunsDirectory() throws {
        let model = "\(dir)/m"
        XCTAssertEqual(try CLI.run(args(model, steps: 3), log: "\(dir)/a.log").status, 0)
        let again = try CLI.run(args(model, steps: 3), log: "\(dir)/b.log")
        XCTAssertNotEqual(again.status, 0)
        XCTAssertTrue(again.output.contains("holds another run"), again.output)
        let over = try CLI.run(args(model, steps: 3, extra: ["--overwrite"]), log: "\(dir)/c.log")
        XCTAssertEqual(over.status, 0, over.output)
        XCTAssertEqual(try losses(model).count, 3)
        // quickstart deletes only a directory it made.
        let mine = "\(dir)/mine"
        try FileManager.default.createDirectory(atPath: mine, withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: "\(mine)/precious.txt", contents: Data("keep".utf8))
        let q = try CLI.run([CLI.binary!, "quickstart", "--model", mine, "--time", "1s"], log: "\(dir)/q.log")
        XCTAssertNotEqual(q.status, 0)
        XCTAssertTrue(q.output.contains("was not made by quickstart"), q.output)
        XCTAssertTrue(FileManager.default.fileExists(atPath: "\(mine)/precious.txt"))
    }

    /// --resume refuses a corpus that changed under the run (same vocabulary, other pairs).
    func testResumeRefusesAnotherCorpus() throws {
        let vocab = "\(dir)/vocab", data = "\(dir)/data", model = "\(dir)/m"
        XCTAssertEqual(try CLI.run([CLI.binary!, "vocab", "--src", "\(sample)/train.de", "--tgt", "\(sample)/train.en",
                                    "--size", "600", "--output", vocab], log: "\(dir)/v.log").status, 0)
        func prepare(_ src: String, _ tgt: String) throws {
            let r = try CLI.run([CLI.binary!, "prepare", "--src", src, "--tgt", tgt, "--vocab", vocab, "--output", data, "--overwrite"], log: "\(dir)/p.log")
            XCTAssertEqual(r.status, 0, r.output)
        }
        try prepare("\(sample)/train.de", "\(sample)/train.en")
        let train = [CLI.binary!, "train", "--data", data, "--model", model, "--d-model", "16", "--d-ff", "32", "--layers", "1",
                     "--heads", "2", "--threads", "1", "--batch-tokens", "400"]
        let first = try CLI.run(train + ["--max-steps", "3"], log: "\(dir)/t1.log")
        XCTAssertEqual(first.status, 0, first.output)
        try prepare("\(sample)/valid.de", "\(sample)/valid.en")
        let resumed = try CLI.run([CLI.binary!, "train", "--model", model, "--resume", "--max-steps", "6", "--threads", "1"], log: "\(dir)/t2.log")
        XCTAssertNotEqual(resumed.status, 0)
        XCTAssertTrue(resumed.output.contains("was made with another corpus"), resumed.output)
    }
}
