import RealModule

/// Feed-forward non-linearities of the spec. GELU is the exact erf form, as PyTorch's default.
public enum Activation: String, Codable, Sendable, CaseIterable {
    case relu, gelu, silu
}

/// y[n] = act(x[n]). Safe in place (y == x).
public func activationForward(_ y: FloatPtr, _ x: ConstFloatPtr, count n: Int, _ act: Activation) {
    let yp = SendablePointer(y), xp = SendablePointer(x)
    parallelRows(n, cost: act == .relu ? 1 : 8) { range in
        let y = yp.p, x = xp.p
        switch act {
        case .relu:
            for i in range { y[i] = x[i] > 0 ? x[i] : 0 }
        case .gelu:
            for i in range { y[i] = 0.5 * x[i] * (1 + Float.erf(x[i] * 0.707_106_781_186_547_5)) }
        case .silu:
            for i in range { y[i] = x[i] / (1 + Float.exp(-x[i])) }
        }
    }
}

/// dx[n] += dy[n] · act'(x[n]), with x the activation's input.
public func activationBackward(dx: FloatPtr, _ dy: ConstFloatPtr, _ x: ConstFloatPtr, count n: Int, _ act: Activation) {
    let dxp = SendablePointer(dx), dyp = SendablePointer(dy), xp = SendablePointer(x)
    parallelRows(n, cost: act == .relu ? 1 : 10) { range in
        let dx = dxp.p, dy = dyp.p, x = xp.p
        switch act {
        case .relu:
            for i in range { dx[i] += x[i] > 0 ? dy[i] : 0 }
        case .gelu:
            // d/dx [x Φ(x)] = Φ(x) + x φ(x)
            for i in range {
                let v = x[i]
                let cdf = 0.5 * (1 + Float.erf(v * 0.707_106_781_186_547_5))
                let pdf = 0.398_942_280_401_432_7 * Float.exp(-0.5 * v * v)
                dx[i] += dy[i] * (cdf + v * pdf)
            }
        case .silu:
            for i in range {
                let s = 1 / (1 + Float.exp(-x[i]))
                dx[i] += dy[i] * s * (1 + x[i] * (1 - s))
            }
        }
    }
}
