/// The positions a forward pass computes logits for (``Transformer/forward(_:training:logitRows:rng:)``).
public enum LogitRows: Sendable {
    /// Every position: logits [B·T, V], row b·T + t.
    case all
    /// Only the positions with a label (`tgtOut` not the pad id), in their order: logits [N', V],
    /// all that ``Transformer/loss(smoothing:gradScale:computeGradient:)`` reads. The output
    /// projection, the softmax and their backward then skip the padding, an eighth of the decoder
    /// rows of a batch of sentences of mixed lengths and, at a vocabulary of thousands, the
    /// largest product of a small model's step.
    case labelled
}
