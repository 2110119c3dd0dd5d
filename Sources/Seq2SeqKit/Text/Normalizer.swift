import CICU

/// Text normalization, the same at training, translation and evaluation time:
/// Unicode normalization through ICU (NFKC by default, the choice of sentencepiece's nmt_nfkc),
/// optional full lowercasing (ICU root locale), then whitespace clean-up: every White_Space
/// character becomes a space, other control characters (Cc) are removed, runs of spaces fold to
/// one and the ends are trimmed.
public struct Normalizer: Codable, Equatable, Sendable {
    /// The Unicode normalization form: NFKC (compatibility characters folded), NFC, or none.
    public enum Form: String, Codable, Sendable, CaseIterable { case nfkc, nfc, none }

    /// The Unicode normalization form (default ``Form/nfkc``).
    public var form: Form
    /// Whether text is lowercased, fully (ICU's root locale), after the Unicode normalization (default false).
    public var lowercase: Bool
    /// The whitespace clean-up (off for character-level language models, whose text keeps its
    /// newlines and spacing).
    public var cleanWhitespace: Bool

    /// A normalizer; the defaults are NFKC, no lowercasing, whitespace clean-up on.
    public init(form: Form = .nfkc, lowercase: Bool = false, cleanWhitespace: Bool = true) {
        self.form = form
        self.lowercase = lowercase
        self.cleanWhitespace = cleanWhitespace
    }

    /// The same as ``normalize(_:)``.
    public func callAsFunction(_ text: String) -> String { normalize(text) }

    /// The normalized text: the Unicode form, the lowercasing, then the whitespace clean-up, as each is set.
    ///
    /// ASCII text skips ICU (it is in every normal form; lowercasing it is ASCII's). Thread-safe.
    public func normalize(_ text: String) -> String {
        var s = text
        // ASCII text is already in every normal form; skip ICU for it unless lowercasing.
        let ascii = text.utf8.allSatisfy { $0 < 0x80 }
        if ascii {
            if lowercase { s = String(decoding: text.utf8.map { $0 >= 0x41 && $0 <= 0x5A ? $0 + 32 : $0 }, as: UTF8.self) }
        } else if form != .none || lowercase {
            s = icuNormalize(text)
        }
        return cleanWhitespace ? clean(s) : s
    }

    private func icuNormalize(_ text: String) -> String {
        let formCode: Int32
        switch form {
        case .nfkc: formCode = Int32(S2S_NORM_NFKC)
        case .nfc: formCode = Int32(S2S_NORM_NFC)
        case .none: formCode = Int32(S2S_NORM_NONE)
        }
        var input = Array(text.utf8)
        var capacity = input.count * 3 + 16
        while true {
            var out = [UInt8](repeating: 0, count: capacity)
            let n = input.withUnsafeMutableBufferPointer { inp in
                out.withUnsafeMutableBufferPointer { o in
                    inp.baseAddress!.withMemoryRebound(to: CChar.self, capacity: inp.count) { ip in
                        o.baseAddress!.withMemoryRebound(to: CChar.self, capacity: capacity) { op in
                            s2s_normalize_utf8(ip, Int32(inp.count), formCode, lowercase ? 1 : 0, op, Int32(capacity))
                        }
                    }
                }
            }
            if n < 0 { return text }  // ICU refused (cannot happen for valid UTF-8); keep the text
            if Int(n) <= capacity { return String(decoding: out[0..<Int(n)], as: UTF8.self) }
            capacity = Int(n)
        }
    }

    /// White_Space → ' ', other Cc removed, runs of spaces folded, ends trimmed.
    func clean(_ s: String) -> String {
        var out = String.UnicodeScalarView()
        var pendingSpace = false
        for c in s.unicodeScalars {
            if c.properties.isWhitespace {
                pendingSpace = !out.isEmpty
            } else if c.properties.generalCategory == .control {
                continue
            } else {
                if pendingSpace { out.append(" "); pendingSpace = false }
                out.append(c)
            }
        }
        return String(out)
    }

    /// The version of the ICU library the normalization runs on (for example "74.2").
    public static var icuVersion: String {
        var buf = [CChar](repeating: 0, count: 32)
        s2s_icu_version(&buf, 32)
        return String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
