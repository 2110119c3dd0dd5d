import Foundation

/// GPT-2's byte-level BPE (Hugging Face `tokenizers`' BPE model with the `ByteLevel` pre-tokenizer and
/// decoder), read from a `tokenizer.json` or from GPT-2's `vocab.json` + `merges.txt`.
///
/// Encoding: special tokens (`<|endoftext|>`) are cut out of the text first, as Hugging Face's
/// added tokens are; the rest is split by ``ByteLevelPreTokenizer``, each word's UTF-8 bytes become
/// the 256 printable characters of GPT-2's byte-to-unicode map ("Ġ" for a space), and the merges
/// apply by rank. No normalization, no prefix space, no byte fallback needed (every byte is a
/// token). Decoding maps the characters back to bytes; invalid UTF-8 becomes U+FFFD.
public final class ByteLevelBPE: @unchecked Sendable {
    /// Every token's piece by id (byte-level characters; the special tokens' own text).
    public let pieces: [String]
    /// piece → id.
    public let ids: [String: Int32]
    /// The merges in rank order.
    public let merges: [(String, String)]
    /// The special (added) tokens: content → id.
    public let specials: [String: Int32]
    /// Each id's bytes when decoded (a special token's UTF-8 text).
    let tokenBytes: [[UInt8]]
    /// byte → the id of its one-character piece (-1 when the vocabulary lacks it).
    let byteIds: [Int32]
    /// (left, right) → (rank, merged id)
    let mergeTable: BPE.MergeTable
    private let specialScalars: [(scalars: [Unicode.Scalar], id: Int32)]
    private let cache = WordCache()
    /// The file's bytes when read from a tokenizer.json (written back unchanged by ``save(to:)``).
    let tokenizerJSON: Data?

    /// GPT-2's byte → character map: printable Latin-1 bytes stand for themselves, the other 68
    /// (control characters, space, 0x7F-0xA0, 0xAD) for U+0100 onwards, in byte order.
    public static let byteToScalar: [Unicode.Scalar] = {
        var printable = Set<UInt32>()
        for r in [0x21...0x7E, 0xA1...0xAC, 0xAE...0xFF] as [ClosedRange<UInt32>] { printable.formUnion(r) }
        var next: UInt32 = 256
        return (0..<256).map { b -> Unicode.Scalar in
            if printable.contains(UInt32(b)) { return Unicode.Scalar(UInt32(b))! }
            defer { next += 1 }
            return Unicode.Scalar(next)!
        }
    }()
    static let scalarToByte: [Unicode.Scalar: UInt8] = {
        var m: [Unicode.Scalar: UInt8] = [:]
        for (b, u) in byteToScalar.enumerated() { m[u] = UInt8(b) }
        return m
    }()

    /// A tokenizer from its vocabulary (piece → id, ids 0..<count without gaps, special tokens
    /// included), its merges and the special tokens' contents.
    /// - Throws: ``VocabularyError/corrupt(_:)`` for gaps in the ids, a merge of pieces the vocabulary
    ///   lacks, or a piece that is not made of byte-level characters.
    public init(vocabulary: [String: Int], merges: [(String, String)], specials: [String: Int], tokenizerJSON: Data? = nil) throws {
        var all = vocabulary
        for (s, id) in specials { all[s] = id }
        let byId = all.sorted { $0.value < $1.value }
        guard !byId.isEmpty, byId.enumerated().allSatisfy({ $0.offset == $0.element.value }) else {
            throw VocabularyError.corrupt("the ids are not 0..<\(all.count) without gaps")
        }
        pieces = byId.map(\.key)
        var ids: [String: Int32] = [:]
        for (i, p) in pieces.enumerated() { ids[p] = Int32(i) }
        self.ids = ids
        self.specials = specials.mapValues(Int32.init)
        specialScalars = specials.sorted { $0.key.unicodeScalars.count > $1.key.unicodeScalars.count }
            .map { (Array($0.key.unicodeScalars), Int32($0.value)) }
        var bytes: [[UInt8]] = []
        bytes.reserveCapacity(pieces.count)
        for p in pieces {
            if specials[p] != nil { bytes.append(Array(p.utf8)); continue }
            var b: [UInt8] = []
            for u in p.unicodeScalars {
                guard let x = Self.scalarToByte[u] else {
                    throw VocabularyError.corrupt("piece '\(p)' (id \(ids[p]!)) has '\(u)', which is not a byte-level character; not a byte-level (GPT-2) vocabulary")
                }
                b.append(x)
            }
            bytes.append(b)
        }
        tokenBytes = bytes
        byteIds = Self.byteToScalar.map { ids[String($0)] ?? -1 }
        var table: BPE.MergeTable = [:]
        for (rank, (a, b)) in merges.enumerated() {
            guard let ia = ids[a], let ib = ids[b], let m = ids[a + b] else {
                throw VocabularyError.corrupt("merge \(rank + 1) ('\(a)' '\(b)') uses or makes a piece the vocabulary lacks")
            }
            if table[Vocabulary.pairKey(ia, ib)] == nil { table[Vocabulary.pairKey(ia, ib)] = (Int32(rank), m) }
        }
        mergeTable = table
        self.merges = merges
        self.tokenizerJSON = tokenizerJSON
    }

    /// The number of tokens.
    public var count: Int { pieces.count }

    // MARK: - Files

    /// Whether a tokenizer.json describes a byte-level BPE (its pre-tokenizer is `ByteLevel`, alone
    /// or in a sequence).
    static func isByteLevel(_ root: [String: Any]) -> Bool {
        guard let pre = root["pre_tokenizer"] as? [String: Any] else { return false }
        if pre["type"] as? String == "ByteLevel" { return true }
        return (pre["pretokenizers"] as? [[String: Any]])?.contains { $0["type"] as? String == "ByteLevel" } ?? false
    }

    /// Reads a Hugging Face tokenizer.json whose model is BPE and whose pre-tokenizer is GPT-2's
    /// `ByteLevel`; whatever else it would do differently (a normalizer, a prefix space, another
    /// pre-tokenizer before it) is an error naming it.
    public static func load(tokenizerJSON data: Data, path: String) throws -> ByteLevelBPE {
        func bad(_ m: String) -> VocabularyError { .file(path, m) }
        guard let root = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else { throw bad("not valid JSON") }
        guard let model = root["model"] as? [String: Any], model["type"] as? String == "BPE" else {
            throw bad("the model is not BPE; byte-level tokenizers of GPT-2's kind are BPE")
        }
        if let n = root["normalizer"], !(n is NSNull) { throw bad("has a normalizer, which GPT-2's byte-level tokenizer does not; it is not supported") }
        guard let pre = root["pre_tokenizer"] as? [String: Any], pre["type"] as? String == "ByteLevel" else {
            throw bad("the pre-tokenizer is not ByteLevel alone (as GPT-2's); it is not supported")
        }
        if pre["add_prefix_space"] as? Bool == true { throw bad("ByteLevel add_prefix_space is true; only GPT-2's setting (false) is supported") }
        if pre["use_regex"] as? Bool == false { throw bad("ByteLevel use_regex is false; only GPT-2's setting (true) is supported") }
        for key in ["continuing_subword_prefix", "end_of_word_suffix", "dropout"] where !(model[key] == nil || model[key] is NSNull) {
            throw bad("BPE \(key) is set; GPT-2's tokenizer has none")
        }
        guard let vocab = model["vocab"] as? [String: Int], let rawMerges = model["merges"] as? [Any] else {
            throw bad("the BPE model has no vocab or merges")
        }
        var merges: [(String, String)] = []
        merges.reserveCapacity(rawMerges.count)
        for m in rawMerges {
            if let pair = m as? [String], pair.count == 2 { merges.append((pair[0], pair[1])) }
            else if let s = m as? String, let sp = s.firstIndex(of: " ") {
                merges.append((String(s[..<sp]), String(s[s.index(after: sp)...])))
            } else { throw bad("malformed merge \(m)") }
        }
        var specials: [String: Int] = [:]
        for t in root["added_tokens"] as? [[String: Any]] ?? [] {
            guard let content = t["content"] as? String, let id = t["id"] as? Int else { throw bad("an added token without content or id") }
            specials[content] = id
        }
        do { return try ByteLevelBPE(vocabulary: vocab, merges: merges, specials: specials, tokenizerJSON: data) }
        catch let VocabularyError.corrupt(m) { throw bad(m) }
    }

    /// Reads GPT-2's vocab.json (piece → id) and merges.txt (an optional `#version` line, then one
    /// "left right" merge per line); `<|endoftext|>` is the special token when the vocabulary has it.
    public static func load(vocabJSON: String, mergesTXT: String) throws -> ByteLevelBPE {
        guard let vd = FileManager.default.contents(atPath: vocabJSON) else { throw VocabularyError.file(vocabJSON, "not found") }
        guard let vocab = (try? JSONSerialization.jsonObject(with: vd)) as? [String: Int] else {
            throw VocabularyError.file(vocabJSON, "not a JSON object of piece → id")
        }
        guard let md = FileManager.default.contents(atPath: mergesTXT) else { throw VocabularyError.file(mergesTXT, "not found") }
        var merges: [(String, String)] = []
        for (n, line) in String(decoding: md, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            if line.isEmpty || (n == 0 && line.hasPrefix("#version")) { continue }
            let parts = line.split(separator: " ", omittingEmptySubsequences: false)
            guard parts.count == 2 else { throw VocabularyError.file(mergesTXT, "line \(n + 1): expected two pieces separated by one space") }
            merges.append((String(parts[0]), String(parts[1])))
        }
        let specials = vocab["<|endoftext|>"].map { ["<|endoftext|>": $0] } ?? [:]
        var plain = vocab
        for s in specials.keys { plain[s] = nil }
        do { return try ByteLevelBPE(vocabulary: plain, merges: merges, specials: specials) }
        catch let VocabularyError.corrupt(m) { throw VocabularyError.file(vocabJSON, m) }
    }

    /// tokenizer.json in Hugging Face's layout (the file read back unchanged when there was one), so
    /// that `tokenizers` and `transformers` load the model directory's tokenizer.
    public func jsonData() throws -> Data {
        if let tokenizerJSON { return tokenizerJSON }
        let byteLevel: [String: Any] = ["type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true]
        var vocab: [String: Int] = [:]
        for (i, p) in pieces.enumerated() where specials[p] == nil { vocab[p] = i }
        let root: [String: Any] = [
            "version": "1.0", "truncation": NSNull(), "padding": NSNull(),
            "added_tokens": specials.sorted { $0.value < $1.value }.map { s, id in
                ["id": Int(id), "content": s, "single_word": false, "lstrip": false, "rstrip": false,
                 "normalized": false, "special": true] as [String: Any]
            },
            "normalizer": NSNull(), "pre_tokenizer": byteLevel, "post_processor": byteLevel, "decoder": byteLevel,
            "model": ["type": "BPE", "dropout": NSNull(), "unk_token": NSNull(), "continuing_subword_prefix": NSNull(),
                      "end_of_word_suffix": NSNull(), "fuse_unk": false, "byte_fallback": false, "ignore_merges": false,
                      "vocab": vocab, "merges": merges.map { [$0.0, $0.1] }] as [String: Any],
        ]
        return try JSONSerialization.data(withJSONObject: root, options: [.sortedKeys])
    }

    // MARK: - Encoding and decoding

    /// The ids of `text` (no bos or eos is added, as GPT-2's tokenizer).
    public func encode(_ text: String) -> [Int32] {
        let s = Array(text.unicodeScalars)
        var out: [Int32] = []
        out.reserveCapacity(s.count / 3)
        var plainStart = 0, i = 0
        while i < s.count {
            if let (length, id) = special(at: i, in: s) {
                encodePlain(s[plainStart..<i], into: &out)
                out.append(id)
                i += length
                plainStart = i
            } else {
                i += 1
            }
        }
        encodePlain(s[plainStart..<s.count], into: &out)
        return out
    }

    /// The longest special token that starts at `i`.
    private func special(at i: Int, in s: [Unicode.Scalar]) -> (Int, Int32)? {
        for (scalars, id) in specialScalars where i + scalars.count <= s.count && s[i] == scalars[0] {
            if s[i..<(i + scalars.count)].elementsEqual(scalars) { return (scalars.count, id) }
        }
        return nil
    }

    private func encodePlain(_ part: ArraySlice<Unicode.Scalar>, into out: inout [Int32]) {
        guard !part.isEmpty else { return }
        let scalars = Array(part)
        for r in ByteLevelPreTokenizer.split(scalars) {
            var word = String.UnicodeScalarView()
            word.append(contentsOf: scalars[r])
            let key = Substring(String(word))
            if let hit = cache.get(key) { out.append(contentsOf: hit); continue }
            let ids = encodeWord(Array(key.utf8))
            cache.put(key, ids)
            out.append(contentsOf: ids)
        }
    }

    /// BPE over one pre-tokenized word's bytes: the adjacent pair of lowest merge rank (leftmost on
    /// ties) merges first, as ``BPE`` does for the library's own vocabularies.
    func encodeWord(_ bytes: [UInt8]) -> [Int32] {
        var sym = bytes.map { byteIds[Int($0)] }
        sym.removeAll { $0 < 0 }  // a byte the vocabulary lacks is dropped, as tokenizers' BPE without unk does
        var out: [Int32] = []
        out.reserveCapacity(sym.count)
        BPE.merge(sym, table: mergeTable) { id, _ in out.append(id) }
        return out
    }

    /// The bytes of `id` (empty for an id outside the vocabulary).
    public func bytes(of id: Int32) -> [UInt8] {
        id >= 0 && Int(id) < tokenBytes.count ? tokenBytes[Int(id)] : []
    }

    /// ids → text; special tokens are skipped when `skippingSpecials`.
    public func decode(_ ids: [Int32], skippingSpecials: Bool = true) -> String {
        var out: [UInt8] = []
        for id in ids {
            if skippingSpecials && isSpecial(id) { continue }
            out += bytes(of: id)
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Whether `id` is a special (added) token.
    public func isSpecial(_ id: Int32) -> Bool {
        id >= 0 && Int(id) < pieces.count && specials[pieces[Int(id)]] == id
    }
}

/// GPT-2's tokenizer files when a folder has no tokenizer.json (the Hub's `gpt2` has both).
public enum GPT2Files {
    /// piece → id, the special tokens included.
    public static let vocab = "vocab.json"
    /// The merges in rank order, one "left right" pair per line after a `#version` line.
    public static let merges = "merges.txt"
}
