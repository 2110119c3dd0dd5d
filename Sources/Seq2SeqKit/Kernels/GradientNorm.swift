import RealModule

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
