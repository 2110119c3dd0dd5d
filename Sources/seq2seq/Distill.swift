import ArgumentParser
import Foundation
import Seq2SeqKit

struct Distill: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Translate a source corpus with a teacher model into a prepared corpus for training a student (sequence-level distillation).",
        discussion: """
        The teacher's beam search runs over --src in chunks of --chunk-lines lines; each chunk's pairs
        (the source line and the teacher's translation) are appended to --output and the progress is
        saved, so a killed job continues with --resume. Under mpirun each rank translates every N-th
        chunk and rank 0 joins the shards at the end. The result is a prepared corpus in the teacher's
        vocabulary (or --vocab's): train the student with `seq2seq train --data OUTPUT`.

        Examples:
          seq2seq distill --teacher runs/teacher --src mono.de --output data/distilled
          seq2seq distill --teacher runs/teacher-int8 --src mono.de --output data/distilled --min-score -1.5 --max-length-ratio 2
          seq2seq distill --teacher runs/teacher --src train.de --output data/distilled --n-best 2
          mpirun -np 4 --hostfile hosts seq2seq distill --teacher runs/teacher --src mono.de --output data/distilled
          seq2seq train --data data/distilled --valid-src val.de --valid-tgt val.en --model runs/student --preset tiny
        """
    )

    @Option(help: "The teacher's model directory (float32, or int8 from `seq2seq quantize`).") var teacher: String
    @Option(help: "Source-side text to translate (one sentence per line).") var src: String
    @Option(help: "Directory of the prepared corpus to write.") var output: String
    @Option(help: "Write the corpus in this vocabulary (a directory or tokenizer.json, e.g. a student's) instead of the teacher's: sources and translations are encoded with it.")
    var vocab: String?
    @Option(help: "Which checkpoint file of the teacher's directory to use.") var checkpoint = ModelDirectory.weightsFile
    @Flag(help: "Quantize the teacher to int8 for this job (as `seq2seq quantize` would).") var int8 = false
    @Option(help: "Beam size (1: greedy).") var beam = BeamSearch.defaultBeam
    @Option(help: "Write the teacher's N best translations of each line as N pairs, best first (1-beam; 1: the best only).")
    var nBest = 1
    @Option(help: "Sentences per batch.") var batchSize = 32
    @Option(help: "Length penalty α.") var lengthPenalty: Float = 1.4
    @Option(help: "gnmt or power (see `seq2seq translate --help`).") var lengthNormalization: BeamSearch.LengthNormalization = .gnmt
    @Option(help: "Output cap: a · source length + b tokens (a).") var maxLenA: Double = 2
    @Option(help: "Output cap: a · source length + b tokens (b).") var maxLenB = 10
    @Option(help: "Skip pairs with a side longer than this many tokens (1-65535).") var maxLength = 128
    @Option(parsing: .unconditional, help: "Drop pairs whose translation's mean log-probability per token is below this (e.g. -1.5).")
    var minScore: Float?
    @Option(help: "Drop pairs whose longer side has more than this many times the tokens of the shorter (e.g. 2).")
    var maxLengthRatio: Double?
    @Option(help: "Lines per chunk: the unit of progress saving and of sharding across ranks.") var chunkLines = 1024
    @Flag(help: "Continue the unfinished job in --output.") var resume = false
    @Flag(help: "Start over, replacing a corpus or an unfinished job in --output.") var overwrite = false
    @Flag(help: "Replace invalid UTF-8 instead of stopping.") var lenient = false
    @OptionGroup var compute: ComputeOptions

    func validate() throws {
        try Check.int(beam, "--beam", 1...256)
        if nBest < 1 || nBest > beam { throw ValidationError("--n-best must be between 1 and --beam (\(beam)); got \(nBest)") }
        try Check.int(batchSize, "--batch-size", 1...65_536)
        try Check.real(lengthPenalty, "--length-penalty", 0...10)
        try Check.real(maxLenA, "--max-len-a", 0...64)
        try Check.int(maxLenB, "--max-len-b", 0...1_000_000)
        try Check.int(maxLength, "--max-length", 1...Int(UInt16.max))
        try Check.int(chunkLines, "--chunk-lines", 1...10_000_000)
        if let minScore, !(minScore.isFinite && minScore <= 0) { throw ValidationError("--min-score is a mean log-probability: a number ≤ 0 (got \(minScore))") }
        if let r = maxLengthRatio, !(r.isFinite && r >= 1) { throw ValidationError("--max-length-ratio must be at least 1 (got \(r))") }
        if checkpoint.isEmpty || checkpoint.contains("/") { throw ValidationError("--checkpoint must be a file name inside the teacher's directory (got '\(checkpoint)')") }
        if resume && overwrite { throw ValidationError("--resume continues the job in --output, --overwrite replaces it: give one") }
    }

    func run() throws { try runOnEveryRank("distill", distill) }

    func distill(_ world: Communicator) throws {
        Threads.set(compute.threads ?? max(1, Threads.available / world.localSize))
        let main = world.isMain
        let say: (String) -> Void = { if main { stderrLine($0) } }
        let net = try ModelDirectory.load(teacher, weightsFile: checkpoint)
        guard !net.config.isDecoderOnly else {
            throw InputError("\(teacher) is a language model; the teacher must be a translation model")
        }
        if int8 && !net.isQuantized { try net.quantize() }
        let teacherVocabularies = try ModelDirectory.loadVocabularies(teacher, for: net.config)
        let translator = Translator(model: net, vocabularies: teacherVocabularies,
                                    search: BeamSearch(beam: beam, lengthPenalty: lengthPenalty, normalization: lengthNormalization,
                                                       nBest: nBest))
        translator.batchSize = batchSize
        translator.maxLenA = maxLenA
        translator.maxLenB = maxLenB
        let weights = try CorpusPreparer.fingerprint(of: "\(teacher)/\(checkpoint)").fingerprint
        var job = Distillation(teacher: translator, teacherDirectory: teacher, teacherWeights: weights,
                               vocabularies: try vocab.map(loadVocabularies), source: src, maxLength: maxLength,
                               minScore: minScore, maxLengthRatio: maxLengthRatio, chunkLines: chunkLines, shards: world.size)
        job.lenient = lenient
        job.log = say
        job.stopRequest = StopSignals.reason
        say("teacher: \(teacher) (\(net.isQuantized ? "int8" : "float32"), \(net.config.encoderLayers)+\(net.config.decoderLayers) layers, d \(net.config.dModel)); beam \(beam)\(nBest > 1 ? ", \(nBest) best of each line" : ""), batch \(batchSize); \(Threads.count) thread\(Threads.count == 1 ? "" : "s")\(world.size > 1 ? " on each of \(world.size) ranks" : "")")
        StopSignals.arm(note: "\nseq2seq: stopping after this chunk and saving the progress (again to quit at once)\n")
        defer { StopSignals.disarm() }
        switch try job.run(output: output, communicator: world, resume: resume, overwrite: overwrite) {
        case .stopped(let reason, let lines):
            throw InputError("stopped: \(reason) after \(lines) lines of \(src); the progress is saved: run the same command with --resume to continue")
        case .finished(let report):
            let c = report.counts
            say(String(format: "%@: %d pairs from %d lines (skipped %d empty, %d longer than %d tokens; dropped %d below --min-score, %d beyond --max-length-ratio); %d + %d tokens; %.0f s, %.1f sentences/s",
                       output, c.pairs, c.lines, c.skippedEmpty, c.skippedLong, maxLength, c.droppedScore, c.droppedRatio,
                       c.sourceTokens, c.targetTokens, c.seconds, Double(c.translated) / max(c.seconds, 1e-9)))
        }
    }

}
