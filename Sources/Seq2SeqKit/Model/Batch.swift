/// A padded batch of token ids, row-major.
/// src [B, S] (empty for decoder-only), tgtIn [B, T] (decoder input, starts with bos),
/// tgtOut [B, T] (labels, pad where ignored).
public struct Batch: Sendable {
    public var batchSize: Int
    public var srcLength: Int
    public var tgtLength: Int
    public var src: [Int32]
    public var tgtIn: [Int32]
    public var tgtOut: [Int32]

    public init(batchSize: Int, srcLength: Int, tgtLength: Int, src: [Int32], tgtIn: [Int32], tgtOut: [Int32]) {
        precondition(src.count == batchSize * srcLength && tgtIn.count == batchSize * tgtLength
                     && tgtOut.count == tgtIn.count, "batch arrays do not match their shape")
        self.batchSize = batchSize; self.srcLength = srcLength; self.tgtLength = tgtLength
        self.src = src; self.tgtIn = tgtIn; self.tgtOut = tgtOut
    }

    /// Builds a padded batch from sentences: each source gets `</s>` appended when `srcEOS`;
    /// each target becomes tgtIn = [bos] + y and tgtOut = y + [eos].
    public init(sources: [[Int32]], targets: [[Int32]], pad: Int32, bos: Int32, eos: Int32, srcEOS: Bool = true) {
        let b = targets.count
        let s = sources.map { $0.count + (srcEOS ? 1 : 0) }.max() ?? 0
        let t = (targets.map { $0.count }.max() ?? 0) + 1
        var src = [Int32](repeating: pad, count: b * s)
        var tin = [Int32](repeating: pad, count: b * t), tout = tin
        for i in 0..<b {
            if !sources.isEmpty {
                for (j, id) in sources[i].enumerated() { src[i * s + j] = id }
                if srcEOS { src[i * s + sources[i].count] = eos }
            }
            tin[i * t] = bos
            for (j, id) in targets[i].enumerated() {
                tin[i * t + j + 1] = id
                tout[i * t + j] = id
            }
            tout[i * t + targets[i].count] = eos
        }
        self.init(batchSize: b, srcLength: sources.isEmpty ? 0 : s, tgtLength: t, src: src, tgtIn: tin, tgtOut: tout)
    }

    /// Non-pad label count (the tokens the loss averages over).
    public func targetTokens(pad: Int32) -> Int { tgtOut.reduce(0) { $0 + ($1 == pad ? 0 : 1) } }
    public func sourceTokens(pad: Int32) -> Int { src.reduce(0) { $0 + ($1 == pad ? 0 : 1) } }
}
