import Foundation

/// Everything besides weights and optimizer moments that a resumed run needs to continue exactly.
public struct TrainerState: Codable, Sendable {
    /// Updates taken.
    public var step = 0
    /// Where the batch stream is.
    public var position = StreamPosition()
    /// The best validation score so far (BLEU, or minus the validation loss); nil before any.
    public var bestScore: Double? = nil
    /// The step of ``bestScore``.
    public var bestStep = 0
    /// The steps of the checkpoints whose mean scored ``bestScore`` (`--average-last`); nil when the best
    /// is the model of ``bestStep``.
    public var bestAveraged: [Int]? = nil
    /// Validations since the best score (for ``TrainSettings/patience``).
    public var validationsWithoutImprovement = 0
    /// Seconds of training so far, across resumes.
    public var elapsedSeconds = 0.0
    /// Source and target tokens trained on so far, over all ranks.
    public var tokensSeen = 0
    /// Consecutive updates skipped for a non-finite loss or gradient norm (five stop the run).
    public var failedSteps = 0
    /// Ranks of the run that wrote the checkpoint (nil before distributed training existed).
    public var worldSize: Int? = nil
    /// What the run trains on and with: fingerprints of the corpus, the vocabulary and the model
    /// configuration (nil in older checkpoints). A resume must see the same.
    public var provenance: Provenance? = nil
}

/// Fingerprints of what a run trains on; a checkpoint records them, and resuming with others is an error.
public struct Provenance: Codable, Sendable, Equatable {
    /// The training corpus's fingerprint.
    public var corpus: String
    /// The vocabulary's fingerprint.
    public var vocabulary: String
    /// The model configuration's fingerprint.
    public var config: String
    /// Provenance from its three fingerprints.
    public init(corpus: String, vocabulary: String, config: String) {
        self.corpus = corpus; self.vocabulary = vocabulary; self.config = config
    }
}

/// The files of a model directory that training writes.
public enum TrainingFiles {
    /// The training settings (``TrainSettings``).
    public static let settings = "train.json"
    /// The latest weights, Adam's moments and the trainer state, for `--resume`.
    public static let last = "checkpoint_last.safetensors"
    /// One JSON record per update and per validation.
    public static let metrics = "metrics.jsonl"
    /// The loss (and validation) curves, redrawn at each validation.
    public static let plot = "training.svg"
    /// The best single model, copied here when the mean of the last step checkpoints replaces it as
    /// model.safetensors at the end of a run (`--average-last`).
    public static let bestSingle = "checkpoint_best.safetensors"
    static func step(_ n: Int) -> String { "checkpoint_step\(n).safetensors" }
}

extension Trainer {
    /// checkpoint_last.safetensors: the weights in spec names, Adam's moments as
    /// `optimizer.exp_avg.<name>` / `optimizer.exp_avg_sq.<name>`, and the trainer state as metadata.
    func saveLast() throws {
        var entries = model.weightEntries()
        entries += model.weightEntries(from: optimizer.m, prefix: "optimizer.exp_avg.")
        entries += model.weightEntries(from: optimizer.v, prefix: "optimizer.exp_avg_sq.")
        let stateJSON = String(decoding: try JSONEncoder().encode(state), as: UTF8.self)
        try SafeTensors.write(entries, metadata: ["format": "pt", "trainer_state": stateJSON,
                                                   "optimizer_step": String(optimizer.step)],
                              to: "\(directory)/\(TrainingFiles.last)")
        lastSave = Date()
    }

    /// Restores weights, moments and state from checkpoint_last.safetensors.
    func loadLast() throws {
        let path = "\(directory)/\(TrainingFiles.last)"
        let file = try SafeTensors(contentsOf: path)
        try model.loadWeights(from: file) { $0.hasPrefix("optimizer.") }
        for e in model.layout.entries {
            try file.readFloats("optimizer.exp_avg." + e.name, shape: e.shape, into: optimizer.m.pointer + e.offset)
            try file.readFloats("optimizer.exp_avg_sq." + e.name, shape: e.shape, into: optimizer.v.pointer + e.offset)
        }
        guard let json = file.metadata["trainer_state"], let s = try? JSONDecoder().decode(TrainerState.self, from: Data(json.utf8)),
              let optStep = file.metadata["optimizer_step"].flatMap(Int.init) else {
            throw TrainError.checkpoint(path, "no trainer state in the metadata; it cannot be resumed (use --init-from to start from its weights)")
        }
        if let was = s.provenance, let now = provenance {
            for (what, a, b) in [("corpus", was.corpus, now.corpus), ("vocabulary", was.vocabulary, now.vocabulary),
                                 ("model configuration", was.config, now.config)] where a != b {
                throw TrainError.checkpoint(path, "was made with another \(what) (fingerprint \(a), now \(b)); --resume continues a run only on what it started with (start a new run, or --init-from this checkpoint)")
            }
        }
        state = s
        optimizer.restore(step: optStep)
    }

    /// Step checkpoints for --keep-last (weights only), oldest removed beyond the limit.
    /// `--average-last N` keeps at least N.
    func saveStepCheckpoint() throws {
        let keep = max(settings.keepLast, settings.averageLast)
        guard keep > 0 else { return }
        try model.saveWeights(to: "\(directory)/\(TrainingFiles.step(state.step))")
        let old = Self.stepCheckpoints(in: directory).dropLast(keep)
        for (_, f) in old { try? FileManager.default.removeItem(atPath: "\(directory)/\(f)") }
    }

    /// checkpoint_step*.safetensors files in step order.
    public static func stepCheckpoints(in dir: String) -> [(step: Int, file: String)] {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        return files.compactMap { f -> (Int, String)? in
            guard f.hasPrefix("checkpoint_step"), f.hasSuffix(".safetensors") else { return nil }
            let n = f.dropFirst("checkpoint_step".count).dropLast(".safetensors".count)
            return Int(n).map { ($0, f) }
        }.sorted { $0.0 < $1.0 }
    }
}
