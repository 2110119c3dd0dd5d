import Foundation

/// A tokenized parallel corpus: pairs of source and target ids (no bos/eos yet).
public struct ParallelData: Sendable {
    /// The pairs' source and target ids, without bos/eos.
    public var pairs: [(src: [Int32], tgt: [Int32])]
    /// Pairs dropped because a side encoded to no tokens.
    public var skippedEmpty = 0
    /// Pairs dropped because a side was longer than the length limit.
    public var skippedLong = 0

    /// Pairs already tokenized, taken as they are (nothing skipped).
    public init(pairs: [(src: [Int32], tgt: [Int32])]) { self.pairs = pairs }

    /// Reads line-aligned files, checks them, encodes both sides and drops empty pairs and pairs
    /// with a side longer than `maxLength` tokens (counted in `skippedEmpty`, `skippedLong`).
    ///
    /// - Throws: ``TextError`` if a file cannot be read, holds invalid UTF-8 (unless `lenient`), the files'
    ///   line counts differ, or they are empty.
    public static func load(source: String, target: String, vocabularies v: Vocabularies, maxLength: Int,
                            lenient: Bool = false) throws -> ParallelData {
        let s = try TextFile.readLines(source, lenient: lenient).lines
        let t = try TextFile.readLines(target, lenient: lenient).lines
        guard s.count == t.count else { throw TextError.lineCountMismatch(source, s.count, target, t.count) }
        if s.isEmpty { throw TextError.empty(source) }
        return make(sourceIds: v.source.encodeBatch(s), targetIds: v.target.encodeBatch(t), maxLength: maxLength)
    }

    /// Pairs from encoded lines (zipped, so extra lines of the longer list are ignored), dropping empty
    /// pairs and pairs with a side longer than `maxLength` tokens.
    public static func make(sourceIds: [[Int32]], targetIds: [[Int32]], maxLength: Int) -> ParallelData {
        var d = ParallelData(pairs: [])
        for (a, b) in zip(sourceIds, targetIds) {
            if a.isEmpty || b.isEmpty { d.skippedEmpty += 1; continue }
            if a.count > maxLength || b.count > maxLength { d.skippedLong += 1; continue }
            d.pairs.append((a, b))
        }
        return d
    }

    /// Source tokens, one eos per pair included.
    public var sourceTokens: Int { pairs.reduce(0) { $0 + $1.src.count + 1 } }
    /// Target tokens, one eos per pair included.
    public var targetTokens: Int { pairs.reduce(0) { $0 + $1.tgt.count + 1 } }
}
