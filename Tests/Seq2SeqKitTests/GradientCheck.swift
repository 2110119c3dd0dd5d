import XCTest
import Seq2SeqKit

/// Central finite differences against an analytic gradient.
/// `loss` recomputes a scalar from the current contents of `input`; `analytic` is dLoss/dInput.
/// Asserts max |numeric - analytic| <= tolerance · max(1, max |analytic|).
func assertGradient(
    _ name: String, input: FloatBuffer, analytic: FloatBuffer, h: Float = 1e-2, tolerance: Double = 2e-3,
    file: StaticString = #filePath, line: UInt = #line, loss: () -> Double
) {
    var worst = 0.0, scale = 1.0
    for i in 0..<input.count { scale = max(scale, Double(abs(analytic[i]))) }
    for i in 0..<input.count {
        let saved = input[i]
        input[i] = saved + h
        let plus = loss()
        input[i] = saved - h
        let minus = loss()
        input[i] = saved
        let numeric = (plus - minus) / (2 * Double(h))
        worst = max(worst, abs(numeric - Double(analytic[i])))
    }
    XCTAssertLessThanOrEqual(worst / scale, tolerance, "\(name): finite differences disagree (max error \(worst))",
                             file: file, line: line)
}

func randomBuffer(_ count: Int, _ rng: inout RNG, scale: Float = 1) -> FloatBuffer {
    let b = FloatBuffer(count: count)
    for i in 0..<count { b[i] = (rng.nextFloat() * 2 - 1) * scale }
    return b
}

/// Σ y ∘ r in Double: a scalar whose gradient with respect to y is r.
func dot(_ y: FloatBuffer, _ r: FloatBuffer) -> Double {
    var s = 0.0
    for i in 0..<y.count { s += Double(y[i]) * Double(r[i]) }
    return s
}
