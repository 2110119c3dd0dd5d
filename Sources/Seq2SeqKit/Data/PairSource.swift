/// A parallel corpus that batches are gathered from: in memory (`ParallelData`) or memory-mapped
/// (`PreparedCorpus`). Lengths exclude bos/eos.
public protocol PairSource {
    var pairCount: Int { get }
    func lengths(_ i: Int) -> (src: Int, tgt: Int)
    /// Writes pair i's source ids to `source` and its target ids to `target`.
    func copyPair(_ i: Int, source: UnsafeMutablePointer<Int32>, target: UnsafeMutablePointer<Int32>)
    /// Called after each batch is gathered: a mapped corpus drops the pages it touched.
    func batchGathered()
}

extension PairSource {
    public func batchGathered() {}
}

/// A token stream that language-model blocks are cut from.
public protocol TokenSource {
    var tokenCount: Int { get }
    /// Writes tokens [from, from + count) to `into`.
    func copyTokens(from: Int, count: Int, into: UnsafeMutablePointer<Int32>)
    func batchGathered()
}

extension TokenSource {
    public func batchGathered() {}
}

extension ParallelData: PairSource {
    public var pairCount: Int { pairs.count }
    public func lengths(_ i: Int) -> (src: Int, tgt: Int) { (pairs[i].src.count, pairs[i].tgt.count) }
    public func copyPair(_ i: Int, source: UnsafeMutablePointer<Int32>, target: UnsafeMutablePointer<Int32>) {
        pairs[i].src.withUnsafeBufferPointer { source.update(from: $0.baseAddress!, count: $0.count) }
        pairs[i].tgt.withUnsafeBufferPointer { target.update(from: $0.baseAddress!, count: $0.count) }
    }
}

/// An in-memory token stream.
public struct TokenArray: TokenSource, Sendable {
    public let tokens: [Int32]
    public init(_ tokens: [Int32]) { self.tokens = tokens }
    public var tokenCount: Int { tokens.count }
    public func copyTokens(from: Int, count: Int, into: UnsafeMutablePointer<Int32>) {
        tokens.withUnsafeBufferPointer { into.update(from: $0.baseAddress! + from, count: count) }
    }
}

/// A contiguous part of another token stream (the training or validation share of a prepared text).
public struct TokenSlice: TokenSource {
    public let base: any TokenSource
    public let range: Range<Int>
    public init(_ base: any TokenSource, _ range: Range<Int>) { self.base = base; self.range = range }
    public var tokenCount: Int { range.count }
    public func copyTokens(from: Int, count: Int, into: UnsafeMutablePointer<Int32>) {
        base.copyTokens(from: range.lowerBound + from, count: count, into: into)
    }
    public func batchGathered() { base.batchGathered() }
}
