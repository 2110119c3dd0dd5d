import Foundation

/// The header of a prepared corpus (`header.json`): what it holds and what it was made from.
public struct PreparedHeader: Codable, Sendable {
    /// What the corpus holds: sentence pairs (`parallel`), or a language model's token stream (`text`).
    public enum Kind: String, Codable, Sendable { case parallel, text }
    /// A text file the corpus was prepared from.
    public struct SourceFile: Codable, Sendable {
        /// Its role ("source", "target" or "text"), path, size in bytes, line count and ``Hasher64`` fingerprint.
        public var role: String, path: String, bytes: Int, lines: Int, fingerprint: String
    }
    /// Always ``PreparedCorpus/formatName``.
    public var format = PreparedCorpus.formatName
    /// The layout's version (``PreparedCorpus/formatVersion``).
    public var version = PreparedCorpus.formatVersion
    /// Pairs or a token stream.
    public var kind: Kind
    /// "uint16" when every id fits (vocabularies up to 65,536), else "uint32".
    public var tokenType: String
    /// Pairs kept (0 for a text corpus).
    public var pairs: Int
    /// Ids in tokens.bin.
    public var tokens: Int
    /// Source ids of the kept pairs (without eos).
    public var sourceTokens: Int
    /// Target ids of the kept pairs (without eos); a text corpus's token count.
    public var targetTokens: Int
    /// Pairs skipped because a side encoded to nothing.
    public var skippedEmpty: Int
    /// Pairs skipped because a side was longer than ``maxLength``.
    public var skippedLong: Int
    /// The length limit the pairs were prepared with (0 for a text corpus).
    public var maxLength: Int
    /// Lines whose invalid UTF-8 was replaced (with `lenient`).
    public var repairedLines: Int
    /// The source vocabulary's fingerprint (``Vocabulary/fingerprint``).
    public var sourceVocabulary: String
    /// The target vocabulary's fingerprint.
    public var targetVocabulary: String
    /// The larger vocabulary's size: every id is below it.
    public var vocabularySize: Int
    /// The text files it was prepared from.
    public var files: [SourceFile]
    /// How long the preparation took.
    public var seconds: Double

    enum CodingKeys: String, CodingKey {
        case format, version, kind, tokenType = "token_type", pairs, tokens, sourceTokens = "source_tokens"
        case targetTokens = "target_tokens", skippedEmpty = "skipped_empty", skippedLong = "skipped_long"
        case maxLength = "max_length", repairedLines = "repaired_lines", sourceVocabulary = "source_vocabulary"
        case targetVocabulary = "target_vocabulary", vocabularySize = "vocabulary_size", files, seconds
    }

    /// Bytes per id in tokens.bin (2 or 4).
    public var tokenWidth: Int { tokenType == "uint16" ? 2 : 4 }
}

/// Why a prepared corpus cannot be used.
public enum PreparedError: Error, CustomStringConvertible {
    /// The directory has no header.json.
    case notPrepared(String)
    /// A file of the corpus is inconsistent (file, what is wrong).
    case damaged(String, String)
    /// The corpus was encoded with another vocabulary (directory, details).
    case vocabulary(String, String)
    /// The output directory already holds files.
    case exists(String)

    /// The message, with what to do.
    public var description: String {
        switch self {
        case .notPrepared(let d): return "\(d): not a prepared corpus (no header.json); make one with `seq2seq prepare`"
        case .damaged(let f, let m): return "\(f): \(m); the prepared corpus is damaged: prepare it again"
        case .vocabulary(let d, let m): return "\(d): \(m)"
        case .exists(let d): return "\(d): already exists and is not empty; choose another --output or pass --overwrite"
        }
    }
}

/// A corpus prepared once by `seq2seq prepare` (see `CorpusPreparer`) and memory-mapped:
///
///     header.json    counts, token type, vocabulary fingerprints, source files (PreparedHeader)
///     tokens.bin     every id, little-endian UInt16 (or UInt32): pair i's source ids, then its target ids
///     offsets.bin    UInt64 per pair: where pair i starts in tokens.bin (in ids)     (parallel only)
///     lengths.bin    UInt16 × 2 per pair: source and target length, without eos     (parallel only)
///     tokenizer.json the vocabulary it was encoded with (or source/target.tokenizer.json)
///
/// Nothing is allocated per sentence: batches are gathered straight from the map, so opening a
/// corpus of millions of pairs takes the same time as a small one.
public final class PreparedCorpus: PairSource, TokenSource, @unchecked Sendable {
    /// header.json's `format`.
    public static let formatName = "seq2seq-prepared"
    /// The layout version this library reads and writes.
    public static let formatVersion = 1
    /// The header's and the ids' file names.
    public static let headerFile = "header.json", tokensFile = "tokens.bin"
    /// The per-pair offsets' and lengths' file names (parallel corpora only).
    public static let offsetsFile = "offsets.bin", lengthsFile = "lengths.bin"

    /// The corpus directory.
    public let directory: String
    /// The checked header.
    public let header: PreparedHeader
    let tokenFile: MappedFile
    let offsetFile: MappedFile?
    let lengthFile: MappedFile?
    let u16: UnsafePointer<UInt16>?
    let u32: UnsafePointer<UInt32>?
    let offsets: UnsafePointer<UInt64>?
    let lens: UnsafePointer<UInt16>?

    /// Whether `dir` holds a finished corpus (its header.json is written last).
    public static func isPrepared(_ dir: String) -> Bool {
        FileManager.default.fileExists(atPath: "\(dir)/\(headerFile)")
    }

    /// Reads and checks `dir`/header.json without mapping the data.
    /// - Throws: ``PreparedError/notPrepared(_:)`` without a header, ``PreparedError/damaged(_:_:)`` for a header
    ///   that is not JSON, of another format or version, or with impossible values.
    public static func readHeader(_ dir: String) throws -> PreparedHeader {
        let path = "\(dir)/\(headerFile)"
        guard let data = FileManager.default.contents(atPath: path) else { throw PreparedError.notPrepared(dir) }
        let h: PreparedHeader
        do { h = try JSONDecoder().decode(PreparedHeader.self, from: data) } catch {
            throw PreparedError.damaged(path, "not a prepared-corpus header (\(error))")
        }
        guard h.format == formatName else { throw PreparedError.damaged(path, "format '\(h.format)' is not \(formatName)") }
        guard h.version == formatVersion else {
            throw PreparedError.damaged(path, "format version \(h.version); this seq2seq reads version \(formatVersion)")
        }
        guard h.tokenType == "uint16" || h.tokenType == "uint32" else { throw PreparedError.damaged(path, "unknown token_type '\(h.tokenType)'") }
        guard h.pairs >= 0, h.tokens >= 0, h.vocabularySize > 0 else { throw PreparedError.damaged(path, "negative counts") }
        return h
    }

    /// Maps `dir` and checks that its files agree with the header and with each other (sizes,
    /// offsets, lengths, every id below the vocabulary size): a damaged corpus is an error here,
    /// never a read out of bounds later. The scan's pages are released afterwards.
    /// - Throws: ``PreparedError`` for a missing or damaged corpus, ``TextError/cannotRead(_:_:)`` if a file
    ///   cannot be mapped.
    public init(directory dir: String) throws {
        directory = dir
        header = try Self.readHeader(dir)
        let h = header
        tokenFile = try MappedFile("\(dir)/\(Self.tokensFile)")
        guard tokenFile.count == h.tokens * h.tokenWidth else {
            throw PreparedError.damaged(tokenFile.path, "\(tokenFile.count) bytes, but the header says \(h.tokens) ids of \(h.tokenWidth) bytes")
        }
        u16 = h.tokenWidth == 2 ? tokenFile.typed(UInt16.self).baseAddress : nil
        u32 = h.tokenWidth == 4 ? tokenFile.typed(UInt32.self).baseAddress : nil
        if h.kind == .parallel {
            let o = try MappedFile("\(dir)/\(Self.offsetsFile)"), l = try MappedFile("\(dir)/\(Self.lengthsFile)")
            guard o.count == h.pairs * 8 else { throw PreparedError.damaged(o.path, "\(o.count) bytes for \(h.pairs) pairs (8 each)") }
            guard l.count == h.pairs * 4 else { throw PreparedError.damaged(l.path, "\(l.count) bytes for \(h.pairs) pairs (4 each)") }
            offsetFile = o; lengthFile = l
            offsets = o.typed(UInt64.self).baseAddress
            lens = l.typed(UInt16.self).baseAddress
            // Pairs lie back to back: each starts where the previous one ended, the last ends at the
            // end. Scanned in chunks whose pages are dropped after, so the check stays off the RSS.
            var next: UInt64 = 0, i = 0
            let lensAll = l.typed(UInt16.self)
            try o.scan(UInt64.self) { chunk in
                for off in chunk {
                    guard off == next else { throw PreparedError.damaged(o.path, "pair \(i + 1) starts at \(off), expected \(next)") }
                    next += UInt64(lensAll[2 * i]) + UInt64(lensAll[2 * i + 1])
                    i += 1
                }
            }
            guard next == UInt64(h.tokens) else { throw PreparedError.damaged(o.path, "the pairs hold \(next) ids, the header says \(h.tokens)") }
            l.release()  // the scan released the offsets' pages as it went
        } else {
            offsetFile = nil; lengthFile = nil; offsets = nil; lens = nil
            guard h.pairs == 0 else { throw PreparedError.damaged("\(dir)/\(Self.headerFile)", "a text corpus has no pairs") }
        }
        if let bad = maxId(), bad >= h.vocabularySize {
            throw PreparedError.damaged(tokenFile.path, "id \(bad) is beyond the vocabulary's \(h.vocabularySize) entries")
        }
        tokenFile.release()
        tokenFile.adviseRandomAccess()
        offsetFile?.adviseRandomAccess()
    }

    private func maxId() -> Int? {
        guard header.tokens > 0 else { return nil }
        var m = 0
        if u16 != nil { tokenFile.scan(UInt16.self) { c in var v: UInt16 = 0; for x in c { v = max(v, x) }; m = max(m, Int(v)) } }
        if u32 != nil { tokenFile.scan(UInt32.self) { c in var v: UInt32 = 0; for x in c { v = max(v, x) }; m = max(m, Int(v)) } }
        return m
    }

    /// Refuses a corpus encoded with another vocabulary than the model's.
    /// - Throws: ``PreparedError/vocabulary(_:_:)`` if a side's vocabulary fingerprint differs (a text corpus
    ///   checks the target vocabulary only).
    public func check(against v: Vocabularies) throws {
        if header.kind == .parallel {
            if header.sourceVocabulary != v.source.fingerprint || header.targetVocabulary != v.target.fingerprint {
                throw PreparedError.vocabulary(directory, "was prepared with another vocabulary than this model's (fingerprints \(header.sourceVocabulary)/\(header.targetVocabulary), the model's \(v.source.fingerprint)/\(v.target.fingerprint)); prepare it again with --vocab pointing at the model's vocabulary")
            }
        } else if header.targetVocabulary != v.target.fingerprint {
            throw PreparedError.vocabulary(directory, "was prepared with another vocabulary than this model's (fingerprint \(header.targetVocabulary), the model's \(v.target.fingerprint)); prepare it again with --vocab pointing at the model's vocabulary")
        }
    }

    // MARK: - PairSource

    /// The number of pairs (0 for a text corpus).
    public var pairCount: Int { header.pairs }

    /// Pair i's source and target lengths (parallel corpora only).
    @inline(__always) public func lengths(_ i: Int) -> (src: Int, tgt: Int) { (Int(lens![2 * i]), Int(lens![2 * i + 1])) }

    /// Writes pair i's ids to `source` and `target` (parallel corpora only).
    public func copyPair(_ i: Int, source: UnsafeMutablePointer<Int32>, target: UnsafeMutablePointer<Int32>) {
        let (s, t) = lengths(i)
        let at = Int(offsets![i])
        copyTokens(from: at, count: s, into: source)
        copyTokens(from: at + s, count: t, into: target)
    }

    /// Pages of the map count in the process's resident memory once touched, and this kernel maps
    /// whole large folios of the page cache per fault (≈ 0.5 MB for a 60-byte pair): dropping them
    /// after each batch keeps training's RSS independent of the corpus size. They stay in the page
    /// cache, so the next touch is a minor fault, not a disk read. One call per file per batch.
    public func batchGathered() {
        tokenFile.release()
        offsetFile?.release()
    }

    // MARK: - TokenSource

    /// The number of ids in tokens.bin.
    public var tokenCount: Int { header.tokens }

    /// Writes ids [from, from + count) of tokens.bin to `into`.
    public func copyTokens(from: Int, count: Int, into: UnsafeMutablePointer<Int32>) {
        if let u16 { for j in 0..<count { into[j] = Int32(u16[from + j]) } }
        if let u32 { for j in 0..<count { into[j] = Int32(bitPattern: u32[from + j]) } }
    }
}
