/// GPT-2's pre-tokenizer: the text is cut into words by the regular expression
///
///     's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
///
/// (Hugging Face tokenizers' `ByteLevel` with `use_regex`, OpenAI's encoder.py), matched here by hand
/// over Unicode scalars: alternatives in order at each position, `\s` the White_Space property,
/// `\p{L}` and `\p{N}` the letter and number general categories. A run of whitespace before a word
/// leaves its last space to the word (" word"); whitespace at the end of the text stays one piece.
public enum ByteLevelPreTokenizer {
    /// The words of `s` as ranges of its scalars, covering them in order without gaps.
    public static func split(_ s: [Unicode.Scalar]) -> [Range<Int>] {
        var out: [Range<Int>] = []
        var i = 0
        let n = s.count
        while i < n {
            let end = match(s, at: i)
            out.append(i..<end)
            i = end
        }
        return out
    }

    enum Kind { case letter, number, space, other }

    @inline(__always) static func kind(_ u: Unicode.Scalar) -> Kind {
        if u.value < 0x80 {  // ASCII without the property tables
            switch u.value {
            case 0x41...0x5A, 0x61...0x7A: return .letter
            case 0x30...0x39: return .number
            case 0x09...0x0D, 0x20: return .space
            default: return .other
            }
        }
        let p = u.properties
        if p.isWhitespace { return .space }
        switch p.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return .letter
        case .decimalNumber, .letterNumber, .otherNumber: return .number
        default: return .other
        }
    }

    /// The end of the match that starts at `i` (always past `i`).
    static func match(_ s: [Unicode.Scalar], at i: Int) -> Int {
        let n = s.count
        // 's 't 're 've 'm 'll 'd (ASCII apostrophe, lower case, as the expression is written).
        if s[i] == "'" && i + 1 < n {
            let a = s[i + 1]
            if a == "s" || a == "t" || a == "m" || a == "d" { return i + 2 }
            if i + 2 < n {
                let b = s[i + 2]
                if (a == "r" && b == "e") || (a == "v" && b == "e") || (a == "l" && b == "l") { return i + 3 }
            }
        }
        // ` ?\p{L}+`, ` ?\p{N}+`, ` ?[^\s\p{L}\p{N}]+`: an optional space, then a run of one class.
        let start = s[i] == " " && i + 1 < n && kind(s[i + 1]) != .space ? i + 1 : i
        let k = kind(s[start])
        if k != .space {
            var j = start + 1
            while j < n && kind(s[j]) == k { j += 1 }
            return j
        }
        // `\s+(?!\S)`: a whitespace run that, followed by a non-space, gives that one's space up;
        // `\s+` takes a single space the first alternative could not.
        var j = i + 1
        while j < n && kind(s[j]) == .space { j += 1 }
        if j < n && j - i > 1 { return j - 1 }
        return j
    }
}
