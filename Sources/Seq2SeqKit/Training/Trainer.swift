import Foundation

/// The training loop: batches → forward → label-smoothed loss → backward → clipping → Adam, with
/// periodic validation (loss, perplexity, BLEU/chrF of translations), best/last checkpoints written
/// atomically, early stopping, limits, NaN detection, metrics and a plot.
///
/// Data-parallel over a `Communicator` (MPI under mpirun): every rank walks the same batch sequence;
/// of each update's `updateFreq × ranks` batches rank r gathers batches r, r + N, …; gradients are
/// scaled by the global target-token count and summed across ranks, so every rank takes the same
/// step and N ranks with --update-freq F are one process with --update-freq N·F. Rank 0 alone
/// validates and writes files; the others wait for it in the next collective.
///
/// Not thread-safe: a trainer and its model belong to the thread that calls ``run()``. Most programs
/// get one from ``TrainingRun/prepare(log:)`` rather than building it.
public final class Trainer {
    /// The model being trained (a float model; its parameters change with every update).
    public let model: Transformer
    /// The settings it trains with (validated by the initializer).
    public let settings: TrainSettings
    /// The model directory it writes: the best (or latest) model, checkpoints, metrics.jsonl and the plot.
    public let directory: String
    /// Where the training and validation batches come from; its position is saved in checkpoint_last.
    public var stream: BatchStream
    let optimizer: AdamOptimizer
    var state = TrainerState()
    /// Validation translation: source ids and reference texts (translation mode only).
    let validSources: [[Int32]]
    let validReferences: [String]
    let vocabularies: Vocabularies?
    var metrics: MetricsLog?
    /// The ranks of the run (``SingleProcess`` for one process).
    public let communicator: Communicator
    /// The fingerprints this run checks a resumed checkpoint against and records in new ones.
    let provenance: Provenance?
    /// Steps between cross-rank parameter checks (distributed runs).
    public var consistencyCheckEvery = 50
    /// Start each layer's gradient reduction during the backward pass (MPI_Iallreduce per layer)
    /// instead of one MPI_Allreduce after it.
    public var overlapReduction = true
    /// Asked once per update: a reason to stop now (e.g. a signal arrived), or nil. On stopping,
    /// checkpoint_last is written first. With several ranks, rank 0's answer rules.
    public var stopRequest: () -> String? = { nil }
    /// When checkpoint_last was last written (for --save-interval).
    var lastSave = Date()
    /// The number of ranks of the run a resumed checkpoint came from, when it differs from this one's.
    var resumedFromRanks: Int? = nil
    /// Seconds spent in the gradient allreduce since the last log line (distributed runs).
    var commSeconds = 0.0
    /// The share of --max-time spent when the current update started, the same on every rank (0: no time budget);
    /// the cosine schedule ends with the budget (see ``LRSchedule/rate(step:peak:warmup:minLR:maxSteps:timeSpent:)``).
    var timeSpent = 0.0
    /// Progress and log lines (the CLI prints them; tests collect them).
    public var log: (String) -> Void = { _ in }
    /// A live status line (on a terminal); nil prints periodic log lines instead.
    public var status: ((String) -> Void)? = nil

    /// How a run ended.
    public struct Summary: Sendable {
        /// Updates taken in all (resumed runs included), epochs completed, and seconds of training (across resumes).
        public var steps: Int, epochs: Int, seconds: Double
        /// The best validation score and its step (BLEU for translation with validation text, else minus the
        /// validation loss; nil without validation), and the last validation loss (nil without validation batches).
        public var bestScore: Double?, bestStep: Int, lastValidLoss: Double?
        /// The steps of the checkpoints whose mean is the best model (`--average-last`); nil when it is
        /// the model of ``bestStep``.
        public var bestAveraged: [Int]? = nil
        /// Why the run stopped, e.g. "reached --max-steps 2000".
        public var stopReason: String
    }

    /// A training loop ready to ``run()``: it creates `directory` (rank 0), and with `resume` restores
    /// weights, Adam's moments, the stream's position and the state from checkpoint_last.safetensors.
    /// - Parameters:
    ///   - model: A float model, initialized or loaded.
    ///   - settings: The training settings.
    ///   - directory: The model directory to write into.
    ///   - stream: Training and validation batches.
    ///   - vocabularies: Decode the validation translations (translation); nil: no BLEU.
    ///   - validSources: Validation source ids (without eos), translated at each validation.
    ///   - validReferences: Their reference texts, line by line.
    ///   - resume: Continue from the directory's checkpoint_last.
    ///   - communicator: The ranks of a distributed run.
    ///   - provenance: Fingerprints recorded in checkpoints, and checked against a resumed one.
    /// - Throws: ``TrainError`` for invalid settings or a checkpoint that cannot be resumed (no trainer state,
    ///   another corpus, vocabulary or configuration), ``ModelError`` for an int8 model or a checkpoint that
    ///   does not match the model, ``SafeTensors/Error`` for an unreadable checkpoint, and
    ///   ``ModelError/invalidInput(_:)`` when bf16 is asked for without the processor or build for it; a
    ///   Foundation error if the directory or metrics.jsonl cannot be created.
    public init(model: Transformer, settings: TrainSettings, directory: String, stream: BatchStream,
                vocabularies: Vocabularies?, validSources: [[Int32]] = [], validReferences: [String] = [],
                resume: Bool, communicator: Communicator = SingleProcess(), provenance: Provenance? = nil) throws {
        try settings.validate()
        if model.isQuantized || model.config.quantization != nil {
            throw ModelError.invalidInput("an int8 model cannot be trained: train (or resume) the float model, then run `seq2seq quantize`")
        }
        try model.setPrecision(settings.precision)
        model.sourceWordDropout = settings.sourceWordDropout
        model.targetWordDropout = settings.targetWordDropout
        self.model = model
        self.settings = settings
        self.directory = directory
        self.stream = stream
        self.vocabularies = vocabularies
        self.validSources = validSources
        self.validReferences = validReferences
        self.communicator = communicator
        self.provenance = provenance
        optimizer = AdamOptimizer(layout: model.layout, settings: .init(
            beta1: settings.beta1, beta2: settings.beta2, eps: settings.adamEps,
            weightDecay: settings.optimizer == .adamw ? settings.weightDecay : 0))
        if communicator.isMain { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) }
        if resume { try loadLast() }
        if let provenance { state.provenance = provenance }
        if let was = state.worldSize, was != communicator.size { resumedFromRanks = was }
        state.worldSize = communicator.size
        self.stream.position = resume ? state.position : self.stream.position
        if communicator.isMain { metrics = try MetricsLog(directory: directory, keepUpTo: resume ? state.step : nil) }
    }

    /// Updates taken so far (a resumed run starts at its checkpoint's).
    public var currentStep: Int { state.step }

    var learningRate: Float {
        settings.schedule.rate(step: max(1, state.step), peak: settings.lr, warmup: settings.warmupSteps,
                               minLR: settings.minLR, maxSteps: settings.maxSteps, timeSpent: timeSpent)
    }

    // MARK: - Loop

    /// Trains until a limit, --patience, a stop request or divergence ends the run; the final
    /// state is on disk when it returns.
    /// - Throws: ``TrainError/diverged(_:)`` after five consecutive updates with a non-finite loss or gradient
    ///   norm, ``DistributedError`` when the ranks fail or disagree, ``ModelError`` for a batch the model
    ///   cannot take, and the errors of writing the checkpoints and the model directory.
    public func run() throws -> Summary {
        let start = Date().addingTimeInterval(-state.elapsedSeconds)
        var window = LogWindow()
        var progress = ValidationProgress()
        reportResumeNotes()
        if communicator.size > 1 { try checkRanksAgree() }  // same start everywhere (initialization, --init-from, --resume)
        var stop = (reason: "", interrupted: false)
        while true {
            if let limit = limitReached() { stop = (limit, false); break }
            if let request = try agreedStopRequest(start: start) {
                stop = (request, request != Self.maxTimeReason)  // a signal: save and stop without validating
                break
            }
            let update = gatherUpdate()
            guard update.targetTokens > 0 else { continue }
            var sums = try computeGradients(update)
            try reduceGradients(&sums)
            guard let step = try applyUpdate(lossSum: sums.loss, targetTokens: update.targetTokens, start: start) else { continue }
            logStep(step, update, sums, start: start, window: &window)
            if try validateIfDue(epochEnded: update.epochEnded, progress: &progress, window: &window) {
                stop = ("no improvement in \(settings.patience) validations (--patience)", false)
                break
            }
        }
        return try finish(stopReason: stop.reason, interrupted: stop.interrupted, progress: &progress)
    }

    /// One update's share of the batch stream: of its `updateFreq × ranks` batches this rank
    /// materializes batches rank, rank + N, …; the token counts cover all of them.
    struct Update {
        var batches: [Batch] = []
        /// Target tokens over all ranks' batches (the loss is averaged over them).
        var targetTokens = 0
        /// Source and target tokens over all ranks' batches (for throughput).
        var tokens = 0
        var epochEnded = false
    }

    /// An update's loss summed over its target tokens and, with R-Drop, the divergence between the
    /// batch copies summed the same way: this rank's from ``computeGradients(_:)``, all ranks' after
    /// ``reduceGradients(_:)``.
    struct Sums {
        var loss = 0.0, divergence = 0.0
    }

    /// A finished update's numbers, for the log.
    struct Step {
        var loss: Double
        var lr: Float
        var gradientNorm: Float
    }

    /// The running sums of the log line (reset every `logEvery` updates).
    struct LogWindow {
        var loss = 0.0, divergence = 0.0, targetTokens = 0, trainTokens = 0
        var start = Date()
    }

    /// When the run last validated, and what it found.
    struct ValidationProgress {
        var lastLoss: Double? = nil
        var lastStep = -1
        var lastDate = Date()
    }

    func reportResumeNotes() {
        if let m = metrics, m.damagedLines > 0 {
            log("\(m.path): dropped \(m.damagedLines) damaged line\(m.damagedLines == 1 ? "" : "s") (not JSON with a step); the plot and the log go on from the rest")
        }
        if let was = resumedFromRanks {
            let ranks = communicator.size
            log("note: the checkpoint was made on \(was) rank\(was == 1 ? "" : "s"), this run has \(ranks); the batch order is the same, an update now takes \(settings.updateFreq * ranks) batches instead of \(settings.updateFreq * was) (change --update-freq to keep the global batch)")
        }
    }

    /// --max-steps or --max-epochs reached: the reason, else nil.
    func limitReached() -> String? {
        if settings.maxSteps > 0 && state.step >= settings.maxSteps { return "reached --max-steps \(settings.maxSteps)" }
        if settings.maxEpochs > 0 && state.position.epoch > settings.maxEpochs { return "reached --max-epochs \(settings.maxEpochs)" }
        return nil
    }

    /// A stop request or --max-time: clocks and signals differ between ranks, so rank 0's answer
    /// is broadcast and rules.
    /// The cosine schedule's share of the time budget is agreed the same way (the slowest clock's).
    func agreedStopRequest(start: Date) throws -> String? {
        var request = stopRequest()
        let elapsed = Date().timeIntervalSince(start)
        if request == nil && settings.maxSeconds > 0 && elapsed >= settings.maxSeconds {
            request = Self.maxTimeReason
        }
        if communicator.size > 1 {
            var b = Array((communicator.isMain ? request ?? "" : "").utf8)
            try communicator.broadcast(&b)
            request = b.isEmpty ? nil : String(decoding: b, as: UTF8.self)
        }
        if settings.schedule == .cosine && settings.maxSeconds > 0 {
            var spent = [elapsed / settings.maxSeconds]
            if communicator.size > 1 { try communicator.allreduceMax(&spent) }
            timeSpent = spent[0]
        }
        return request
    }

    /// The next update's batches (see `Update`); it ends early at an epoch's end.
    func gatherUpdate() -> Update {
        let ranks = communicator.size, rank = communicator.rank
        var update = Update()
        for k in 0..<(settings.updateFreq * ranks) {
            let d = stream.next(materialize: k % ranks == rank)
            if let b = d.batch { update.batches.append(b) }
            update.targetTokens += d.targetTokens
            update.tokens += d.targetTokens + d.sourceTokens
            if d.epochEnd { update.epochEnded = true; break }
        }
        return update
    }

    /// Forward and backward passes over this rank's batches, the gradients scaled by the update's
    /// target tokens; returns this rank's sums. With several ranks and overlap on, each layer's
    /// gradients start their reduction as soon as the last backward pass has finished that layer.
    func computeGradients(_ update: Update) throws -> Sums {
        model.gradients.zero()
        var sums = Sums()
        var rng = Self.dropoutRNG(seed: settings.seed, step: state.step, rank: communicator.rank)
        let overlap = communicator.size > 1 && overlapReduction
        var commError: Error? = nil
        let grads = model.gradients.pointer
        let startLayer = { (r: Range<Int>) in
            let t0 = Date()
            do {
                try self.communicator.startAllreduceSum(grads + r.lowerBound, count: r.count)
                try self.communicator.progressReductions()
            } catch { commError = commError ?? error }
            self.commSeconds += Date().timeIntervalSince(t0)
        }
        for (j, b) in update.batches.enumerated() {
            if settings.rdropAlpha > 0 {
                // R-Drop: both copies' losses averaged (each scaled by 1 / 2T), so the logged loss
                // stays the per-token cross-entropy.
                try model.forward(b.doubled(), training: true, logitRows: .labelled, rng: &rng)
                let r = model.consistencyLoss(smoothing: settings.labelSmoothing, alpha: settings.rdropAlpha,
                                              gradScale: 1 / Float(2 * update.targetTokens))
                sums.loss += r.sum / 2
                sums.divergence += r.divergence
            } else {
                try model.forward(b, training: true, logitRows: .labelled, rng: &rng)
                sums.loss += model.loss(smoothing: settings.labelSmoothing, gradScale: 1 / Float(update.targetTokens)).sum
            }
            if overlap && j == update.batches.count - 1 { model.onLayerGradients = startLayer }
            defer { model.onLayerGradients = nil }
            try model.backward()
        }
        if overlap && update.batches.isEmpty { model.layerRangesInBackwardOrder.forEach(startLayer) }  // same reductions, same order
        if let commError { throw commError }
        return sums
    }

    /// With several ranks: sums the gradients (finishing the reductions the backward pass started,
    /// when overlapped) and the loss and divergence sums over all ranks.
    func reduceGradients(_ sums: inout Sums) throws {
        guard communicator.size > 1 else { return }
        let t0 = Date()
        let grads = model.gradients.pointer
        if overlapReduction {
            for r in model.rangesOutsideLayers { try communicator.startAllreduceSum(grads + r.lowerBound, count: r.count) }
            try communicator.finishReductions()
        } else {
            try communicator.allreduceSum(grads, count: model.gradients.count)
        }
        var l = [sums.loss, sums.divergence]
        try communicator.allreduceSum(&l)
        sums = Sums(loss: l[0], divergence: l[1])
        commSeconds += Date().timeIntervalSince(t0)
    }

    /// Clips the gradient and takes the optimizer step, then checks the ranks agree and writes
    /// checkpoint_last when one is due. A NaN or infinite loss or norm skips the update (nil);
    /// five in a row stop the run.
    func applyUpdate(lossSum: Double, targetTokens: Int, start: Date) throws -> Step? {
        let norm = clipGradientNorm(model.gradients, maxNorm: settings.clipNorm)
        state.step += 1
        let loss = lossSum / Double(targetTokens)
        let lr = learningRate
        if !loss.isFinite || !norm.isFinite {
            state.failedSteps += 1
            log("step \(state.step): loss \(loss), gradient norm \(norm): skipped (\(state.failedSteps) in a row)")
            if state.failedSteps >= 5 { throw TrainError.diverged(state.failedSteps) }
            state.step -= 1
            return nil
        }
        state.failedSteps = 0
        let bf16Copy = model.bf16ParameterCopy  // the next passes' bf16 weights, written by the same sweep
        optimizer.update(model.parameters, model.gradients, lr: lr, bf16Copy: bf16Copy)
        model.parametersDidChange(bf16CopyWritten: bf16Copy != nil)
        if communicator.size > 1 && state.step % consistencyCheckEvery == 0 { try checkRanksAgree() }
        // checkpoint_last between validations (rank 0 only: it writes no collective).
        if communicator.isMain && ((settings.saveEvery > 0 && state.step % settings.saveEvery == 0)
            || (settings.saveSeconds > 0 && Date().timeIntervalSince(lastSave) >= settings.saveSeconds)) {
            state.position = stream.position
            state.elapsedSeconds = Date().timeIntervalSince(start)
            try saveLast()
        }
        return Step(loss: loss, lr: lr, gradientNorm: norm)
    }

    /// The step's metrics record, and its log line (every `logEvery` updates, or the live status).
    func logStep(_ step: Step, _ update: Update, _ sums: Sums, start: Date, window: inout LogWindow) {
        let ranks = communicator.size
        state.tokensSeen += update.tokens
        window.loss += sums.loss; window.targetTokens += update.targetTokens; window.trainTokens += update.tokens
        window.divergence += sums.divergence
        let elapsed = Date().timeIntervalSince(start)
        state.elapsedSeconds = elapsed
        let tps = Double(window.trainTokens) / max(1e-9, Date().timeIntervalSince(window.start))
        let epoch = stream.position.epoch - (update.epochEnded ? 1 : 0)
        var record: [String: Any] = ["step": state.step, "epoch": epoch, "loss": step.loss,
                                     "lr": Double(step.lr), "grad_norm": Double(step.gradientNorm), "tokens": update.tokens,
                                     "elapsed": (elapsed * 100).rounded() / 100]
        if ranks > 1 { record["ranks"] = ranks }
        // R-Drop: the divergence per target token (½ of the two KLs), the term --rdrop-alpha weighs.
        let rdrop = settings.rdropAlpha > 0
        if rdrop { record["rdrop_kl"] = sums.divergence / Double(max(1, update.targetTokens)) }
        metrics?.write(record)
        let divergence = rdrop ? String(format: " | kl %.3f", window.divergence / Double(max(1, window.targetTokens))) : ""
        var line = String(format: "epoch %d step %d | loss %.3f%@ | lr %.2e | %.0f tok/s%@", epoch, state.step,
                          window.loss / Double(max(1, window.targetTokens)), divergence, step.lr, tps, eta(elapsed))
        if ranks > 1 {
            let steps = state.step % settings.logEvery == 0 ? settings.logEvery : state.step % settings.logEvery
            line += String(format: " | %d ranks, allreduce %.1f ms/step", ranks, commSeconds * 1000 / Double(max(1, steps)))
        }
        if let status { status(line) } else if state.step % settings.logEvery == 0 { log(line) }
        if state.step % settings.logEvery == 0 {
            window = LogWindow()
            commSeconds = 0
        }
    }

    /// Validates when due: every `validateEvery` updates, and at an epoch's end unless the last
    /// validation was under `minValidateSeconds` ago (rank 0's clock decides). A language model
    /// validated every `validateEvery` updates skips epoch ends, as nanoGPT does: its blocks are drawn at
    /// random, so an epoch is only a count of tokens. Rank 0 validates and saves; the others wait for its
    /// verdict. Returns whether --patience ran out.
    func validateIfDue(epochEnded: Bool, progress: inout ValidationProgress, window: inout LogWindow) throws -> Bool {
        let ranks = communicator.size
        let stepDue = settings.validateEvery > 0 && state.step % settings.validateEvery == 0
        let byStepsOnly = settings.mode == .languageModel && settings.validateEvery > 0
        if epochEnded && !stepDue && byStepsOnly {
            log("end of epoch \(stream.position.epoch - 1)")
            return false
        }
        var validateNow = stepDue || (epochEnded && Date().timeIntervalSince(progress.lastDate) >= settings.minValidateSeconds)
        if epochEnded && !stepDue && ranks > 1 { validateNow = try communicator.broadcast(validateNow) }  // rank 0's clock
        if epochEnded && !validateNow { log("end of epoch \(stream.position.epoch - 1) (validation skipped: the last was under \(Int(settings.minValidateSeconds)) s ago; --min-validate-interval)") }
        guard validateNow else { return false }
        var patienceOut = false
        if communicator.isMain {
            let (improved, vloss) = try validate()
            progress.lastLoss = vloss
            patienceOut = settings.patience > 0 && !improved && state.validationsWithoutImprovement >= settings.patience
            if epochEnded { log("end of epoch \(state.position.epoch - 1)") }
        }
        progress.lastStep = state.step
        progress.lastDate = Date()
        if ranks > 1 {
            try checkRanksAgree()
            patienceOut = try communicator.broadcast(patienceOut)
        }
        if patienceOut { return true }
        window.start = Date(); window.trainTokens = 0
        return false
    }

    /// The final state on disk: after a signal checkpoint_last alone, else a last validation
    /// unless this step was just validated.
    func finish(stopReason: String, interrupted: Bool, progress: inout ValidationProgress) throws -> Summary {
        state.position = stream.position
        if interrupted {
            // Stopped by a signal: save where we are, skip the final validation.
            if communicator.isMain { try saveLast() }
            log("saved checkpoint_last at step \(state.step); continue with --resume")
        } else if progress.lastStep != state.step && communicator.isMain {
            let (_, vloss) = try validate()
            progress.lastLoss = vloss
        }
        if !interrupted && settings.averageLast >= 2 && communicator.isMain { try averageLastCheckpoints() }
        if communicator.size > 1 { try communicator.barrier() }
        log("stopped: \(stopReason)")
        return Summary(steps: state.step, epochs: state.position.epoch - 1, seconds: state.elapsedSeconds,
                       bestScore: state.bestScore, bestStep: state.bestStep, lastValidLoss: progress.lastLoss,
                       bestAveraged: state.bestAveraged, stopReason: stopReason)
    }

    static let maxTimeReason = "reached --max-time"

    /// Dropout masks for one step on one rank: a function of (seed, step, rank) alone, so a resumed
    /// run draws the same masks, whatever happened before.
    static func dropoutRNG(seed: UInt64, step: Int, rank: Int) -> RNG {
        RNG(seed: (seed &+ 17) &* 0x9E37_79B9_7F4A_7C15 ^ UInt64(step) &* 0xD1B5_4A32_D192_ED03 ^ UInt64(rank) &* 0x8CB9_2BA7_2F3D_8DD7)
    }

    /// Every rank must hold the same parameters after every step. A checksum (sum and a position-
    /// weighted sum, in double) is compared across ranks; a difference stops the run on all of them.
    func checkRanksAgree() throws {
        let p = model.parameters.pointer
        var sum = 0.0, weighted = 0.0
        for i in 0..<model.parameters.count {
            let v = Double(p[i])
            sum += v
            weighted += v * Double(i & 1023)
        }
        var hi = [sum, weighted, -sum, -weighted]
        try communicator.allreduceMax(&hi)
        let close = { (a: Double, b: Double) in abs(a - b) <= 1e-6 * max(1, abs(a), abs(b)) }
        if !close(hi[0], -hi[2]) || !close(hi[1], -hi[3]) {
            throw DistributedError.diverged(step: state.step, String(format: "parameter checksums range from %.9g to %.9g", -hi[2], hi[0]))
        }
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
        let v = try measureValidation()
        var record: [String: Any] = ["step": state.step, "epoch": state.position.epoch]
        record.merge(v.record) { $1 }
        var message = "validation at step \(state.step):" + v.message
        let vloss = v.loss, score = v.score
        var improved = false
        if let s = score, state.bestScore.map({ s > $0 }) ?? true {
            state.bestScore = s
            state.bestStep = state.step
            state.bestAveraged = nil
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
        metrics?.write(record)
        state.position = stream.position
        try saveLast()
        try saveStepCheckpoint()
        metrics?.plot(to: "\(directory)/\(TrainingFiles.plot)")
        log(message)
        return (improved, vloss)
    }

    /// Validation scores translations (BLEU, higher is better) rather than the loss.
    var scoresTranslations: Bool { vocabularies != nil && !validSources.isEmpty && !model.config.isDecoderOnly }

    /// One scoring of the model as it is on the validation set: its loss, and for translation BLEU and
    /// chrF of its translations (greedy, or `validBeam`). `score` picks the best model: BLEU for
    /// translation, −loss otherwise. `record` holds the metrics.jsonl fields, `message` the log's.
    func measureValidation() throws -> (loss: Double?, score: Double?, record: [String: Any], message: String) {
        var sum = 0.0, count = 0
        var rng = RNG(seed: 0)
        for b in stream.validationBatches() {
            try model.forward(b, training: false, logitRows: .labelled, rng: &rng)
            let r = model.loss(smoothing: 0, computeGradient: false)
            sum += r.sum; count += r.count
        }
        let vloss: Double? = count > 0 ? sum / Double(count) : nil
        var record: [String: Any] = [:]
        var message = ""
        if let vloss {
            record["valid_loss"] = vloss
            record["valid_ppl"] = exp(vloss)
            message += String(format: " loss %.3f, perplexity %.2f", vloss, exp(vloss))
        }
        var score: Double? = vloss.map { -$0 }
        if let report = try translationReport(beam: settings.validBeam) {
            record["bleu"] = report.bleu
            record["chrf"] = report.chrf
            score = report.bleu
            message += String(format: ", BLEU %.2f, chrF %.2f (beam %d)", report.bleu, report.chrf, settings.validBeam)
        }
        return (vloss, score, record, message)
    }

    /// BLEU and chrF of the model's translations of the validation set with a beam of `beam` and the
    /// run's length penalty; nil when the run does not score translations (``scoresTranslations``).
    func translationReport(beam: Int) throws -> EvaluationReport? {
        guard scoresTranslations, let vocab = vocabularies else { return nil }
        let translator = Translator(model: model, vocabularies: vocab,
                                    search: BeamSearch(beam: beam, lengthPenalty: settings.lengthPenalty))
        translator.batchSize = 64
        let hyps = try translator.translate(ids: validSources).map(\.text)
        return try EvaluationReport.evaluate(hypotheses: hyps, references: [validReferences])
    }
}
