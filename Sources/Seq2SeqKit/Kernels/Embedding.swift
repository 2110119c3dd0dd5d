import RealModule

// Token embedding plus positions. Dims: B batch, T positions, V vocabulary, D model width.

/// The spec's sinusoidal table, half sine then half cosine: for h = D/2 and i < h,
/// P[pos, i] = sin(pos / 10000^(2i/D)), P[pos, h + i] = cos(same). Written to p[P, D].
public func sinusoidalPositions(_ p: FloatPtr, positions: Int, dModel d: Int) {
    let h = d / 2
    for pos in 0..<positions {
        for i in 0..<h {
            let angle = Double(pos) / Double.pow(10000, Double(2 * i) / Double(d))
            p[pos * d + i] = Float(Double.sin(angle))
            p[pos * d + h + i] = Float(Double.cos(angle))
        }
    }
}

/// out[B·T, D] = E[ids[b, t]] · scale + P[start + t].  ids are Int32 [B, T].
public func embeddingForward(
    _ out: FloatPtr, ids: UnsafePointer<Int32>, table: ConstFloatPtr, positions: ConstFloatPtr,
    scale: Float, batch b: Int, length t: Int, dModel d: Int, start: Int = 0
) {
    for r in 0..<b {
        for s in 0..<t {
            let o = out + (r * t + s) * d
            let e = table + Int(ids[r * t + s]) * d
            let p = positions + (start + s) * d
            for j in 0..<d { o[j] = e[j] * scale + p[j] }
        }
    }
}

/// Scatter-add backward: dE[ids[b, t]] += dout · scale; dP[t] += dout when positions are learned.
public func embeddingBackward(
    dTable: FloatPtr, dPositions: FloatPtr?, _ dout: ConstFloatPtr, ids: UnsafePointer<Int32>,
    scale: Float, batch b: Int, length t: Int, dModel d: Int
) {
    for r in 0..<b {
        for s in 0..<t {
            let g = dout + (r * t + s) * d
            let e = dTable + Int(ids[r * t + s]) * d
            for j in 0..<d { e[j] += g[j] * scale }
            if let dPositions {
                let p = dPositions + s * d
                for j in 0..<d { p[j] += g[j] }
            }
        }
    }
}
