/// SentencePiece's normalizer (normalizer.cc, Normalize), byte for byte: each prefix of the input
/// is replaced by the longest rule of the precompiled character map (or kept, one character at a
/// time); user-defined symbols pass through untouched; leading, trailing and repeated spaces are
/// dropped (remove_extra_whitespaces); a space is put first (add_dummy_prefix); spaces become "▁"
/// (escape_whitespaces).
public struct SentencePieceNormalizer: Sendable {
    /// The model's compiled replacement rules; nil when it has none.
    public let charsMap: PrecompiledCharsMap?
    /// Whether a space ("▁") is put first.
    public let addDummyPrefix: Bool
    /// Whether leading, trailing and repeated spaces are dropped.
    public let removeExtraWhitespaces: Bool
    /// Whether spaces become "▁".
    public let escapeWhitespaces: Bool
    /// User-defined symbols as UTF-8, longest first: matched before the character map.
    let userDefined: [[UInt8]]

    static let spaceSymbol: [UInt8] = Array(String(PreTokenizer.wordStart).utf8)

    /// The normalizer of `model`; `path` names the model file in errors.
    /// - Throws: ``SentencePieceError/file(_:_:)`` if the precompiled character map is damaged.
    public init(model: SentencePieceModel, path: String) throws {
        charsMap = model.precompiledCharsMap.isEmpty ? nil : try PrecompiledCharsMap(model.precompiledCharsMap, path: path)
        addDummyPrefix = model.addDummyPrefix
        removeExtraWhitespaces = model.removeExtraWhitespaces
        escapeWhitespaces = model.escapeWhitespaces
        userDefined = model.pieces.filter { $0.type == .userDefined }.map { Array($0.piece.utf8) }.sorted { $0.count > $1.count }
    }

    /// The replacement of the longest prefix rule at `from` and the bytes it consumes.
    func normalizePrefix(_ s: UnsafeBufferPointer<UInt8>, from: Int) -> (ArraySlice<UInt8>, Int) {
        for u in userDefined where u.count <= s.count - from {
            var same = true
            for k in 0..<u.count where s[from + k] != u[k] { same = false; break }
            if same { return (u[...], u.count) }
        }
        if let map = charsMap, let m = map.longestMatch(s, from: from) {
            return (map.replacement(at: m.value), m.length)
        }
        // No rule: the character itself (the input is valid UTF-8, so its lead byte gives its length).
        let n = min(utf8Length(s[from]), s.count - from)
        return (ArraySlice(UnsafeBufferPointer(rebasing: s[from..<(from + n)])), n)
    }

    /// The normalized text as UTF-8 bytes; empty for empty text, and for text of spaces alone when
    /// ``removeExtraWhitespaces`` is set.
    public func normalize(_ text: String) -> [UInt8] {
        var bytes = Array(text.utf8)
        return bytes.withUnsafeMutableBufferPointer { normalize(UnsafeBufferPointer($0)) }
    }

    /// The same for UTF-8 bytes (which must be valid UTF-8).
    public func normalize(_ s: UnsafeBufferPointer<UInt8>) -> [UInt8] {
        var at = 0
        let space = UInt8(ascii: " ")
        if removeExtraWhitespaces {
            while at < s.count {
                let (r, n) = normalizePrefix(s, from: at)
                if !(r.count == 1 && r.first == space) { break }
                at += n
            }
        }
        if at >= s.count { return [] }
        var out: [UInt8] = []
        out.reserveCapacity(s.count * 3)
        if addDummyPrefix { out += escapeWhitespaces ? Self.spaceSymbol : [space] }
        var prevSpace = removeExtraWhitespaces
        while at < s.count {
            let (r, n) = normalizePrefix(s, from: at)
            var piece = r
            while prevSpace && piece.first == space { piece = piece.dropFirst() }
            if !piece.isEmpty {
                for b in piece {
                    if escapeWhitespaces && b == space { out += Self.spaceSymbol } else { out.append(b) }
                }
                prevSpace = piece.last == space
            }
            at += n
            if !removeExtraWhitespaces { prevSpace = false }
        }
        if removeExtraWhitespaces {
            let tail = escapeWhitespaces ? Self.spaceSymbol : [space]
            while out.count >= tail.count && Array(out.suffix(tail.count)) == tail { out.removeLast(tail.count) }
        }
        return out
    }
}

/// Bytes of the UTF-8 character a lead byte starts (sentencepiece's OneCharLen: 1 for stray
/// continuation bytes, which valid text never starts with).
@inline(__always) func utf8Length(_ lead: UInt8) -> Int {
    switch lead >> 4 {
    case 0xC, 0xD: return 2
    case 0xE: return 3
    case 0xF: return 4
    default: return 1
    }
}
