// Activation storage for one forward/backward pass, planned from the batch shape.
// Every buffer is a FloatBuffer that grows when a larger batch arrives and is reused otherwise,
// so a steady training loop allocates nothing. Dims: N rows of this stack (B·T), M memory rows
// (B·S, cross-attention), D model width, F feed-forward width, P = B·H·Tq·Tk probabilities.

/// A sublayer wrapped with LayerNorm, dropout and the residual add.
final class ResidualActivations {
    let lnOut = FloatBuffer(count: 0)     // [N, D] pre: LN(x) (the sublayer's input); post: LN(sum) (the output)
    let mean = FloatBuffer(count: 0)      // [N]
    let rstd = FloatBuffer(count: 0)      // [N]
    let sub = FloatBuffer(count: 0)       // [N, D] the sublayer's output, dropout applied in place
    let dropMask = FloatBuffer(count: 0)  // [N, D]
    let sum = FloatBuffer(count: 0)       // [N, D] x + dropout(sub)

    func reserve(rows n: Int, d: Int, dropout: Bool) {
        for b in [lnOut, sub, sum] { b.reserve(n * d) }
        dropMask.reserve(dropout ? n * d : 0)
        mean.reserve(n)
        rstd.reserve(n)
    }

    /// The buffers `residualBlock` writes (valid until the next `reserve`).
    var buffers: ResidualBuffers {
        ResidualBuffers(lnOut: lnOut.pointer, mean: mean.pointer, rstd: rstd.pointer, sub: sub.pointer, sum: sum.pointer)
    }

    /// The block's output: the sum for pre-norm, LN(sum) for post-norm.
    func output(_ norm: ModelConfig.Norm) -> FloatPtr { norm == .pre ? sum.pointer : lnOut.pointer }
}

final class AttentionActivations {
    let q = FloatBuffer(count: 0)        // [N, D]
    let k = FloatBuffer(count: 0)        // [M, D]
    let v = FloatBuffer(count: 0)        // [M, D]
    let ctx = FloatBuffer(count: 0)      // [N, D]
    let probs = FloatBuffer(count: 0)    // [P]
    let dropped = FloatBuffer(count: 0)  // [P] probabilities after dropout (training with dropout only)
    let dropMask = FloatBuffer(count: 0) // [P]

    func reserve(rows n: Int, memoryRows m: Int, d: Int, probs p: Int, dropout: Bool) {
        q.reserve(n * d); ctx.reserve(n * d)
        k.reserve(m * d); v.reserve(m * d)
        probs.reserve(p)
        dropped.reserve(dropout ? p : 0); dropMask.reserve(dropout ? p : 0)
    }
}

final class LayerActivations {
    let selfBlock = ResidualActivations(), selfAttention = AttentionActivations()
    let crossBlock: ResidualActivations?, crossAttention: AttentionActivations?
    let ffnBlock = ResidualActivations()
    let ffnHidden = FloatBuffer(count: 0)     // [N, F] fc1 output, before the activation
    let ffnActivated = FloatBuffer(count: 0)  // [N, F]

    init(cross: Bool) {
        crossBlock = cross ? ResidualActivations() : nil
        crossAttention = cross ? AttentionActivations() : nil
    }
}

/// One stack's activations for a batch, a workspace grown on demand (a model has its own; every
/// decoder owns one for its encoder, so translators on different threads share none).
public final class StackActivations {
    let embedded = FloatBuffer(count: 0)  // [N, D] dropout(E[ids]·scale + P)
    let embedMask = FloatBuffer(count: 0) // [N, D]
    let wordKeep = FloatBuffer(count: 0)  // [N] word dropout's row factors (0 or 1/(1-p)) when `wordDropped`
    var wordDropped = false
    let layers: [LayerActivations]
    let finalOut = FloatBuffer(count: 0)  // [N, D] final LayerNorm (pre-norm)
    let finalMean = FloatBuffer(count: 0), finalRstd = FloatBuffer(count: 0)
    var ids: [Int32] = []                 // [B, T] the stack's input ids
    var keyValid: [UInt8] = []            // [B, T] 1 where the token is not padding
    var batch = 0, length = 0
    var rows: Int { batch * length }

    init(layers: Int, cross: Bool) {
        self.layers = (0..<layers).map { _ in LayerActivations(cross: cross) }
    }

    /// The stack's output [N, D] after a forward pass.
    func output(_ norm: ModelConfig.Norm) -> FloatPtr {
        if norm == .pre { return finalOut.pointer }
        return layers.last.map { $0.ffnBlock.output(norm) } ?? embedded.pointer
    }

    func reserve(batch b: Int, length t: Int, memoryLength s: Int, config c: ModelConfig, dropout rates: DropoutRates,
                 wordDropout: Bool = false) {
        batch = b; length = t
        let n = b * t, d = c.dModel
        let dropout = rates.residual > 0, attentionDropout = rates.attention > 0
        embedded.reserve(n * d)
        embedMask.reserve(dropout ? n * d : 0)
        wordKeep.reserve(wordDropout ? n : 0)
        finalOut.reserve(c.norm == .pre ? n * d : 0)
        finalMean.reserve(n); finalRstd.reserve(n)
        for l in layers {
            l.selfBlock.reserve(rows: n, d: d, dropout: dropout)
            l.selfAttention.reserve(rows: n, memoryRows: n, d: d, probs: b * c.nHeads * t * t, dropout: attentionDropout)
            l.crossBlock?.reserve(rows: n, d: d, dropout: dropout)
            l.crossAttention?.reserve(rows: n, memoryRows: b * s, d: d, probs: b * c.nHeads * t * s, dropout: attentionDropout)
            l.ffnBlock.reserve(rows: n, d: d, dropout: dropout)
            l.ffnHidden.reserve(n * c.dFF)
            l.ffnActivated.reserve(n * c.dFF)
        }
    }
}

/// Scratch for the backward pass, shared by both stacks (sized for the larger).
final class GradientScratch {
    let residualA = FloatBuffer(count: 0), residualB = FloatBuffer(count: 0)  // [N, D] residual-stream gradients
    let dSum = FloatBuffer(count: 0), dSub = FloatBuffer(count: 0), dSubIn = FloatBuffer(count: 0)  // [N, D]
    let dq = FloatBuffer(count: 0), dk = FloatBuffer(count: 0), dv = FloatBuffer(count: 0)  // [max(N, M), D]
    let dctx = FloatBuffer(count: 0)                                                       // [N, D]
    let dHidden = FloatBuffer(count: 0), dActivated = FloatBuffer(count: 0)                 // [N, F]
    let dMemory = FloatBuffer(count: 0)                                                     // [M, D] encoder output gradient

    func reserve(rows n: Int, memoryRows m: Int, d: Int, ff: Int) {
        let r = max(n, m)
        for b in [residualA, residualB, dSum, dSub, dSubIn, dctx] { b.reserve(r * d) }
        for b in [dq, dk, dv] { b.reserve(r * d) }
        dHidden.reserve(r * ff); dActivated.reserve(r * ff)
        dMemory.reserve(m * d)
    }
}
