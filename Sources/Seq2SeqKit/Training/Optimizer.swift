import RealModule

/// Adam / AdamW over the flat parameter buffer; the moments share the parameters' layout, so a
/// step is one loop. Weight decay (AdamW, decoupled) applies only to matrices, as nanoGPT does.
///
/// Not thread-safe: one optimizer belongs to one training loop.
public final class AdamOptimizer {
    /// Adam's hyperparameters.
    public struct Settings: Codable, Equatable, Sendable {
        /// Decay rate of the first moment (default 0.9).
        public var beta1: Float = 0.9
        /// Decay rate of the second moment (default 0.98).
        public var beta2: Float = 0.98
        /// Added to √v̂ in the denominator (default 1e-9).
        public var eps: Float = 1e-9
        /// Decoupled weight decay per unit of learning rate (AdamW), on 2-D weights other than learned
        /// positions; 0 (the default) is plain Adam.
        public var weightDecay: Float = 0
        /// Settings; the defaults are the Transformer paper's Adam (β1 0.9, β2 0.98, ε 1e-9), without decay.
        public init(beta1: Float = 0.9, beta2: Float = 0.98, eps: Float = 1e-9, weightDecay: Float = 0) {
            self.beta1 = beta1; self.beta2 = beta2; self.eps = eps; self.weightDecay = weightDecay
        }
    }

    /// The hyperparameters; a change applies from the next ``update(_:_:lr:bf16Copy:)``.
    public var settings: Settings
    /// The first and second moment estimates, laid out like the parameters (zero at the start).
    public let m: FloatBuffer, v: FloatBuffer
    /// Updates taken so far (the bias corrections use it).
    public private(set) var step = 0
    /// 1 for tensors that take weight decay (2-D weights), 0 otherwise; laid out like the parameters.
    let decayMask: FloatBuffer

    /// An optimizer for parameters laid out by `layout`, with zero moments.
    public init(layout: ParameterLayout, settings: Settings) {
        self.settings = settings
        m = FloatBuffer(count: layout.totalCount)
        v = FloatBuffer(count: layout.totalCount)
        decayMask = FloatBuffer(count: layout.totalCount)
        for e in layout.entries where e.shape.count == 2 && !e.name.contains("embed_positions") {
            (decayMask.pointer + e.offset).update(repeating: 1, count: e.count)
        }
    }

    /// Restores the step count (from a checkpoint); the moments are restored by writing into ``m``
    /// and ``v``.
    public func restore(step: Int) { self.step = step }

    /// One update: p -= lr · (m̂ / (√v̂ + eps) + wd · p); with `bf16Copy` (room for params.count
    /// values, such as ``Transformer/bf16ParameterCopy``), bf16 of the updated parameters is written there too.
    public func update(_ params: FloatBuffer, _ grads: FloatBuffer, lr: Float, bf16Copy: BF16Ptr? = nil) {
        step += 1
        let s = settings
        let b1 = s.beta1, b2 = s.beta2, eps = s.eps, wd = s.weightDecay
        let c1 = 1 - Float.pow(b1, Float(step)), c2 = 1 - Float.pow(b2, Float(step))
        let stepSize = lr / c1, c2r = 1 / c2.squareRoot()
        adamStep(params.pointer, m: m.pointer, v: v.pointer, grads: grads.pointer,
                 decayMask: wd != 0 ? UnsafePointer(decayMask.pointer) : nil, count: params.count,
                 beta1: b1, beta2: b2, stepSize: stepSize, rootC2: c2r, eps: eps, lrTimesDecay: lr * wd,
                 bf16Copy: bf16Copy)
    }
}
