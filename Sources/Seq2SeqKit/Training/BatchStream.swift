/// Where training batches come from; the position is part of the saved trainer state, so a
/// resumed run continues with exactly the batch it would have seen next.
public protocol BatchStream {
    /// The next training batch; `epochEnd` is true for the last batch of an epoch.
    mutating func next() -> (batch: Batch, epochEnd: Bool)
    var position: StreamPosition { get set }
    /// Batches for validation loss.
    func validationBatches() -> [Batch]
}

public struct StreamPosition: Codable, Equatable, Sendable {
    public var epoch = 1
    public var index = 0
    public var rng: RNG? = nil
}

/// Translation: bucketed token-budget batches over a parallel corpus, epoch by epoch.
public struct ParallelStream: BatchStream {
    let data: ParallelData
    let valid: ParallelData?
    let batcher: Batcher
    let config: ModelConfig
    public var position = StreamPosition()
    private var cachedEpoch = 0
    private var order: [[Int]] = []

    public init(data: ParallelData, valid: ParallelData?, batchTokens: Int, seed: UInt64, config: ModelConfig) {
        self.data = data; self.valid = valid; self.config = config
        batcher = Batcher(maxTokens: batchTokens, seed: seed)
    }

    public var batchesPerEpoch: Int { mutating get { ensure(); return order.count } }

    mutating func ensure() {
        if cachedEpoch != position.epoch {
            order = batcher.epoch(position.epoch, lengths: data.pairs.map { ($0.src.count + 1, $0.tgt.count + 1) })
            cachedEpoch = position.epoch
        }
    }

    func make(_ indices: [Int], from d: ParallelData) -> Batch {
        Batch(sources: indices.map { d.pairs[$0].src }, targets: indices.map { d.pairs[$0].tgt },
              pad: Int32(config.padId), bos: Int32(config.bosId), eos: Int32(config.eosId))
    }

    public mutating func next() -> (batch: Batch, epochEnd: Bool) {
        ensure()
        let b = make(order[position.index], from: data)
        position.index += 1
        let end = position.index >= order.count
        if end { position.epoch += 1; position.index = 0 }
        return (b, end)
    }

    public func validationBatches() -> [Batch] {
        guard let valid else { return [] }
        return Batcher(maxTokens: batcher.maxTokens, seed: 0).epoch(1, lengths: valid.pairs.map { ($0.src.count + 1, $0.tgt.count + 1) })
            .map { make($0, from: valid) }
    }
}

/// Language model: random contiguous blocks of a token stream, as nanoGPT samples them.
/// An "epoch" is as many blocks as the training text holds.
public struct BlockStream: BatchStream {
    let train: [Int32], valid: [Int32]
    let blockSize: Int, batchSize: Int, evalBatches: Int
    public var position: StreamPosition

    public init(train: [Int32], valid: [Int32], blockSize: Int, batchSize: Int, evalBatches: Int, seed: UInt64) {
        self.train = train; self.valid = valid; self.blockSize = blockSize; self.batchSize = batchSize
        self.evalBatches = evalBatches
        position = StreamPosition(epoch: 1, index: 0, rng: RNG(seed: seed))
    }

    public var batchesPerEpoch: Int { max(1, train.count / (blockSize * batchSize)) }

    static func block(_ tokens: [Int32], _ rng: inout RNG, size t: Int, batch b: Int) -> Batch {
        var x: [Int32] = [], y: [Int32] = []
        x.reserveCapacity(b * t); y.reserveCapacity(b * t)
        for _ in 0..<b {
            let i = Int(rng.next() % UInt64(tokens.count - t))
            x += tokens[i..<(i + t)]
            y += tokens[(i + 1)..<(i + t + 1)]
        }
        return Batch(batchSize: b, srcLength: 0, tgtLength: t, src: [], tgtIn: x, tgtOut: y)
    }

    public mutating func next() -> (batch: Batch, epochEnd: Bool) {
        var rng = position.rng!
        let b = Self.block(train, &rng, size: blockSize, batch: batchSize)
        position.rng = rng
        position.index += 1
        let end = position.index >= batchesPerEpoch
        if end { position.epoch += 1; position.index = 0 }
        return (b, end)
    }

    public func validationBatches() -> [Batch] {
        guard valid.count > blockSize + 1 else { return [] }
        var rng = RNG(seed: 12345)
        return (0..<evalBatches).map { _ in Self.block(valid, &rng, size: blockSize, batch: batchSize) }
    }
}
