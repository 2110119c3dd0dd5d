import Foundation

/// The prepared corpus that `train --src/--tgt` (or `--lm --text`) keeps in its model directory,
/// so that a resumed run maps it instead of encoding the text again.
public enum TrainingCorpus {
    /// Inside the model directory.
    public static let directoryName = "data/train"

    /// Whether ``ensure(files:vocabularies:preparer:directory:resuming:log:)`` prepared the corpus anew or
    /// reused the one in place, with its header.
    public enum Outcome { case prepared(PreparedHeader), reused(PreparedHeader) }

    /// Reuses `dir` when it was prepared from these files (same bytes) with this vocabulary and
    /// length limit; otherwise prepares it. `resuming` makes a changed corpus an error instead.
    ///
    /// - Parameters:
    ///   - files: The source and target files (translation), or the one text file (language model).
    ///   - v: The vocabularies to encode with (a text uses the target one).
    ///   - preparer: The length limit and leniency to prepare with.
    ///   - dir: The corpus directory.
    ///   - resuming: Make a corpus that no longer matches an error instead of preparing it again.
    ///   - log: Progress and notes (a recorded file that no longer exists is reported and the corpus reused).
    /// - Throws: ``TrainError/settings(_:)`` when `resuming` and the corpus does not match, and the errors of
    ///   ``CorpusPreparer`` and of reading the files.
    public static func ensure(files: [String], vocabularies v: Vocabularies, preparer: CorpusPreparer, directory dir: String,
                              resuming: Bool, log: (String) -> Void) throws -> Outcome {
        if PreparedCorpus.isPrepared(dir), let h = try? PreparedCorpus.readHeader(dir) {
            var same = h.files.count == files.count && h.sourceVocabulary == v.source.fingerprint
                && h.targetVocabulary == v.target.fingerprint && (files.count == 1 || h.maxLength == preparer.maxLength)
            var why = same ? "" : "the vocabulary or --max-length differs"
            if same {
                for (f, recorded) in zip(files, h.files) {
                    guard FileManager.default.fileExists(atPath: f) else {
                        log("\(f): not found; using the corpus prepared from it in \(dir)")
                        continue
                    }
                    let now = try CorpusPreparer.fingerprint(of: f)
                    if now.bytes != recorded.bytes || now.fingerprint != recorded.fingerprint {
                        same = false
                        why = "\(f) changed since it was prepared (\(recorded.bytes) bytes, fingerprint \(recorded.fingerprint); now \(now.bytes) bytes, \(now.fingerprint))"
                        break
                    }
                }
            }
            if same { return .reused(h) }
            if resuming {
                throw TrainError.settings("--resume: \(why); a resumed run must see the corpus it started with (restore the files, or start a new run)")
            }
        }
        if files.count == 2 {
            return .prepared(try preparer.prepare(source: files[0], target: files[1], vocabularies: v, output: dir))
        }
        return .prepared(try preparer.prepare(text: files[0], vocabulary: v.target, output: dir))
    }

    /// Bytes of the files of a prepared corpus (for reports).
    public static func diskBytes(_ dir: String) -> Int {
        let fm = FileManager.default
        return ((try? fm.contentsOfDirectory(atPath: dir)) ?? []).reduce(0) {
            $0 + (((try? fm.attributesOfItem(atPath: "\(dir)/\($1)"))?[.size] as? Int) ?? 0)
        }
    }
}
