import Foundation

/// The parts of a SentencePiece `.spm` file (a serialized `ModelProto`, sentencepiece's
/// src/sentencepiece_model.proto) that encoding and decoding need: the pieces with their scores and
/// types, the trainer's model type and byte-fallback flag, and the normalizer spec.
///
/// Read with a minimal protobuf wire-format reader rather than swift-protobuf's generated code:
/// five messages and a dozen scalar fields are all we read, the reader is 60 lines, and the
/// swift-protobuf plugin takes about ten minutes to build on this machine (and would add a package
/// dependency to every build). Unknown fields are skipped, as protobuf requires.
public struct SentencePieceModel: Sendable {
    /// ModelProto.SentencePiece.Type.
    public enum PieceType: Int, Sendable { case normal = 1, unknown = 2, control = 3, userDefined = 4, unused = 5, byte = 6 }
    /// TrainerSpec.ModelType.
    public enum ModelType: Int, Sendable { case unigram = 1, bpe = 2, word = 3, char = 4 }

    /// One entry of the model's vocabulary (ModelProto.SentencePiece); its index is its sentencepiece id.
    public struct Piece: Sendable, Equatable {
        /// The piece's text, with "▁" for spaces.
        public var piece: String
        /// The piece's score: its log-probability in a unigram model.
        public var score: Float
        /// What kind of piece it is (normal, unknown, control, user-defined, unused or byte).
        public var type: PieceType
    }

    /// The pieces in id order.
    public var pieces: [Piece] = []
    /// The trainer's model type (TrainerSpec.model_type); only unigram models load.
    public var modelType: ModelType = .unigram
    /// Whether unknown characters are encoded as byte pieces `<0xXX>` (TrainerSpec.byte_fallback).
    public var byteFallback = false
    /// TrainerSpec.treat_whitespace_as_suffix; models that set it are refused.
    public var treatWhitespaceAsSuffix = false
    /// What an unknown piece decodes to (TrainerSpec.unk_surface, " ⁇ " by default).
    public var unknownSurface = " \u{2047} "
    // NormalizerSpec (field defaults as in the .proto).
    /// The normalization rule set's name (NormalizerSpec.name, e.g. "nmt_nfkc"); informative only.
    public var normalizerName = ""
    /// The compiled normalization rules (NormalizerSpec.precompiled_charsmap, see ``PrecompiledCharsMap``);
    /// empty: none.
    public var precompiledCharsMap: [UInt8] = []
    /// Whether a space is put before the text (NormalizerSpec.add_dummy_prefix).
    public var addDummyPrefix = true
    /// Whether leading, trailing and repeated spaces are dropped (NormalizerSpec.remove_extra_whitespaces).
    public var removeExtraWhitespaces = true
    /// Whether spaces become "▁" (NormalizerSpec.escape_whitespaces).
    public var escapeWhitespaces = true

    /// A model of `pieces` with the .proto's defaults for everything else (no checks: for tests and tools).
    public init(pieces: [Piece]) { self.pieces = pieces }

    /// Reads and checks an `.spm` file.
    /// - Throws: ``SentencePieceError/file(_:_:)`` if the file is missing or damaged, holds no pieces or not
    ///   exactly one unknown piece, or is not a unigram model, or treats whitespace as a suffix.
    public init(contentsOf path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw SentencePieceError.file(path, "not found")
        }
        try self.init(data: [UInt8](data), path: path)
    }

    /// Parses a ModelProto; `path` names the file in errors.
    /// - Throws: ``SentencePieceError/file(_:_:)``, as ``init(contentsOf:)``.
    public init(data: [UInt8], path: String) throws {
        func bad(_ m: String) -> SentencePieceError {
            .file(path, "\(m); not a SentencePiece model (.spm), or a damaged one: copy it again from the Hugging Face model folder")
        }
        var top = ProtoReader(data[...])
        do {
            while let (field, value) = try top.next() {
                switch (field, value) {
                case (1, .bytes(let b)): pieces.append(try Self.piece(b))
                case (2, .bytes(let b)): try readTrainerSpec(b)
                case (3, .bytes(let b)): try readNormalizerSpec(b)
                default: break
                }
            }
        } catch let e as ProtoReader.Failure { throw bad(e.message) }
        if pieces.isEmpty { throw bad("it holds no pieces") }
        if modelType != .unigram {
            throw SentencePieceError.file(path, "is a SentencePiece \(modelType) model; only unigram models (those of OPUS-MT) are supported")
        }
        if treatWhitespaceAsSuffix {
            throw SentencePieceError.file(path, "treats whitespace as a suffix (treat_whitespace_as_suffix); that option is not supported")
        }
        if pieces.filter({ $0.type == .unknown }).count != 1 {
            throw bad("it must define exactly one unknown piece")
        }
        if let empty = pieces.firstIndex(where: { $0.piece.isEmpty }) { throw bad("piece \(empty) is empty") }
    }

    static func piece(_ b: ArraySlice<UInt8>) throws -> Piece {
        var r = ProtoReader(b)
        var p = Piece(piece: "", score: 0, type: .normal)
        while let (field, value) = try r.next() {
            switch (field, value) {
            case (1, .bytes(let s)): p.piece = try ProtoReader.string(s)
            case (2, .fixed32(let bits)): p.score = Float(bitPattern: bits)
            case (3, .varint(let t)):
                guard let type = PieceType(rawValue: Int(truncatingIfNeeded: t)) else {
                    throw ProtoReader.Failure(message: "piece type \(t) is unknown")
                }
                p.type = type
            default: break
            }
        }
        return p
    }

    mutating func readTrainerSpec(_ b: ArraySlice<UInt8>) throws {
        var r = ProtoReader(b)
        while let (field, value) = try r.next() {
            switch (field, value) {
            case (3, .varint(let t)):
                guard let type = ModelType(rawValue: Int(truncatingIfNeeded: t)) else {
                    throw ProtoReader.Failure(message: "model type \(t) is unknown")
                }
                modelType = type
            case (24, .varint(let v)): treatWhitespaceAsSuffix = v != 0
            case (35, .varint(let v)): byteFallback = v != 0
            case (44, .bytes(let s)): unknownSurface = try ProtoReader.string(s)
            default: break
            }
        }
    }

    mutating func readNormalizerSpec(_ b: ArraySlice<UInt8>) throws {
        var r = ProtoReader(b)
        while let (field, value) = try r.next() {
            switch (field, value) {
            case (1, .bytes(let s)): normalizerName = try ProtoReader.string(s)
            case (2, .bytes(let s)): precompiledCharsMap = Array(s)
            case (3, .varint(let v)): addDummyPrefix = v != 0
            case (4, .varint(let v)): removeExtraWhitespaces = v != 0
            case (5, .varint(let v)): escapeWhitespaces = v != 0
            default: break
            }
        }
    }
}

/// Why a SentencePiece model (or a Marian vocab.json) cannot be used.
public enum SentencePieceError: Error, CustomStringConvertible, Equatable {
    /// The file cannot be used (path, reason and what to do).
    case file(String, String)
    /// The message, naming the file.
    public var description: String {
        switch self { case .file(let f, let m): return "\(f): \(m)" }
    }
}

/// Protobuf's wire format, read field by field: a key varint (field number << 3 | wire type), then
/// a varint (0), 8 bytes (1), a length-prefixed byte string (2) or 4 bytes (5). Groups (3, 4) are
/// long deprecated and not in ModelProto: they are an error, as is anything running past the end.
struct ProtoReader {
    struct Failure: Error { var message: String }
    enum Value { case varint(UInt64), fixed64(UInt64), bytes(ArraySlice<UInt8>), fixed32(UInt32) }

    private var data: ArraySlice<UInt8>
    private var at: Int

    init(_ data: ArraySlice<UInt8>) { self.data = data; at = data.startIndex }

    mutating func varint() throws -> UInt64 {
        var v: UInt64 = 0, shift: UInt64 = 0
        while true {
            guard at < data.endIndex else { throw Failure(message: "a number runs past the end of the data") }
            let byte = data[at]; at += 1
            if shift < 64 { v |= UInt64(byte & 0x7F) << shift }
            if byte & 0x80 == 0 { return v }
            shift += 7
            if shift >= 70 { throw Failure(message: "a number is longer than 10 bytes") }
        }
    }

    mutating func fixed(_ n: Int) throws -> UInt64 {
        guard data.endIndex - at >= n else { throw Failure(message: "a fixed-size field runs past the end of the data") }
        var v: UInt64 = 0
        for i in 0..<n { v |= UInt64(data[at + i]) << (8 * UInt64(i)) }
        at += n
        return v
    }

    /// The next (field number, value), or nil at the end.
    mutating func next() throws -> (Int, Value)? {
        if at >= data.endIndex { return nil }
        let key = try varint()
        let field = Int(truncatingIfNeeded: key >> 3)
        switch key & 7 {
        case 0: return (field, .varint(try varint()))
        case 1: return (field, .fixed64(try fixed(8)))
        case 2:
            let n = try varint()
            guard n <= UInt64(data.endIndex - at) else { throw Failure(message: "field \(field) claims \(n) bytes, more than remain") }
            let s = data[at..<(at + Int(n))]
            at += Int(n)
            return (field, .bytes(s))
        case 5: return (field, .fixed32(UInt32(try fixed(4))))
        default: throw Failure(message: "field \(field) has wire type \(key & 7), which ModelProto never uses")
        }
    }

    static func string(_ b: ArraySlice<UInt8>) throws -> String {
        guard let s = String(validating: b, as: UTF8.self) else { throw Failure(message: "a string is not valid UTF-8") }
        return s
    }
}
