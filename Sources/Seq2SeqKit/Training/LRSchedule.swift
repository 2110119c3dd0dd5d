import RealModule

/// Learning-rate schedules. Steps count from 1.
public enum LRSchedule: String, Codable, Sendable, CaseIterable {
    /// Linear warm-up to the peak, then peak · √(warmup / step) (fairseq's inverse_sqrt).
    case inverseSqrt = "inverse-sqrt"
    /// Linear warm-up, then cosine decay to min-lr at the end of the run's budget: at max-steps, or at the
    /// update the time budget (max-time) will end on, estimated from the rate so far (whichever comes first).
    case cosine

    /// The learning rate at update `step` (from 1).
    /// - Parameters:
    ///   - step: The update, counted from 1.
    ///   - peak: The rate reached at the end of the warm-up.
    ///   - warmup: Updates of linear warm-up from peak / warmup to `peak` (0: none).
    ///   - minLR: The floor: inverse-sqrt never goes below it, cosine decays to it.
    ///   - maxSteps: The update at which cosine reaches `minLR` (it stays there after; 0: no step budget); with no
    ///     more steps than `warmup` the cosine schedule keeps `peak`. Unused by inverse-sqrt.
    ///   - timeSpent: The share of the time budget spent when the update starts (elapsed / max-time; 0: no time
    ///     budget). Cosine then ends at the update the budget ends on at the pace so far, `step / timeSpent`, or at
    ///     `maxSteps` if that comes first. Its progress, (step − warmup) · t / (step − warmup · t) at time share t,
    ///     never decreases as steps and time go on, so a slower or faster stretch bends the curve without
    ///     raising the rate. Unused by inverse-sqrt.
    public func rate(step: Int, peak: Float, warmup: Int, minLR: Float, maxSteps: Int, timeSpent: Double = 0) -> Float {
        let s = Float(step)
        if warmup > 0 && step <= warmup { return peak * s / Float(warmup) }
        switch self {
        case .inverseSqrt:
            return max(minLR, peak * (Float(max(warmup, 1)) / s).squareRoot())
        case .cosine:
            var horizon = Double(maxSteps)
            if timeSpent > 0 {
                let paced = Double(step) / min(1, timeSpent)  // the updates the time budget allows at this pace
                horizon = maxSteps > 0 ? min(horizon, paced) : paced
            }
            guard horizon > Double(warmup) else { return peak }
            let progress = Float(min(1, (Double(step) - Double(warmup)) / (horizon - Double(warmup))))
            return minLR + 0.5 * (peak - minLR) * (1 + Float.cos(Float.pi * progress))
        }
    }
}
