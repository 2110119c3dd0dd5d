/// SentencePiece's unigram model (unigram_model.cc, EncodeOptimized): the normalized text is cut
/// into the pieces whose scores (log-probabilities) sum highest, by Viterbi over byte positions
/// with one best path ending at each. A character that starts no piece of its own length becomes
/// an unknown node scored `min score - 10`. Then as sentencepiece_processor.cc does: with byte
/// fallback an unknown piece turns into its UTF-8 bytes (`<0xE2>`…), otherwise runs of unknown
/// pieces merge into one.
public final class UnigramTokenizer: @unchecked Sendable {
    /// The model: pieces, scores and the normalizer spec.
    public let model: SentencePieceModel
    /// The model's normalizer, applied before segmentation.
    public let normalizer: SentencePieceNormalizer
    /// Every piece string (all types) → its id, as sentencepiece's PieceToId sees them.
    let pieceIds: [String: Int32]
    /// The unknown piece's id.
    public let unknownId: Int32
    /// The id of `<0xXX>` for each byte when the model has byte pieces.
    let byteIds: [Int32?]
    let minScore: Float, maxScore: Float
    let trie: PieceTrie

    /// One token of the output: a piece of the model (`id`), or, for an unknown run or a byte piece
    /// the model lacks, also the text sentencepiece reports for it (`text`; its id is then the
    /// unknown id).
    public struct Token: Equatable, Sendable {
        /// The piece's sentencepiece id (the unknown id for unknown text).
        public var id: Int32
        /// The text sentencepiece reports for an unknown run or a missing byte piece; nil for a normal piece.
        public var text: String?
    }

    /// Reads an `.spm` file.
    /// - Throws: ``SentencePieceError/file(_:_:)`` if the file is missing, damaged or unsupported.
    public convenience init(contentsOf path: String) throws {
        try self.init(model: try SentencePieceModel(contentsOf: path), path: path)
    }

    /// A tokenizer for a parsed model; `path` names it in errors.
    /// - Throws: ``SentencePieceError/file(_:_:)`` if a piece is defined twice or the character map is damaged.
    public init(model: SentencePieceModel, path: String) throws {
        self.model = model
        normalizer = try SentencePieceNormalizer(model: model, path: path)
        var ids: [String: Int32] = [:]
        var entries: [([UInt8], Int32)] = []
        var lo = Float.greatestFiniteMagnitude, hi = Float.leastNormalMagnitude  // as unigram_model.cc (FLT_MAX, FLT_MIN)
        for (i, p) in model.pieces.enumerated() {
            if ids[p.piece] != nil {
                throw SentencePieceError.file(path, "piece '\(p.piece)' is defined twice; the model is damaged")
            }
            ids[p.piece] = Int32(i)
            if p.type == .normal || p.type == .userDefined || p.type == .unused { entries.append((Array(p.piece.utf8), Int32(i))) }
            if p.type == .normal { lo = min(lo, p.score); hi = max(hi, p.score) }
        }
        pieceIds = ids
        unknownId = Int32(model.pieces.firstIndex { $0.type == .unknown }!)  // the model checks there is one
        byteIds = (0..<256).map { b in
            ids[String(format: "<0x%02X>", b)].flatMap { model.pieces[Int($0)].type == .byte ? $0 : nil }
        }
        minScore = lo; maxScore = hi
        trie = PieceTrie(entries)
    }

    /// The number of pieces.
    public var count: Int { model.pieces.count }
    /// The id of `piece` (of any type), or the unknown id.
    public func id(of piece: String) -> Int32 { pieceIds[piece] ?? unknownId }
    /// The piece of `id`, which must be in `0..<count`.
    public func piece(_ id: Int32) -> String { model.pieces[Int(id)].piece }

    // MARK: - Encoding

    /// Text → tokens: normalize, segment, then byte fallback or unknown merging.
    public func encode(_ text: String) -> [Token] {
        let normalized = normalizer.normalize(text)
        return normalized.withUnsafeBufferPointer { s -> [Token] in
            let path = viterbi(s)
            var out: [Token] = []
            var previousUnknown = false
            for (start, end, id) in path {
                let isUnknown = id == unknownId
                if isUnknown && model.byteFallback {
                    for b in s[start..<end] {
                        if let bid = byteIds[Int(b)] { out.append(Token(id: bid, text: nil)) }
                        else { out.append(Token(id: unknownId, text: String(format: "<0x%02X>", b))) }
                    }
                } else if isUnknown && previousUnknown {
                    let last = out.count - 1
                    out[last].text = (out[last].text ?? "") + String(decoding: UnsafeBufferPointer(rebasing: s[start..<end]), as: UTF8.self)
                } else if isUnknown {
                    out.append(Token(id: id, text: String(decoding: UnsafeBufferPointer(rebasing: s[start..<end]), as: UTF8.self)))
                } else {
                    out.append(Token(id: id, text: nil))
                }
                previousUnknown = isUnknown
            }
            return out
        }
    }

    /// The piece strings sentencepiece's `encode(text, out_type=str)` returns.
    public func encodePieces(_ text: String) -> [String] { encode(text).map { $0.text ?? piece($0.id) } }

    /// The best segmentation of normalized bytes s: (start, end, id) per piece, in order.
    func viterbi(_ s: UnsafeBufferPointer<UInt8>) -> [(Int, Int, Int32)] {
        let n = s.count
        if n == 0 { return [] }
        // Best path ending at each byte position: its score, the start of its last piece, that piece.
        var score = [Float](repeating: 0, count: n + 1)
        var startsAt = [Int](repeating: -1, count: n + 1)
        var ids = [Int32](repeating: -1, count: n + 1)
        let unknownScore = minScore - 10
        var start = 0
        while start < n {
            let here = score[start]
            let charLength = min(utf8Length(s[start]), n - start)
            var hasSingle = false
            trie.prefixes(of: s, from: start) { end, id in
                let p = model.pieces[Int(id)]
                if p.type == .unused { return }
                let length = end - start
                // unigram_model.cc mixes float and double here: user symbols get length · max - 0.1
                // (a double), so the candidate is compared in double and stored in float.
                let pieceScore: Double = p.type == .userDefined ? Double(Float(length) * maxScore) - 0.1 : Double(p.score)
                let candidate = pieceScore + Double(here)
                if startsAt[end] == -1 || candidate > Double(score[end]) {
                    score[end] = Float(candidate); startsAt[end] = start; ids[end] = id
                }
                if length == charLength { hasSingle = true }
            }
            if !hasSingle {
                let end = start + charLength, candidate = unknownScore + here
                if startsAt[end] == -1 || candidate > score[end] {
                    score[end] = candidate; startsAt[end] = start; ids[end] = unknownId
                }
            }
            start += charLength
        }
        var path: [(Int, Int, Int32)] = []
        var end = n
        while end > 0 {
            let s0 = startsAt[end]
            path.append((s0, end, ids[end]))
            end = s0
        }
        return path.reversed()
    }

    // MARK: - Decoding

    /// Pieces → text as sentencepiece's `decode_pieces`: control pieces vanish, `<unk>` becomes the
    /// unknown surface (" ⁇ "), consecutive byte pieces are read as UTF-8 (a byte that starts no
    /// valid character becomes U+FFFD), "▁" becomes a space and the first piece's leading "▁" is dropped.
    public func decodePieces(_ pieces: [String]) -> String {
        var text: [UInt8] = []
        var bytes: [UInt8] = []
        var bosWhitespace = true, bosWhitespaceSeen = false
        let stripsBos = model.addDummyPrefix || model.removeExtraWhitespaces
        func flushBytes() {
            text += utf8Replacing(bytes)
            bytes.removeAll()
        }
        for p in pieces {
            let id = id(of: p)
            let type = model.pieces[Int(id)].type
            if type == .byte, let b = UInt8(p.dropFirst(3).dropLast(), radix: 16) { bytes.append(b); continue }
            flushBytes()
            if bosWhitespaceSeen || !text.isEmpty { bosWhitespace = false }
            switch type {
            case .control: bosWhitespaceSeen = false
            case .unknown:
                text += Array((p == piece(unknownId) ? model.unknownSurface : p).utf8)
                bosWhitespaceSeen = false
            default:
                var body = Substring(p)
                var seen = false
                if bosWhitespace && stripsBos && body.hasPrefix("\u{2581}") {
                    body = body.dropFirst()
                    seen = !model.removeExtraWhitespaces
                }
                text += Array(body.replacingOccurrences(of: "\u{2581}", with: " ").utf8)
                bosWhitespaceSeen = seen
            }
        }
        flushBytes()
        return String(decoding: text, as: UTF8.self)
    }
}

/// Bytes as UTF-8 the way sentencepiece reads byte pieces: each valid character is kept, and each
/// byte that does not start one becomes U+FFFD on its own.
func utf8Replacing(_ b: [UInt8]) -> [UInt8] {
    var out: [UInt8] = []
    var i = 0
    while i < b.count {
        let n = utf8Length(b[i])
        var valid = i + n <= b.count && (n > 1 || b[i] < 0x80)
        if valid && n > 1 {
            for k in 1..<n where b[i + k] & 0xC0 != 0x80 { valid = false }
        }
        if valid && n > 1, let s = String(validating: b[i..<(i + n)], as: UTF8.self), !s.isEmpty {
            out += b[i..<(i + n)]; i += n
        } else if valid && n == 1 {
            out.append(b[i]); i += 1
        } else {
            out += [0xEF, 0xBF, 0xBD]; i += 1
        }
    }
    return out
}

/// The model's pieces as a byte trie: each node's children are a sorted run of (label, child) edges.
struct PieceTrie: Sendable {
    var labels: [UInt8] = [], targets: [Int32] = []
    var childStart: [Int32] = [], childCount: [Int32] = [], value: [Int32] = []

    init(_ entries: [([UInt8], Int32)]) {
        // Build with dictionaries, then flatten node by node (breadth first).
        var children: [[UInt8: Int]] = [[:]]
        var values: [Int32] = [-1]
        for (bytes, id) in entries {
            var node = 0
            for b in bytes {
                if let next = children[node][b] { node = next } else {
                    children.append([:]); values.append(-1)
                    children[node][b] = children.count - 1
                    node = children.count - 1
                }
            }
            values[node] = id
        }
        var order = [0], index = [Int](repeating: -1, count: children.count)
        index[0] = 0
        var k = 0
        while k < order.count {
            for (_, c) in children[order[k]].sorted(by: { $0.key < $1.key }) { index[c] = order.count; order.append(c) }
            k += 1
        }
        for old in order {
            childStart.append(Int32(labels.count))
            let kids = children[old].sorted { $0.key < $1.key }
            childCount.append(Int32(kids.count))
            for (b, c) in kids { labels.append(b); targets.append(Int32(index[c])) }
            value.append(values[old])
        }
    }

    /// Calls `found(end, id)` for every piece that is a prefix of s[from...], shortest first.
    @inline(__always)
    func prefixes(of s: UnsafeBufferPointer<UInt8>, from: Int, _ found: (Int, Int32) -> Void) {
        var node = 0, i = from
        while i < s.count {
            let b = s[i]
            var lo = Int(childStart[node]), hi = lo + Int(childCount[node])
            while lo < hi {
                let mid = (lo + hi) >> 1
                if labels[mid] < b { lo = mid + 1 } else { hi = mid }
            }
            guard lo < Int(childStart[node]) + Int(childCount[node]), labels[lo] == b else { return }
            node = Int(targets[lo])
            i += 1
            if value[node] >= 0 { found(i, value[node]) }
        }
    }
}
