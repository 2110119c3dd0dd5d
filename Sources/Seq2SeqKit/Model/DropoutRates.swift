/// The dropout of one pass through the model: the rate on the embedded input and on each sublayer's
/// output before its residual add (`dropout`), and the rate on the attention probabilities
/// (`attention_dropout`, the same as `dropout` unless config.json sets it). Both 0 outside training.
struct DropoutRates: Equatable {
    /// Residual and embedding dropout, in [0, 1).
    var residual: Float
    /// Attention-probability dropout, in [0, 1).
    var attention: Float

    /// No dropout: inference, validation, decoding.
    static let off = DropoutRates(residual: 0, attention: 0)

    init(residual: Float, attention: Float) { self.residual = residual; self.attention = attention }

    /// The configuration's rates in a training pass, ``off`` otherwise.
    init(config c: ModelConfig, training: Bool) {
        self = training ? DropoutRates(residual: c.dropout, attention: c.attentionDropoutRate) : .off
    }
}
