/// The number format of a training pass's matrix products.
public enum Precision: String, CaseIterable, Sendable, Codable {
    /// Every product in float32.
    case float32
    /// Mixed precision: the operands of the linear layers' and the output projection's products
    /// (forward and both backward products) rounded to bfloat16, their sums in float32; weights,
    /// Adam moments, LayerNorm, softmax, attention and the loss stay float32, as under PyTorch's
    /// bf16 autocast with float32 master weights.
    case bf16
    /// ``bf16`` where it pays, else ``float32`` (``Precision/bf16Pays``: AMX, or AVX512_BF16 on an AMD
    /// processor, and oneDNN). A run records the precision it resolved to (train.json), never `auto`.
    case auto

    /// What ``auto`` means on this processor and build; the other cases are themselves.
    public var resolved: Precision {
        guard self == .auto else { return self }
        return Self.bf16Pays ? .bf16 : .float32
    }

    /// Whether mixed precision trains more tokens per second than float32 here: this build's oneDNN
    /// runs bf16 products, and the processor has AMX tiles, or AVX512_BF16 on an AMD processor (Zen 4
    /// on; processor D in docs/performance.md). Intel's AVX512_BF16 without AMX does not pay: on processor C
    /// (an Intel Xeon whose virtual machine does not expose AMX) bf16 trained `narrow` at 0.74-0.81
    /// and `small` at 0.77 times float32's tokens per second, and PyTorch's bf16 autocast ran at 0.60.
    /// Without AVX512_BF16 oneDNN emulates the bf16 products.
    public static var bf16Pays: Bool {
        guard BF16Gemm.isAvailable else { return false }
        return CPUFeatures.hasAMX || (CPUFeatures.hasAVX512BF16 && CPUFeatures.vendor == "AuthenticAMD")
    }
}

/// The bf16 copies a mixed-precision pass works from: the flat parameter buffer (same layout,
/// converted at the start of every training forward pass, so it always matches the float32
/// master weights), one copy of each linear layer's input, and the output gradient of the
/// product being differentiated.
final class BF16Workspace {
    let parameters = BF16Buffer()
    /// bf16(dy) of the layer being differentiated; the loss writes bf16(dLogits) here.
    let dy = BF16Buffer()
    /// `dy` holds bf16 of the gradient at this address, with this count, written by the kernel that
    /// produced it (`gradientSlot`: the loss for dLogits, the activation's backward for its gradient).
    private var dyHolds: (gradient: UnsafeRawPointer, count: Int)? = nil

    /// The pass's bf16 copies of layer inputs, by the address of the float32 activation they copy.
    /// A layer input is an activation kept unchanged for the backward pass (which reads the float32
    /// values too), so its copy stays valid for the pass: the forward product converts it, the
    /// weight gradient of the backward reuses it, and inputs shared by several layers (q, k and v;
    /// the encoder output that every decoder layer's cross-attention reads) are converted once.
    private var copies: [UnsafeRawPointer: (slot: Int, count: Int)] = [:]
    /// Buffers reused from pass to pass; `used` of them hold this pass's copies.
    private var slots: [BF16Buffer] = []
    private var used = 0

    func beginPass() {
        copies.removeAll(keepingCapacity: true)
        used = 0
        dyHolds = nil
    }

    /// bf16(x[0 ..< count]), converted on first use in this pass.
    func copy(of x: ConstFloatPtr, count: Int) -> ConstBF16Ptr {
        if let c = copies[UnsafeRawPointer(x)], c.count == count { return UnsafePointer(slots[c.slot].pointer) }
        let buffer = slot(for: x, count: count)
        convertToBF16(buffer, x, count: count)
        return UnsafePointer(buffer)
    }

    /// Room for the copy of x[0 ..< count] that the caller writes at once, for `copy(of:count:)` to return
    /// for the rest of the pass: a kernel whose output only bf16 products read writes bf16 alone, and x
    /// itself is then never written (nothing may read it as float32 in this pass).
    func slot(for x: ConstFloatPtr, count: Int) -> BF16Ptr {
        if used == slots.count { slots.append(BF16Buffer()) }
        let buffer = slots[used]
        buffer.reserve(count)
        copies[UnsafeRawPointer(x)] = (used, count)
        used += 1
        return buffer.pointer
    }

    /// Room for bf16(g[0 ..< count]) that the kernel producing g writes beside it; the next
    /// `gradient(g, count:)` returns it instead of converting.
    func gradientSlot(for g: ConstFloatPtr, count: Int) -> BF16Ptr {
        dy.reserve(count)
        dyHolds = (UnsafeRawPointer(g), count)
        return dy.pointer
    }

    /// bf16(dy[0 ..< count]) in `dy` (unless the kernel that produced g already wrote it there).
    func gradient(_ g: ConstFloatPtr, count: Int) -> ConstBF16Ptr {
        let written = dyHolds.map { $0.gradient == UnsafeRawPointer(g) && $0.count == count } ?? false
        dyHolds = nil
        if !written {
            dy.reserve(count)
            convertToBF16(dy.pointer, g, count: count)
        }
        precondition(dy.count >= count, "BF16Workspace: bf16(dy) has \(dy.count) values, not \(count)")
        return UnsafePointer(dy.pointer)
    }
}

extension Transformer {
    /// Sets the format of the products of training passes (forward with `training: true` and its
    /// backward). Validation, scoring and decoding always run in float32 (or int8 when quantized).
    /// ``Precision/auto`` is resolved for this processor (``Precision/resolved``).
    public func setPrecision(_ given: Precision) throws {
        let p = given.resolved
        if p == .bf16 {
            if !BF16Gemm.isAvailable {
                throw ModelError.invalidInput("--precision bf16 needs a processor with AVX-512 (oneDNN has no bf16 products without it); train with --precision float32")
            }
            if isQuantized { throw ModelError.invalidInput("an int8 model cannot be trained in bf16") }
        }
        precision = p
    }

    /// Room for bf16 of every parameter, for an optimizer step to write along with the float32 values it
    /// updates (`AdamOptimizer.update(_:_:lr:bf16Copy:)`), or nil when training passes run in float32.
    /// After writing both, call ``parametersDidChange(bf16CopyWritten:)`` with true: the training
    /// passes that follow read these weights as they are instead of converting the parameters again.
    public var bf16ParameterCopy: BF16Ptr? {
        guard precision == .bf16 else { return nil }
        bf16.parameters.reserve(layout.totalCount)
        return bf16.parameters.pointer
    }

    /// Called at the start of every forward pass: decides whether this pass (and its backward) runs
    /// in bf16, and if so makes sure the bf16 weights are those of the float32 ones: converted, unless
    /// the last change of the parameters was an optimizer step that wrote them (`bf16ParametersVersion`).
    func beginPass(training: Bool) {
        bf16Pass = training && precision == .bf16
        bf16.beginPass()
        if bf16Pass {
            if let written = bf16ParametersVersion, written == panelState.withLock({ $0.version }) { return }
            bf16.parameters.reserve(layout.totalCount)
            convertToBF16(bf16.parameters.pointer, parameters.pointer, count: layout.totalCount)
        }
    }

    @inline(__always) func param16(_ offset: Int) -> ConstBF16Ptr { UnsafePointer(bf16.parameters.pointer + offset) }

    /// A linear layer of the full forward pass: bf16 in a mixed-precision training pass, else float32
    /// (`engineLinear`: batch-invariant when encoding for decoding, with `panels`).
    @inline(__always)
    func passLinear(_ y: FloatPtr, _ x: ConstFloatPtr, _ w: LinearRef, rows n: Int, panels: DecodingPanels? = nil) {
        guard bf16Pass && panels == nil else { return engineLinear(y, x, w, rows: n, panels: panels) }
        linearForwardBF16(y, bf16.copy(of: x, count: n * w.inFeatures), param16(w.weight),
                          w.bias.map { UnsafePointer(param($0)) }, rows: n, inFeatures: w.inFeatures,
                          outFeatures: w.outFeatures)
    }

    /// logits [N, V] = h [N, D] · W_out [V, D]ᵀ of the full forward pass.
    func passOutputProjection(_ logits: FloatPtr, _ h: ConstFloatPtr, rows n: Int) {
        let d = config.dModel, v = config.tgtVocabSize
        if let q = quantized[outputWeight] { return int8LinearForward(logits, h, q, nil, rows: n) }
        if bf16Pass {
            return linearForwardBF16(logits, bf16.copy(of: h, count: n * d), param16(outputWeight), nil, rows: n,
                                     inFeatures: d, outFeatures: v)
        }
        gemm(transA: false, transB: true, m: n, n: v, k: d, h, lda: d, param(outputWeight), ldb: d, logits, ldc: v)
    }

    /// Backward of `passOutputProjection`: dh [N, D] = dLogits · W_out (overwritten); dW_out += dLogitsᵀ · h.
    /// Throws when oneDNN failed while adding into dW_out (the gradients may then be partly updated).
    func outputProjectionBackward(dh: FloatPtr, _ dLogits: ConstFloatPtr, _ h: ConstFloatPtr, rows n: Int) throws(OneDNNError) {
        let d = config.dModel, v = config.tgtVocabSize
        if bf16Pass {
            return try linearBackwardBF16(dx: dh, dw: grad(outputWeight), db: nil, dLogits, bf16.gradient(dLogits, count: n * v),
                                          bf16.copy(of: h, count: n * d), param16(outputWeight),
                                          rows: n, inFeatures: d, outFeatures: v, accumulateDx: false)
        }
        gemm(transA: false, transB: false, m: n, n: d, k: v, dLogits, lda: v, param(outputWeight), ldb: d, dh, ldc: d)
        try gemm(transA: true, transB: false, m: v, n: d, k: n, dLogits, lda: v, h, ldb: d, beta: 1,
                 grad(outputWeight), ldc: d)
    }

    /// Backward of `passLinear` (bf16 in a mixed-precision pass, else float32), accumulating into the
    /// layer's gradients, and into dx (or overwriting it when not `accumulateDx`). Throws when oneDNN
    /// failed while adding into them (they may then be partly updated).
    @inline(__always)
    func linearGrad(dx: FloatPtr?, _ dy: ConstFloatPtr, _ x: ConstFloatPtr, _ w: LinearRef, rows n: Int,
                    accumulateDx: Bool = true) throws(OneDNNError) {
        if bf16Pass {
            return try linearBackwardBF16(dx: dx, dw: grad(w.weight), db: w.bias.map { grad($0) }, dy,
                                          bf16.gradient(dy, count: n * w.outFeatures), bf16.copy(of: x, count: n * w.inFeatures),
                                          param16(w.weight), rows: n, inFeatures: w.inFeatures, outFeatures: w.outFeatures,
                                          accumulateDx: accumulateDx)
        }
        try linearBackward(dx: dx, dw: grad(w.weight), db: w.bias.map { grad($0) }, dy, x, param(w.weight),
                           rows: n, inFeatures: w.inFeatures, outFeatures: w.outFeatures, accumulateDx: accumulateDx)
    }
}
