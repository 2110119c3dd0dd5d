import Foundation

// Decoding's copies of the float32 linear layers in the panel layout of the batch-invariant kernels
// (Matmul/InvariantLinear.swift). They are made on the first decoding after the parameters change and
// shared by every decoder of the model; training's products never read them. Made from the float
// parameters, they add those matrices' size again to the model's memory (the embedding tables, the
// LayerNorms and int8 matrices have none).

/// The panel copies of a model's linear layers for one version of its parameters, by weight offset.
final class DecodingPanels: @unchecked Sendable {
    let version: Int
    let matrices: [Int: PanelMatrix]

    init(version: Int, matrices: [Int: PanelMatrix]) {
        self.version = version
        self.matrices = matrices
    }

    @inline(__always) subscript(weight: Int) -> PanelMatrix? { matrices[weight] }
}

extension Transformer {
    /// Tells the model that its parameters were written (through ``parameters``): the next decoding
    /// makes its panel copies again. The library's own writers (loading, training steps, import,
    /// averaging) call it; so must code that writes ``parameters`` itself between decodings or training
    /// passes. `bf16CopyWritten`: the writer also wrote bf16 of every parameter into
    /// ``bf16ParameterCopy`` (an optimizer step), which mixed-precision passes then read as it is.
    public func parametersDidChange(bf16CopyWritten: Bool = false) {
        let version = panelState.withLock { $0.version &+= 1; $0.panels = nil; return $0.version }
        bf16ParametersVersion = bf16CopyWritten ? version : nil
    }

    /// The panels for the parameters as they are now, made on first use after a change.
    func decodingPanels() -> DecodingPanels {
        panelState.withLock { state in
            if let p = state.panels, p.version == state.version { return p }
            var matrices: [Int: PanelMatrix] = [:]
            for w in linearRefs where quantized[w.weight] == nil && matrices[w.weight] == nil {
                matrices[w.weight] = PanelMatrix(param(w.weight), rows: w.outFeatures, columns: w.inFeatures)
            }
            if quantized[outputWeight] == nil && matrices[outputWeight] == nil {
                matrices[outputWeight] = PanelMatrix(param(outputWeight), rows: config.tgtVocabSize, columns: config.dModel)
            }
            let p = DecodingPanels(version: state.version, matrices: matrices)
            state.panels = p
            return p
        }
    }

    /// Every linear layer of the encoder and decoder stacks.
    var linearRefs: [LinearRef] {
        ([encoderRef, decoderRef].compactMap { $0 }).flatMap { stack in
            stack.layers.flatMap { l in
                [l.selfAttention.q, l.selfAttention.k, l.selfAttention.v, l.selfAttention.out, l.fc1, l.fc2]
                    + (l.crossAttention.map { [$0.q, $0.k, $0.v, $0.out] } ?? [])
            }
        }
    }
}

/// The version of a model's parameters and its panels for it (guarded by `Transformer.panelState`).
struct PanelState {
    var version = 0
    var panels: DecodingPanels?
}
