/// Decoding one token at a time with a KV cache: each decoder layer keeps the keys and values of
/// the tokens seen so far ([B, L, D] each, L the capacity), and the cross-attention keys and values
/// of the source, computed once per batch. Rows can be reordered (beam search) or dropped. Rows come
/// in groups of `group` (a sentence's beams) that share one source: cross-attention keys and values
/// are stored once per group. Rows and sources reach their caches through slot tables, so a reorder
/// copies a cache row only when a beam forks (one old row continued by several new ones).
/// Dims: B rows (sentences or beams), L cache capacity, S source length, D width, F ffn width, V vocabulary.
///
/// Not thread-safe: a decoder's caches and scratch buffers belong to one decoding at a time. Several
/// decoders (on different threads) may share one model.
public final class IncrementalDecoder {
    /// The model whose decoder (and, for the cross-attention keys and values, encoder output) this runs.
    public let model: Transformer
    /// Rows being decoded (B): sentences, or their beams after a widening ``reorder(_:group:)``.
    public private(set) var rows = 0
    /// Tokens each row's cache holds (L): `start`'s capacity, capped at max_positions.
    public private(set) var capacity = 0
    /// Tokens processed so far (the position of the next token).
    public private(set) var length = 0
    var sourceLength = 0
    /// Consecutive rows that share a source (the beam size); sources = rows / group.
    public private(set) var group = 1

    // Per layer: self-attention cache and cross-attention keys/values.
    var selfK: [FloatBuffer], selfV: [FloatBuffer]
    var crossK: [FloatBuffer], crossV: [FloatBuffer]
    var sourceValid: [UInt8] = []   // [source slots, S]
    var sourceLengths: [Int] = []   // [source slots]: keys up to the last valid one
    /// The model's panel copies of its linear layers, taken at `start`.
    var panels: DecodingPanels?
    /// Cache slot of each row (self-attention) and of each row's source (cross-attention), and the
    /// free self-attention slots. They change only in start and reorder.
    var slot: [Int] = [], rowSourceSlot: [Int] = [], freeSlots: [Int] = []

    // Scratch for one step.
    let x = FloatBuffer(count: 0), h = FloatBuffer(count: 0), q = FloatBuffer(count: 0)
    let ctx = FloatBuffer(count: 0), sub = FloatBuffer(count: 0), hidden = FloatBuffer(count: 0)
    let mean = FloatBuffer(count: 0), rstd = FloatBuffer(count: 0)
    /// The last step's logits [rows, V_tgt], row-major; overwritten by each ``step(_:)``.
    public let logits = FloatBuffer(count: 0)  // [B, V]

    /// When set, attention probabilities of each step are handed to this observer
    /// (layer, cross?, row, head, probabilities over keys). Off by default: no cost when nil.
    public var attentionObserver: ((Int, Bool, Int, Int, UnsafeBufferPointer<Float>) -> Void)?

    /// The encoder's activations for this decoder's sources (each decoder owns one: see `Transformer.encode`).
    public let encoderWorkspace: StackActivations?

    /// Creates a decoder for `model`; its caches are allocated (and grown) by
    /// ``start(rows:capacity:memory:sourceLength:sourceValid:group:maxRows:)``.
    public init(model: Transformer) {
        self.model = model
        encoderWorkspace = model.config.isDecoderOnly ? nil : StackActivations(layers: model.config.encoderLayers, cross: false)
        let n = model.config.decoderLayers
        selfK = (0..<n).map { _ in FloatBuffer(count: 0) }
        selfV = (0..<n).map { _ in FloatBuffer(count: 0) }
        crossK = (0..<n).map { _ in FloatBuffer(count: 0) }
        crossV = (0..<n).map { _ in FloatBuffer(count: 0) }
    }

    /// Starts decoding `rows` sequences of up to `capacity` tokens. For an encoder-decoder model,
    /// `memory` is the encoder output [rows / group, S, D] with `sourceValid` [rows / group, S]:
    /// rows g·group ..< (g+1)·group all read source g. `maxRows` (≥ rows) plans for a later
    /// `reorder` that widens the batch (beam search starts with one row per sentence).
    public func start(rows b: Int, capacity l: Int, memory: ConstFloatPtr? = nil, sourceLength s: Int = 0,
                      sourceValid valid: [UInt8] = [], group: Int = 1, maxRows: Int? = nil) {
        let c = model.config, d = c.dModel
        precondition(b % group == 0, "rows must be a multiple of the group size")
        let planned = max(b, maxRows ?? b)
        rows = b; capacity = min(l, c.maxPositions); length = 0; sourceLength = s
        panels = model.decodingPanels()
        self.group = group
        sourceValid = valid
        let sources = b / group
        // Each source's keys end at its last valid position: cross-attention never reads the padding
        // of its batch, so a sentence's probabilities do not depend on its neighbours' lengths.
        sourceLengths = s > 0 && !valid.isEmpty ? valid.withUnsafeBufferPointer {
            validKeyLengths($0.baseAddress!, sequences: valid.count / s, length: s)
        } : []
        slot = Array(0..<b); freeSlots = Array((b..<planned).reversed()); rowSourceSlot = (0..<b).map { $0 / group }
        for i in 0..<c.decoderLayers {
            selfK[i].reserve(planned * capacity * d)
            selfV[i].reserve(planned * capacity * d)
        }
        for buf in [x, h, q, ctx, sub] { buf.reserve(planned * d) }
        hidden.reserve(planned * c.dFF)
        mean.reserve(planned); rstd.reserve(planned)
        logits.reserve(planned * c.tgtVocabSize)
        if let memory, let ref = model.decoderRef.layers.first, ref.crossAttention != nil {
            for (i, lr) in model.decoderRef.layers.enumerated() {
                let w = lr.crossAttention!
                crossK[i].reserve(sources * s * d)
                crossV[i].reserve(sources * s * d)
                model.linear(crossK[i].pointer, memory, w.k, rows: sources * s, panels: panels)
                model.linear(crossV[i].pointer, memory, w.v, rows: sources * s, panels: panels)
            }
        }
    }

    /// Feeds one token per row at position `length` and returns the logits [B, V] of the next token.
    /// The layers are the model's own blocks (StackBlocks.swift) over this decoder's step scratch,
    /// with cached attention as the attention sublayers.
    @discardableResult
    public func step(_ tokens: [Int32]) -> FloatPtr {
        precondition(tokens.count == rows && length < capacity, "decoder step outside its plan")
        return advance(tokens, perRow: 1)
    }

    /// Feeds `tokens[r]` to row r (every row the same number T of tokens) at positions
    /// `length ..< length + T`, and returns the logits [B, V] after each row's last token: a prompt,
    /// or a forced prefix, in a few products over many rows instead of T steps of one. The values are
    /// those of T calls of ``step(_:)``, bit for bit: every kernel computes a row the same way
    /// whatever the number of rows beside it (see InvariantLinear.swift), and each query attends to
    /// the same cached keys. Long inputs go in chunks of at most ``prefillRows`` rows × tokens.
    /// The attention observer sees every query: row r's token j is reported as row r (in order).
    @discardableResult
    public func prefill(_ tokens: [[Int32]]) -> FloatPtr {
        let t = tokens.first?.count ?? 0
        precondition(tokens.count == rows && t > 0 && tokens.allSatisfy { $0.count == t } && length + t <= capacity,
                     "decoder prefill outside its plan")
        let chunk = max(1, min(t, Self.prefillRows / max(rows, 1)))
        var out = logits.pointer
        for a in stride(from: 0, to: t, by: chunk) {
            let n = min(chunk, t - a)
            var ids = [Int32](repeating: 0, count: rows * n)
            for r in 0..<rows { for j in 0..<n { ids[r * n + j] = tokens[r][a + j] } }
            out = advance(ids, perRow: n)
        }
        return out
    }

    /// Rows × tokens that one pass of ``prefill(_:)`` computes at most (its scratch grows to that).
    public static let prefillRows = 1024

    /// ids [B, n] (row-major) at positions length ..< length + n; returns the logits after each row's last.
    private func advance(_ ids: [Int32], perRow n: Int) -> FloatPtr {
        let c = model.config, d = c.dModel, b = rows, nr = b * n, ref = model.decoderRef
        if n > 1 {
            for buf in [x, h, q, ctx, sub] { _ = buf.reserve(nr * d) }
            _ = hidden.reserve(nr * c.dFF); _ = mean.reserve(nr); _ = rstd.reserve(nr)
        }
        ids.withUnsafeBufferPointer { tp in
            model.embed(x.pointer, ids: tp.baseAddress!, ref, batch: b, length: n, start: length)  // [B, n] -> [B·n, D]
        }
        // Every block updates x in place: pre-norm adds the sublayer into x, post-norm normalizes the
        // sum (in h) back into x.
        let block = c.norm == .pre
            ? ResidualBuffers(lnOut: h.pointer, mean: mean.pointer, rstd: rstd.pointer, sub: sub.pointer, sum: x.pointer)
            : ResidualBuffers(lnOut: x.pointer, mean: mean.pointer, rstd: rstd.pointer, sub: sub.pointer, sum: h.pointer)
        for (i, lr) in ref.layers.enumerated() {
            _ = model.residualBlock(x: x.pointer, norm: lr.selfNorm, rows: nr, block) { hIn, out in
                selfAttention(layer: i, lr.selfAttention, hIn, out, perRow: n)
            }
            if let cr = lr.crossAttention, let cn = lr.crossNorm {
                _ = model.residualBlock(x: x.pointer, norm: cn, rows: nr, block) { hIn, out in
                    crossAttention(layer: i, cr, hIn, out, perRow: n)
                }
            }
            _ = model.residualBlock(x: x.pointer, norm: lr.ffnNorm, rows: nr, block) { hIn, out in
                model.feedForward(lr, x: hIn, rows: nr, hidden: hidden.pointer, activated: hidden.pointer, out: out) {
                    model.linear($0, $1, $2, rows: $3, panels: panels)
                }
            }
        }
        // Only each row's last position is projected: [B, D] -> [B, V].
        if n > 1 { for r in 0..<b { (x.pointer + r * d).update(from: x.pointer + (r * n + n - 1) * d, count: d) } }
        let top = model.finalNorm(ref, x: x.pointer, out: h.pointer, mean: mean.pointer, rstd: rstd.pointer, rows: b)
        model.projectOutput(logits.pointer, top, rows: b, panels: panels)
        length += n
        return logits.pointer
    }

    private func selfAttention(layer i: Int, _ w: AttentionRef, _ hIn: ConstFloatPtr, _ out: FloatPtr, perRow n: Int) {
        let d = model.config.dModel, b = rows, t = length, cap = capacity
        // The new keys and values go straight into the cache at positions t ..< t + n of each row.
        model.linear(q.pointer, hIn, w.k, rows: b * n, panels: panels)
        for r in 0..<b { (selfK[i].pointer + (slot[r] * cap + t) * d).update(from: q.pointer + r * n * d, count: n * d) }
        model.linear(q.pointer, hIn, w.v, rows: b * n, panels: panels)
        for r in 0..<b { (selfV[i].pointer + (slot[r] * cap + t) * d).update(from: q.pointer + r * n * d, count: n * d) }
        model.linear(q.pointer, hIn, w.q, rows: b * n, panels: panels)
        attend(layer: i, cross: false, keys: selfK[i].pointer, values: selfV[i].pointer, slots: slot, rowStride: cap * d,
               perRow: n, count: t + 1, valid: nil)
        model.linear(out, ctx.pointer, w.out, rows: b * n, panels: panels)
    }

    private func crossAttention(layer i: Int, _ w: AttentionRef, _ hIn: ConstFloatPtr, _ out: FloatPtr, perRow n: Int) {
        let d = model.config.dModel, s = sourceLength
        model.linear(q.pointer, hIn, w.q, rows: rows * n, panels: panels)
        attend(layer: i, cross: true, keys: crossK[i].pointer, values: crossV[i].pointer, slots: rowSourceSlot,
               rowStride: s * d, perRow: n, count: s, valid: sourceValid, lengths: sourceLengths)
        model.linear(out, ctx.pointer, w.out, rows: rows * n, panels: panels)
    }

    /// ctx[r·n + j, head] = softmax(q[r·n + j, head] · K[m, :count_j, head]ᵀ / √Dh + mask) · V[m, :count_j, head],
    /// m = slots[r] (the row's cache slot), for each row's n queries: self-attention's query j sees
    /// `count + j` keys (itself and what precedes it), cross-attention's all `count`. Small dot
    /// products, so plain SIMD loops rather than BLAS calls, walking each cached key and value row
    /// once, in order, for all heads together (head by head, the four heads' passes over the same rows
    /// were slower: the cache does not stay in L3). Query rows are split between threads when there
    /// are enough of them (each one's values do not depend on the split).
    /// `valid` [slots, count] masks keys; `lengths[m]` (≤ count), when given, is slot m's number of keys.
    private func attend(layer: Int, cross: Bool, keys: FloatPtr, values: FloatPtr, slots: [Int], rowStride: Int, perRow n: Int,
                        count stride: Int, valid: [UInt8]?, lengths: [Int]? = nil) {
        let c = model.config, d = c.dModel, dh = c.headDim, heads = c.nHeads
        let scale = 1 / Float(dh).squareRoot()
        let observe = attentionObserver
        let C = SendablePointer(ctx.pointer), Q = SendablePointer(q.pointer), K = SendablePointer(keys), V = SendablePointer(values)
        let widest = cross ? stride : stride + n - 1
        let body: (Range<Int>) -> Void = { range in
            let p = ThreadScratch.buffer(heads * max(widest, 1)).pointer  // [heads, count]
            for qr in range {
                let r = qr / n, j = qr % n, m = slots[r]
                let count = cross ? (lengths?[m] ?? stride) : stride + j
                if count == 0 {  // a source of padding only: nothing to attend to
                    (C.p + qr * d).update(repeating: 0, count: d)
                    continue
                }
                let kb = UnsafePointer(K.p + m * rowStride), vb = UnsafePointer(V.p + m * rowStride)
                headScores(p, UnsafePointer(Q.p + qr * d), keys: kb, count: count, heads: heads, headDim: dh, scale: scale)
                for hd in 0..<heads {
                    let ph = p + hd * count
                    if let valid {
                        for k in 0..<count where valid[m * stride + k] == 0 { ph[k] = -.infinity }
                    }
                    softmaxRow(ph, ph, count)
                    observe?(layer, cross, r, hd, UnsafeBufferPointer(start: ph, count: count))
                }
                headWeightedSum(C.p + qr * d, UnsafePointer(p), values: vb, count: count, heads: heads, headDim: dh)
            }
        }
        if observe != nil { body(0..<(rows * n)) } else { parallelRows(rows * n, cost: widest * d * 4, body) }
    }

    /// Keeps rows `order` (new row i is old row order[i]): beam search reorders, prunes and forks
    /// rows this way. New rows g·newGroup ..< (g+1)·newGroup must come from one old group (one
    /// source); `newGroup` widens groups (one row per sentence → its beams). Only the slot tables
    /// change, except that each extra continuation of a forked row gets a copy of its filled cache.
    public func reorder(_ order: [Int], group newGroup: Int? = nil) {
        let c = model.config, d = c.dModel, g = newGroup ?? group
        precondition(order.count % g == 0 && order.count <= slot.count + freeSlots.count, "reorder outside the plan")
        var used = [Bool](repeating: false, count: rows)
        var newSlot = [Int](repeating: -1, count: order.count)
        for (i, o) in order.enumerated() where !used[o] { used[o] = true; newSlot[i] = slot[o] }
        for o in 0..<rows where !used[o] { freeSlots.append(slot[o]) }
        for (i, o) in order.enumerated() where newSlot[i] < 0 {
            let to = freeSlots.removeLast(), from = slot[o]
            for l in 0..<c.decoderLayers {
                for buf in [selfK[l], selfV[l]] {
                    (buf.pointer + to * capacity * d).update(from: buf.pointer + from * capacity * d, count: length * d)
                }
            }
            newSlot[i] = to
        }
        slot = newSlot
        rowSourceSlot = order.map { rowSourceSlot[$0] }
        group = g
        rows = order.count
    }
}
