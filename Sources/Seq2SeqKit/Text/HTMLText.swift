/// HTML to translate (LibreTranslate's `format: "html"`): the markup is kept, the text between the
/// tags is translated.
///
/// The document is cut into blocks at every tag that is not an inline one (`<p>`, `<li>`, `<td>`,
/// `<h1>`, `<div>`, …): each block's text is one ``texts`` entry, translated as a whole (sentence by
/// sentence with ``Translator/splitSentences``). Inline elements inside a block (`<b>`, `<i>`, `<a>`,
/// `<span>`, `<em>`, `<strong>`, …) are taken out of the text and put back around the target words
/// that the word alignment links to the source words they enclosed (Bergamot's and Marian's tag
/// projection); where no word of an element is aligned, it goes to the same relative position.
/// Void inline tags (`<br>`, `<img>`) go before the translation of the word they preceded. Script,
/// style and code elements, comments, and elements marked `translate="no"` or
/// `class="notranslate"` are kept as they are.
public struct HTMLText: Sendable {
    /// One piece of the document: markup kept verbatim, or a block with text to translate.
    enum Piece: Sendable {
        case raw(String)
        case block(Block)
    }

    /// A block: its text (entities decoded) and its inline tags, at character offsets of the text.
    struct Block: Sendable {
        var text = ""
        /// text.count, kept as the text grows (counting Characters each time would be quadratic).
        var length = 0
        /// (offset in `text` in Characters, the tag as written, its kind)
        var marks: [(offset: Int, tag: String, kind: MarkKind)] = []
    }

    enum MarkKind: Sendable, Equatable { case open(String), close(String), void }

    var pieces: [Piece] = []

    /// The texts to translate, one per block that holds more than whitespace, in document order.
    public var texts: [String] {
        pieces.compactMap { if case .block(let b) = $0 { return Self.core(b.text)?.text } else { return nil } }
    }

    static let inline: Set<String> = ["a", "abbr", "b", "bdi", "bdo", "cite", "data", "del", "dfn", "em", "font", "i", "ins",
                                      "kbd", "label", "mark", "q", "s", "samp", "small", "span", "strong", "sub", "sup",
                                      "time", "tt", "u", "var"]
    static let voidInline: Set<String> = ["br", "img", "wbr"]
    static let voidElements: Set<String> = ["area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
                                            "param", "source", "track", "wbr"]
    static let kept: Set<String> = ["script", "style", "code", "pre", "textarea", "svg", "math", "noscript", "template"]

    /// Parses `html`; never fails (text that is not markup is text, an unclosed tag is text).
    public init(parsing html: String) {
        var block = Block()
        var keptDepth: [String] = []  // names of open elements whose content is kept verbatim
        func flush() {
            if !block.text.isEmpty || !block.marks.isEmpty { pieces.append(.block(block)) }
            block = Block()
        }
        func raw(_ s: String) {
            if case .raw(let r)? = pieces.last { pieces[pieces.count - 1] = .raw(r + s) } else { pieces.append(.raw(s)) }
        }
        let chars = Array(html)
        var i = 0
        while i < chars.count {
            if chars[i] == "<", let (end, tag) = Self.tag(chars, at: i) {
                let text = String(chars[i..<end])
                i = end
                if !keptDepth.isEmpty {
                    if case .close(let name) = tag, name == keptDepth.last { keptDepth.removeLast() }
                    else if case .open(let name, _, let selfClosing) = tag, name == keptDepth.last, !selfClosing { keptDepth.append(name) }
                    raw(text)
                    continue
                }
                switch tag {
                case .open(let name, let attributes, let selfClosing):
                    let keep = Self.kept.contains(name) || Self.noTranslate(attributes)
                    if keep && !selfClosing && !Self.voidElements.contains(name) {
                        flush(); raw(text); keptDepth.append(name)
                    } else if Self.voidInline.contains(name) {
                        block.marks.append((block.length, text, .void))
                        if name == "br" { block.text += "\n"; block.length += 1 }  // a line break separates words
                    } else if Self.inline.contains(name) && !selfClosing {
                        block.marks.append((block.length, text, .open(name)))
                    } else if Self.inline.contains(name) {
                        block.marks.append((block.length, text, .void))
                    } else {
                        flush(); raw(text)
                    }
                case .close(let name):
                    if Self.inline.contains(name) { block.marks.append((block.length, text, .close(name))) } else { flush(); raw(text) }
                case .other:
                    flush(); raw(text)
                }
                continue
            }
            var j = i + 1
            while j < chars.count && chars[j] != "<" { j += 1 }
            let text = String(chars[i..<j])
            if keptDepth.isEmpty {
                let decoded = Self.decodeEntities(text)
                block.text += decoded
                block.length += decoded.count
            } else {
                raw(text)
            }
            i = j
        }
        flush()
    }

    enum Tag { case open(String, String, Bool), close(String), other }

    /// The tag starting at `i` (a "<"): its end (after ">") and what it is; nil when "<" starts no tag.
    static func tag(_ c: [Character], at i: Int) -> (Int, Tag)? {
        guard i + 1 < c.count else { return nil }
        if c[i + 1] == "!" || c[i + 1] == "?" {
            if i + 3 < c.count && c[i + 1] == "!" && c[i + 2] == "-" && c[i + 3] == "-" {
                var j = i + 4
                while j + 2 < c.count && !(c[j] == "-" && c[j + 1] == "-" && c[j + 2] == ">") { j += 1 }
                return j + 2 < c.count ? (j + 3, .other) : (c.count, .other)
            }
            guard let end = c[i...].firstIndex(of: ">") else { return nil }
            return (end + 1, .other)
        }
        let closing = c[i + 1] == "/"
        var j = i + (closing ? 2 : 1)
        guard j < c.count, c[j].isLetter else { return nil }
        var name = ""
        while j < c.count, c[j].isLetter || c[j].isNumber || c[j] == "-" || c[j] == ":" { name.append(c[j]); j += 1 }
        let attributesStart = j
        var quote: Character? = nil
        while j < c.count {
            if let q = quote { if c[j] == q { quote = nil } } else if c[j] == "\"" || c[j] == "'" { quote = c[j] } else if c[j] == ">" { break }
            j += 1
        }
        guard j < c.count else { return nil }
        let attributes = String(c[attributesStart..<j])
        let lower = name.lowercased()
        if closing { return (j + 1, .close(lower)) }
        return (j + 1, .open(lower, attributes, attributes.hasSuffix("/")))
    }

    /// `translate="no"` or a class list holding `notranslate`.
    static func noTranslate(_ attributes: String) -> Bool {
        let a = attributes.lowercased().replacingOccurrences(of: " ", with: "")
        if a.contains("translate=\"no\"") || a.contains("translate='no'") || a.contains("translate=no") { return true }
        guard let r = a.range(of: "class=") else { return false }
        let rest = a[r.upperBound...]
        return rest.prefix(200).contains("notranslate")
    }

    /// A block's text without its leading and trailing whitespace, and that whitespace; nil when
    /// the block is whitespace only.
    static func core(_ text: String) -> (leading: String, text: String, trailing: String)? {
        guard let first = text.firstIndex(where: { !$0.isWhitespace }) else { return nil }
        let last = text.lastIndex(where: { !$0.isWhitespace })!
        return (String(text[..<first]), String(text[first...last]), String(text[text.index(after: last)...]))
    }

    /// The document with each block's text replaced by its translation (`outputs[k]` for
    /// `texts[k]`, with ``Translator/Output/alignments`` when the blocks have inline tags).
    public func rendered(with outputs: [Translator.Output]) -> String {
        var html = ""
        var k = 0
        for piece in pieces {
            switch piece {
            case .raw(let s): html += s
            case .block(let b):
                guard let core = Self.core(b.text), k < outputs.count else {
                    html += Self.renderVerbatim(b)
                    continue
                }
                html += Self.render(b, core: core, output: outputs[k])
                k += 1
            }
        }
        return html
    }

    /// A block that is not translated: its text (escaped) with its tags where they were.
    static func renderVerbatim(_ b: Block) -> String {
        var out = "", chars = Array(b.text), at = 0
        for m in b.marks {
            out += escape(String(chars[at..<m.offset])); at = m.offset
            out += m.tag
        }
        return out + escape(String(chars[at...]))
    }

    /// An inline element of a block: its tags, source word span and nesting.
    struct Element {
        var open: String, close: String
        var first: Int, last: Int  // source words (last < first: empty, at `first`)
        var parent: Int?
        var lo = 0, hi = -1  // target words after projection (hi < lo: empty, at lo)
    }

    static func render(_ b: Block, core: (leading: String, text: String, trailing: String), output: Translator.Output) -> String {
        let lead = core.leading.count
        let text = Array(core.text)
        // Tags inside the leading or trailing whitespace stay where they were; the others are projected.
        var leadingOut = "", trailingOut = ""
        var at = 0
        for m in b.marks where m.offset < lead {
            leadingOut += escape(String(core.leading.dropFirst(at).prefix(m.offset - at))) + m.tag
            at = m.offset
        }
        leadingOut += escape(String(core.leading.dropFirst(at)))
        at = lead + text.count
        for m in b.marks where m.offset > lead + text.count {
            trailingOut += escape(String(core.trailing.dropFirst(at - lead - text.count).prefix(m.offset - at))) + m.tag
            at = m.offset
        }
        trailingOut += escape(String(core.trailing.dropFirst(at - lead - text.count)))
        let marks = b.marks.filter { $0.offset >= lead && $0.offset <= lead + text.count }

        // Source word of each character of the core text (-1 for whitespace), and where words start.
        var wordOf = [Int](repeating: -1, count: text.count), starts: [Int] = []
        for (i, ch) in text.enumerated() where !ch.isWhitespace {
            if i == 0 || text[i - 1].isWhitespace { starts.append(i) }
            wordOf[i] = starts.count - 1
        }
        let sourceWords = starts.count
        // The word a tag at `pos` comes before: the one it is inside, or the next one (0…sourceWords).
        func wordAt(_ pos: Int) -> Int {
            if pos < text.count && wordOf[pos] >= 0 { return wordOf[pos] }
            return starts.prefix { $0 < pos }.count
        }
        var elements: [Element] = []
        var marksAt: [(word: Int, tag: String)] = []  // void tags, and tags of elements that do not close here
        var stack: [Int] = []
        var unclosed = Set<Int>()
        for m in marks {
            let pos = m.offset - lead
            switch m.kind {
            case .open:
                elements.append(Element(open: m.tag, close: "", first: wordAt(pos), last: -1, parent: stack.last))
                stack.append(elements.count - 1)
            case .close(let name):
                if let top = stack.lastIndex(where: { Self.name(elements[$0].open) == name }) {
                    let e = stack[top]
                    elements[e].last = starts.prefix { $0 < pos }.count - 1  // the last word starting before the close
                    elements[e].close = m.tag
                    for inner in stack[(top + 1)...] { unclosed.insert(inner) }  // misnested: left open
                    stack.removeSubrange(top...)
                } else {
                    marksAt.append((wordAt(pos), m.tag))  // closes an element opened before this block
                }
            case .void:
                marksAt.append((wordAt(pos), m.tag))
            }
        }
        unclosed.formUnion(stack)
        for e in unclosed.sorted() { marksAt.append((elements[e].first, elements[e].open)) }

        let targetWords = output.text.split(whereSeparator: \.isWhitespace).map(String.init)
        let n = targetWords.count
        var aligned = [[Int]](repeating: [], count: sourceWords)
        for link in output.alignments where link.source < sourceWords && link.target < n { aligned[link.source].append(link.target) }
        func proportional(_ w: Int) -> Int { sourceWords == 0 ? n : min(n, Int((Double(w) * Double(n) / Double(sourceWords)).rounded())) }
        // Project each element onto the target words linked to its source words, then keep the tags
        // nested: within the parent's range, and not overlapping a sibling placed before.
        var placedChildren = [Int: [(lo: Int, hi: Int)]]()  // parent (-1: the block) → ranges
        let placed = elements.indices.filter { !unclosed.contains($0) }
        for e in placed {
            let el = elements[e]
            var lo: Int, hi: Int
            let linked = el.first <= el.last ? (el.first...el.last).flatMap { aligned[$0] } : []
            if let mn = linked.min(), let mx = linked.max() {
                lo = mn; hi = mx
            } else if el.first <= el.last {
                lo = min(proportional(el.first), max(n - 1, 0)); hi = max(lo, min(proportional(el.last + 1), n) - 1)
            } else {
                lo = proportional(el.first); hi = lo - 1
            }
            let parent = el.parent ?? -1
            if parent >= 0 {
                let p = elements[parent]
                if p.hi < p.lo { lo = p.lo; hi = lo - 1 } else { lo = min(max(lo, p.lo), p.hi); hi = min(hi, p.hi) }
            }
            for r in placedChildren[parent] ?? [] where r.hi >= r.lo && hi >= lo && lo <= r.hi && hi >= r.lo {
                if lo >= r.lo && hi <= r.hi { lo = r.hi + 1; hi = lo - 1 }       // inside a sibling: empty after it
                else if lo < r.lo { hi = r.lo - 1 }                           // overlaps its start
                else { lo = r.hi + 1 }                                         // overlaps its end
            }
            if hi < lo - 1 { hi = lo - 1 }
            elements[e].lo = lo; elements[e].hi = hi
            placedChildren[parent, default: []].append((lo, hi))
        }
        func depth(_ e: Int) -> Int { var d = 0, p = elements[e].parent; while let q = p { d += 1; p = elements[q].parent }; return d }
        func targetPosition(_ w: Int) -> Int { w < sourceWords ? (aligned[w].min() ?? proportional(w)) : n }
        let isBreak = { (tag: String) in Self.name(tag) == "br" }

        // Before word i: closing tags of elements that ended (inner first), a space unless a <br>
        // stands there, empty elements and marks, opening tags (outer first), then the word.
        var out = leadingOut
        for i in 0...n {
            let here = marksAt.filter { targetPosition($0.word) == i }
            if i > 0 {
                for e in placed.filter({ elements[$0].hi == i - 1 && elements[$0].hi >= elements[$0].lo }).sorted(by: { depth($0) > depth($1) }) {
                    out += elements[e].close
                }
                if i < n && !here.contains(where: { isBreak($0.tag) }) { out += " " }
            }
            for e in placed where elements[e].hi < elements[e].lo && elements[e].lo == i { out += elements[e].open + elements[e].close }
            for m in here { out += m.tag }
            guard i < n else { break }
            for e in placed.filter({ elements[$0].lo == i && elements[$0].hi >= i }).sorted(by: { depth($0) < depth($1) }) {
                out += elements[e].open
            }
            out += escape(targetWords[i])
        }
        return out + trailingOut
    }

    static func name(_ tag: String) -> String {
        String(tag.dropFirst().prefix { $0.isLetter || $0.isNumber || $0 == "-" || $0 == ":" }).lowercased()
    }

    static func escape(_ s: String) -> String {
        var out = ""
        for ch in s {
            switch ch {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            default: out.append(ch)
            }
        }
        return out
    }

    static let named: [String: String] = ["amp": "&", "lt": "<", "gt": ">", "quot": "\"", "apos": "'", "nbsp": "\u{00A0}",
                                          "ndash": "–", "mdash": "—", "hellip": "…", "laquo": "«", "raquo": "»",
                                          "auml": "ä", "ouml": "ö", "uuml": "ü", "Auml": "Ä", "Ouml": "Ö", "Uuml": "Ü",
                                          "szlig": "ß", "eacute": "é", "egrave": "è", "agrave": "à", "ccedil": "ç",
                                          "euro": "€", "copy": "©", "reg": "®", "bdquo": "„", "ldquo": "“", "rdquo": "”",
                                          "lsquo": "‘", "rsquo": "’", "sbquo": "‚"]

    /// Text with character references (&amp;, &#228;, &#xE4;, and common named ones) decoded.
    static func decodeEntities(_ s: String) -> String {
        guard s.contains("&") else { return s }
        var out = "", chars = Array(s), i = 0
        while i < chars.count {
            if chars[i] == "&", let semi = chars[i...].prefix(12).firstIndex(of: ";") {
                let body = String(chars[(i + 1)..<semi])
                var value: String?
                if body.hasPrefix("#x") || body.hasPrefix("#X") {
                    value = UInt32(body.dropFirst(2), radix: 16).flatMap(Unicode.Scalar.init).map { String(Character($0)) }
                } else if body.hasPrefix("#") {
                    value = UInt32(body.dropFirst()).flatMap(Unicode.Scalar.init).map { String(Character($0)) }
                } else {
                    value = named[body]
                }
                if let value { out += value; i = semi + 1; continue }
            }
            out.append(chars[i]); i += 1
        }
        return out
    }
}
