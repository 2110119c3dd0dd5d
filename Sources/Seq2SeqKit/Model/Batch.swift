/// A padded batch of token ids, row-major.
/// src [B, S] (empty for decoder-only), tgtIn [B, T] (decoder input, starts with bos),
/// tgtOut [B, T] (labels, pad where ignored).
public struct Batch: Sendable {
    /// Rows B (sentences, or language-model blocks).
    public var batchSize: Int
    /// Padded source length S (0 for a decoder-only batch).
    public var srcLength: Int
    /// Padded target length T.
    public var tgtLength: Int
    /// Source ids [B, S], row-major, padded with the pad id.
    public var src: [Int32]
    /// Decoder input ids [B, T], row-major.
    public var tgtIn: [Int32]
    /// Labels [B, T], row-major: the next token of each position, pad where no loss is taken.
    public var tgtOut: [Int32]

    /// A batch from its arrays; a precondition checks their counts against B, S and T.
    public init(batchSize: Int, srcLength: Int, tgtLength: Int, src: [Int32], tgtIn: [Int32], tgtOut: [Int32]) {
        precondition(src.count == batchSize * srcLength && tgtIn.count == batchSize * tgtLength
                     && tgtOut.count == tgtIn.count, "batch arrays do not match their shape")
        self.batchSize = batchSize; self.srcLength = srcLength; self.tgtLength = tgtLength
        self.src = src; self.tgtIn = tgtIn; self.tgtOut = tgtOut
    }

    /// Builds a padded batch from sentences: each source gets `</s>` appended when `srcEOS`;
    /// each target becomes tgtIn = [bos] + y and tgtOut = y + [eos].
    public init(sources: [[Int32]], targets: [[Int32]], pad: Int32, bos: Int32, eos: Int32, srcEOS: Bool = true) {
        self.init(rows: targets.count, hasSource: !sources.isEmpty, pad: pad, bos: bos, eos: eos, srcEOS: srcEOS,
                  lengths: { (sources.isEmpty ? 0 : sources[$0].count, targets[$0].count) }) { r, src, tgt in
            if let src { sources[r].withUnsafeBufferPointer { src.update(from: $0.baseAddress!, count: $0.count) } }
            targets[r].withUnsafeBufferPointer { tgt.update(from: $0.baseAddress!, count: $0.count) }
        }
    }

    /// The padded layout itself, for sentences held anywhere (arrays, a memory-mapped corpus):
    /// `lengths(r)` gives row r's source and target lengths (without eos/bos) and `fill(r, src, tgt)`
    /// writes its ids there (`src` is nil without a source side). Rows are as long as the longest.
    public init(rows b: Int, hasSource: Bool, pad: Int32, bos: Int32, eos: Int32, srcEOS: Bool = true,
                lengths: (Int) -> (src: Int, tgt: Int),
                fill: (Int, UnsafeMutablePointer<Int32>?, UnsafeMutablePointer<Int32>) -> Void) {
        var s = 0, t = 1
        for r in 0..<b {
            let l = lengths(r)
            s = max(s, l.src + (srcEOS ? 1 : 0)); t = max(t, l.tgt + 1)
        }
        if !hasSource { s = 0 }
        var src = [Int32](repeating: pad, count: b * s)
        var tin = [Int32](repeating: pad, count: b * t), tout = tin
        src.withUnsafeMutableBufferPointer { sp in
            tin.withUnsafeMutableBufferPointer { ip in
                tout.withUnsafeMutableBufferPointer { op in
                    for r in 0..<b {
                        let l = lengths(r)
                        let sr = hasSource ? sp.baseAddress! + r * s : nil
                        let ir = ip.baseAddress! + r * t, or = op.baseAddress! + r * t
                        fill(r, sr, ir + 1)
                        if let sr, srcEOS { sr[l.src] = eos }
                        ir[0] = bos
                        or.update(from: ir + 1, count: l.tgt)
                        or[l.tgt] = eos
                    }
                }
            }
        }
        self.init(batchSize: b, srcLength: s, tgtLength: t, src: src, tgtIn: tin, tgtOut: tout)
    }

    /// The batch with every row twice, the copies stacked after the originals ([2B, S] and [2B, T]):
    /// row b and row b + B are one sentence, so decoder position r and r + B·T are a pair. R-Drop's
    /// input (``Transformer/consistencyLoss(smoothing:alpha:gradScale:)``).
    public func doubled() -> Batch {
        Batch(batchSize: 2 * batchSize, srcLength: srcLength, tgtLength: tgtLength,
              src: src + src, tgtIn: tgtIn + tgtIn, tgtOut: tgtOut + tgtOut)
    }

    /// Non-pad label count (the tokens the loss averages over).
    public func targetTokens(pad: Int32) -> Int { tgtOut.reduce(0) { $0 + ($1 == pad ? 0 : 1) } }
    /// Non-pad source ids.
    public func sourceTokens(pad: Int32) -> Int { src.reduce(0) { $0 + ($1 == pad ? 0 : 1) } }
}
