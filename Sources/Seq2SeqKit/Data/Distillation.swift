import Foundation

/// Sequence-level knowledge distillation (Kim and Rush, 2016), as Bergamot and the OPUS-MT teams
/// make their students: a teacher translates a source corpus with beam search, and its translations
/// become the targets a smaller student trains on. The pairs go straight into a prepared corpus
/// (``PreparedCorpus``) that `train --data` reads.
///
/// The source is streamed in chunks of ``Settings/chunkLines`` lines, so its size is not bounded by memory.
/// Under `mpirun` every rank reads the whole source and translates the chunks whose index modulo
/// the rank count is its rank, into a shard of its own:
///
///     OUTPUT/shards/R-of-N/tokens.bin, offsets.bin, lengths.bin   the shard's pairs so far
///     OUTPUT/shards/R-of-N/progress.json                         settings, counts, line and file sizes saved
///
/// After each chunk the shard's files are flushed and its progress file is replaced atomically, so a
/// job killed at any moment resumes (`resume`) from its last saved chunk: files are cut back to the
/// sizes the progress file records. When every shard is done, rank 0 joins them into OUTPUT's
/// prepared corpus (header.json written last), writes `distill.json` (settings and counts) and
/// removes the shards. Chunks are fixed runs of input lines, so a resumed or sharded job decodes
/// exactly the batches an uninterrupted one would.
public struct Distillation {
    /// What a job is run with; a resumed job must have the same.
    public struct Settings: Codable, Equatable, Sendable {
        /// The source file.
        public var source: String
        /// The teacher's directory and the fingerprint of its weights file.
        public var teacher: String, teacherWeights: String
        /// Whether the teacher is int8 (loaded so, or quantized for the job).
        public var int8: Bool
        /// Beam size, length penalty and its normalization ("gnmt" or "power").
        public var beam: Int, lengthPenalty: Float, lengthNormalization: String
        /// How many of the teacher's best translations of each line become pairs (best first); nil: 1.
        public var nBest: Int?
        /// The teacher's output cap: maxLenA × source tokens + maxLenB.
        public var maxLenA: Double, maxLenB: Int
        /// Pairs with a side longer than this many tokens are skipped.
        public var maxLength: Int
        /// Pairs whose translation's mean log-probability per token (eos included) is below this are dropped.
        public var minScore: Float?
        /// Pairs whose longer side has more than this many times the tokens of the shorter are dropped.
        public var maxLengthRatio: Double?
        /// Lines per chunk, and the number of shards (ranks).
        public var chunkLines: Int, shards: Int
        /// Fingerprints of the vocabularies the corpus is encoded with.
        public var sourceVocabulary: String, targetVocabulary: String

        enum CodingKeys: String, CodingKey {
            case source, teacher, teacherWeights = "teacher_weights", int8, beam, nBest = "n_best", lengthPenalty = "length_penalty"
            case lengthNormalization = "length_normalization", maxLenA = "max_len_a", maxLenB = "max_len_b"
            case maxLength = "max_length", minScore = "min_score", maxLengthRatio = "max_length_ratio"
            case chunkLines = "chunk_lines", shards, sourceVocabulary = "source_vocabulary", targetVocabulary = "target_vocabulary"
        }
    }

    /// What a job (or one shard) has done.
    public struct Counts: Codable, Equatable, Sendable {
        /// Source lines read, and those translated (this shard's).
        public var lines = 0, translated = 0
        /// Pairs kept, and their source and target ids (without eos).
        public var pairs = 0, sourceTokens = 0, targetTokens = 0
        /// Pairs dropped: a side empty, a side longer than the limit, below the score, beyond the length ratio.
        /// (Lines skipped before translation count once; with ``Settings/nBest`` above 1 each
        /// translation of a line is a pair, kept or dropped on its own.)
        public var skippedEmpty = 0, skippedLong = 0, droppedScore = 0, droppedRatio = 0
        /// Lines whose invalid UTF-8 was replaced.
        public var repairedLines = 0
        /// Seconds spent translating.
        public var seconds = 0.0

        /// A zero count.
        public init() {}

        enum CodingKeys: String, CodingKey {
            case lines, translated, pairs, sourceTokens = "source_tokens", targetTokens = "target_tokens"
            case skippedEmpty = "skipped_empty", skippedLong = "skipped_long", droppedScore = "dropped_score"
            case droppedRatio = "dropped_ratio", repairedLines = "repaired_lines", seconds
        }

        static func + (a: Counts, b: Counts) -> Counts {
            var c = a
            c.lines = max(a.lines, b.lines)  // every shard reads every line
            c.translated += b.translated; c.pairs += b.pairs; c.sourceTokens += b.sourceTokens; c.targetTokens += b.targetTokens
            c.skippedEmpty += b.skippedEmpty; c.skippedLong += b.skippedLong; c.droppedScore += b.droppedScore
            c.droppedRatio += b.droppedRatio; c.repairedLines += b.repairedLines; c.seconds = max(a.seconds, b.seconds)
            return c
        }
    }

    /// A shard's saved progress.
    struct Progress: Codable {
        var settings: Settings
        var counts: Counts
        /// The first input line not yet read when this was saved.
        var nextLine: Int
        /// The shard files' sizes at that point (chunks.bin: UInt32 pairs kept per chunk of this shard).
        var tokenBytes: Int, offsetBytes: Int, lengthBytes: Int, chunkBytes: Int
        /// Set once the shard has read the whole source: its size and fingerprint.
        var finished: Bool
        var sourceBytes: Int, sourceFingerprint: String

        enum CodingKeys: String, CodingKey {
            case settings, counts, nextLine = "next_line", tokenBytes = "token_bytes", offsetBytes = "offset_bytes"
            case lengthBytes = "length_bytes", chunkBytes = "chunk_bytes", finished, sourceBytes = "source_bytes", sourceFingerprint = "source_fingerprint"
        }
    }

    /// The record `distill.json` keeps beside the finished corpus.
    public struct Report: Codable, Sendable {
        /// The job's settings and summed counts.
        public var settings: Settings, counts: Counts
    }

    /// The teacher, with its search settings (``Translator/search``, ``Translator/batchSize``,
    /// ``Translator/maxLenA``, ``Translator/maxLenB``).
    public let teacher: Translator
    /// The vocabularies the corpus is written in: the teacher's (ids are written as decoded), or a
    /// student's (the source line and the translation's text are encoded with them).
    public let vocabularies: Vocabularies
    /// The job's settings (``Settings/shards`` must be the communicator's size).
    public let settings: Settings
    /// Replace invalid UTF-8 with U+FFFD instead of stopping.
    public var lenient = false
    /// Progress lines (rank 0 only).
    public var log: (String) -> Void = { _ in }
    /// Asked after each chunk: a reason stops the job there, its progress saved.
    public var stopRequest: () -> String? = { nil }

    /// The file joined corpora keep their job's settings and counts in.
    public static let reportFile = "distill.json"
    /// The shards' folder inside the output directory.
    public static let shardsDirectory = "shards"
    /// A shard's pairs per chunk (UInt32 each), for joining the shards in input order.
    static let chunksFile = "chunks.bin"

    /// A job: `teacher` translates, `vocabularies` encode what is written.
    /// - Parameters:
    ///   - teacher: The teacher, with its search settings.
    ///   - teacherDirectory: Where the teacher was loaded from (recorded in the settings).
    ///   - teacherWeights: The fingerprint of its weights file (a resumed job must use the same teacher).
    ///   - vocabularies: The vocabularies to write the corpus in; nil: the teacher's.
    ///   - source: The source text file.
    ///   - maxLength: Pairs with a side longer than this many tokens are skipped (1...65535).
    ///   - minScore: Drop pairs whose translation's mean log-probability per token is below this; nil: keep all.
    ///   - maxLengthRatio: Drop pairs whose longer side has more than this many times the tokens of the shorter; nil: keep all.
    ///   - chunkLines: Lines per chunk, the unit of saved progress and of sharding.
    ///   - shards: The number of ranks that run the job (the communicator's size).
    public init(teacher: Translator, teacherDirectory: String, teacherWeights: String, vocabularies: Vocabularies? = nil,
                source: String, maxLength: Int = 128, minScore: Float? = nil, maxLengthRatio: Double? = nil,
                chunkLines: Int = 1024, shards: Int = 1) {
        self.teacher = teacher
        let v = vocabularies ?? teacher.vocabularies
        self.vocabularies = v
        let s = teacher.search
        settings = Settings(source: source, teacher: teacherDirectory, teacherWeights: teacherWeights, int8: teacher.model.isQuantized,
                            beam: s.beam, lengthPenalty: s.lengthPenalty, lengthNormalization: s.normalization.rawValue,
                            nBest: s.nBest > 1 ? s.nBest : nil,
                            maxLenA: teacher.maxLenA, maxLenB: teacher.maxLenB, maxLength: maxLength, minScore: minScore,
                            maxLengthRatio: maxLengthRatio, chunkLines: chunkLines, shards: shards,
                            sourceVocabulary: v.source.fingerprint, targetVocabulary: v.target.fingerprint)
    }

    /// How a call to ``run(output:communicator:resume:overwrite:)`` ended.
    public enum Outcome: Sendable {
        /// The corpus is in the output directory (rank 0's report; other ranks get their shard's counts).
        case finished(Report)
        /// ``stopRequest`` stopped it (the reason, lines read); run again with `resume` to go on.
        case stopped(String, lines: Int)
    }

    /// Runs this rank's shard, then (rank 0) joins the shards into `output`.
    /// - Parameters:
    ///   - output: The prepared corpus's directory (shards and progress live under it while the job runs).
    ///   - communicator: The ranks sharing the job (``SingleProcess`` alone).
    ///   - resume: Continue a job whose shard progress is in `output` (an error without it, unless `overwrite`).
    ///   - overwrite: Start over, replacing a finished corpus or an unfinished job in `output`.
    /// - Throws: ``DistillationError`` for a corpus or job in the way, a job with other settings, bad
    ///   settings; ``TextError`` for the source; ``ModelError`` from the teacher; ``DistributedError``.
    public func run(output: String, communicator: Communicator = SingleProcess(), resume: Bool = false,
                    overwrite: Bool = false) throws -> Outcome {
        let fm = FileManager.default
        let rank = communicator.rank, size = communicator.size
        guard settings.shards == size else {
            throw DistillationError.settings("the job has \(settings.shards) shards but runs on \(size) ranks")
        }
        guard (1...Int(UInt16.max)).contains(settings.maxLength) else {
            throw DistillationError.settings("--max-length must be between 1 and \(UInt16.max) (got \(settings.maxLength))")
        }
        guard settings.chunkLines >= 1 else { throw DistillationError.settings("--chunk-lines must be at least 1") }
        if PreparedCorpus.isPrepared(output) {
            guard overwrite else { throw DistillationError.exists(output) }
            if rank == 0 { try? fm.removeItem(atPath: "\(output)/\(PreparedCorpus.headerFile)") }
        }
        let shards = "\(output)/\(Self.shardsDirectory)"
        let dir = "\(shards)/\(rank)-of-\(size)"
        let progressPath = "\(dir)/progress.json"
        // Another rank count's shards cannot be continued by this one.
        if resume, let other = (try? fm.contentsOfDirectory(atPath: shards))?.first(where: { !$0.hasSuffix("-of-\(size)") && !$0.hasPrefix(".") }) {
            throw DistillationError.settings("\(shards)/\(other) belongs to a job on another number of ranks; resume it with as many ranks (\(other.split(separator: "-").last ?? "?")), or start over with --overwrite")
        }
        var progress: Progress
        if !overwrite, let data = fm.contents(atPath: progressPath) {
            let saved: Progress
            do { saved = try JSONDecoder().decode(Progress.self, from: data) } catch {
                throw DistillationError.damaged(progressPath, "\(error)")
            }
            guard resume else { throw DistillationError.unfinished(output, saved.counts.lines) }
            guard saved.settings == settings else {
                throw DistillationError.otherSettings(progressPath, Self.differences(saved.settings, settings))
            }
            progress = saved
            if rank == 0 { log("resuming: \(saved.counts.lines) lines read, \(saved.counts.pairs) pairs kept\(size > 1 ? " on rank 0" : "")") }
        } else {
            try? fm.removeItem(atPath: dir)
            try fm.createDirectory(atPath: dir, withIntermediateDirectories: true)
            progress = Progress(settings: settings, counts: Counts(), nextLine: 0, tokenBytes: 0, offsetBytes: 0, lengthBytes: 0,
                                chunkBytes: 0, finished: false, sourceBytes: 0, sourceFingerprint: "")
        }
        if !progress.finished {
            if let stop = try translateShard(dir: dir, progress: &progress, rank: rank, size: size) {
                return .stopped(stop, lines: progress.counts.lines)
            }
        }
        try communicator.barrier()
        guard rank == 0 else {
            return .finished(Report(settings: settings, counts: progress.counts))
        }
        return .finished(try join(shards: shards, size: size, output: output))
    }

    /// Translates this rank's chunks from `progress.nextLine` on, saving progress after each.
    /// - Returns: The stop reason if ``stopRequest`` stopped it, else nil (the shard is finished).
    func translateShard(dir: String, progress: inout Progress, rank: Int, size: Int) throws -> String? {
        let tokens = try BufferedWriter("\(dir)/\(PreparedCorpus.tokensFile)", continuingAt: progress.tokenBytes)
        let offsets = try BufferedWriter("\(dir)/\(PreparedCorpus.offsetsFile)", continuingAt: progress.offsetBytes)
        let lengths = try BufferedWriter("\(dir)/\(PreparedCorpus.lengthsFile)", continuingAt: progress.lengthBytes)
        let chunks = try BufferedWriter("\(dir)/\(Self.chunksFile)", continuingAt: progress.chunkBytes)
        let width = CorpusPreparer.width(vocabularies)
        let reader = try LineReader(settings.source)
        let sourceBytes = Self.fileSize(settings.source)
        // Lines already read by the saved job are read again, not translated (the reader's
        // fingerprint covers the whole file).
        while reader.lineNumber < progress.nextLine {
            guard let l = try reader.nextLine(lenient: lenient) else {
                throw DistillationError.settings("\(settings.source) has \(reader.lineNumber) lines, fewer than the \(progress.nextLine) the saved job had read: the file changed; start over with --overwrite")
            }
            _ = l
        }
        var next = UInt64(progress.tokenBytes / width)
        let t0 = Date(), secondsBefore = progress.counts.seconds, bytesAtStart = reader.bytesConsumed
        var translatedNow = 0, lastLog = Date.distantPast
        var chunk: [String] = []
        chunk.reserveCapacity(settings.chunkLines)
        while true {
            chunk.removeAll(keepingCapacity: true)
            let first = reader.lineNumber
            var repaired = 0
            while chunk.count < settings.chunkLines, let l = try reader.nextLine(lenient: lenient) {
                chunk.append(l.text)
                if l.repaired { repaired += 1 }
            }
            if chunk.isEmpty { break }
            guard (first / settings.chunkLines) % size == rank else { continue }
            var c = progress.counts
            c.repairedLines += repaired
            let pairs = try distill(chunk, counts: &c)
            try chunks.append(UInt32(pairs.count))
            for (src, tgt) in pairs {
                try offsets.append(next)
                try lengths.append(UInt16(src.count)); try lengths.append(UInt16(tgt.count))
                for id in src + tgt {
                    if width == 2 { try tokens.append(UInt16(truncatingIfNeeded: id)) } else { try tokens.append(UInt32(bitPattern: id)) }
                }
                next += UInt64(src.count + tgt.count)
            }
            translatedNow += chunk.count
            c.lines = reader.lineNumber
            c.seconds = secondsBefore + Date().timeIntervalSince(t0)
            for w in [tokens, offsets, lengths, chunks] { try w.flush(sync: false) }
            progress.counts = c
            progress.nextLine = reader.lineNumber
            progress.tokenBytes = Int(next) * width
            progress.offsetBytes = c.pairs * 8
            progress.lengthBytes = c.pairs * 4
            progress.chunkBytes += 4
            try save(progress, to: "\(dir)/progress.json")
            if rank == 0 && Date().timeIntervalSince(lastLog) >= 10 {
                lastLog = Date()
                log(Self.status(counts: c, translatedNow: translatedNow, elapsed: Date().timeIntervalSince(t0),
                                done: reader.bytesConsumed, from: bytesAtStart, total: sourceBytes, ranks: size))
            }
            if let stop = stopRequest() { return stop }
        }
        if reader.lineNumber == 0 { throw TextError.empty(settings.source) }
        for w in [tokens, offsets, lengths, chunks] { try w.finish(sync: true) }
        progress.counts.lines = reader.lineNumber
        progress.finished = true
        progress.sourceBytes = reader.bytesRead
        progress.sourceFingerprint = reader.hasher.hex
        try save(progress, to: "\(dir)/progress.json")
        return nil
    }

    /// One chunk: encode, skip empty and over-long sources, translate, filter. Returns the kept
    /// pairs' ids (without eos) in input order and counts the rest.
    func distill(_ lines: [String], counts c: inout Counts) throws -> [(src: [Int32], tgt: [Int32])] {
        let teacherSources = teacher.vocabularies.source.encodeBatch(lines)
        let limit = min(settings.maxLength, teacher.maxSourceTokens - (teacher.sourceEOS ? 1 : 0))
        var keep: [Int] = []
        for (i, s) in teacherSources.enumerated() {
            if s.isEmpty { c.skippedEmpty += 1 } else if s.count > limit { c.skippedLong += 1 } else { keep.append(i) }
        }
        let outputs = try teacher.translate(ids: keep.map { teacherSources[$0] })
        c.translated += keep.count
        let eos = Int32(teacher.model.config.eosId)
        let ownVocabulary = vocabularies.source.fingerprint == teacher.vocabularies.source.fingerprint
            && vocabularies.target.fingerprint == teacher.vocabularies.target.fingerprint
        var pairs: [(src: [Int32], tgt: [Int32])] = []
        for (i, out) in zip(keep, outputs) {
            let src = ownVocabulary ? teacherSources[i] : vocabularies.source.encode(lines[i])
            if out.hypotheses.isEmpty { c.skippedEmpty += 1; continue }
            // The k best translations, best first; each is a pair of its own, filtered on its own.
            for (k, hypothesis) in out.hypotheses.prefix(settings.nBest ?? 1).enumerated() {
                var tgt = k < out.hypothesisTokens.count ? out.hypothesisTokens[k] : []
                let scored = max(1, tgt.count)  // the mean over the tokens the teacher wrote, eos included
                if tgt.last == eos { tgt.removeLast() }
                if !ownVocabulary { tgt = vocabularies.target.encode(hypothesis.text) }
                if src.isEmpty || tgt.isEmpty { c.skippedEmpty += 1; continue }
                if src.count > settings.maxLength || tgt.count > settings.maxLength { c.skippedLong += 1; continue }
                if let m = settings.minScore, hypothesis.logProb / Float(scored) < m { c.droppedScore += 1; continue }
                if let r = settings.maxLengthRatio, Double(max(src.count, tgt.count)) > r * Double(min(src.count, tgt.count)) {
                    c.droppedRatio += 1; continue
                }
                pairs.append((src, tgt))
                c.pairs += 1; c.sourceTokens += src.count; c.targetTokens += tgt.count
            }
        }
        return pairs
    }

    /// Rank 0, once every shard is finished: shard 0's files become the corpus's, the others are
    /// appended with their offsets moved; header.json is written last, the shards removed after.
    func join(shards: String, size: Int, output: String) throws -> Report {
        let fm = FileManager.default
        var parts: [Progress] = []
        for r in 0..<size {
            let path = "\(shards)/\(r)-of-\(size)/progress.json"
            guard let data = fm.contents(atPath: path), let p = try? JSONDecoder().decode(Progress.self, from: data) else {
                throw DistillationError.damaged(path, "missing or unreadable after every rank finished")
            }
            guard p.finished, p.settings == settings else { throw DistillationError.damaged(path, "the shard is not finished with this job's settings") }
            parts.append(p)
        }
        guard Set(parts.map(\.sourceFingerprint)).count == 1 else {
            throw DistillationError.settings("the ranks read different files at \(settings.source) (their fingerprints differ); every host must have the same source")
        }
        var total = parts.reduce(Counts()) { $0 + $1.counts }
        total.lines = parts[0].counts.lines
        guard total.pairs > 0 else {
            throw DistillationError.settings("\(settings.source): no pair left (\(total.skippedEmpty) empty, \(total.skippedLong) longer than \(settings.maxLength) tokens, \(total.droppedScore) below --min-score, \(total.droppedRatio) beyond --max-length-ratio)")
        }
        let width = CorpusPreparer.width(vocabularies)
        let tokenCount = parts.reduce(0) { $0 + $1.tokenBytes } / width
        if size == 1 {
            // One shard is the corpus already (moved before a kill if it is no longer there).
            for name in [PreparedCorpus.tokensFile, PreparedCorpus.offsetsFile, PreparedCorpus.lengthsFile] {
                let from = "\(shards)/0-of-1/\(name)"
                if !fm.fileExists(atPath: from) && fm.fileExists(atPath: "\(output)/\(name)") { continue }
                if rename(from, "\(output)/\(name)") != 0 {
                    throw DistillationError.io("\(output)/\(name)", String(cString: strerror(errno)))
                }
            }
        } else {
            try interleave(parts, shards: shards, size: size, width: width, output: output)
        }
        var h = CorpusPreparer.header(.parallel, vocabularies, width: width)
        h.pairs = total.pairs; h.tokens = tokenCount; h.sourceTokens = total.sourceTokens; h.targetTokens = total.targetTokens
        h.skippedEmpty = total.skippedEmpty; h.skippedLong = total.skippedLong; h.maxLength = settings.maxLength
        h.repairedLines = total.repairedLines; h.seconds = total.seconds
        h.files = [.init(role: "source", path: settings.source, bytes: parts[0].sourceBytes, lines: total.lines, fingerprint: parts[0].sourceFingerprint),
                   .init(role: "teacher", path: settings.teacher, bytes: 0, lines: 0, fingerprint: settings.teacherWeights)]
        let report = Report(settings: settings, counts: total)
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        try writeAtomically(try e.encode(report), to: "\(output)/\(Self.reportFile)")
        for f in [Vocabulary.fileName, Vocabularies.sourceFile, Vocabularies.targetFile] { try? fm.removeItem(atPath: "\(output)/\(f)") }
        try vocabularies.save(to: output)
        try writeAtomically(try e.encode(h), to: "\(output)/\(PreparedCorpus.headerFile)")
        syncDirectory(output)
        try? fm.removeItem(atPath: shards)
        return report
    }

    /// Several shards: their pairs in input order (chunk k is shard k mod N's next chunk), so the
    /// corpus is the one a single process writes.
    func interleave(_ parts: [Progress], shards: String, size: Int, width: Int, output: String) throws {
        let tokens = try BufferedWriter("\(output)/\(PreparedCorpus.tokensFile).partial")
        let offsets = try BufferedWriter("\(output)/\(PreparedCorpus.offsetsFile).partial")
        let lengths = try BufferedWriter("\(output)/\(PreparedCorpus.lengthsFile).partial")
        // Each shard's files, mapped (nil for a shard without pairs: an empty file cannot be mapped).
        var maps: [(tokens: MappedFile, lengths: MappedFile, chunks: [UInt32])?] = []
        for (r, p) in parts.enumerated() {
            let d = "\(shards)/\(r)-of-\(size)"
            var chunkCounts: [UInt32] = []
            if p.chunkBytes > 0 {
                let file = try MappedFile("\(d)/\(Self.chunksFile)")
                chunkCounts = file.typed(UInt32.self).map { UInt32(littleEndian: $0) }
            }
            guard chunkCounts.count * 4 == p.chunkBytes, chunkCounts.reduce(0, { $0 + Int($1) }) == p.counts.pairs else {
                throw DistillationError.damaged("\(d)/\(Self.chunksFile)", "its chunk counts do not add up to the shard's \(p.counts.pairs) pairs")
            }
            if p.counts.pairs == 0 { maps.append(nil); continue }
            maps.append((try MappedFile("\(d)/\(PreparedCorpus.tokensFile)"), try MappedFile("\(d)/\(PreparedCorpus.lengthsFile)"), chunkCounts))
        }
        var pairAt = [Int](repeating: 0, count: size), tokenAt = [Int](repeating: 0, count: size)
        var chunkOf = [Int](repeating: 0, count: size)
        var written: UInt64 = 0
        let chunkTotal = parts.reduce(0) { $0 + $1.chunkBytes / 4 }
        for k in 0..<chunkTotal {
            let r = k % size
            guard let m = maps[r] else { continue }
            let n = Int(m.chunks[chunkOf[r]])
            chunkOf[r] += 1
            let lens = m.lengths.typed(UInt16.self)
            var ids = 0
            for i in pairAt[r]..<(pairAt[r] + n) {
                let pairIds = Int(UInt16(littleEndian: lens[2 * i])) + Int(UInt16(littleEndian: lens[2 * i + 1]))
                try offsets.append(written + UInt64(ids))
                ids += pairIds
            }
            let lengthBytes = m.lengths.typed(UInt8.self), tokenBytes = m.tokens.typed(UInt8.self)
            try lengths.append(bytes: UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: lengthBytes[(4 * pairAt[r])..<(4 * (pairAt[r] + n))])))
            try tokens.append(bytes: UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: tokenBytes[(width * tokenAt[r])..<(width * (tokenAt[r] + ids))])))
            pairAt[r] += n; tokenAt[r] += ids; written += UInt64(ids)
        }
        for (w, name) in [(tokens, PreparedCorpus.tokensFile), (offsets, PreparedCorpus.offsetsFile), (lengths, PreparedCorpus.lengthsFile)] {
            try w.finish(sync: true)
            if rename(w.path, "\(output)/\(name)") != 0 { throw DistillationError.io("\(output)/\(name)", String(cString: strerror(errno))) }
        }
    }

    func save(_ p: Progress, to path: String) throws {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        try writeAtomically(try e.encode(p), to: path)
    }

    static func fileSize(_ path: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int) ?? 0
    }

    /// "distill: 12,288 lines (42%), 11,950 pairs, 96 sentences/s, ETA 3m10s".
    static func status(counts c: Counts, translatedNow: Int, elapsed: Double, done: Int, from: Int, total: Int, ranks: Int) -> String {
        let rate = Double(translatedNow) / max(elapsed, 1e-9)
        var s = "distill: \(c.lines) lines"
        if total > 0 { s += String(format: " (%.0f%%)", 100 * Double(done) / Double(total)) }
        s += ", \(c.pairs) pairs kept" + (ranks > 1 ? " on rank 0" : "")
        s += String(format: ", %.1f sentences/s", rate) + (ranks > 1 ? " per rank" : "")
        if total > 0, done > from {
            let left = elapsed * Double(total - done) / Double(done - from)
            s += String(format: ", ETA %dm%02ds", Int(left) / 60, Int(left) % 60)
        }
        return s
    }

    /// The settings that differ, for the message.
    static func differences(_ a: Settings, _ b: Settings) -> String {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        guard let da = try? e.encode(a), let db = try? e.encode(b),
              let oa = try? JSONSerialization.jsonObject(with: da) as? [String: Any],
              let ob = try? JSONSerialization.jsonObject(with: db) as? [String: Any] else { return "settings" }
        let keys = Set(oa.keys).union(ob.keys).sorted().filter { "\(oa[$0] ?? "none")" != "\(ob[$0] ?? "none")" }
        return keys.map { "\($0): saved \(oa[$0] ?? "none"), now \(ob[$0] ?? "none")" }.joined(separator: "; ")
    }
}

/// Why a distillation job cannot go on.
public enum DistillationError: Error, CustomStringConvertible {
    /// The output already holds a finished corpus.
    case exists(String)
    /// The output holds an unfinished job (directory, lines read) and neither resume nor overwrite was asked.
    case unfinished(String, Int)
    /// The saved job was made with other settings (progress file, the differences).
    case otherSettings(String, String)
    /// A progress file cannot be read (file, why).
    case damaged(String, String)
    /// The settings cannot work (the message says why and what to do).
    case settings(String)
    /// A file cannot be written or renamed (file, why).
    case io(String, String)

    /// The message, with what to do.
    public var description: String {
        switch self {
        case .exists(let d): return "\(d): already holds a prepared corpus; choose another --output or pass --overwrite"
        case .unfinished(let d, let n): return "\(d): holds an unfinished distillation (\(n) lines read); pass --resume to continue it or --overwrite to start over"
        case .otherSettings(let f, let what): return "\(f): the saved job was made with other settings (\(what)); use the same flags with --resume, or --overwrite to start over"
        case .damaged(let f, let why): return "\(f): \(why); start over with --overwrite"
        case .settings(let m): return m
        case .io(let f, let why): return "\(f): cannot write: \(why)"
        }
    }
}
