/// A parallel corpus that batches are gathered from: in memory (`ParallelData`) or memory-mapped
/// (`PreparedCorpus`). Lengths exclude bos/eos.
public protocol PairSource {
    /// The number of pairs.
    var pairCount: Int { get }
    /// Pair i's source and target lengths in tokens (without bos/eos).
    func lengths(_ i: Int) -> (src: Int, tgt: Int)
    /// Writes pair i's source ids to `source` and its target ids to `target`.
    func copyPair(_ i: Int, source: UnsafeMutablePointer<Int32>, target: UnsafeMutablePointer<Int32>)
    /// Called after each batch is gathered: a mapped corpus drops the pages it touched.
    func batchGathered()
}

extension PairSource {
    /// Does nothing: the default, for sources held in memory.
    public func batchGathered() {}
}

/// A token stream that language-model blocks are cut from.
public protocol TokenSource {
    /// The number of tokens in the stream.
    var tokenCount: Int { get }
    /// Writes tokens [from, from + count) to `into`.
    func copyTokens(from: Int, count: Int, into: UnsafeMutablePointer<Int32>)
    /// Called after each batch is gathered: a mapped corpus drops the pages it touched.
    func batchGathered()
}

extension TokenSource {
    /// Does nothing: the default, for sources held in memory.
    public func batchGathered() {}
}

extension ParallelData: PairSource {
    /// The number of pairs.
    public var pairCount: Int { pairs.count }
    /// Pair i's source and target lengths.
    public func lengths(_ i: Int) -> (src: Int, tgt: Int) { (pairs[i].src.count, pairs[i].tgt.count) }
    /// Writes pair i's ids to `source` and `target` (room for ``lengths(_:)`` ids each).
    public func copyPair(_ i: Int, source: UnsafeMutablePointer<Int32>, target: UnsafeMutablePointer<Int32>) {
        pairs[i].src.withUnsafeBufferPointer { source.update(from: $0.baseAddress!, count: $0.count) }
        pairs[i].tgt.withUnsafeBufferPointer { target.update(from: $0.baseAddress!, count: $0.count) }
    }
}

/// An in-memory token stream.
public struct TokenArray: TokenSource, Sendable {
    /// The tokens.
    public let tokens: [Int32]
    /// A stream over `tokens`.
    public init(_ tokens: [Int32]) { self.tokens = tokens }
    /// The number of tokens.
    public var tokenCount: Int { tokens.count }
    /// Writes tokens [from, from + count), which must be in range, to `into`.
    public func copyTokens(from: Int, count: Int, into: UnsafeMutablePointer<Int32>) {
        tokens.withUnsafeBufferPointer { into.update(from: $0.baseAddress! + from, count: count) }
    }
}

/// A contiguous part of another token stream (the training or validation share of a prepared text).
public struct TokenSlice: TokenSource {
    /// The stream this is a part of.
    public let base: any TokenSource
    /// The part of ``base``, as token indices.
    public let range: Range<Int>
    /// The tokens of `base` in `range` (which must lie inside it).
    public init(_ base: any TokenSource, _ range: Range<Int>) { self.base = base; self.range = range }
    /// The number of tokens in the slice.
    public var tokenCount: Int { range.count }
    /// Writes the slice's tokens [from, from + count) to `into`.
    public func copyTokens(from: Int, count: Int, into: UnsafeMutablePointer<Int32>) {
        base.copyTokens(from: range.lowerBound + from, count: count, into: into)
    }
    /// Passes the call on to ``base``.
    public func batchGathered() { base.batchGathered() }
}
