import Foundation

/// A subword vocabulary: special tokens first (`<pad>`=0, `<s>`=1, `</s>`=2, as the spec's fixtures
/// assume), then the 256 byte-fallback tokens `<0x00>`…`<0xFF>`, then the alphabet and the merged
/// pieces in merge order. With byte fallback, no input ever yields an unknown token.
///
/// Immutable after creation (its word cache is locked), so one vocabulary may encode and decode on
/// several threads at once. A Marian model's side is a ``SentencePieceVocabulary`` wrapped by
/// ``init(sentencePiece:)``; its ids follow vocab.json instead of the layout above.
public final class Vocabulary: @unchecked Sendable {
    /// The special tokens' pieces, in id order (``padId``, ``bosId``, ``eosId``).
    public static let specials = ["<pad>", "<s>", "</s>"]
    /// The special tokens' ids: padding, start (bos) and end (eos) of a sequence.
    public static let padId: Int32 = 0, bosId: Int32 = 1, eosId: Int32 = 2
    /// The id of the first byte-fallback token, `<0x00>`; byte b has id `firstByteId + b`.
    public static let firstByteId = 3
    /// The id of the first alphabet character, after the specials and the 256 byte tokens.
    public static let firstPieceId = firstByteId + 256
    /// The special and byte tokens' names: no learned piece may be spelled like one.
    public static let bytePieces = (0..<256).map { String(format: "<0x%02X>", $0) }
    /// The special and byte tokens' pieces together.
    public static let reservedPieces = Set(specials + bytePieces)

    /// The normalization applied to text before it is encoded (learned with the vocabulary, saved with it).
    public let normalizer: Normalizer
    /// Character level: the text is one stream (no word marks, whitespace kept), pieces are
    /// single characters; for character language models.
    public let characterLevel: Bool
    /// Every token's piece, by id: the specials, the byte tokens, the alphabet, then the merged pieces.
    public let pieces: [String]
    /// The BPE merges in rank order (earlier merges apply first); empty for SentencePiece vocabularies
    /// and for those of ``characters(of:normalizer:)``.
    public let merges: [(String, String)]
    let pieceId: [String: Int32]
    let charId: [Unicode.Scalar: Int32]
    /// (left id, right id) → (rank, merged id)
    let mergeTable: [UInt64: (rank: Int32, id: Int32)]
    private let cache = WordCache()
    /// Set for a SentencePiece vocabulary (an imported Marian model's side): encoding, decoding and
    /// the pieces are then its own (Text/SentencePieceVocabulary.swift), and there are no merges.
    public let sentencePiece: SentencePieceVocabulary?
    /// Set for a byte-level BPE (an imported GPT-2 model's, Text/ByteLevelBPE.swift): encoding,
    /// decoding and the pieces are then its own, and its special tokens' ids are its own.
    public let byteLevel: ByteLevelBPE?

    /// The number of tokens (ids are `0..<count`).
    public var count: Int { pieces.count }

    /// A SentencePiece vocabulary in the place of a BPE one.
    public init(sentencePiece sp: SentencePieceVocabulary) {
        normalizer = Normalizer(form: .none, lowercase: false, cleanWhitespace: false)
        characterLevel = false
        pieces = sp.pieces
        merges = []
        pieceId = sp.ids
        charId = [:]
        mergeTable = [:]
        sentencePiece = sp
        byteLevel = nil
    }

    /// A byte-level BPE (GPT-2's) in the place of the library's own.
    public init(byteLevel bl: ByteLevelBPE) {
        normalizer = Normalizer(form: .none, lowercase: false, cleanWhitespace: false)
        characterLevel = false
        pieces = bl.pieces
        merges = bl.merges
        pieceId = bl.ids
        charId = [:]
        mergeTable = [:]
        sentencePiece = nil
        byteLevel = bl
    }

    /// A BPE vocabulary from its parts: the specials and byte tokens, then `alphabet`, then each merge's
    /// result (a merge that makes an existing piece adds no token).
    /// - Parameters:
    ///   - normalizer: The normalization of the text to encode.
    ///   - alphabet: Single characters (one Unicode scalar each), in id order.
    ///   - merges: Pairs of pieces, each defined before the merge that uses it, in rank order.
    ///   - characterLevel: The text is one stream of characters, whitespace kept (no word marks).
    /// - Throws: ``VocabularyError/corrupt(_:)`` if an alphabet entry is not one character, a merge uses an
    ///   undefined piece, or a merge makes the piece of a special or byte token.
    public init(normalizer: Normalizer, alphabet: [String], merges: [(String, String)], characterLevel: Bool = false) throws {
        self.normalizer = normalizer
        self.characterLevel = characterLevel
        var pieces = Self.specials + Self.bytePieces
        pieces += alphabet
        var ids: [String: Int32] = [:]
        for (i, p) in pieces.enumerated() { ids[p] = Int32(i) }
        var table: [UInt64: (rank: Int32, id: Int32)] = [:]
        for (rank, (a, b)) in merges.enumerated() {
            guard let ia = ids[a], let ib = ids[b] else {
                throw VocabularyError.corrupt("merge \(rank + 1) ('\(a)' '\(b)') uses a piece that is not defined before it")
            }
            let merged = a + b
            if Self.reservedPieces.contains(merged) {
                throw VocabularyError.corrupt("merge \(rank + 1) ('\(a)' '\(b)') makes '\(merged)', the name of a special or byte token")
            }
            let id: Int32
            if let existing = ids[merged] { id = existing } else {
                id = Int32(pieces.count)
                pieces.append(merged)
                ids[merged] = id
            }
            table[Self.pairKey(ia, ib)] = (Int32(rank), id)
        }
        var chars: [Unicode.Scalar: Int32] = [:]
        for a in alphabet {
            let s = a.unicodeScalars
            guard s.count == 1 else { throw VocabularyError.corrupt("alphabet entry '\(a)' is not one character") }
            chars[s.first!] = ids[a]
        }
        self.pieces = pieces
        self.merges = merges
        self.pieceId = ids
        self.charId = chars
        self.mergeTable = table
        self.sentencePiece = nil
        self.byteLevel = nil
    }

    @inline(__always) static func pairKey(_ a: Int32, _ b: Int32) -> UInt64 { UInt64(UInt32(a)) << 32 | UInt64(UInt32(b)) }

    /// The id of `piece`, or nil if the vocabulary has no such token.
    public func id(of piece: String) -> Int32? { pieceId[piece] }

    // MARK: - Learning

    /// Learns a vocabulary of `size` entries from lines of text (normalized here).
    /// - Throws: `VocabularyError` if the learned pieces do not make a vocabulary (the learner
    ///   avoids the cases it knows: merges only of earlier pieces, none spelled like a special or
    ///   byte token).
    public static func learn(lines: [String], size: Int, normalizer: Normalizer = Normalizer()) throws -> Vocabulary {
        let counts = wordCounts(lines: lines, normalizer: normalizer)
        let (alphabet, merges) = BPELearner().learn(wordCounts: counts, vocabularySize: size)
        return try Vocabulary(normalizer: normalizer, alphabet: alphabet, merges: merges)
    }

    /// Marked words of the normalized lines → occurrences (see `WordCounter`: raw words are
    /// counted by their bytes on all threads, then each distinct word is normalized once).
    public static func wordCounts(lines: [String], normalizer: Normalizer) -> [String: Int] {
        let chunks = max(1, min(Threads.count, lines.count / 1000))
        let partial = mapOnAllThreads(chunks, grain: 1) { c in  // one counter per contiguous chunk of lines
            var counter = WordCounter()
            for line in lines[(lines.count * c / chunks)..<(lines.count * (c + 1) / chunks)] { counter.addLine(line) }
            return counter
        }
        var all = partial[0]
        for p in partial.dropFirst() { all.merge(p) }
        return all.normalizedCounts(normalizer)
    }

    /// The alphabet (single characters after the byte tokens), in id order.
    public var alphabet: [String] {
        pieces.dropFirst(Self.firstPieceId).prefix { $0.unicodeScalars.count == 1 }.map { $0 }
    }

    /// A character-level vocabulary: every distinct character of the normalized text (no merges).
    /// - Throws: `VocabularyError` if the characters do not make a vocabulary.
    public static func characters(of text: String, normalizer: Normalizer) throws -> Vocabulary {
        var counts: [Unicode.Scalar: Int] = [:]
        for c in normalizer(text).unicodeScalars { counts[c, default: 0] += 1 }
        let alphabet = counts.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key.value < $1.key.value }.map { String($0.key) }
        return try Vocabulary(normalizer: normalizer, alphabet: alphabet, merges: [], characterLevel: true)
    }

    // MARK: - Encoding

    /// Encodes many lines on all threads (the word cache is shared).
    public func encodeBatch(_ lines: [String]) -> [[Int32]] {
        mapOnAllThreads(lines.count, grain: 500) { encode(lines[$0]) }
    }

    /// Lines of a language model's text as its token stream holds them (`prepare --lm`, `train --lm`,
    /// `perplexity`): a character or byte-level vocabulary keeps each line's newline (as a token of the
    /// text, as GPT-2 reads text), a subword one ends each line with eos.
    public func encodeTextLines(_ lines: [String]) -> [[Int32]] {
        if characterLevel || byteLevel != nil { return encodeBatch(lines.map { $0 + "\n" }) }
        return encodeBatch(lines).map { $0 + [Vocabulary.eosId] }
    }

    /// Normalizes and encodes a line to ids (no bos/eos). Each raw space-separated word is normalized
    /// and segmented once and cached (see `wordCounts` for why that equals normalizing the line).
    public func encode(_ line: String) -> [Int32] {
        if let sp = sentencePiece { return sp.encode(line) }
        if let bl = byteLevel { return bl.encode(line) }
        if characterLevel { return BPE.encode(normalizer(line), vocabulary: self) }
        var out: [Int32] = []
        for raw in line.split(separator: " ") {
            if let hit = cache.get(raw) { out.append(contentsOf: hit); continue }
            var ids: [Int32] = []
            for w in PreTokenizer.words(normalizer(String(raw))) { ids.append(contentsOf: BPE.encode(PreTokenizer.marked(w), vocabulary: self)) }
            cache.put(raw, ids)
            out.append(contentsOf: ids)
        }
        return out
    }

    /// Whether BPE-dropout can sample this vocabulary's segmentations: a vocabulary of learned merges
    /// (not a SentencePiece, byte-level or character vocabulary).
    public var samplesSegmentations: Bool { sentencePiece == nil && byteLevel == nil && !characterLevel && !merges.isEmpty }

    /// A raw space-separated word as the normalized, marked words BPE segments ("Mann," → "▁Mann", ","),
    /// as ``encode(_:)`` splits it.
    public func markedWords(_ raw: Substring) -> [String] {
        PreTokenizer.words(normalizer(String(raw))).map { PreTokenizer.marked($0) }
    }

    /// BPE on one marked word with each merge skipped with probability `dropout` (BPE-dropout), drawing
    /// from `rng`; dropout 0 gives ``encodeWord(_:)``. For vocabularies that ``samplesSegmentations``.
    public func encodeWord(_ marked: String, dropout: Float, rng: inout RNG) -> [Int32] {
        guard dropout > 0 else { return BPE.encode(marked, vocabulary: self) }
        var draws: BPE.DropoutDraws? = BPE.DropoutDraws(rng: rng, p: dropout)
        defer { rng = draws!.rng }
        return BPE.encode(marked, vocabulary: self, dropout: &draws)
    }

    /// The pieces of `ids`, with "<?>" for ids outside the vocabulary (for display).
    public func pieces(of ids: [Int32]) -> [String] { ids.map { Int($0) < pieces.count && $0 >= 0 ? pieces[Int($0)] : "<?>" } }

    /// BPE on one marked, normalized word ("▁Mann").
    public func encodeWord(_ word: String) -> [Int32] { BPE.encode(word, vocabulary: self) }

    // MARK: - Decoding

    /// ids → text: byte tokens are reassembled into UTF-8 (invalid sequences become U+FFFD),
    /// "▁" becomes a space and the leading space is dropped. Special tokens are skipped.
    public func decode(_ ids: [Int32]) -> String {
        if let sp = sentencePiece { return sp.decode(ids) }
        if let bl = byteLevel { return bl.decode(ids) }
        var bytes: [UInt8] = []
        for id in ids {
            let i = Int(id)
            if i < Self.firstByteId || i >= pieces.count { continue }
            if i < Self.firstPieceId { bytes.append(UInt8(i - Self.firstByteId)) } else { bytes.append(contentsOf: pieces[i].utf8) }
        }
        if characterLevel { return String(decoding: bytes, as: UTF8.self) }
        return String(decoding: Self.spacingMarks(bytes), as: UTF8.self)
    }

    /// "▁" (UTF-8 E2 96 81) → " ", and one leading space byte dropped, on the bytes (replacing in
    /// the decoded string cost more than the rest of a small model's sentence bookkeeping). E2 is a
    /// lead byte, so a UTF-8 decoder starts a fresh character there whatever precedes it: the three
    /// bytes are "▁" wherever they stand, also after invalid bytes.
    static func spacingMarks(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = 0
        while i < bytes.count {
            if bytes[i] == 0xE2 && i + 2 < bytes.count && bytes[i + 1] == 0x96 && bytes[i + 2] == 0x81 {
                out.append(0x20)
                i += 3
            } else {
                out.append(bytes[i])
                i += 1
            }
        }
        if out.first == 0x20 { out.removeFirst() }
        return out
    }
}

/// Why a vocabulary cannot be made, read or written.
public enum VocabularyError: Error, CustomStringConvertible, Equatable {
    /// The pieces and merges do not make a vocabulary; the message says which entry is wrong.
    case corrupt(String)
    /// A vocabulary file or directory cannot be used (path, reason).
    case file(String, String)

    /// The message, naming the file when there is one.
    public var description: String {
        switch self {
        case .corrupt(let m): return "corrupt vocabulary: \(m)"
        case .file(let f, let m): return "\(f): \(m)"
        }
    }
}

/// A bounded raw word → ids cache (cleared when full), safe across threads.
final class WordCache: @unchecked Sendable {
    private var map: [Substring: [Int32]] = [:]
    private let lock = NSLock()
    private let limit = 200_000

    func get(_ w: Substring) -> [Int32]? {
        lock.lock(); defer { lock.unlock() }
        return map[w]
    }

    func put(_ w: Substring, _ ids: [Int32]) {
        lock.lock(); defer { lock.unlock() }
        if map.count >= limit { map.removeAll(keepingCapacity: true) }
        map[Substring(String(w))] = ids  // a copy, so the cache does not keep whole lines alive
    }
}
