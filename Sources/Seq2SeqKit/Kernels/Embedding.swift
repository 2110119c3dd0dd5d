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

/// out[B·T, D] = E[ids[b, t]] · scale · k[b, t] + P[start + t].  ids are Int32 [B, T]; `rowScale`
/// k [B·T] (word dropout: 0 for a dropped word, 1/(1-p) for a kept one) is 1 when nil. A dropped
/// word keeps its position.
public func embeddingForward(
    _ out: FloatPtr, ids: UnsafePointer<Int32>, table: ConstFloatPtr, positions: ConstFloatPtr,
    scale: Float, batch b: Int, length t: Int, dModel d: Int, start: Int = 0, rowScale: ConstFloatPtr? = nil
) {
    let O = SendablePointer(out), I = SendablePointer(ids), E = SendablePointer(table), P = SendablePointer(positions)
    let K = rowScale.map { SendablePointer($0) }
    parallelRows(b * t, cost: d) { rows in
        for row in rows {
            let s = row % t
            let o = O.p + row * d
            let e = E.p + Int(I.p[row]) * d
            let p = P.p + (start + s) * d
            let k = K.map { scale * $0.p[row] } ?? scale
            for j in 0..<d { o[j] = e[j] * k + p[j] }
        }
    }
}

/// Scatter-add backward: dE[ids[b, t]] += dout · scale · k[b, t] (`rowScale` k as in the forward
/// pass; 1 when nil); dP[t] += dout when positions are learned.
/// Rows that share a token add into one table row, so the threads split the columns instead: each
/// element still receives its rows in order (the same bits on any thread count).
public func embeddingBackward(
    dTable: FloatPtr, dPositions: FloatPtr?, _ dout: ConstFloatPtr, ids: UnsafePointer<Int32>,
    scale: Float, batch b: Int, length t: Int, dModel d: Int, rowScale: ConstFloatPtr? = nil
) {
    let DT = SendablePointer(dTable), DP = dPositions.map { SendablePointer($0) }
    let G = SendablePointer(dout), I = SendablePointer(ids), K = rowScale.map { SendablePointer($0) }
    parallelRows((d + 15) / 16, cost: b * t * 16) { blocks in
        let lo = blocks.lowerBound * 16, hi = min(d, blocks.upperBound * 16)
        for row in 0..<(b * t) {
            let g = G.p + row * d
            let e = DT.p + Int(I.p[row]) * d
            let k = K.map { scale * $0.p[row] } ?? scale
            if k != 0 { for j in lo..<hi { e[j] += g[j] * k } }
            if let DP {
                let p = DP.p + (row % t) * d
                for j in lo..<hi { p[j] += g[j] }
            }
        }
    }
}
