import Foundation

extension Trainer {
    /// `--average-last N` at the end of a run: the mean of the newest N step checkpoints (the model at
    /// its last N validations, as `seq2seq average --last N` computes it) is scored on the validation set
    /// like any checkpoint, and becomes model.safetensors only when it scores higher than the best model
    /// so far; the best single model it replaces is copied to ``TrainingFiles/bestSingle`` first. The
    /// trained weights stay what checkpoint_last and `--resume` continue from; the state records the
    /// average as the best (``TrainerState/bestAveraged``). Rank 0 only; a run stopped by a signal does
    /// not average.
    ///
    /// When validation translates with a smaller beam than `translate`'s (``BeamSearch/defaultBeam``;
    /// greedy by default), the best single model's score is the highest of many such noisy validations,
    /// and one validation of the mean is no fair match for it: there both are translated again with the
    /// default beam and that BLEU decides.
    func averageLastCheckpoints() throws {
        let n = settings.averageLast
        let files = Self.stepCheckpoints(in: directory).suffix(n)
        guard files.count >= 2 else {
            log("--average-last \(n): \(files.count) step checkpoint\(files.count == 1 ? "" : "s") to average; model.safetensors stays the best single model")
            return
        }
        let t0 = Date()
        let steps = files.map(\.step)
        let count = model.parameters.count
        let trained = FloatBuffer(count: count)
        trained.pointer.update(from: model.parameters.pointer, count: count)
        let best = "\(directory)/\(ModelDirectory.weightsFile)"
        let beam = BeamSearch.defaultBeam
        let rescores = scoresTranslations && settings.validBeam < beam && state.bestScore != nil
            && FileManager.default.fileExists(atPath: best)
        let outcome: (v: (loss: Double?, score: Double?, record: [String: Any], message: String), better: Bool,
                      beamScores: (mean: Double, best: Double)?, copied: Bool)
        do {
            defer {
                model.parameters.pointer.update(from: trained.pointer, count: count)
                model.parametersDidChange()
            }
            var bestBeamScore: Double? = nil
            if rescores {
                try model.loadWeights(from: SafeTensors(contentsOf: best))
                bestBeamScore = try translationReport(beam: beam)?.bleu
            }
            try CheckpointAverage.loadMean(of: files.map { "\(directory)/\($0.file)" }, into: model)
            let v = try measureValidation()
            var better = v.score.map { s in state.bestScore.map { s > $0 } ?? true } ?? false
            var beamScores: (mean: Double, best: Double)? = nil
            if let b = bestBeamScore, let m = try translationReport(beam: beam)?.bleu {
                beamScores = (m, b)
                better = m > b
            }
            // The best single model is copied aside before the mean replaces it: nothing saved is lost.
            let copied = better && FileManager.default.fileExists(atPath: best)
            if copied {
                // Mapped, not read: a large model's copy is written from the page cache, not from the heap.
                let bytes = try Data(contentsOf: URL(fileURLWithPath: best), options: .alwaysMapped)
                try writeAtomically(bytes, to: "\(directory)/\(TrainingFiles.bestSingle)")
            }
            if better { try ModelDirectory.save(model, to: directory) }
            outcome = (v, better, beamScores, copied)
        }
        var record: [String: Any] = ["step": state.step, "averaged_steps": steps, "seconds": Date().timeIntervalSince(t0)]
        for (key, value) in outcome.v.record { record["averaged_" + key] = value }  // kept out of the plot's curves
        var message = "validation of the mean of the last \(files.count) step checkpoints (steps \(steps.first!)-\(steps.last!)):"
            + outcome.v.message
        if let b = outcome.beamScores {
            record["averaged_bleu_beam\(beam)"] = b.mean
            record["best_bleu_beam\(beam)"] = b.best
            message += String(format: "; with beam %d, BLEU %.2f against the best single model's %.2f", beam, b.mean, b.best)
        }
        let single = state.bestScore.map { String(format: "%.2f", scoresTranslations ? $0 : -$0) } ?? "none"
        if outcome.better, let s = outcome.v.score {
            state.bestScore = s
            state.bestAveraged = steps
            let aside = outcome.copied ? ", the best single model as \(TrainingFiles.bestSingle)" : ""
            message += outcome.beamScores == nil ? " (better than the best single model's \(single): saved as model.safetensors\(aside))"
                : " (the mean is saved as model.safetensors\(aside))"
        } else {
            message += outcome.beamScores == nil ? " (the best single model's \(single) is kept)" : " (the best single model is kept)"
        }
        record["averaged_kept"] = outcome.better
        metrics?.write(record)
        log(message)
        if outcome.better { try saveLast() }  // the state's best is the average now
    }
}
