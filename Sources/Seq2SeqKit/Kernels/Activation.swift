import CKernels

/// Feed-forward non-linearities of the spec. GELU is the exact erf form, as PyTorch's default;
/// `gelu_tanh` is its tanh approximation (GPT-2's `gelu_new`, PyTorch's `approximate="tanh"`).
public enum Activation: String, Codable, Sendable, CaseIterable {
    case relu, gelu, silu
    case geluTanh = "gelu_tanh"
}

extension Activation {
    /// The CKernels code (S2S_ACT_*).
    var kernelCode: Int32 {
        switch self {
        case .relu: return Int32(S2S_ACT_RELU)
        case .gelu: return Int32(S2S_ACT_GELU)
        case .silu: return Int32(S2S_ACT_SILU)
        case .geluTanh: return Int32(S2S_ACT_GELU_TANH)
        }
    }
}

/// y[n] = act(x[n]). Safe in place (y == x).
public func activationForward(_ y: FloatPtr, _ x: ConstFloatPtr, count n: Int, _ act: Activation) {
    let yp = SendablePointer(y), xp = SendablePointer(x), code = act.kernelCode
    parallelRows(n, cost: act == .relu ? 1 : 8) { range in
        s2s_activation_forward(yp.p + range.lowerBound, xp.p + range.lowerBound, range.count, code)
    }
}

/// dx[n] = dy[n] · act'(x[n]), with x the activation's input (dx is overwritten: the activation's
/// input feeds nothing else).
public func activationBackward(dx: FloatPtr, _ dy: ConstFloatPtr, _ x: ConstFloatPtr, count n: Int, _ act: Activation) {
    let dxp = SendablePointer(dx), dyp = SendablePointer(dy), xp = SendablePointer(x), code = act.kernelCode
    parallelRows(n, cost: act == .relu ? 1 : 10) { range in
        let i = range.lowerBound
        s2s_activation_backward(dxp.p + i, dyp.p + i, xp.p + i, range.count, code)
    }
}
