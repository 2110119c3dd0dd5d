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
    activation(y, nil, x, count: n, act)
}

/// y16[n] = bf16(act(x[n])) alone: the activation of a mixed-precision pass, whose next product reads
/// bf16 and whose backward reads the activation's input, so the float32 output is never needed. The
/// same bits as `activationForward` then `convertToBF16`, in one pass over memory.
public func activationForwardBF16(_ y16: BF16Ptr, _ x: ConstFloatPtr, count n: Int, _ act: Activation) {
    activation(nil, y16, x, count: n, act)
}

private func activation(_ y: FloatPtr?, _ y16: BF16Ptr?, _ x: ConstFloatPtr, count n: Int, _ act: Activation) {
    let yp = y.map(SendablePointer.init), y16p = y16.map(SendablePointer.init), xp = SendablePointer(x)
    let code = act.kernelCode
    parallelRows(n, cost: act == .relu ? 1 : 8) { range in
        let i = range.lowerBound
        s2s_activation_forward(yp.map { $0.p + i }, y16p.map { $0.p + i }, xp.p + i, range.count, code)
    }
}

/// dx[n] = dy[n] · act'(x[n]), with x the activation's input (dx is overwritten: the activation's
/// input feeds nothing else); with `dx16`, bf16(dx) as well in the same pass (for the bf16 product
/// that differentiates the layer below; the same bits as `convertToBF16(dx)`).
public func activationBackward(dx: FloatPtr, bf16 dx16: BF16Ptr? = nil, _ dy: ConstFloatPtr, _ x: ConstFloatPtr,
                               count n: Int, _ act: Activation) {
    let dxp = SendablePointer(dx), dx16p = dx16.map(SendablePointer.init), dyp = SendablePointer(dy)
    let xp = SendablePointer(x), code = act.kernelCode
    parallelRows(n, cost: act == .relu ? 1 : 10) { range in
        let i = range.lowerBound
        s2s_activation_backward(dxp.p + i, dx16p.map { $0.p + i }, dyp.p + i, xp.p + i, range.count, code)
    }
}
