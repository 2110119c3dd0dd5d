import Foundation

/// The mean of a model directory's newest step checkpoints (`checkpoint_step*.safetensors`, kept by
/// training with `keepLast`), written as one weights file beside them: often a better model than
/// any single one of them.
///
/// ```swift
/// let averaged = try CheckpointAverage.average(last: 5, in: "runs/de-en")
/// print(averaged.steps, averaged.path)   // translate with the weights file averaged.safetensors
/// ```
public enum CheckpointAverage {
    /// What `average` wrote.
    public struct Result: Sendable {
        /// The steps of the checkpoints averaged, oldest first.
        public var steps: [Int]
        /// The weights file written.
        public var path: String
    }

    /// The default name of the averaged weights file.
    public static let defaultOutput = "averaged.safetensors"

    /// Averages the newest `last` step checkpoints of `directory` (all of them when fewer) into
    /// `directory/output`.
    ///
    /// - Parameters:
    ///   - last: how many of the newest checkpoints to average (at least 1).
    ///   - directory: the model directory that `train --keep-last` wrote the step checkpoints into.
    ///   - output: a file name inside `directory`.
    /// - Throws: `CheckpointAverageError` for bad arguments, no checkpoints or an int8 model; the
    ///   errors of the files read (`ModelError`, `SafeTensors.Error`).
    @discardableResult
    public static func average(last: Int, in directory: String, output: String = defaultOutput) throws -> Result {
        guard last >= 1 else { throw CheckpointAverageError.count(last) }
        guard !output.isEmpty, !output.contains("/") else { throw CheckpointAverageError.outputName(output) }
        let files = Trainer.stepCheckpoints(in: directory).suffix(last)
        guard !files.isEmpty else { throw CheckpointAverageError.noCheckpoints(directory) }
        let config = try ModelDirectory.loadConfig(directory)
        if config.quantization != nil { throw CheckpointAverageError.quantized(directory) }
        let net = try Transformer(config: config)
        try loadMean(of: files.map { "\(directory)/\($0.file)" }, into: net)
        let path = "\(directory)/\(output)"
        try net.saveWeights(to: path)
        return Result(steps: files.map(\.step), path: path)
    }
}

extension CheckpointAverage {
    /// Sets `net`'s parameters to the mean of the weights files at `paths` (at least one), each loaded
    /// strictly into `net` (the same configuration): summed in float32 in the order given, then divided
    /// by their count. `average(last:in:output:)` and training's `--average-last` both take it, so the two
    /// give the same bits.
    static func loadMean(of paths: [String], into net: Transformer) throws {
        let sum = FloatBuffer(count: net.layout.totalCount)
        let s = sum.pointer, p = net.parameters.pointer, count = sum.count
        for path in paths {
            try net.loadWeights(from: SafeTensors(contentsOf: path))
            for i in 0..<count { s[i] += p[i] }
        }
        let k = Float(paths.count)
        for i in 0..<count { p[i] = s[i] / k }
        net.parametersDidChange()
    }
}

/// Why checkpoints cannot be averaged.
public enum CheckpointAverageError: Error, CustomStringConvertible, Equatable {
    /// Fewer than one checkpoint asked for.
    case count(Int)
    /// The output is not a file name inside the model directory.
    case outputName(String)
    /// The directory holds no `checkpoint_step*.safetensors`.
    case noCheckpoints(String)
    /// The directory's model is int8.
    case quantized(String)

    /// The message, naming the offending option or directory.
    public var description: String {
        switch self {
        case .count(let n): return "--last must be at least 1 (got \(n))"
        case .outputName(let o): return "--output must be a file name inside the model directory (got '\(o)')"
        case .noCheckpoints(let d): return "\(d): no checkpoint_step*.safetensors; train with --keep-last N to keep them"
        case .quantized(let d): return "\(d) is an int8 model; average the float model's checkpoints, then quantize the result"
        }
    }
}
