/// The tokenizers sacreBLEU applies before BLEU, reimplemented to give the same tokens:
/// `13a` (mteval-v13a, sacreBLEU's default), `intl` (Unicode punctuation and symbols), `char`, `none`.
/// Text is handled as Unicode scalars, as Python strings are.
public enum SacreTokenizer: String, CaseIterable, Sendable, Codable {
    case tok13a = "13a", intl, char, none

    /// The line as sacreBLEU's tokenizer leaves it, tokens separated by spaces (`none` returns it unchanged).
    public func callAsFunction(_ line: String) -> String {
        switch self {
        case .none: return line
        case .char: return line.unicodeScalars.map { String($0) }.joined(separator: " ")
        case .tok13a: return Self.tokenize13a(line)
        case .intl: return Self.tokenizeIntl(line)
        }
    }

    // MARK: 13a

    static func tokenize13a(_ input: String) -> String {
        var line = input.replacingAll("<skipped>", with: "")
        line = line.replacingAll("-\n", with: "")
        line = line.replacingAll("\n", with: " ")
        if line.contains("&") {
            line = line.replacingAll("&quot;", with: "\"")
            line = line.replacingAll("&amp;", with: "&")
            line = line.replacingAll("&lt;", with: "<")
            line = line.replacingAll("&gt;", with: ">")
        }
        var s = Array((" " + line + " ").unicodeScalars)
        // ([\{-\~\[-\` -\&\(-\+\:-\@\/]) → ' \1 '
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(s.count * 2)
        for c in s {
            let v = c.value
            if (0x7B...0x7E).contains(v) || (0x5B...0x60).contains(v) || (0x20...0x26).contains(v)
                || (0x28...0x2B).contains(v) || (0x3A...0x40).contains(v) || v == 0x2F {
                out.append(" "); out.append(c); out.append(" ")
            } else {
                out.append(c)
            }
        }
        s = out
        let digit: (Unicode.Scalar) -> Bool = { $0.value >= 0x30 && $0.value <= 0x39 }
        let dotComma: (Unicode.Scalar) -> Bool = { $0 == "." || $0 == "," }
        // ([^0-9])([\.,]) → '\1 \2 '
        s = substitutePairs(s, { !digit($0) }, dotComma) { a, b in [a, " ", b, " "] }
        // ([\.,])([^0-9]) → ' \1 \2'
        s = substitutePairs(s, dotComma, { !digit($0) }) { a, b in [" ", a, " ", b] }
        // ([0-9])(-) → '\1 \2 '
        s = substitutePairs(s, digit, { $0 == "-" }) { a, b in [a, " ", b, " "] }
        return joinWords(s)
    }

    // MARK: intl

    static func tokenizeIntl(_ line: String) -> String {
        var s = Array(line.unicodeScalars)
        // (\P{N})(\p{P}) → '\1 \2 ';  (\p{P})(\P{N}) → ' \1 \2';  (\p{S}) → ' \1 '
        s = substitutePairs(s, { !isNumber($0) }, isPunctuation) { a, b in [a, " ", b, " "] }
        s = substitutePairs(s, isPunctuation, { !isNumber($0) }) { a, b in [" ", a, " ", b] }
        var out: [Unicode.Scalar] = []
        for c in s {
            if isSymbol(c) { out.append(" "); out.append(c); out.append(" ") } else { out.append(c) }
        }
        return joinWords(out)
    }

    static func isNumber(_ c: Unicode.Scalar) -> Bool {
        switch c.properties.generalCategory {
        case .decimalNumber, .letterNumber, .otherNumber: return true
        default: return false
        }
    }

    static func isPunctuation(_ c: Unicode.Scalar) -> Bool {
        switch c.properties.generalCategory {
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
             .initialPunctuation, .finalPunctuation, .otherPunctuation: return true
        default: return false
        }
    }

    static func isSymbol(_ c: Unicode.Scalar) -> Bool {
        switch c.properties.generalCategory {
        case .mathSymbol, .currencySymbol, .modifierSymbol, .otherSymbol: return true
        default: return false
        }
    }

    /// Python's `re.sub` for a two-character pattern (first)(second): leftmost, non-overlapping matches.
    static func substitutePairs(
        _ s: [Unicode.Scalar], _ first: (Unicode.Scalar) -> Bool, _ second: (Unicode.Scalar) -> Bool,
        _ replace: (Unicode.Scalar, Unicode.Scalar) -> [Unicode.Scalar]
    ) -> [Unicode.Scalar] {
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(s.count + s.count / 2)
        var i = 0
        while i < s.count {
            if i + 1 < s.count && first(s[i]) && second(s[i + 1]) {
                out.append(contentsOf: replace(s[i], s[i + 1]))
                i += 2
            } else {
                out.append(s[i])
                i += 1
            }
        }
        return out
    }

    /// ' '.join(line.split()) with Python's notion of whitespace.
    static func joinWords(_ s: [Unicode.Scalar]) -> String {
        splitWords(s).map { String(String.UnicodeScalarView($0)) }.joined(separator: " ")
    }
}

/// Python's str.isspace() set: what `str.split()` splits on.
@inline(__always)
func isPythonSpace(_ c: Unicode.Scalar) -> Bool {
    switch c.value {
    case 0x09...0x0D, 0x1C...0x20, 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000:
        return true
    default:
        return false
    }
}

/// Python's `str.split()`: runs of whitespace separate words; no empty words.
func splitWords(_ s: [Unicode.Scalar]) -> [[Unicode.Scalar]] {
    var words: [[Unicode.Scalar]] = []
    var current: [Unicode.Scalar] = []
    for c in s {
        if isPythonSpace(c) {
            if !current.isEmpty { words.append(current); current = [] }
        } else {
            current.append(c)
        }
    }
    if !current.isEmpty { words.append(current) }
    return words
}

extension String {
    /// Literal (non-regex) replacement of every occurrence, by Unicode scalars.
    func replacingAll(_ target: String, with replacement: String) -> String {
        let s = Array(unicodeScalars), t = Array(target.unicodeScalars), r = Array(replacement.unicodeScalars)
        guard !t.isEmpty, s.count >= t.count else { return self }
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(s.count)
        var i = 0
        while i < s.count {
            if i + t.count <= s.count && s[i] == t[0] && Array(s[i..<(i + t.count)]) == t {
                out.append(contentsOf: r)
                i += t.count
            } else {
                out.append(s[i])
                i += 1
            }
        }
        return String(String.UnicodeScalarView(out))
    }
}
