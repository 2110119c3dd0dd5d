import Foundation
import XCTest
import Seq2SeqKit

/// Runs the seq2seq binary (built beside the tests) under a real mpirun.
enum CLI {
    static var repository: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    }

    static var binary: String? {
        let candidates = [URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent(), Bundle.main.bundleURL]
            + Bundle.allBundles.map { $0.bundleURL.deletingLastPathComponent() }
        for d in candidates {
            let p = d.appendingPathComponent("seq2seq").path
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return nil
    }

    static func which(_ tool: String) -> String? {
        for d in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let p = "\(d)/\(tool)"
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return nil
    }

    struct Result { var status: Int32; var output: String }

    /// A component the tests need and `.ci/setup` installs: its absence fails the test, loudly.
    struct Missing: Error, CustomStringConvertible {
        let description: String
        init(_ d: String) { description = d }
    }

    /// The training loss per step from a model directory's metrics.jsonl.
    static func losses(_ model: String) throws -> [Int: Double] {
        let text = try String(contentsOfFile: model + "/metrics.jsonl", encoding: .utf8)
        var out: [Int: Double] = [:]
        for line in text.split(separator: "\n") {
            let o = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            if let l = o["loss"] as? Double { out[o["step"] as! Int] = l }
        }
        return out
    }

    /// Starts `args` (the first is the program) with stdout and stderr captured in a file, and
    /// `environment` added to this process's.
    static func start(_ args: [String], log: String, environment: [String: String] = [:]) throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: args[0])
        p.arguments = Array(args.dropFirst())
        var env = ProcessInfo.processInfo.environment
        env["OMPI_ALLOW_RUN_AS_ROOT"] = "1"
        env["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1"
        env.merge(environment) { $1 }
        p.environment = env
        FileManager.default.createFile(atPath: log, contents: nil)
        let h = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        p.standardOutput = h
        p.standardError = h
        p.standardInput = FileHandle.nullDevice
        try p.run()
        return p
    }

    static func run(_ args: [String], log: String) throws -> Result {
        let p = try start(args, log: log)
        p.waitUntilExit()
        return Result(status: p.terminationStatus, output: (try? String(contentsOfFile: log, encoding: .utf8)) ?? "")
    }

    static func mpirun(_ np: Int) -> [String] {
        // vader's single-copy path needs ptrace rights that containers often lack; shared memory works without it.
        [which("mpirun")!, "-np", "\(np)", "--oversubscribe", "--mca", "btl_vader_single_copy_mechanism", "none"]
    }
}

final class DistributedTests: XCTestCase {
    var dir = ""
    override func setUpWithError() throws {
        try XCTSkipUnless(Engines.mpi, "this build has no MPI (the package trait MPI is off)")
        guard CLI.which("mpirun") != nil else { throw CLI.Missing("mpirun not found: bash .ci/setup installs Open MPI (openmpi-bin)") }
        guard CLI.binary != nil else { throw CLI.Missing("the seq2seq binary is not built beside the tests (swift test builds it)") }
        dir = NSTemporaryDirectory() + "seq2seq-mpi-\(getpid())-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }
    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    var sample: String { CLI.repository + "/corpora/sample" }

    /// A small translation model on the sample corpus, dropout 0 so that runs can be compared.
    func translationArgs(model: String, steps: Int, extra: [String] = []) -> [String] {
        [CLI.binary!, "train", "--src", "\(sample)/train.de", "--tgt", "\(sample)/train.en",
         "--valid-src", "\(sample)/valid.de", "--valid-tgt", "\(sample)/valid.en", "--model", model,
         "--d-model", "32", "--d-ff", "64", "--layers", "1", "--heads", "2", "--vocab-size", "600",
         "--dropout", "0", "--batch-tokens", "400", "--warmup-steps", "4", "--max-steps", "\(steps)",
         "--log-every", "1", "--threads", "1"] + extra
    }

    func losses(_ model: String) throws -> [Int: Double] { try CLI.losses(model) }

    func assertSameCurve(_ a: [Int: Double], _ b: [Int: Double], steps: Int, tolerance: Double, line: UInt = #line) {
        XCTAssertEqual(a.count, steps, line: line)
        XCTAssertEqual(b.count, steps, line: line)
        for (s, la) in a {
            guard let lb = b[s] else { XCTFail("step \(s) missing", line: line); continue }
            XCTAssertLessThanOrEqual(abs(la - lb) / abs(la), tolerance, "step \(s): \(la) vs \(lb)", line: line)
        }
    }

    /// 2 ranks × --update-freq 2 is one process with --update-freq 4: the same batches, the same
    /// global token count, gradients summed by MPI_Allreduce — the loss curves agree to float rounding.
    func testTwoRanksAreOneProcessWithTwiceTheUpdateFrequency() throws {
        let one = try CLI.run(translationArgs(model: "\(dir)/one", steps: 16, extra: ["--update-freq", "4"]), log: "\(dir)/one.log")
        XCTAssertEqual(one.status, 0, one.output)
        let two = try CLI.run(CLI.mpirun(2) + translationArgs(model: "\(dir)/two", steps: 16, extra: ["--update-freq", "2"]),
                              log: "\(dir)/two.log")
        XCTAssertEqual(two.status, 0, two.output)
        XCTAssertTrue(two.output.contains("rank 1 of 2"), two.output)
        XCTAssertTrue(two.output.contains("× 2 ranks"), two.output)
        let a = try losses("\(dir)/one"), b = try losses("\(dir)/two")
        assertSameCurve(a, b, steps: 16, tolerance: 1e-4)
        XCTAssertLessThan(b[16]!, b[1]!, "the loss fell")
        // Rank 0 alone wrote the model directory; it holds what one process writes.
        for f in ["model.safetensors", "checkpoint_last.safetensors", "config.json", "train.json", "metrics.jsonl", "data/train/header.json"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: "\(dir)/two/\(f)"), f)
        }
    }

    /// The language model trains the same way: 2 ranks equal one process with twice the update
    /// frequency (here with one allreduce after the backward pass instead of one per layer during it).
    func testLanguageModelOnTwoRanks() throws {
        func args(_ m: String, _ f: Int) -> [String] {
            [CLI.binary!, "train", "--lm", "--text", "\(sample)/train.en", "--model", m, "--d-model", "32", "--d-ff", "64",
             "--layers", "1", "--heads", "2", "--block-size", "32", "--batch-size", "4", "--max-steps", "12",
             "--validate-every", "6", "--log-every", "1", "--threads", "1", "--update-freq", "\(f)"]
        }
        let one = try CLI.run(args("\(dir)/lm1", 2), log: "\(dir)/lm1.log")
        XCTAssertEqual(one.status, 0, one.output)
        let two = try CLI.run(CLI.mpirun(2) + args("\(dir)/lm2", 1) + ["--no-overlap-reduction"], log: "\(dir)/lm2.log")
        XCTAssertEqual(two.status, 0, two.output)
        assertSameCurve(try losses("\(dir)/lm1"), try losses("\(dir)/lm2"), steps: 12, tolerance: 1e-4)
    }

    /// kill -9 of one rank ends the whole run within a bounded time with a message naming it; the
    /// last checkpoint is intact and `--resume` on 2 ranks continues it exactly.
    func testKilledRankEndsTheRunAndResumeContinues() throws {
        // Slow enough steps that the run is still going when the rank is killed.
        let extra = ["--validate-every", "5", "--d-model", "96", "--d-ff", "384", "--layers", "2", "--batch-tokens", "1200"]
        let reference = try CLI.run(CLI.mpirun(2) + translationArgs(model: "\(dir)/ref", steps: 14, extra: extra), log: "\(dir)/ref.log")
        XCTAssertEqual(reference.status, 0, reference.output)

        let model = "\(dir)/killed", log = "\(dir)/killed.log"
        let run = try CLI.start(CLI.mpirun(2) + translationArgs(model: model, steps: 100_000, extra: extra), log: log)
        // Wait for a checkpoint and a few steps after it.
        let deadline = Date().addingTimeInterval(120)
        var pid: Int32? = nil
        while Date() < deadline {
            usleep(20_000)
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            if pid == nil, let r = text.range(of: #"rank 1 of 2 on [^ ]+ \(pid (\d+)\)"#, options: .regularExpression) {
                pid = Int32(text[r].split(separator: " ").last!.dropLast())
            }
            if let l = try? losses(model), (l.keys.max() ?? 0) >= 7, FileManager.default.fileExists(atPath: "\(model)/checkpoint_last.safetensors") { break }
        }
        let victim = try XCTUnwrap(pid, "rank 1 printed its pid")
        XCTAssertEqual(kill(victim, SIGKILL), 0)
        let killedAt = Date()
        while run.isRunning && Date().timeIntervalSince(killedAt) < 60 { usleep(50_000) }
        XCTAssertFalse(run.isRunning, "mpirun still running 60 s after a rank was killed")
        if run.isRunning { run.terminate() }
        run.waitUntilExit()
        XCTAssertNotEqual(run.terminationStatus, 0)
        let text = try String(contentsOfFile: log, encoding: .utf8)
        XCTAssertTrue(text.contains("signal 9") || text.contains("Killed"), text)
        print("the run ended \(String(format: "%.1f", Date().timeIntervalSince(killedAt))) s after kill -9")

        // The checkpoint is whole and resumable; resuming reproduces the uninterrupted curve.
        let ckpt = try SafeTensors(contentsOf: "\(model)/checkpoint_last.safetensors")
        XCTAssertNotNil(ckpt.metadata["trainer_state"])
        let resumed = try CLI.run(CLI.mpirun(2) + translationArgs(model: model, steps: 14, extra: extra + ["--resume"]),
                                  log: "\(dir)/resumed.log")
        XCTAssertEqual(resumed.status, 0, resumed.output)
        XCTAssertTrue(resumed.output.contains("resuming at step"), resumed.output)
        XCTAssertEqual(try losses(model), try losses("\(dir)/ref"), "resumed curve differs from the uninterrupted one")
    }
}

/// A second rank that agrees at the start and then disagrees: its parameter checksum is off by a little.
final class DisagreeingPeer: Communicator {
    var rank: Int { 0 }
    var size: Int { 2 }
    var checks = 0
    func allreduceSum(_ values: UnsafeMutablePointer<Float>, count: Int) throws {
        for i in 0..<count { values[i] *= 2 }  // the peer computed the same gradient
    }
    func allreduceSum(_ values: inout [Double]) throws { for i in values.indices { values[i] *= 2 } }
    func allreduceMax(_ values: inout [Double]) throws {
        checks += 1
        if checks > 1 { values[0] = values[0] + 1e-3 * max(1, abs(values[0])) }
    }
    func broadcast(_ bytes: inout [UInt8]) throws {}
    func barrier() throws {}
}

final class ConsistencyCheckTests: XCTestCase {
    func testDivergedRanksStopTheRun() throws {
        Threads.set(1)
        let pairs = TrainingTests.pairs
        let v = try Vocabulary.learn(lines: pairs.map(\.0) + pairs.map(\.1), size: 300)
        let config = ModelConfig(srcVocabSize: v.count, tgtVocabSize: v.count, dModel: 16, nHeads: 2, dFF: 32,
                                 encoderLayers: 1, decoderLayers: 1, maxPositions: 32, shareEmbeddings: true, dropout: 0)
        let model = try Transformer(config: config)
        model.initialize(seed: 5)
        var s = TrainSettings()
        s.batchTokens = 40; s.maxSteps = 20; s.warmupSteps = 2
        let data = ParallelData.make(sourceIds: pairs.map { v.encode($0.0) }, targetIds: pairs.map { v.encode($0.1) }, maxLength: 64)
        let dir = NSTemporaryDirectory() + "seq2seq-diverge-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let peer = DisagreeingPeer()
        let trainer = try Trainer(model: model, settings: s, directory: dir,
                                  stream: ParallelStream(data: data, valid: nil, batchTokens: 40, seed: 1, config: config),
                                  vocabularies: nil, resume: false, communicator: peer)
        trainer.consistencyCheckEvery = 3
        XCTAssertThrowsError(try trainer.run()) { e in
            guard case DistributedError.diverged(let step, _) = e else { return XCTFail("\(e)") }
            XCTAssertEqual(step, 3)
            XCTAssertEqual(peer.checks, 2, "one check at the start, one at step 3")
            XCTAssertTrue("\(e)".contains("ranks diverged at step 3"), "\(e)")
        }
    }
}
