import Foundation

/// The training loop: batches → forward → label-smoothed loss → backward → clipping → Adam, with
/// periodic validation (loss, perplexity, BLEU/chrF of translations), best/last checkpoints written
/// atomically, early stopping, limits, NaN detection, metrics and a plot.
public final class Trainer {
    public let model: Transformer
    public let settings: TrainSettings
    public let directory: String
    public var stream: BatchStream
    let optimizer: AdamOptimizer
    var state = TrainerState()
    /// Validation translation: source ids and reference texts (translation mode only).
    let validSources: [[Int32]]
    let validReferences: [String]
    let vocabularies: Vocabularies?
    var metrics: MetricsLog!
    /// Progress and log lines (the CLI prints them; tests collect them).
    public var log: (String) -> Void = { _ in }
    /// A live status line (on a terminal); nil prints periodic log lines instead.
    public var status: ((String) -> Void)? = nil

    public struct Summary: Sendable {
        public var steps: Int, epochs: Int, seconds: Double
        public var bestScore: Double?, bestStep: Int, lastValidLoss: Double?
        public var stopReason: String
    }

    public init(model: Transformer, settings: TrainSettings, directory: String, stream: BatchStream,
                vocabularies: Vocabularies?, validSources: [[Int32]] = [], validReferences: [String] = [],
                resume: Bool) throws {
        try settings.validate()
        self.model = model
        self.settings = settings
        self.directory = directory
        self.stream = stream
        self.vocabularies = vocabularies
        self.validSources = validSources
        self.validReferences = validReferences
        optimizer = AdamOptimizer(layout: model.layout, settings: .init(
            beta1: settings.beta1, beta2: settings.beta2, eps: settings.adamEps,
            weightDecay: settings.optimizer == .adamw ? settings.weightDecay : 0))
        state.dropoutRNG = RNG(seed: settings.seed &+ 17)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        if resume { try loadLast() }
        self.stream.position = resume ? state.position : self.stream.position
        metrics = try MetricsLog(directory: directory, keepUpTo: resume ? state.step : nil)
    }

    public var currentStep: Int { state.step }

    var learningRate: Float {
        settings.schedule.rate(step: max(1, state.step), peak: settings.lr, warmup: settings.warmupSteps,
                               minLR: settings.minLR, maxSteps: settings.maxSteps)
    }

    // MARK: - Loop

    public func run() throws -> Summary {
        let start = Date().addingTimeInterval(-state.elapsedSeconds)
        var windowLoss = 0.0, windowTokens = 0, windowStart = Date(), windowTrainTokens = 0
        var stopReason = ""
        let pad = Int32(model.config.padId)
        var lastValidLoss: Double? = nil
        var lastValidated = -1
        outer: while true {
            if settings.maxSteps > 0 && state.step >= settings.maxSteps { stopReason = "reached --max-steps \(settings.maxSteps)"; break }
            if settings.maxEpochs > 0 && state.position.epoch > settings.maxEpochs { stopReason = "reached --max-epochs \(settings.maxEpochs)"; break }
            if settings.maxSeconds > 0 && Date().timeIntervalSince(start) >= settings.maxSeconds { stopReason = "reached --max-time"; break }

            // One update: `updateFreq` batches, gradients averaged over all their target tokens.
            var group: [Batch] = []
            var epochEnded = false
            for _ in 0..<settings.updateFreq {
                let (b, end) = stream.next()
                group.append(b)
                if end { epochEnded = true; break }
            }
            let tokens = group.reduce(0) { $0 + $1.targetTokens(pad: pad) }
            guard tokens > 0 else { continue }
            model.gradients.zero()
            var lossSum = 0.0
            for b in group {
                try model.forward(b, training: true, rng: &state.dropoutRNG)
                lossSum += model.loss(smoothing: settings.labelSmoothing, gradScale: 1 / Float(tokens)).sum
                model.backward()
            }
            let norm = clipGradientNorm(model.gradients, maxNorm: settings.clipNorm)
            state.step += 1
            let loss = lossSum / Double(tokens)
            let lr = learningRate
            if !loss.isFinite || !norm.isFinite {
                state.failedSteps += 1
                log("step \(state.step): loss \(loss), gradient norm \(norm): skipped (\(state.failedSteps) in a row)")
                if state.failedSteps >= 5 { throw TrainError.diverged(state.failedSteps) }
                state.step -= 1
                continue
            }
            state.failedSteps = 0
            optimizer.update(model.parameters, model.gradients, lr: lr)
            let batchTokens = group.reduce(0) { $0 + $1.sourceTokens(pad: pad) } + tokens
            state.tokensSeen += batchTokens
            windowLoss += lossSum; windowTokens += tokens; windowTrainTokens += batchTokens
            let elapsed = Date().timeIntervalSince(start)
            state.elapsedSeconds = elapsed
            let tps = Double(windowTrainTokens) / max(1e-9, Date().timeIntervalSince(windowStart))
            metrics.write(["step": state.step, "epoch": state.position.epoch - (epochEnded ? 1 : 0), "loss": loss,
                           "lr": Double(lr), "grad_norm": Double(norm), "tokens": batchTokens,
                           "elapsed": (elapsed * 100).rounded() / 100])
            let line = String(format: "epoch %d step %d | loss %.3f | lr %.2e | %.0f tok/s%@", state.position.epoch - (epochEnded ? 1 : 0),
                              state.step, windowLoss / Double(max(1, windowTokens)), lr, tps, eta(elapsed))
            if let status { status(line) } else if state.step % settings.logEvery == 0 { log(line) }
            if state.step % settings.logEvery == 0 {
                windowLoss = 0; windowTokens = 0; windowTrainTokens = 0; windowStart = Date()
            }

            let validateNow = (settings.validateEvery > 0 && state.step % settings.validateEvery == 0) || epochEnded
            if validateNow {
                let (improved, vloss) = try validate()
                lastValidLoss = vloss
                lastValidated = state.step
                if epochEnded { log("end of epoch \(state.position.epoch - 1)") }
                if settings.patience > 0 && !improved && state.validationsWithoutImprovement >= settings.patience {
                    stopReason = "no improvement in \(settings.patience) validations (--patience)"
                    break outer
                }
                windowStart = Date(); windowTrainTokens = 0
            }
        }
        // Final state on disk.
        state.position = stream.position
        if lastValidated != state.step {
            let (_, vloss) = try validate()
            lastValidLoss = vloss
        }
        log("stopped: \(stopReason)")
        return Summary(steps: state.step, epochs: state.position.epoch - 1, seconds: state.elapsedSeconds,
                       bestScore: state.bestScore, bestStep: state.bestStep, lastValidLoss: lastValidLoss,
                       stopReason: stopReason)
    }

    func eta(_ elapsed: Double) -> String {
        var remaining: Double? = nil
        if settings.maxSteps > 0 && state.step > 0 {
            remaining = elapsed / Double(state.step) * Double(settings.maxSteps - state.step)
        }
        if settings.maxSeconds > 0 { remaining = min(remaining ?? .infinity, settings.maxSeconds - elapsed) }
        guard let r = remaining, r.isFinite, r >= 0 else { return "" }
        return String(format: " | ETA %dm%02ds", Int(r) / 60, Int(r) % 60)
    }

    // MARK: - Validation

    /// Validation loss (and BLEU/chrF for translation); saves last (and best) checkpoints.
    /// Returns whether the tracked score improved, and the validation loss.
    func validate() throws -> (Bool, Double?) {
        let t0 = Date()
        var sum = 0.0, count = 0
        var rng = RNG(seed: 0)
        for b in stream.validationBatches() {
            try model.forward(b, training: false, rng: &rng)
            let r = model.loss(smoothing: 0, computeGradient: false)
            sum += r.sum; count += r.count
        }
        let vloss: Double? = count > 0 ? sum / Double(count) : nil
        var record: [String: Any] = ["step": state.step, "epoch": state.position.epoch]
        var message = "validation at step \(state.step):"
        if let vloss {
            record["valid_loss"] = vloss
            record["valid_ppl"] = exp(vloss)
            message += String(format: " loss %.3f, perplexity %.2f", vloss, exp(vloss))
        }
        // The score that picks the best checkpoint: BLEU for translation, -loss otherwise.
        var score: Double? = vloss.map { -$0 }
        if let vocab = vocabularies, !validSources.isEmpty, !model.config.isDecoderOnly {
            let translator = Translator(model: model, vocabularies: vocab,
                                        search: BeamSearch(beam: settings.validBeam, lengthPenalty: settings.lengthPenalty))
            translator.batchSize = 64
            let hyps = try translator.translate(ids: validSources).map(\.text)
            let report = try EvaluationReport.evaluate(hypotheses: hyps, references: [validReferences])
            record["bleu"] = report.bleu
            record["chrf"] = report.chrf
            score = report.bleu
            message += String(format: ", BLEU %.2f, chrF %.2f (beam %d)", report.bleu, report.chrf, settings.validBeam)
        }
        var improved = false
        if let s = score, state.bestScore.map({ s > $0 }) ?? true {
            state.bestScore = s
            state.bestStep = state.step
            state.validationsWithoutImprovement = 0
            improved = true
            try ModelDirectory.save(model, to: directory)
            message += " (best so far, saved)"
        } else if score != nil {
            state.validationsWithoutImprovement += 1
        } else {
            try ModelDirectory.save(model, to: directory)  // nothing to compare: keep the latest
        }
        record["seconds"] = Date().timeIntervalSince(t0)
        metrics.write(record)
        state.position = stream.position
        try saveLast()
        try saveStepCheckpoint()
        metrics.plot(to: "\(directory)/\(TrainingFiles.plot)")
        log(message)
        return (improved, vloss)
    }
}
