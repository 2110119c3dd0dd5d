import RealModule

/// Learning-rate schedules. Steps count from 1.
public enum LRSchedule: String, Codable, Sendable, CaseIterable {
    /// Linear warm-up to the peak, then peak · √(warmup / step) (fairseq's inverse_sqrt).
    case inverseSqrt = "inverse-sqrt"
    /// Linear warm-up, then cosine decay to min-lr at max-steps (nanoGPT).
    case cosine

    /// The learning rate at update `step` (from 1).
    /// - Parameters:
    ///   - step: The update, counted from 1.
    ///   - peak: The rate reached at the end of the warm-up.
    ///   - warmup: Updates of linear warm-up from peak / warmup to `peak` (0: none).
    ///   - minLR: The floor: inverse-sqrt never goes below it, cosine decays to it.
    ///   - maxSteps: The update at which cosine reaches `minLR` (it stays there after); with no more steps than
    ///     `warmup` the cosine schedule keeps `peak`. Unused by inverse-sqrt.
    public func rate(step: Int, peak: Float, warmup: Int, minLR: Float, maxSteps: Int) -> Float {
        let s = Float(step)
        if warmup > 0 && step <= warmup { return peak * s / Float(warmup) }
        switch self {
        case .inverseSqrt:
            return max(minLR, peak * (Float(max(warmup, 1)) / s).squareRoot())
        case .cosine:
            guard maxSteps > warmup else { return peak }
            let progress = min(1, (s - Float(warmup)) / Float(maxSteps - warmup))
            return minLR + 0.5 * (peak - minLR) * (1 + Float.cos(Float.pi * progress))
        }
    }
}
