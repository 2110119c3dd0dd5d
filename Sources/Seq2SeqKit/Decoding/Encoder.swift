extension Transformer {
    /// Runs the encoder (no dropout) on src [B, S] and returns its output [B·S, D], valid while the
    /// model's encoder workspace is not reused, with the key-validity mask [B, S].
    /// Runs the encoder in `workspace` (a decoder's own, so that translators on different threads
    /// never share activations), or in the model's when nil.
    public func encode(src: [Int32], batch b: Int, length s: Int, workspace: StackActivations? = nil) throws -> (memory: ConstFloatPtr, valid: [UInt8]) {
        guard let acts = workspace ?? encoderActs, let ref = encoderRef else {
            throw ModelError.invalidInput("a decoder-only model has no encoder")
        }
        try check(Batch(batchSize: b, srcLength: s, tgtLength: 0, src: src, tgtIn: [], tgtOut: []))
        acts.reserve(batch: b, length: s, memoryLength: 0, config: config, dropout: .off)
        var rng = RNG(seed: 0)
        stackForward(acts, ref, ids: src, memory: nil, memoryValid: [], causal: false, dropout: .off, panels: decodingPanels(),
                     rng: &rng)
        return (UnsafePointer(acts.output(config.norm)), acts.keyValid)
    }
}
