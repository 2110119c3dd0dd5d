import Foundation

/// `--init-from DIR`: fine-tuning a model directory (one trained here, or imported from Hugging Face)
/// keeps what its weights were trained with: its configuration (every field of config.json, the
/// dropout rates aside), its vocabulary, and its special ids. A `.safetensors` file instead brings weights alone,
/// for the shape the run's own flags describe.
extension TrainingRun {
    /// The learning rate, warm-up and (for translation) label smoothing that fine-tuning uses unless
    /// told otherwise: a tenth of training's peak for translation (inverse square root after 100
    /// warm-up steps, label smoothing 0.1, what most pretrained translation models were trained with,
    /// whatever the preset's), and nanoGPT's fine-tuning rate for a language model (3e-5, constant:
    /// cosine down to the same rate, no warm-up).
    public enum FineTuningDefaults {
        /// Translation's peak learning rate, warm-up steps and label smoothing.
        public static let translation = (lr: Float(1e-4), warmupSteps: 100, labelSmoothing: Float(0.1))
        /// A language model's learning rate (also its floor) and warm-up steps.
        public static let languageModel = (lr: Float(3e-5), warmupSteps: 0)
    }

    /// The model directory `--init-from` names (nil when there is none or it names a .safetensors file).
    var initDirectory: String? {
        guard let from = options.initFrom, !from.hasSuffix(".safetensors") else { return nil }
        return from
    }

    /// The configuration of `--init-from DIR`, checked against this run: the task must be the model's,
    /// no shape flag may be given, and the positions must cover the block (learned positions cannot
    /// grow; a sinusoid table can). `--dropout` and `--attention-dropout` replace the model's rates.
    func initConfig(settings: TrainSettings, from dir: String) throws -> ModelConfig {
        var config: ModelConfig
        do { config = try ModelDirectory.loadConfig(dir) } catch {
            throw TrainingRunError.input("--init-from \(dir): \(error)")
        }
        let lm = options.isLanguageModel
        if config.isDecoderOnly != lm {
            throw TrainingRunError.invalidOption(lm
                ? "--init-from \(dir) is a translation model (encoder-decoder); --lm fine-tunes a decoder-only model: leave out --lm, or start from a language model"
                : "--init-from \(dir) is a decoder-only language model; fine-tune it with --lm --text FILE")
        }
        if config.quantization != nil {
            throw TrainingRunError.invalidOption("--init-from \(dir) holds int8 weights (seq2seq quantize), which cannot be trained: start from the float32 model it was made from")
        }
        let a = options.architecture
        let given: [(String, Bool)] = [
            ("--d-model", a.dModel != nil), ("--heads", a.heads != nil), ("--d-ff", a.dFF != nil),
            ("--layers", a.layers != nil), ("--encoder-layers", a.encoderLayers != nil), ("--decoder-layers", a.decoderLayers != nil),
            ("--norm", a.norm != nil), ("--activation", a.activation != nil), ("--positional", a.positional != nil),
            ("--max-positions", a.maxPositions != nil), ("--share-embeddings", a.shareEmbeddings != nil), ("--tie-output", a.tieOutput != nil),
        ]
        if let flag = given.first(where: \.1)?.0 {
            throw TrainingRunError.invalidOption("\(flag) changes the model's shape, but --init-from \(dir) keeps its model's configuration (\(dir)/config.json): leave \(flag) out, or train a new model without --init-from")
        }
        if let p = a.dropout { config.dropout = p }
        if let p = a.attentionDropout { config.attentionDropout = p }
        let need = lm ? settings.blockSize : settings.maxLength + 2
        if need > config.maxPositions {
            guard config.positional == .sinusoidal else {
                let flag = lm ? "--block-size \(settings.blockSize)" : "--max-length \(settings.maxLength) (+ 2 for bos and eos)"
                throw TrainingRunError.invalidOption("\(flag) is longer than the \(config.maxPositions) positions the model of --init-from \(dir) learned: give at most \(lm ? config.maxPositions : config.maxPositions - 2)")
            }
            config.maxPositions = need
        }
        try config.validate()
        return config
    }

    /// The vocabulary of `--init-from DIR`; a vocabulary the run was given (`--vocab`, or a prepared
    /// corpus's) must be the same one (same fingerprint), since the token table is the model's.
    func initVocabulary(from dir: String, given: Vocabularies?) throws -> Vocabularies {
        let own: Vocabularies
        do { own = try Vocabularies.load(from: dir) } catch {
            throw TrainingRunError.input("--init-from \(dir): \(error); the model directory's vocabulary is the one its weights were trained with")
        }
        if let given, given.source.fingerprint != own.source.fingerprint || given.target.fingerprint != own.target.fingerprint {
            let what = options.data.map { "the prepared corpus \($0)" } ?? "--vocab"
            throw TrainingRunError.invalidOption("\(what) has another vocabulary than the model of --init-from \(dir), whose token table is its own: leave --vocab out (and prepare the corpus with --vocab \(dir))")
        }
        return own
    }
}
