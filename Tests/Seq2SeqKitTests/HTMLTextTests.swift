import XCTest
import Seq2SeqKit

/// `format: "html"`: which text is translated, and where inline tags land in the translation.
final class HTMLTextTests: XCTestCase {
    /// A "translation" that keeps the words (or reverses them) with the matching alignment.
    func outputs(_ doc: HTMLText, reversed: Bool = false, aligned: Bool = true) -> [Translator.Output] {
        doc.texts.map { text in
            let words = text.split(whereSeparator: \.isWhitespace).map(String.init)
            let n = words.count
            let links = aligned ? (0..<n).map { WordAlignment(source: $0, target: reversed ? n - 1 - $0 : $0) } : []
            return Translator.Output(text: (reversed ? words.reversed() : words).joined(separator: " "), alignments: links)
        }
    }

    func testBlocksAreTranslatedAndMarkupIsKept() {
        let html = """
        <!DOCTYPE html><html><head><title>Ein Hund</title><style>p { color: red }</style></head>
        <body><h1>Zwei &amp; drei</h1><p>Ein <b>roter</b> Hut.</p><code>let x = 1</code><pre>Ein Mann</pre>
        <p translate="no">Nicht das</p><div class="x notranslate">Auch nicht</div><!-- ein <p>Kommentar</p> -->
        <script>if (a < b) { x = "<p>" }</script><p>K&auml;se &#x26; Brot&#33;</p></body></html>
        """
        let doc = HTMLText(parsing: html)
        XCTAssertEqual(doc.texts, ["Ein Hund", "Zwei & drei", "Ein roter Hut.", "Käse & Brot!"])
        // The identity translation gives the document back (text re-escaped).
        XCTAssertEqual(doc.rendered(with: outputs(doc)), html.replacingOccurrences(of: "K&auml;se &#x26; Brot&#33;", with: "Käse &amp; Brot!"))
    }

    func testInlineTagsFollowTheAlignedWords() {
        let doc = HTMLText(parsing: "<p>Ein <b>roter</b> Hut <a href=\"x\">mit <i>Feder</i></a> hier.<br>Neu</p>")
        XCTAssertEqual(doc.texts, ["Ein roter Hut mit Feder hier.\nNeu"])
        XCTAssertEqual(doc.rendered(with: outputs(doc)), "<p>Ein <b>roter</b> Hut <a href=\"x\">mit <i>Feder</i></a> hier.<br>Neu</p>")
        // Reversed words: each element wraps its words where they went, still nested.
        XCTAssertEqual(doc.rendered(with: outputs(doc, reversed: true)),
                       "<p><br>Neu hier. <a href=\"x\"><i>Feder</i> mit</a> Hut <b>roter</b> Ein</p>")
        // No alignment at all: the same relative position.
        XCTAssertEqual(doc.rendered(with: outputs(doc, aligned: false)),
                       "<p>Ein <b>roter</b> Hut <a href=\"x\">mit <i>Feder</i></a> hier.<br>Neu</p>")
    }

    func testTagsThatSpanBlocksOrAreLeftOpenStayWellPlaced() {
        let html = "<div><span>Ein Hund<p>läuft schnell</p></span> <u>offen</div>"
        let doc = HTMLText(parsing: html)
        XCTAssertEqual(doc.texts, ["Ein Hund", "läuft schnell", "offen"])
        XCTAssertEqual(doc.rendered(with: outputs(doc)), html)
        // Text that only looks like markup is text.
        let odd = HTMLText(parsing: "a < b and c > d, 3<4 <")
        XCTAssertEqual(odd.texts, ["a < b and c > d, 3<4 <"])
        XCTAssertEqual(odd.rendered(with: outputs(odd)), "a &lt; b and c &gt; d, 3&lt;4 &lt;")
        XCTAssertEqual(HTMLText(parsing: "").texts, [])
        XCTAssertEqual(HTMLText(parsing: "<p>  </p>").rendered(with: []), "<p>  </p>")
    }
}
