// int8 models: every matrix of the linear layers, the token embeddings and the output projection
// become QuantizedMatrix (per-row int8 with float32 scales, as CTranslate2's int8); biases,
// LayerNorms and learned positions stay float32. Products run through Kernels/Int8Linear.swift;
// a token table is also kept dequantized in the float parameters, for the embedding lookups.
// A quantized model translates and generates; it does not train.

extension ParameterLayout {
    /// The tensors an int8 model stores in int8: every 2-D tensor but the learned position tables.
    public var quantizedEntries: [ParameterLayout.Entry] {
        entries.filter { $0.shape.count == 2 && !$0.name.contains("embed_positions") }
    }

    /// The safetensors name of a quantized tensor's per-row scales.
    public static func scaleName(_ name: String) -> String { name + "_scale" }
}

extension Transformer {
    /// Whether the model holds int8 matrices (loaded from an int8 file, or after ``quantize()``); such a
    /// model decodes but cannot train.
    public var isQuantized: Bool { !quantized.isEmpty }

    /// Quantizes this float model in place (`seq2seq quantize`): afterwards it computes exactly what
    /// the same model loaded from its int8 file computes.
    public func quantize() throws {
        guard config.quantization == nil, !isQuantized else { throw ModelError.invalidInput("the model is already quantized") }
        defer { parametersDidChange() }
        var q: [Int: QuantizedMatrix] = [:]
        for e in layout.quantizedEntries {
            let m = QuantizedMatrix(quantizing: param(e.offset), rows: e.shape[0], columns: e.shape[1])
            q[e.offset] = m
            installQuantized(m, for: e)
        }
        quantized = q
        config.quantization = .int8
    }

    /// The float storage of a quantized tensor: token tables hold the dequantized values (looked up
    /// by embeddingForward); the matrices of linear layers are zeroed and never read.
    func installQuantized(_ m: QuantizedMatrix, for e: ParameterLayout.Entry) {
        let p = param(e.offset)
        if e.name.contains("embed_tokens") {
            for j in 0..<m.rows { m.dequantizeRow(j, into: p + j * m.columns) }
        } else {
            p.update(repeating: 0, count: e.count)
        }
    }
}
