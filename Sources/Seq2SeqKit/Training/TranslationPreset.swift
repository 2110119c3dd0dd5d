/// A translation `--preset`: the model's shape and what it trains with by default (for all: Adam with
/// β2 0.98, 4,096-token batches, the learning rate's inverse-square-root decay after
/// the warm-up); each flag given overrides its value.
///
/// Without `--preset` the corpus chooses: ``narrow`` under ``smallCorpusPairs`` training pairs, ``small``
/// from there up (``default(pairs:)``). A small corpus is learned best by a narrow, deeper model with
/// strong dropout and a high learning rate, as Wu et al. (2021) found on Multi30k and Sennrich and Zhang
/// (2019) for low-resource translation; on Multi30k (29,000 pairs) an hour of `narrow` (with attention
/// dropout 0.3 and label smoothing 0.1, on processor D) makes nearly three times `small`'s updates
/// and, over four seeds, scores higher on average on validation and on every test set
/// (docs/training.md).
public struct TranslationPreset: Equatable, Sendable {
    /// The `--preset` name.
    public let name: String
    /// The model's shape (the vocabulary sizes are set when the vocabulary is known; its dropout is
    /// ``ModelConfig``'s default, which `seq2seq bench train` keeps, and its attention dropout the
    /// preset's: 0 for ``narrow``, unset, so the same as the dropout, for the others).
    public let config: ModelConfig
    /// The dropout a training run uses.
    public let dropout: Float
    /// The peak learning rate and the updates that warm up to it.
    public let lr: Float, warmupSteps: Int
    /// `--average-last`: the step checkpoints whose mean the run's end validates against its best
    /// single model (0: none).
    public var averageLast = 0
    /// `--label-smoothing`: the share of the target's probability spread over the vocabulary.
    public var labelSmoothing: Float = 0.1
    /// `--vocab-size`: the entries of the BPE vocabulary a run learns (the special and byte tokens included).
    public var vocabularySize = 8000

    /// d 256, 4 heads, feed-forward 1,024, 3 + 3 layers, dropout 0.2, label smoothing 0.1; 1e-3 after
    /// 500 warm-up updates, then the inverse square root. The default from ``smallCorpusPairs`` pairs up.
    public static let small = TranslationPreset(name: "small", config: ModelConfig(), dropout: 0.2, lr: 1e-3, warmupSteps: 500)
    /// d 512, 8 heads, feed-forward 2,048, 6 + 6 layers (the Transformer base shape), dropout 0.2; as `small` trains.
    public static let base = TranslationPreset(name: "base",
                                               config: ModelConfig(dModel: 512, nHeads: 8, dFF: 2048, encoderLayers: 6, decoderLayers: 6), dropout: 0.2,
                                               lr: 1e-3, warmupSteps: 500)
    /// A distillation student: a deeper encoder than decoder (it runs once per sentence, the decoder once
    /// per token and beam) and one decoder layer, as Bergamot's students; narrower than Bergamot's tiny11
    /// (d 256, 6 + 2, ff 1536), which decodes no faster than `small` here. d 160, 3 + 1 is the shape that
    /// reached 3× `small`'s int8 speed within 1 BLEU of it (docs/distillation.md); d 192, 4 + 1 kept the
    /// BLEU at 2.3-2.8×, d 128 lost it. Trains as `small`.
    public static let tiny = TranslationPreset(name: "tiny",
                                               config: ModelConfig(dModel: 160, nHeads: 4, dFF: 640, encoderLayers: 3, decoderLayers: 1), dropout: 0.2,
                                               lr: 1e-3, warmupSteps: 500)
    /// The small-corpus recipe: d 128, 4 heads, feed-forward 256, 4 + 4 layers, dropout 0.3 and no
    /// dropout on the attention weights (Wu et al.'s Transformer-tiny, fairseq's default attention
    /// dropout), label smoothing 0.2 and a vocabulary of 10,000 (both chosen on Multi30k's validation
    /// set); 5e-3 after 2,000 warm-up updates; at the end the mean of the last 8 step checkpoints
    /// replaces the best single model when it translates the validation set better. The default under
    /// ``smallCorpusPairs`` pairs.
    public static let narrow = TranslationPreset(name: "narrow",
                                                 config: ModelConfig(dModel: 128, nHeads: 4, dFF: 256, encoderLayers: 4, decoderLayers: 4,
                                                                     attentionDropout: 0), dropout: 0.3,
                                                 lr: 5e-3, warmupSteps: 2000, averageLast: 8, labelSmoothing: 0.2,
                                                 vocabularySize: 10_000)
    /// Every preset.
    public static let all = [small, base, tiny, narrow]

    /// Corpora with fewer training pairs than this train ``narrow`` by default, larger ones ``small``.
    public static let smallCorpusPairs = 100_000

    /// The preset of that name; nil for an unknown one.
    public static func named(_ name: String) -> TranslationPreset? { all.first { $0.name == name } }

    /// The preset a run without `--preset` trains: ``narrow`` under ``smallCorpusPairs`` pairs, else ``small``.
    public static func `default`(pairs: Int) -> TranslationPreset { pairs < smallCorpusPairs ? .narrow : .small }

    /// The log line that says which preset ``default(pairs:)`` chose for a corpus of `pairs` and why.
    public static func defaultChoice(pairs: Int) -> String {
        let chosen = `default`(pairs: pairs)
        let side = chosen == .narrow ? "under" : "from"
        return "preset \(chosen.name): the default for corpora \(side) \(smallCorpusPairs) pairs (this one has \(pairs)); --preset names another"
    }
}

extension ModelConfig {
    /// The shape of a named translation preset (``TranslationPreset``), with this type's default dropout
    /// and the preset's attention dropout, for `seq2seq bench train`; nil for an unknown name.
    public static func preset(_ name: String) -> ModelConfig? { TranslationPreset.named(name)?.config }
    /// The names ``preset(_:)`` knows.
    public static let presetNames = TranslationPreset.all.map(\.name)
}
