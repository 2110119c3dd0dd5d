/// Where training batches come from; the position is part of the saved trainer state, so a
/// resumed run continues with exactly the batch it would have seen next.
public protocol BatchStream {
    /// The next training batch, or only its token counts when `materialize` is false (a rank of a
    /// distributed run skips the batches other ranks take, without gathering them).
    mutating func next(materialize: Bool) -> DrawnBatch
    /// Where the stream is: saved in checkpoints, and set on resuming to continue from there.
    var position: StreamPosition { get set }
    /// Batches for validation loss.
    func validationBatches() -> [Batch]
}

/// One draw from a stream. The counts come from sentence lengths, so every rank computes the
/// same global count for batches it did not gather.
public struct DrawnBatch {
    /// The batch, or nil when it was drawn without materializing.
    public var batch: Batch?
    /// Labels the loss averages over (target tokens + eos) and source tokens (+ eos).
    public var targetTokens: Int
    /// Source tokens of the batch, one eos per sentence included (0 for a language model).
    public var sourceTokens: Int
    /// True for the last batch of an epoch.
    public var epochEnd: Bool
}

extension BatchStream {
    /// The next training batch, materialized, and whether it ends an epoch.
    public mutating func next() -> (batch: Batch, epochEnd: Bool) {
        let d = next(materialize: true)
        return (d.batch!, d.epochEnd)
    }
}

/// A batch stream's place: saved in the trainer state so that a resumed run draws the same batches.
public struct StreamPosition: Codable, Equatable, Sendable {
    /// The current epoch, from 1.
    public var epoch = 1
    /// The next batch's index within the epoch.
    public var index = 0
    /// The random generator's state of a stream that samples (``BlockStream``); nil for ``ParallelStream``.
    public var rng: RNG? = nil
}

/// Translation: bucketed token-budget batches over a parallel corpus (memory-mapped or in memory),
/// epoch by epoch.
public struct ParallelStream: BatchStream {
    /// The training pairs (the current epoch's, with BPE-dropout).
    private(set) var data: PairSource
    let resampled: BPEDropoutCorpus?
    let valid: PairSource?
    let batcher: Batcher
    let config: ModelConfig
    /// The epoch and the batch index within it (``StreamPosition/rng`` stays nil).
    public var position = StreamPosition()
    private var cachedEpoch = 0
    private var plan = Batcher.Plan()

    /// A stream over the training pairs `data` (and the validation pairs `valid`, if any).
    /// - Parameters:
    ///   - data: The training pairs, as token ids without bos/eos.
    ///   - valid: Pairs for the validation loss; nil: none.
    ///   - batchTokens: The token budget of a batch (see ``Batcher``).
    ///   - seed: Seeds the order of the batches (see ``Batcher``).
    ///   - config: Supplies the pad, bos and eos ids.
    ///   - resampled: With BPE-dropout, the text that each epoch segments anew; its pairs replace `data`.
    public init(data: PairSource, valid: PairSource?, batchTokens: Int, seed: UInt64, config: ModelConfig,
                resampled: BPEDropoutCorpus? = nil) {
        self.data = data; self.valid = valid; self.config = config; self.resampled = resampled
        batcher = Batcher(maxTokens: batchTokens, seed: seed)
    }

    /// The number of batches in the current epoch (planning it if needed).
    public var batchesPerEpoch: Int { mutating get { ensure(); return plan.count } }

    mutating func ensure() {
        if cachedEpoch != position.epoch {
            plan = Batcher.Plan()  // free the old plan before making the next
            if let r = resampled { data = r.pairs(epoch: position.epoch) }
            plan = batcher.plan(epoch: position.epoch, source: data)
            cachedEpoch = position.epoch
        }
    }

    /// A padded batch gathered straight from the corpus (see `Batch`'s layout).
    static func gather(_ rows: ArraySlice<UInt32>, from d: PairSource, config: ModelConfig) -> Batch {
        let first = rows.startIndex
        return Batch(rows: rows.count, hasSource: true, pad: Int32(config.padId), bos: Int32(config.bosId), eos: Int32(config.eosId),
                     lengths: { d.lengths(Int(rows[first + $0])) }) { r, src, tgt in
            d.copyPair(Int(rows[first + r]), source: src!, target: tgt)
        }
    }

    /// The batch at ``position``, then advances the position (to the next epoch after its last batch).
    public mutating func next(materialize: Bool) -> DrawnBatch {
        ensure()
        let rows = plan.batch(position.index)
        var st = 0, tt = 0
        for i in rows { let l = data.lengths(Int(i)); st += l.src + 1; tt += l.tgt + 1 }
        let b = materialize ? Self.gather(rows, from: data, config: config) : nil
        if materialize { data.batchGathered() }
        position.index += 1
        let end = position.index >= plan.count
        if end { position.epoch += 1; position.index = 0 }
        return DrawnBatch(batch: b, targetTokens: tt, sourceTokens: st, epochEnd: end)
    }

    /// The validation pairs in token-budget batches, always in the same order; empty without validation pairs.
    public func validationBatches() -> [Batch] {
        guard let valid else { return [] }
        let p = Batcher(maxTokens: batcher.maxTokens, seed: 0).plan(epoch: 1, source: valid)
        return (0..<p.count).map { Self.gather(p.batch($0), from: valid, config: config) }
    }
}

/// Language model: random contiguous blocks of a token stream, as nanoGPT samples them.
/// An "epoch" is as many blocks as the training text holds.
public struct BlockStream: BatchStream {
    let train: any TokenSource, valid: any TokenSource
    let blockSize: Int, batchSize: Int, evalBatches: Int
    /// The epoch, the batch index and the random generator's state.
    public var position: StreamPosition

    /// A stream over token sources.
    /// - Parameters:
    ///   - train: The training tokens; they must outnumber `blockSize`.
    ///   - valid: The validation tokens.
    ///   - blockSize: Tokens per block (T).
    ///   - batchSize: Blocks per batch (B).
    ///   - evalBatches: Validation batches, drawn with a fixed seed.
    ///   - seed: Seeds the random block starts.
    public init(train: any TokenSource, valid: any TokenSource, blockSize: Int, batchSize: Int, evalBatches: Int, seed: UInt64) {
        self.train = train; self.valid = valid; self.blockSize = blockSize; self.batchSize = batchSize
        self.evalBatches = evalBatches
        position = StreamPosition(epoch: 1, index: 0, rng: RNG(seed: seed))
    }

    /// The same over token arrays in memory.
    public init(train: [Int32], valid: [Int32], blockSize: Int, batchSize: Int, evalBatches: Int, seed: UInt64) {
        self.init(train: TokenArray(train), valid: TokenArray(valid), blockSize: blockSize, batchSize: batchSize,
                  evalBatches: evalBatches, seed: seed)
    }

    /// Training tokens / (blockSize × batchSize), at least 1.
    public var batchesPerEpoch: Int { max(1, train.tokenCount / (blockSize * batchSize)) }

    /// `b` blocks of `t` tokens at random starts; x is a block, y the same block one token later.
    static func block(_ tokens: any TokenSource, _ rng: inout RNG, size t: Int, batch b: Int, materialize: Bool = true) -> Batch? {
        guard materialize else {
            for _ in 0..<b { _ = rng.next() }
            return nil
        }
        var x = [Int32](repeating: 0, count: b * t), y = x
        let span = UInt64(tokens.tokenCount - t)
        var window = [Int32](repeating: 0, count: t + 1)
        for r in 0..<b {
            let i = Int(rng.next() % span)
            window.withUnsafeMutableBufferPointer { w in
                tokens.copyTokens(from: i, count: t + 1, into: w.baseAddress!)
                x.withUnsafeMutableBufferPointer { $0.baseAddress!.advanced(by: r * t).update(from: w.baseAddress!, count: t) }
                y.withUnsafeMutableBufferPointer { $0.baseAddress!.advanced(by: r * t).update(from: w.baseAddress! + 1, count: t) }
            }
        }
        return Batch(batchSize: b, srcLength: 0, tgtLength: t, src: [], tgtIn: x, tgtOut: y)
    }

    /// `batchSize` blocks at random starts ([B, T] inputs and their next tokens as labels); the random
    /// generator advances even when the batch is not materialized.
    public mutating func next(materialize: Bool) -> DrawnBatch {
        var rng = position.rng!
        let b = Self.block(train, &rng, size: blockSize, batch: batchSize, materialize: materialize)
        if materialize { train.batchGathered() }
        position.rng = rng
        position.index += 1
        let end = position.index >= batchesPerEpoch
        if end { position.epoch += 1; position.index = 0 }
        return DrawnBatch(batch: b, targetTokens: blockSize * batchSize, sourceTokens: 0, epochEnd: end)
    }

    /// `evalBatches` batches of random validation blocks, the same at every call (a fixed seed); empty when
    /// the validation text is not longer than a block plus one token.
    public func validationBatches() -> [Batch] {
        guard valid.tokenCount > blockSize + 1 else { return [] }
        var rng = RNG(seed: 12345)
        return (0..<evalBatches).map { _ in Self.block(valid, &rng, size: blockSize, batch: batchSize)! }
    }
}
