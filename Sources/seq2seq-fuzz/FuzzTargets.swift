import Foundation
import Seq2SeqKit

/// The readers a user's files reach, each fed arbitrary bytes. A target may throw (that is a clear
/// error); it must never trap, read out of bounds or hang. libFuzzer with AddressSanitizer checks
/// that (scripts/fuzz.sh); without them, `seq2seq-fuzz TARGET FILE...` replays files through the
/// same code (CI replays the seed corpora).
enum FuzzTargets {
    static let all: [String: @Sendable (Data) -> Void] = [
        "safetensors": safetensors, "tokenizer": tokenizer, "config": config, "lines": lines, "bpe": bpe,
    ]

    /// safetensors header and data: every tensor that parses is read in full.
    static func safetensors(_ d: Data) {
        guard let f = try? SafeTensors(data: d, path: "fuzz.safetensors") else { return }
        for name in f.names {
            guard let t = try? f.tensor(name), t.dtype == .f32 else { continue }
            let out = UnsafeMutablePointer<Float>.allocate(capacity: max(1, t.count))
            defer { out.deallocate() }
            try? f.readFloats(name, shape: t.shape, into: out)
        }
    }

    /// tokenizer.json: a vocabulary that loads must encode and decode.
    static func tokenizer(_ d: Data) {
        guard let v = try? Vocabulary.load(data: d, path: "fuzz/tokenizer.json") else { return }
        let ids = v.encode("Ein Mann fährt über die Straße, 3,14 € — ﬁ")
        _ = v.decode(ids)
        _ = v.fingerprint
    }

    /// config.json: a configuration that validates must lay out its parameters.
    static func config(_ d: Data) {
        guard let c = try? ModelConfig.decode(d, source: "fuzz/config.json") else { return }
        _ = ParameterLayout(c).totalCount
    }

    /// The UTF-8 line reader every text file goes through (tiny buffer, so lines straddle refills),
    /// strict and lenient.
    static func lines(_ d: Data) {
        // An unlinked temporary file stands in for a file or pipe.
        var template = Array("/tmp/seq2seq-fuzz-XXXXXX".utf8CString)
        let fd = mkstemp(&template)
        guard fd >= 0 else { return }
        template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) }
        defer { close(fd) }
        _ = d.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        for lenient in [false, true] {
            lseek(fd, 0, SEEK_SET)
            let r = LineReader(fileDescriptor: fd, name: "fuzz.txt", bufferSize: 7)
            while let _ = try? r.nextLine(lenient: lenient) {}
        }
    }

    /// The BPE encoder (normalizer, pre-tokenizer, merges, byte fallback) on arbitrary text: ids
    /// are in range and decode.
    static func bpe(_ d: Data) {
        let text = String(decoding: d, as: UTF8.self)
        let ids = bpeVocabulary.encode(text)
        for id in ids where id < 0 || Int(id) >= bpeVocabulary.count { fatalError("id \(id) out of range") }
        _ = bpeVocabulary.decode(ids)
        _ = characterVocabulary.encode(text)
    }

    static let bpeVocabulary: Vocabulary = {
        do { return try Vocabulary.learn(lines: sampleLines, size: 600) }
        catch { fatalError("the fuzz target's sample lines make no BPE vocabulary: \(error)") }
    }()
    static let characterVocabulary: Vocabulary = {
        var n = Normalizer()
        n.cleanWhitespace = false
        do { return try Vocabulary.characters(of: sampleLines.joined(separator: "\n"), normalizer: n) }
        catch { fatalError("the fuzz target's sample lines make no character vocabulary: \(error)") }
    }()
    static let sampleLines = [
        "Ein Mann fährt Fahrrad.", "Zwei Hunde spielen im Schnee.", "A man rides a bike.", "Two dogs play in the snow.",
        "Die Straße ist naß — „Anführungszeichen“ und 3,14 €.", "Ünïcödé ﬁ ligatures ＦＵＬＬＷＩＤＴＨ 한국어 日本語 🙂",
    ]
}
