import Foundation
import XCTest
import Seq2SeqKit

/// `seq2seq distill` run as a user runs it: a teacher trained here on the sample corpus translates
/// its source side into a prepared corpus, which is checked against `seq2seq translate`, resumed
/// after SIGINT and kill -9, sharded under a real mpirun, filtered, written in a student's
/// vocabulary, and trained on.
final class DistillationTests: XCTestCase {
    var dir = ""
    var sample: String { CLI.repository + "/corpora/sample" }

    override func setUpWithError() throws {
        guard CLI.binary != nil else { throw CLI.Missing("the seq2seq binary is not built beside the tests (swift test builds it)") }
        dir = NSTemporaryDirectory() + "seq2seq-distill-\(getpid())-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }
    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    /// A small teacher on the sample corpus (a few seconds on one thread).
    func trainTeacher() throws -> String {
        let model = "\(dir)/teacher"
        let r = try CLI.run([CLI.binary!, "train", "--src", "\(sample)/train.de", "--tgt", "\(sample)/train.en",
                             "--valid-src", "\(sample)/valid.de", "--valid-tgt", "\(sample)/valid.en", "--model", model,
                             "--d-model", "64", "--d-ff", "128", "--layers", "1", "--heads", "2", "--vocab-size", "600",
                             "--batch-tokens", "800", "--max-steps", "300", "--lr", "3e-3", "--warmup-steps", "30", "--threads", "1"],
                            log: "\(dir)/teacher.log")
        XCTAssertEqual(r.status, 0, r.output)
        return model
    }

    func distill(_ teacher: String, _ src: String, _ output: String, _ extra: [String] = [], prefix: [String] = [],
                 log: String? = nil) throws -> CLI.Result {
        try CLI.run(prefix + [CLI.binary!, "distill", "--teacher", teacher, "--src", src, "--output", output,
                              "--chunk-lines", "100", "--threads", "1"] + extra, log: log ?? "\(output).log")
    }

    func files(_ d: String) throws -> [Data] {
        try [PreparedCorpus.tokensFile, PreparedCorpus.offsetsFile, PreparedCorpus.lengthsFile].map {
            try Data(contentsOf: URL(fileURLWithPath: "\(d)/\($0)"))
        }
    }

    func lines(_ path: String, _ n: Int? = nil) throws -> [String] {
        let all = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let body = all.last == "" ? Array(all.dropLast()) : all
        return n.map { Array(body.prefix($0)) } ?? body
    }

    /// The first `n` lines of the sample's German side as the file mono.de: a source to distill.
    func sourceLines(_ n: Int) throws -> String {
        let src = "\(dir)/mono.de"
        try (try lines("\(sample)/train.de", n).joined(separator: "\n") + "\n").write(toFile: src, atomically: true, encoding: .utf8)
        return src
    }

    /// Pair i of a prepared corpus: its source and target ids.
    func pair(_ corpus: PreparedCorpus, _ i: Int) -> (source: [Int32], target: [Int32]) {
        let (s, n) = corpus.lengths(i)
        var source = [Int32](repeating: 0, count: s), target = [Int32](repeating: 0, count: n)
        corpus.copyPair(i, source: &source, target: &target)
        return (source, target)
    }

    func report(_ d: String) throws -> [String: Any] {
        let o = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(d)/\(Distillation.reportFile)"))) as! [String: Any]
        return o["counts"] as! [String: Any]
    }

    /// The corpus holds each source line and exactly the teacher's `translate` output for it (same
    /// beam, length penalty and cap), in input order; `train --data` trains a student on it.
    func testCorpusHoldsTheTeachersTranslationsAndTrainsAStudent() throws {
        let teacher = try trainTeacher()
        let src = try sourceLines(600)
        let out = "\(dir)/distilled"
        let r = try distill(teacher, src, out, ["--beam", "4", "--length-penalty", "1.0"])
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(r.output.contains("600 pairs from 600 lines"), r.output)

        let t = try CLI.run([CLI.binary!, "translate", "--model", teacher, "--input", src, "--output", "\(dir)/translated.en",
                             "--beam", "4", "--length-penalty", "1.0", "--threads", "1"], log: "\(dir)/translate.log")
        XCTAssertEqual(t.status, 0, t.output)
        let translations = try lines("\(dir)/translated.en")
        let corpus = try PreparedCorpus(directory: out)
        let v = try Vocabularies.load(from: teacher)
        try corpus.check(against: v)
        XCTAssertEqual(corpus.pairCount, 600)
        let sources = try lines(src)
        for i in 0..<corpus.pairCount {
            let (source, target) = pair(corpus, i)
            XCTAssertEqual(source, v.source.encode(sources[i]), "pair \(i + 1): source ids")
            XCTAssertEqual(v.target.decode(target), translations[i], "pair \(i + 1): the teacher's translation")
        }
        let counts = try report(out)
        XCTAssertEqual(counts["pairs"] as? Int, 600)
        XCTAssertEqual(counts["translated"] as? Int, 600)

        let student = try CLI.run([CLI.binary!, "train", "--data", out, "--valid-src", "\(sample)/valid.de", "--valid-tgt", "\(sample)/valid.en",
                                   "--model", "\(dir)/student", "--d-model", "32", "--d-ff", "64", "--encoder-layers", "2",
                                   "--decoder-layers", "1", "--heads", "2", "--batch-tokens", "800", "--max-steps", "30",
                                   "--threads", "1"], log: "\(dir)/student.log")
        XCTAssertEqual(student.status, 0, student.output)
        XCTAssertTrue(student.output.contains("training pairs: 600"), student.output)
        XCTAssertTrue(FileManager.default.fileExists(atPath: "\(dir)/student/model.safetensors"))
    }

    /// --n-best 2: each line's two best translations, best first, exactly `translate --n-best 2`'s
    /// hypotheses with the same search; distill.json records it, and an --n-best above the beam is
    /// refused naming both flags.
    func testNBestWritesEachLinesBestTranslationsInOrder() throws {
        let teacher = try trainTeacher()
        let src = try sourceLines(150)
        let out = "\(dir)/nbest"
        let r = try distill(teacher, src, out, ["--beam", "4", "--n-best", "2"])
        XCTAssertEqual(r.status, 0, r.output)
        let t = try CLI.run([CLI.binary!, "translate", "--model", teacher, "--input", src, "--output", "\(dir)/nbest.en",
                             "--beam", "4", "--n-best", "2", "--threads", "1"], log: "\(dir)/translate.log")
        XCTAssertEqual(t.status, 0, t.output)
        var expected: [[String]] = Array(repeating: [], count: 150)  // "line<TAB>text<TAB>score", one hypothesis a line
        for row in try lines("\(dir)/nbest.en") {
            let f = row.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            expected[Int(f[0])! - 1].append(f[1])
        }
        let wanted = expected.flatMap { $0 }
        XCTAssertGreaterThan(wanted.count, 280, "most lines have two distinct translations")
        let corpus = try PreparedCorpus(directory: out)
        let v = try Vocabularies.load(from: teacher)
        XCTAssertEqual(corpus.pairCount, wanted.count)
        let sources = try lines(src)
        var i = 0
        for (line, texts) in expected.enumerated() {
            for (k, text) in texts.enumerated() where i < corpus.pairCount {
                let (source, target) = pair(corpus, i)
                XCTAssertEqual(source, v.source.encode(sources[line]), "line \(line + 1), translation \(k + 1): source")
                XCTAssertEqual(v.target.decode(target), text, "line \(line + 1), translation \(k + 1)")
                i += 1
            }
        }
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(out)/\(Distillation.reportFile)"))) as! [String: Any]
        XCTAssertEqual((json["settings"] as! [String: Any])["n_best"] as? Int, 2)
        XCTAssertEqual(try report(out)["pairs"] as? Int, wanted.count)
        XCTAssertEqual(try report(out)["translated"] as? Int, 150)

        let bad = try distill(teacher, src, "\(dir)/bad", ["--beam", "2", "--n-best", "3"])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.output.contains("--n-best must be between 1 and --beam"), bad.output)
    }

    /// SIGINT stops after a chunk with the progress saved (exit status non-zero, the message says
    /// --resume); kill -9 at any moment loses at most a chunk; each resumed job ends with exactly the
    /// corpus an uninterrupted job writes. Without --resume an unfinished job is refused, and with
    /// other settings too.
    func testResumeAfterSIGINTAndKillGivesTheUninterruptedCorpus() throws {
        let teacher = try trainTeacher()
        let src = try sourceLines(5_000)
        let reference = "\(dir)/reference"
        XCTAssertEqual(try distill(teacher, src, reference).status, 0)

        for signal in [SIGINT, SIGKILL] {
            let out = "\(dir)/interrupted-\(signal)", log = "\(out).log"
            let p = try CLI.start([CLI.binary!, "distill", "--teacher", teacher, "--src", src, "--output", out,
                                   "--chunk-lines", "100", "--threads", "1"], log: log)
            let progress = "\(out)/shards/0-of-1/progress.json"
            let deadline = Date().addingTimeInterval(60)
            var saved = 0
            while Date() < deadline && p.isRunning {
                usleep(10_000)
                if let d = FileManager.default.contents(atPath: progress),
                   let o = try? JSONSerialization.jsonObject(with: d) as? [String: Any], let n = o["next_line"] as? Int, n >= 500 {
                    saved = n; break
                }
            }
            XCTAssertTrue(p.isRunning, "the job ended before it could be interrupted")
            kill(p.processIdentifier, signal)
            p.waitUntilExit()
            XCTAssertNotEqual(p.terminationStatus, 0)
            XCTAssertFalse(PreparedCorpus.isPrepared(out))
            if signal == SIGINT {
                let text = try String(contentsOfFile: log, encoding: .utf8)
                XCTAssertTrue(text.contains("--resume"), text)
            }
            print("signal \(signal) after \(saved) lines")

            let refused = try distill(teacher, src, out)
            XCTAssertNotEqual(refused.status, 0)
            XCTAssertTrue(refused.output.contains("unfinished distillation") && refused.output.contains("--resume"), refused.output)
            let other = try distill(teacher, src, out, ["--resume", "--beam", "3"])
            XCTAssertNotEqual(other.status, 0)
            XCTAssertTrue(other.output.contains("other settings") && other.output.contains("beam"), other.output)

            let resumed = try distill(teacher, src, out, ["--resume"])
            XCTAssertEqual(resumed.status, 0, resumed.output)
            XCTAssertTrue(resumed.output.contains("resuming:"), resumed.output)
            XCTAssertEqual(try files(out), try files(reference), "signal \(signal): the resumed corpus differs from the uninterrupted one")
            XCTAssertFalse(FileManager.default.fileExists(atPath: "\(out)/shards"))
        }
        let again = try distill(teacher, src, reference)
        XCTAssertNotEqual(again.status, 0)
        XCTAssertTrue(again.output.contains("already holds a prepared corpus"), again.output)
    }

    /// Two ranks under a real mpirun write the single process's corpus, byte for byte.
    func testTwoRanksUnderMPIWriteTheSingleProcessCorpus() throws {
        try XCTSkipUnless(Engines.mpi, "this build has no MPI (the package trait MPI is off)")
        guard CLI.which("mpirun") != nil else { throw CLI.Missing("mpirun not found: bash .ci/setup installs Open MPI (openmpi-bin)") }
        let teacher = try trainTeacher()
        let src = try sourceLines(1_050)
        XCTAssertEqual(try distill(teacher, src, "\(dir)/one").status, 0)
        let two = try distill(teacher, src, "\(dir)/two", prefix: CLI.mpirun(2))
        XCTAssertEqual(two.status, 0, two.output)
        XCTAssertTrue(two.output.contains("on each of 2 ranks"), two.output)
        XCTAssertEqual(try files("\(dir)/two"), try files("\(dir)/one"))
        XCTAssertEqual(try report("\(dir)/two")["pairs"] as? Int, 1_050)
    }

    /// The score and length-ratio filters drop what they should and count it; every line is
    /// accounted for. --vocab writes the corpus in a student's vocabulary.
    func testFiltersAndAStudentVocabulary() throws {
        let teacher = try trainTeacher()
        let src = try sourceLines(400)
        let all = "\(dir)/all"
        XCTAssertEqual(try distill(teacher, src, all, ["--beam", "2"]).status, 0)
        let filtered = "\(dir)/filtered"
        let r = try distill(teacher, src, filtered, ["--beam", "2", "--min-score", "-0.9", "--max-length-ratio", "1.2"])
        XCTAssertEqual(r.status, 0, r.output)
        let c = try report(filtered)
        let kept = c["pairs"] as! Int, byScore = c["dropped_score"] as! Int, byRatio = c["dropped_ratio"] as! Int
        XCTAssertGreaterThan(byScore, 0)
        XCTAssertGreaterThan(byRatio, 0)
        XCTAssertGreaterThan(kept, 0)
        XCTAssertEqual(kept + byScore + byRatio + (c["skipped_empty"] as! Int) + (c["skipped_long"] as! Int), 400)
        // Every kept pair is within the ratio.
        let corpus = try PreparedCorpus(directory: filtered)
        for i in 0..<corpus.pairCount {
            let (s, t) = corpus.lengths(i)
            XCTAssertLessThanOrEqual(Double(max(s, t)), 1.2 * Double(min(s, t)), "pair \(i + 1)")
        }

        let vocab = "\(dir)/student-vocab"
        let v = try CLI.run([CLI.binary!, "vocab", "--src", "\(sample)/train.de", "--tgt", "\(sample)/train.en", "--size", "400",
                             "--output", vocab], log: "\(dir)/vocab.log")
        XCTAssertEqual(v.status, 0, v.output)
        let own = "\(dir)/own-vocab"
        XCTAssertEqual(try distill(teacher, src, own, ["--beam", "2", "--vocab", vocab]).status, 0)
        let teacherCorpus = try PreparedCorpus(directory: all), studentCorpus = try PreparedCorpus(directory: own)
        let tv = try Vocabularies.load(from: teacher), sv = try Vocabularies.load(from: vocab)
        try studentCorpus.check(against: sv)
        XCTAssertEqual(studentCorpus.pairCount, teacherCorpus.pairCount)
        var a = [Int32](repeating: 0, count: 256), b = [Int32](repeating: 0, count: 256)
        var ta = [Int32](repeating: 0, count: 256), tb = [Int32](repeating: 0, count: 256)
        let sources = try lines(src)
        for i in 0..<studentCorpus.pairCount {
            studentCorpus.copyPair(i, source: &a, target: &b)
            let (s, t) = studentCorpus.lengths(i)
            XCTAssertEqual(Array(a[0..<s]), sv.source.encode(sources[i]), "pair \(i + 1): source in the student's vocabulary")
            teacherCorpus.copyPair(i, source: &ta, target: &tb)
            let tt = teacherCorpus.lengths(i).tgt
            XCTAssertEqual(Array(b[0..<t]), sv.target.encode(tv.target.decode(Array(tb[0..<tt]))), "pair \(i + 1): target")
        }
    }
}
