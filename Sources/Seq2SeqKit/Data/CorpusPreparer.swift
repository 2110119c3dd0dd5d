import Foundation

/// Normalizes and encodes a corpus once, streaming, into the layout `PreparedCorpus` maps.
/// Memory stays bounded whatever the corpus size: lines are read and encoded in chunks, and ids go
/// straight to disk. Files are written under temporary names, synced and renamed; the header is
/// renamed last, so a corpus without header.json is one whose preparation did not finish.
public struct CorpusPreparer {
    /// Pairs with a side longer than this many tokens are skipped (default 128; 1...65535; not used for text).
    public var maxLength = 128
    /// Replace invalid UTF-8 with U+FFFD instead of stopping (the header counts the repaired lines).
    public var lenient = false
    /// Lines per chunk (encoded on all threads).
    public var chunkLines = 32_768
    /// Progress lines.
    public var log: (String) -> Void = { _ in }

    /// A preparer with the defaults.
    public init() {}

    /// A parallel corpus: line-aligned source and target files.
    ///
    /// Each side is encoded with its vocabulary; empty pairs and pairs longer than ``maxLength`` are skipped
    /// and counted in the header.
    /// - Returns: The header written to `output`/header.json.
    /// - Throws: ``TrainError/settings(_:)`` if ``maxLength`` is out of range or no pair is left, ``TextError``
    ///   for unreadable, invalid, empty or misaligned files; ``TextError/cannotRead(_:_:)`` (despite its name),
    ///   a Foundation error or ``SafeTensors/Error`` if `output` cannot be written.
    @discardableResult
    public func prepare(source: String, target: String, vocabularies v: Vocabularies, output: String) throws -> PreparedHeader {
        guard maxLength >= 1 && maxLength <= Int(UInt16.max) else {
            throw TrainError.settings("--max-length must be between 1 and \(UInt16.max) for a prepared corpus")
        }
        let t0 = Date()
        let src = try LineReader(source), tgt = try LineReader(target)
        let out = try Output(directory: output, width: Self.width(v), parallel: true)
        var h = Self.header(.parallel, v, width: out.width)
        h.maxLength = maxLength
        var srcLines: [String] = [], tgtLines: [String] = []
        srcLines.reserveCapacity(chunkLines); tgtLines.reserveCapacity(chunkLines)
        var offset: UInt64 = 0, done = false, lines = 0
        while !done {
            srcLines.removeAll(keepingCapacity: true); tgtLines.removeAll(keepingCapacity: true)
            while srcLines.count < chunkLines {
                let a = try src.nextLine(lenient: lenient), b = try tgt.nextLine(lenient: lenient)
                if a == nil && b == nil { done = true; break }
                guard let a, let b else {
                    // Count the rest of the longer file for the message.
                    let longer = a == nil ? tgt : src
                    while try longer.next({ _ in }) {}
                    throw TextError.lineCountMismatch(source, src.lineNumber, target, tgt.lineNumber)
                }
                if a.repaired { h.repairedLines += 1 }
                if b.repaired { h.repairedLines += 1 }
                srcLines.append(a.text); tgtLines.append(b.text)
            }
            lines += srcLines.count
            let s = v.source.encodeBatch(srcLines), t = v.target.encodeBatch(tgtLines)
            for (a, b) in zip(s, t) {
                if a.isEmpty || b.isEmpty { h.skippedEmpty += 1; continue }
                if a.count > maxLength || b.count > maxLength { h.skippedLong += 1; continue }
                try out.offsets!.append(offset)
                try out.lengths!.append(UInt16(a.count)); try out.lengths!.append(UInt16(b.count))
                try out.appendIds(a); try out.appendIds(b)
                offset += UInt64(a.count + b.count)
                h.pairs += 1; h.sourceTokens += a.count; h.targetTokens += b.count
            }
            if lines % (chunkLines * 16) == 0 { log("prepare: \(lines) lines, \(h.pairs) pairs") }
        }
        if lines == 0 { throw TextError.empty(source) }
        guard h.pairs > 0 else {
            throw TrainError.settings("\(source), \(target): no pair left after skipping \(h.skippedEmpty) empty and \(h.skippedLong) longer than \(maxLength) tokens; raise --max-length")
        }
        h.tokens = Int(offset)
        h.files = [.init(role: "source", path: source, bytes: src.bytesRead, lines: src.lineNumber, fingerprint: src.hasher.hex),
                   .init(role: "target", path: target, bytes: tgt.bytesRead, lines: tgt.lineNumber, fingerprint: tgt.hasher.hex)]
        h.seconds = Date().timeIntervalSince(t0)
        try out.finish(header: h, vocabularies: v)
        return h
    }

    /// A text for a language model: one token stream (character-level: every line and its newline;
    /// subwords: every line's ids and `</s>`).
    /// - Returns: The header written to `output`/header.json.
    /// - Throws: ``TextError`` for an unreadable, invalid or empty file; ``TextError/cannotRead(_:_:)``,
    ///   a Foundation error or ``SafeTensors/Error`` if `output` cannot be written.
    @discardableResult
    public func prepare(text: String, vocabulary: Vocabulary, output: String) throws -> PreparedHeader {
        let t0 = Date()
        let v = Vocabularies(joint: vocabulary)
        let reader = try LineReader(text)
        let out = try Output(directory: output, width: Self.width(v), parallel: false)
        var h = Self.header(.text, v, width: out.width)
        h.maxLength = 0
        var chunk: [String] = []
        chunk.reserveCapacity(chunkLines)
        var done = false
        while !done {
            chunk.removeAll(keepingCapacity: true)
            while chunk.count < chunkLines {
                guard let l = try reader.nextLine(lenient: lenient) else { done = true; break }
                if l.repaired { h.repairedLines += 1 }
                chunk.append(l.text)
            }
            for ids in vocabulary.encodeTextLines(chunk) {
                try out.appendIds(ids)
                h.tokens += ids.count
            }
        }
        if reader.lineNumber == 0 { throw TextError.empty(text) }
        h.targetTokens = h.tokens
        h.files = [.init(role: "text", path: text, bytes: reader.bytesRead, lines: reader.lineNumber, fingerprint: reader.hasher.hex)]
        h.seconds = Date().timeIntervalSince(t0)
        try out.finish(header: h, vocabularies: v)
        return h
    }

    static func width(_ v: Vocabularies) -> Int { max(v.source.count, v.target.count) <= 65_536 ? 2 : 4 }

    static func header(_ kind: PreparedHeader.Kind, _ v: Vocabularies, width: Int) -> PreparedHeader {
        PreparedHeader(kind: kind, tokenType: width == 2 ? "uint16" : "uint32", pairs: 0, tokens: 0, sourceTokens: 0,
                       targetTokens: 0, skippedEmpty: 0, skippedLong: 0, maxLength: 0, repairedLines: 0,
                       sourceVocabulary: v.source.fingerprint, targetVocabulary: v.target.fingerprint,
                       vocabularySize: max(v.source.count, v.target.count), files: [], seconds: 0)
    }

    /// Hashes a file's bytes as `LineReader` does (to tell whether a corpus changed since it was prepared).
    public static func fingerprint(of path: String) throws -> (bytes: Int, fingerprint: String) {
        let r = try LineReader(path)
        while try r.next({ _ in }) {}
        return (r.bytesRead, r.hasher.hex)
    }

    /// The files being written.
    final class Output {
        let directory: String
        let width: Int
        let tokens: BufferedWriter
        /// Per-pair offsets and lengths (parallel corpora only).
        let offsets: BufferedWriter?, lengths: BufferedWriter?

        init(directory: String, width: Int, parallel: Bool) throws {
            self.directory = directory
            self.width = width
            let fm = FileManager.default
            try fm.createDirectory(atPath: directory, withIntermediateDirectories: true)
            // An unfinished or older corpus in the way goes first (its header first of all).
            try? fm.removeItem(atPath: "\(directory)/\(PreparedCorpus.headerFile)")
            tokens = try BufferedWriter("\(directory)/\(PreparedCorpus.tokensFile).partial")
            offsets = parallel ? try BufferedWriter("\(directory)/\(PreparedCorpus.offsetsFile).partial") : nil
            lengths = parallel ? try BufferedWriter("\(directory)/\(PreparedCorpus.lengthsFile).partial") : nil
        }

        func appendIds(_ ids: [Int32]) throws {
            if width == 2 { for id in ids { try tokens.append(UInt16(truncatingIfNeeded: id)) } }
            else { for id in ids { try tokens.append(UInt32(bitPattern: id)) } }
        }

        func finish(header h: PreparedHeader, vocabularies v: Vocabularies) throws {
            let fm = FileManager.default
            for (w, name) in [(tokens, PreparedCorpus.tokensFile), (offsets, PreparedCorpus.offsetsFile), (lengths, PreparedCorpus.lengthsFile)] {
                let to = "\(directory)/\(name)"
                guard let w else { try? fm.removeItem(atPath: to); continue }  // a text corpus: none (nor an older corpus's)
                try w.finish(sync: true)
                if rename(w.path, to) != 0 { throw TextError.cannotRead(to, "rename: \(String(cString: strerror(errno)))") }
            }
            for f in [Vocabulary.fileName, Vocabularies.sourceFile, Vocabularies.targetFile] { try? fm.removeItem(atPath: "\(directory)/\(f)") }
            try v.save(to: directory)
            let e = JSONEncoder()
            e.outputFormatting = [.prettyPrinted, .sortedKeys]
            try writeAtomically(try e.encode(h), to: "\(directory)/\(PreparedCorpus.headerFile)")
            syncDirectory(directory)
        }
    }
}

/// Appends fixed-width values to a file through a 1 MB buffer.
final class BufferedWriter {
    let path: String
    private var fd: Int32
    private var buffer: UnsafeMutableRawPointer
    private var used = 0
    private let capacity = 1 << 20

    init(_ path: String) throws {
        self.path = path
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw TextError.cannotRead(path, "cannot create: \(String(cString: strerror(errno)))") }
        buffer = .allocate(byteCount: capacity, alignment: 16)
    }

    /// Continues an existing file from its first `size` bytes (what a resumed job had saved): the file
    /// is created if missing, cut to `size` (dropping what was written after the last save) and appended to.
    init(_ path: String, continuingAt size: Int) throws {
        self.path = path
        fd = open(path, O_WRONLY | O_CREAT, 0o644)
        guard fd >= 0 else { throw TextError.cannotRead(path, "cannot open: \(String(cString: strerror(errno)))") }
        buffer = .allocate(byteCount: capacity, alignment: 16)
        var st = stat()
        guard fstat(fd, &st) == 0, Int(st.st_size) >= size else {
            throw TextError.cannotRead(path, "holds fewer than the \(size) bytes its progress file records; start over with --overwrite")
        }
        guard ftruncate(fd, off_t(size)) == 0, lseek(fd, 0, SEEK_END) >= 0 else {
            throw TextError.cannotRead(path, "cannot cut to \(size) bytes: \(String(cString: strerror(errno)))")
        }
    }

    /// Appends raw bytes.
    func append(bytes: UnsafeRawBufferPointer) throws {
        var from = 0
        while from < bytes.count {
            if used == capacity { try flush() }
            let n = min(capacity - used, bytes.count - from)
            (buffer + used).copyMemory(from: bytes.baseAddress! + from, byteCount: n)
            used += n; from += n
        }
    }

    /// Writes the buffer out and, with `sync`, to the disk; the file stays open.
    func flush(sync: Bool) throws {
        try flush()
        if sync && fsync(fd) != 0 { throw TextError.cannotRead(path, "fsync: \(String(cString: strerror(errno)))") }
    }

    deinit {
        if fd >= 0 { close(fd) }
        buffer.deallocate()
    }

    @inline(__always) func append<T: FixedWidthInteger>(_ v: T) throws {
        if used + MemoryLayout<T>.size > capacity { try flush() }
        buffer.storeBytes(of: v.littleEndian, toByteOffset: used, as: T.self)
        used += MemoryLayout<T>.size
    }

    func flush() throws {
        var done = 0
        while done < used {
            let n = write(fd, buffer + done, used - done)
            if n < 0 {
                if errno == EINTR { continue }
                throw TextError.cannotRead(path, "write: \(String(cString: strerror(errno)))")
            }
            done += n
        }
        used = 0
    }

    func finish(sync: Bool) throws {
        guard fd >= 0 else { return }
        try flush()
        if sync && fsync(fd) != 0 { throw TextError.cannotRead(path, "fsync: \(String(cString: strerror(errno)))") }
        close(fd)
        fd = -1
    }
}

/// fsync on a directory, so that renames in it survive a power cut.
func syncDirectory(_ dir: String) {
    let fd = open(dir, O_RDONLY)
    if fd >= 0 { fsync(fd); close(fd) }
}
