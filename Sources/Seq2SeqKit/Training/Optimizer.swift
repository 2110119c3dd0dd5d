import CKernels
import RealModule

/// Adam / AdamW over the flat parameter buffer; the moments share the parameters' layout, so a
/// step is one loop. Weight decay (AdamW, decoupled) applies only to matrices, as nanoGPT does.
public final class AdamOptimizer {
    public struct Settings: Codable, Equatable, Sendable {
        public var beta1: Float = 0.9
        public var beta2: Float = 0.98
        public var eps: Float = 1e-9
        public var weightDecay: Float = 0
        public init(beta1: Float = 0.9, beta2: Float = 0.98, eps: Float = 1e-9, weightDecay: Float = 0) {
            self.beta1 = beta1; self.beta2 = beta2; self.eps = eps; self.weightDecay = weightDecay
        }
    }

    public var settings: Settings
    public let m: FloatBuffer, v: FloatBuffer
    public private(set) var step = 0
    /// 1 for tensors that take weight decay (2-D weights), 0 otherwise; laid out like the parameters.
    let decayMask: FloatBuffer

    public init(layout: ParameterLayout, settings: Settings) {
        self.settings = settings
        m = FloatBuffer(count: layout.totalCount)
        v = FloatBuffer(count: layout.totalCount)
        decayMask = FloatBuffer(count: layout.totalCount)
        for e in layout.entries where e.shape.count == 2 && !e.name.contains("embed_positions") {
            (decayMask.pointer + e.offset).update(repeating: 1, count: e.count)
        }
    }

    /// Restores moments and step count (from a checkpoint).
    public func restore(step: Int) { self.step = step }

    /// One update: p -= lr · (m̂ / (√v̂ + eps) + wd · p).
    public func update(_ params: FloatBuffer, _ grads: FloatBuffer, lr: Float) {
        step += 1
        let s = settings
        let b1 = s.beta1, b2 = s.beta2, eps = s.eps, wd = s.weightDecay
        let c1 = 1 - Float.pow(b1, Float(step)), c2 = 1 - Float.pow(b2, Float(step))
        let stepSize = lr / c1, c2r = 1 / c2.squareRoot()
        let P = SendablePointer(params.pointer), G = SendablePointer(grads.pointer)
        let M = SendablePointer(m.pointer), V = SendablePointer(v.pointer), D = SendablePointer(decayMask.pointer)
        let lrwd = lr * wd, decays = wd != 0
        // Sixteen lanes at a time (CKernels), the same operations in the same order as its scalar tail,
        // so every element gets the same bits either way.
        parallelRows(params.count, cost: 8) { range in
            let i = range.lowerBound
            s2s_adam(P.p + i, M.p + i, V.p + i, G.p + i, decays ? UnsafePointer(D.p + i) : nil, range.count,
                     b1, b2, stepSize, c2r, eps, lrwd)
        }
    }
}

/// The L2 norm of all gradients; scales them down to `maxNorm` when larger (maxNorm > 0).
/// Returns the norm before clipping (NaN or infinite when the gradients are).
/// Squares are summed in float32 over blocks of 4096 and the blocks' sums in double, in order: the
/// blocks are split over the threads, so the bits do not depend on the thread count.
@discardableResult
public func clipGradientNorm(_ grads: FloatBuffer, maxNorm: Float) -> Float {
    let block = 4096
    let n = grads.count, blocks = (n + block - 1) / block
    var partial = [Float](repeating: 0, count: blocks)
    let G = SendablePointer(grads.pointer)
    partial.withUnsafeMutableBufferPointer { pb in
        let P = SendablePointer(pb.baseAddress!)
        parallelRows(blocks, cost: block) { range in
            for b in range {
                var chunk: Float = 0
                for i in (b * block)..<min(n, (b + 1) * block) { chunk = Relaxed.multiplyAdd(G.p[i], G.p[i], chunk) }
                P.p[b] = chunk
            }
        }
    }
    var acc: Double = 0
    for c in partial { acc += Double(c) }
    let norm = Float(acc.squareRoot())
    if maxNorm > 0 && norm > maxNorm && norm.isFinite {
        let s = maxNorm / (norm + 1e-6)
        parallelRows(n, cost: 1) { range in
            for i in range { G.p[i] *= s }
        }
    }
    return norm
}
