import CICU

/// Splits text into sentences with ICU's sentence break rules (UAX #29, plus the locale's
/// abbreviation list when it has one), keeping every character: a text is its leading whitespace,
/// then each sentence followed by the whitespace after it, so translations joined back with that
/// whitespace keep the text's spaces and line breaks.
public struct SentenceSplitter: Sendable {
    /// One sentence: its text without surrounding whitespace, and the whitespace that follows it.
    public struct Sentence: Sendable, Equatable {
        /// The sentence, trimmed.
        public var text: String
        /// Whitespace (spaces, tabs, line breaks) between this sentence and the next, or the text's end.
        public var trailing: String
    }

    /// The ICU locale whose rules apply ("" for the root rules).
    public let locale: String

    /// Creates a splitter for a language code such as "de" or "en" (nil or "": ICU's root rules).
    /// A language code gets ICU's abbreviation suppressions ("Mr.", "z.B.", "Dr." do not end a
    /// sentence) where ICU has them: English, German, French, Spanish, Italian, Portuguese, Russian.
    public init(language: String? = nil) {
        if let language, !language.isEmpty, language.allSatisfy({ $0.isASCII && ($0.isLetter || $0 == "_" || $0 == "-") }) {
            locale = language + "@ss=standard"
        } else {
            locale = ""
        }
    }

    /// The text's leading whitespace and its sentences; `leading` + each sentence's text and trailing
    /// whitespace is `text` again. Text of whitespace only has no sentences.
    public func split(_ text: String) -> (leading: Substring, sentences: [Sentence]) {
        let leadEnd = text.firstIndex { !$0.isWhitespace } ?? text.endIndex
        let leading = text[..<leadEnd]
        if leadEnd == text.endIndex { return (leading, []) }
        var sentences: [Sentence] = []
        for piece in pieces(String(text[leadEnd...])) {
            let end = piece.lastIndex { !$0.isWhitespace }.map { piece.index(after: $0) } ?? piece.startIndex
            if end == piece.startIndex, !sentences.isEmpty {
                sentences[sentences.count - 1].trailing += piece  // whitespace alone joins the previous gap
            } else {
                sentences.append(Sentence(text: String(piece[..<end]), trailing: String(piece[end...])))
            }
        }
        return (leading, sentences)
    }

    /// ICU's segments of `text`, each with the whitespace that follows its sentence.
    func pieces(_ text: String) -> [Substring] {
        let n = Int32(text.utf8.count)
        var offsets = [Int32](repeating: 0, count: 64)
        var count: Int32 = 0
        while true {
            let capacity = Int32(offsets.count)
            count = text.withCString { s2s_sentence_breaks($0, n, locale, &offsets, capacity) }
            if count <= capacity { break }
            offsets = [Int32](repeating: 0, count: Int(count))
        }
        // ICU failed (it should not for valid UTF-8): the whole text is one sentence.
        guard count > 0 else { return [Substring(text)] }
        var result: [Substring] = []
        let u = text.utf8
        var start = u.startIndex
        for o in offsets.prefix(Int(count)) {
            let i = u.index(u.startIndex, offsetBy: Int(o))
            // ICU reports boundaries between characters; guard against one inside a grapheme cluster.
            guard let cut = i.samePosition(in: text), cut > start else { continue }
            result.append(text[start..<cut])
            start = cut
        }
        result.append(text[start...])
        return result
    }
}
