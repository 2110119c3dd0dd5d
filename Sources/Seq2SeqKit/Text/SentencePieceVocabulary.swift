import Foundation

/// One side of a Hugging Face Marian (OPUS-MT) vocabulary, as `MarianTokenizer` uses it: a
/// SentencePiece unigram model cuts the text into pieces, and `vocab.json` (or `target_vocab.json`)
/// maps each piece to the model's id, unknown pieces to `<unk>`. A leading `>>lang<<` code of a
/// multilingual model is kept whole as one token. Decoding drops `</s>`, `<unk>` and `<pad>`, joins
/// the pieces with sentencepiece's `decode_pieces` and trims whitespace.
public final class SentencePieceVocabulary: @unchecked Sendable {
    /// The piece model that encodes this side.
    public let tokenizer: UnigramTokenizer
    /// The piece model whose `decode_pieces` detokenizes (MarianTokenizer uses the source one when
    /// source and target share vocab.json).
    let detokenizer: UnigramTokenizer
    /// id → piece, and back.
    public let pieces: [String]
    let ids: [String: Int32]
    /// sentencepiece id → vocab.json id (`<unk>` for pieces vocab.json lacks).
    let fromPieceModel: [Int32]
    /// The ids vocab.json gives `<unk>`, `</s>` and `<pad>` (each must be present).
    public let unknownId: Int32, eosId: Int32, padId: Int32
    /// The files it was read from (name in the model directory → bytes), written back by `save`.
    public let files: [(String, Data)]

    /// Reads one side from its SentencePiece model and its piece → id map.
    /// - Parameters:
    ///   - spm: The side's `.spm` file (source.spm or target.spm).
    ///   - vocab: vocab.json (or target_vocab.json): a JSON object of pieces to ids 0..<n without gaps.
    ///   - detokenizerSPM: The `.spm` whose `decode_pieces` joins decoded pieces; nil: `spm` itself.
    /// - Throws: ``SentencePieceError/file(_:_:)`` if a file is missing or damaged, ids repeat or leave a
    ///   gap, or `<unk>`, `</s>` or `<pad>` is missing.
    public init(spm: String, vocab: String, detokenizerSPM: String? = nil) throws {
        tokenizer = try UnigramTokenizer(contentsOf: spm)
        detokenizer = try detokenizerSPM.map { try UnigramTokenizer(contentsOf: $0) } ?? tokenizer
        guard let data = FileManager.default.contents(atPath: vocab) else { throw SentencePieceError.file(vocab, "not found") }
        func bad(_ m: String) -> SentencePieceError {
            .file(vocab, "\(m); it should be the vocab.json of a Hugging Face Marian model (piece → id)")
        }
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else { throw bad("not a JSON object") }
        var map: [String: Int32] = [:]
        var maxId = -1
        for (piece, value) in object {
            guard let n = value as? Int, n >= 0, n < 1 << 24 else { throw bad("the id of '\(piece)' is not an integer in 0..<16777216") }
            map[piece] = Int32(n); maxId = max(maxId, n)
        }
        var byId = [String?](repeating: nil, count: maxId + 1)
        for (piece, id) in map {
            if let other = byId[Int(id)] { throw bad("'\(piece)' and '\(other)' share id \(id)") }
            byId[Int(id)] = piece
        }
        if let gap = byId.firstIndex(where: { $0 == nil }) { throw bad("no piece has id \(gap); ids must run 0..<\(byId.count) without gaps") }
        guard let unk = map["<unk>"], let eos = map["</s>"], let pad = map["<pad>"] else {
            throw bad("it must hold <unk>, </s> and <pad>")
        }
        pieces = byId.map { $0! }
        ids = map
        unknownId = unk; eosId = eos; padId = pad
        let t = tokenizer
        fromPieceModel = (0..<t.count).map { map[t.piece(Int32($0))] ?? unk }
        files = []
    }

    /// The same, keeping the files' bytes under the names `save` writes them.
    init(spm: String, vocab: String, detokenizerSPM: String?, names: [(String, String)]) throws {
        let v = try SentencePieceVocabulary(spm: spm, vocab: vocab, detokenizerSPM: detokenizerSPM)
        tokenizer = v.tokenizer; detokenizer = v.detokenizer; pieces = v.pieces; ids = v.ids
        fromPieceModel = v.fromPieceModel; unknownId = v.unknownId; eosId = v.eosId; padId = v.padId
        files = try names.map { name, path in
            guard let d = FileManager.default.contents(atPath: path) else { throw SentencePieceError.file(path, "not found") }
            return (name, d)
        }
    }

    /// The number of ids (vocab.json's entries).
    public var count: Int { pieces.count }
    /// The id vocab.json gives `piece`, or nil.
    public func id(of piece: String) -> Int32? { ids[piece] }

    /// Text → ids as MarianTokenizer (without the final </s>).
    public func encode(_ line: String) -> [Int32] {
        var text = Substring(line)
        var out: [Int32] = []
        if text.hasPrefix(">>"), let end = text.range(of: "<<") {
            out.append(ids[String(text[..<end.upperBound])] ?? unknownId)
            text = text[end.upperBound...]
        }
        for token in tokenizer.encode(String(text)) {
            if let piece = token.text { out.append(ids[piece] ?? unknownId) } else { out.append(fromPieceModel[Int(token.id)]) }
        }
        return out
    }

    /// Pieces of ids (unknown ids shown as "<?>").
    public func pieces(of ids: [Int32]) -> [String] { ids.map { $0 >= 0 && Int($0) < pieces.count ? pieces[Int($0)] : "<?>" } }

    /// ids → text as MarianTokenizer's `decode(ids, skip_special_tokens=True)`.
    public func decode(_ ids: [Int32]) -> String {
        let kept = ids.filter { $0 != eosId && $0 != padId && $0 != unknownId && $0 >= 0 && Int($0) < pieces.count }
        let text = detokenizer.decodePieces(kept.map { pieces[Int($0)] }).replacingOccurrences(of: "\u{2581}", with: " ")
        return pythonStrip(text)
    }
}

/// Python's `str.strip()`: drops leading and trailing characters for which `str.isspace()` holds
/// (Unicode White_Space plus the separators U+001C…U+001F).
func pythonStrip(_ s: String) -> String {
    func space(_ u: Unicode.Scalar) -> Bool { u.properties.isWhitespace || (0x1C...0x1F).contains(u.value) }
    let scalars = s.unicodeScalars
    guard let first = scalars.firstIndex(where: { !space($0) }) else { return "" }
    let last = scalars.lastIndex(where: { !space($0) })!
    return String(scalars[first...last])
}
