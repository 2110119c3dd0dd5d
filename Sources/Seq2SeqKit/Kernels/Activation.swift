/// Feed-forward non-linearities of the spec. GELU is the exact erf form, as PyTorch's default.
public enum Activation: String, Codable, Sendable, CaseIterable {
    case relu, gelu, silu
}

private let invSqrt2: Float = 0.707_106_781_186_547_5
private let invSqrt2Pi: Float = 0.398_942_280_401_432_7

/// y[n] = act(x[n]). Safe in place (y == x).
public func activationForward(_ y: FloatPtr, _ x: ConstFloatPtr, count n: Int, _ act: Activation) {
    let yp = SendablePointer(y), xp = SendablePointer(x)
    parallelRows(n, cost: act == .relu ? 1 : 8) { range in
        switch act {
        case .relu:
            mapSIMD(yp.p, xp.p, range) { v in v.replacing(with: 0, where: v .< 0) }
        case .gelu:
            mapSIMD(yp.p, xp.p, range) { v in 0.5 * v * (1 + simdErf(v * invSqrt2)) }
        case .silu:
            mapSIMD(yp.p, xp.p, range) { v in v / (1 + simdExp(-v)) }
        }
    }
}

/// dx[n] = dy[n] · act'(x[n]), with x the activation's input (dx is overwritten: the activation's
/// input feeds nothing else).
public func activationBackward(dx: FloatPtr, _ dy: ConstFloatPtr, _ x: ConstFloatPtr, count n: Int, _ act: Activation) {
    let dxp = SendablePointer(dx), dyp = SendablePointer(dy), xp = SendablePointer(x)
    parallelRows(n, cost: act == .relu ? 1 : 10) { range in
        var i = range.lowerBound
        // The SIMD body computes act'(x) · dy for 16 lanes; the tail reuses it on a padded vector.
        @inline(__always) func grad(_ v: SIMD16<Float>, _ g: SIMD16<Float>) -> SIMD16<Float> {
            switch act {
            case .relu:
                return g.replacing(with: 0, where: v .<= 0)
            case .gelu:  // d/dx [x Φ(x)] = Φ(x) + x φ(x)
                let cdf = 0.5 * (1 + simdErf(v * invSqrt2))
                let pdf = invSqrt2Pi * simdExp(-0.5 * v * v)
                return g * (cdf + v * pdf)
            case .silu:
                let s = 1 / (1 + simdExp(-v))
                return g * s * (1 + v * (1 - s))
            }
        }
        while i + 16 <= range.upperBound {
            store16(dxp.p + i, grad(load16(xp.p + i), load16(dyp.p + i)))
            i += 16
        }
        if i < range.upperBound {
            var v = SIMD16<Float>(repeating: 0), g = SIMD16<Float>(repeating: 0)
            for j in i..<range.upperBound { v[j - i] = xp.p[j]; g[j - i] = dyp.p[j] }
            let r = grad(v, g)
            for j in i..<range.upperBound { dxp.p[j] = r[j - i] }
        }
    }
}
