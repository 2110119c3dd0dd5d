import CBLAS
import Foundation
@_spi(Testing) import Seq2SeqKit

/// `seq2seq bench kernels`: GEMM throughput at the shapes of a d=256 and a d=512 Transformer, and
/// the cost per element of the elementwise kernels, at the current thread setting.
public enum KernelBenchmark {
    /// Runs `body` repeatedly for at least `minSeconds` (after one warm-up) and returns the best
    /// seconds per call over 3 windows.
    static func time(_ minSeconds: Double, _ body: () -> Void) -> Double {
        body()
        var best = Double.infinity
        for _ in 0..<3 {
            var calls = 0
            let start = DispatchTime.now().uptimeNanoseconds
            var elapsed = 0.0
            repeat {
                body()
                calls += 1
                elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            } while elapsed < minSeconds / 3
            best = min(best, elapsed / Double(calls))
        }
        return best
    }

    public static func run(tokens n: Int, minSeconds: Double) -> [String] {
        var lines: [String] = []
        var rng = RNG(seed: 1)
        func random(_ count: Int, _ s: Float = 1) -> FloatBuffer {
            let b = FloatBuffer(count: count)
            for i in 0..<count { b[i] = (rng.nextFloat() * 2 - 1) * s }
            return b
        }
        for d in [256, 512] {
            let ff = 4 * d, vocab = 8000
            lines.append("d_model \(d), d_ff \(ff), \(n) tokens: GEMM GFLOP/s (the door's choice, \(GemmDispatch.engine.rawValue) | OpenBLAS \(Threads.blasCoreName) | oneDNN | oneDNN bf16)")
            // (name, transA, transB, M, N, K): each linear layer's forward x[N, in] · W[out, in]ᵀ and its
            // two backward products, dx = dy · W and dW = dyᵀ · x; the output projection.
            let shapes: [(String, Bool, Bool, Int, Int, Int)] = [
                ("q/k/v/out proj  ", false, true, n, d, d), ("fc1             ", false, true, n, ff, d),
                ("fc2             ", false, true, n, d, ff), ("output proj     ", false, true, n, vocab, d),
                ("fc1 input grad  ", false, false, n, d, ff), ("fc2 input grad  ", false, false, n, ff, d),
                ("fc1 weight grad ", true, false, ff, d, n), ("fc2 weight grad ", true, false, d, ff, n),
                ("output grad     ", false, false, n, d, vocab), ("output w grad   ", true, false, vocab, d, n),
            ]
            var layerGemmSeconds = 0.0
            for (name, ta, tb, m, nn, k) in shapes {
                let a = random(m * k), b = random(k * nn), c = FloatBuffer(count: m * nn)
                let a16 = BF16Buffer(count: m * k), b16 = BF16Buffer(count: k * nn)
                convertToBF16(a16.pointer, a.pointer, count: m * k)
                convertToBF16(b16.pointer, b.pointer, count: k * nn)
                let (lda, ldb) = (ta ? m : k, tb ? k : nn)
                let flops = 2.0 * Double(m) * Double(nn) * Double(k)
                func timed(_ engine: GemmEngine?) -> Double {
                    var selection = MatmulSelection.current
                    selection.float32 = engine ?? selection.float32
                    return MatmulSelection.with(selection) {
                        time(minSeconds) {
                            gemm(transA: ta, transB: tb, m: m, n: nn, k: k, a.pointer, lda: lda, b.pointer, ldb: ldb,
                                 c.pointer, ldc: nn)
                        }
                    }
                }
                let chosen = timed(nil), blas = timed(.openblas), dnnl = timed(.onednn)
                let half = BF16Gemm.isAvailable ? time(minSeconds) {
                    gemmBF16(transA: ta, transB: tb, m: m, n: nn, k: k, a16.pointer, lda: lda, b16.pointer, ldb: ldb,
                             c.pointer, ldc: nn)
                } : .infinity
                lines.append(String(format: "  %@ %@%@ %5d x %5d x %5d   %7.1f | %7.1f | %7.1f | %7.1f", name, ta ? "T" : "N", tb ? "T" : "N",
                                    m, nn, k, flops / chosen / 1e9, flops / blas / 1e9, flops / dnnl / 1e9, flops / half / 1e9))
                // A layer's step (encoder layer): 4 projections + fc1 + fc2, forward and 2 backward GEMMs each.
                if name.hasPrefix("q/k") { layerGemmSeconds += 4 * 3 * chosen }
                if name.hasPrefix("fc1 ") || name.hasPrefix("fc2 ") { layerGemmSeconds += chosen }
            }

            // The attention of a training pass (Kernels/Attention.swift, one kernel per sequence and head):
            // self-attention over sequences of 30 tokens, heads of 64; GFLOP/s of its products (Q·Kᵀ and
            // P·V forward, twice as many backward).
            do {
                let t = 30, heads = d / 64, b = n / t
                let shape = AttentionShape(batch: b, heads: heads, queries: t, keys: t, dModel: d)
                let q = random(b * t * d), k = random(b * t * d), v = random(b * t * d), g = random(b * t * d)
                let ctx = FloatBuffer(count: b * t * d), probs = FloatBuffer(count: shape.probCount)
                let dq = FloatBuffer(count: b * t * d), dk = FloatBuffer(count: b * t * d), dv = FloatBuffer(count: b * t * d)
                var r = RNG(seed: 1)
                let f = time(minSeconds) {
                    attentionForward(ctx: ctx.pointer, probs: probs.pointer, dropped: nil, dropMask: nil, q: q.pointer,
                                     k: k.pointer, v: v.pointer, keyValid: nil, causal: false, shape: shape, rng: &r)
                }
                let bw = time(minSeconds) {
                    attentionBackward(dq: dq.pointer, dk: dk.pointer, dv: dv.pointer, dctx: g.pointer, q: q.pointer,
                                      k: k.pointer, v: v.pointer, probs: probs.pointer, dropped: nil, dropMask: nil,
                                      causal: false, shape: shape)
                }
                let flops = 4.0 * Double(b * heads * t * t * 64)
                lines.append(String(format: "  attention, %d sequences of %d tokens, %d heads of 64: forward %.1f | backward %.1f GFLOP/s",
                                    b, t, heads, flops / f / 1e9, 2 * flops / bw / 1e9))
            }
            lines.append("  elementwise, ns per element (forward | backward)")
            var layerElementwise = 0.0
            // LayerNorm [N, D]
            do {
                let x = random(n * d), y = FloatBuffer(count: n * d), g = random(d), b = random(d)
                let mean = FloatBuffer(count: n), rstd = FloatBuffer(count: n)
                let dx = FloatBuffer(count: n * d), dg = FloatBuffer(count: d), db = FloatBuffer(count: d)
                let f = time(minSeconds) {
                    layerNormForward(y.pointer, mean: mean.pointer, rstd: rstd.pointer, x.pointer, gamma: g.pointer,
                                     beta: b.pointer, rows: n, dim: d, eps: 1e-5)
                }
                let bw = time(minSeconds) {
                    layerNormBackward(dx: dx.pointer, dGamma: dg.pointer, dBeta: db.pointer, y.pointer, x.pointer,
                                      mean: mean.pointer, rstd: rstd.pointer, gamma: g.pointer, rows: n, dim: d)
                }
                lines.append(ns("LayerNorm [\(n), \(d)]", f, bw, n * d))
                layerElementwise += 2 * (f + bw)
            }
            // GELU [N, 4D]
            do {
                let x = random(n * ff, 3), y = FloatBuffer(count: n * ff), dx = FloatBuffer(count: n * ff)
                let f = time(minSeconds) { activationForward(y.pointer, x.pointer, count: n * ff, .gelu) }
                let bw = time(minSeconds) { activationBackward(dx: dx.pointer, y.pointer, x.pointer, count: n * ff, .gelu) }
                lines.append(ns("GELU [\(n), \(ff)]", f, bw, n * ff))
                let rf = time(minSeconds) { activationForward(y.pointer, x.pointer, count: n * ff, .relu) }
                let rb = time(minSeconds) { activationBackward(dx: dx.pointer, y.pointer, x.pointer, count: n * ff, .relu) }
                lines.append(ns("ReLU [\(n), \(ff)]", rf, rb, n * ff))
                layerElementwise += f + bw
            }
            // Softmax over attention rows: [N · H, T] with T = 64 keys, H = d / 64 heads.
            do {
                let heads = d / 64, t = 64, rows = n * heads
                let x = random(rows * t, 4), y = FloatBuffer(count: rows * t), dx = FloatBuffer(count: rows * t)
                let f = time(minSeconds) { softmaxForward(y.pointer, x.pointer, rows: rows, cols: t) }
                let bw = time(minSeconds) { softmaxBackward(dx: dx.pointer, x.pointer, y.pointer, rows: rows, cols: t) }
                lines.append(ns("softmax [\(rows), \(t)]", f, bw, rows * t))
                layerElementwise += f + bw
            }
            // Fused label-smoothed cross-entropy [N, V] (forward and gradient in one pass).
            do {
                let x = random(n * vocab, 4), dl = FloatBuffer(count: n * vocab), loss = FloatBuffer(count: n)
                var targets = [Int32](repeating: 0, count: n)
                for i in 0..<n { targets[i] = Int32(3 + i % (vocab - 3)) }
                let fwd = time(minSeconds) {
                    crossEntropyForwardBackward(dLogits: nil, rowLoss: loss.pointer, x.pointer, targets: targets,
                                                rows: n, vocab: vocab, smoothing: 0.1, padId: 0, gradScale: 1)
                }
                let both = time(minSeconds) {
                    crossEntropyForwardBackward(dLogits: dl.pointer, rowLoss: loss.pointer, x.pointer, targets: targets,
                                                rows: n, vocab: vocab, smoothing: 0.1, padId: 0, gradScale: 1)
                }
                lines.append(String(format: "    %-28@ %6.3f (loss only) | %6.3f (loss + gradient)",
                                    "cross-entropy [\(n), \(vocab)]", fwd * 1e9 / Double(n * vocab),
                                    both * 1e9 / Double(n * vocab)))
            }
            lines.append(String(format: "  one encoder layer's step: GEMM %.1f ms, elementwise (2 LN, GELU, softmax) %.1f ms = %.1f%%",
                                layerGemmSeconds * 1e3, layerElementwise * 1e3,
                                100 * layerElementwise / (layerGemmSeconds + layerElementwise)))
        }
        return lines
    }

    /// Linear layers at decoding shapes: `rows` rows against W[out, in], W cold as when decoding (a
    /// rotation of copies larger than L3), through decoding's batch-invariant kernels (from W's
    /// panels, as a decoder reads them), through `linearForward` (training's door: FewRowsLinear.swift
    /// or the engines) and through cblas_sgemm directly. GFLOP/s.
    public static func decodingLinears(rows: [Int], d: Int = 256, minSeconds: Double) -> [String] {
        var rng = RNG(seed: 2)
        var lines = ["decoding linears, W from memory: GFLOP/s (decoding's invariant kernels | linearForward | cblas_sgemm direct)"]
        for (name, o, i) in decodingShapes(d) {
            let copies = max(2, 64 * 1024 * 1024 / (4 * o * i))
            let w = FloatBuffer(count: copies * o * i)
            for j in 0..<w.count { w[j] = rng.nextFloat() * 2 - 1 }
            let panels = (0..<copies).map { PanelMatrix(w.pointer + $0 * o * i, rows: o, columns: i) }
            var cells: [String] = []
            for n in rows {
                let x = FloatBuffer(count: n * i), y = FloatBuffer(count: n * o)
                for j in 0..<x.count { x[j] = rng.nextFloat() * 2 - 1 }
                let flops = 2.0 * Double(n) * Double(o) * Double(i)
                var c0 = 0, c1 = 0, c2 = 0
                let ti = time(minSeconds) {
                    invariantLinearForward(y.pointer, x.pointer, w.pointer + (c0 % copies) * o * i, nil,
                                           panels: panels[c0 % copies], rows: n, inFeatures: i, outFeatures: o)
                    c0 += 1
                }
                let tl = time(minSeconds) {
                    linearForward(y.pointer, x.pointer, w.pointer + (c1 % copies) * o * i, nil, rows: n, inFeatures: i, outFeatures: o)
                    c1 += 1
                }
                let tb = time(minSeconds) {
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(n), Int32(o), Int32(i), 1,
                                x.pointer, Int32(i), w.pointer + (c2 % copies) * o * i, Int32(i), 0, y.pointer, Int32(o))
                    c2 += 1
                }
                cells.append(String(format: "%d: %.0f | %.0f | %.0f", n, flops / ti / 1e9, flops / tl / 1e9, flops / tb / 1e9))
            }
            lines.append(String(format: "  %-14@ %5d x %4d   ", name, o, i) + cells.joined(separator: "   "))
        }
        return lines
    }

    /// The linear layers of one decoder layer and the output projection: (name, O, I).
    private static func decodingShapes(_ d: Int) -> [(String, Int, Int)] {
        [("q/k/v/out proj", d, d), ("fc1", 4 * d, d), ("fc2", d, 4 * d), ("output proj", 8000, d)]
    }

    /// int8 linear layers (Kernels/Int8Linear.swift, activation quantization and dequantization
    /// included) at decoding and encoding shapes, each engine forced in turn, beside the float
    /// `linearForward`. W warm in cache (a whole int8 model fits this machine's L3). GOP/s.
    public static func int8Linears(rows: [Int], d: Int = 256, minSeconds: Double) -> [String] {
        var rng = RNG(seed: 3)
        let engines = Int8Engine.allCases.filter(\.isAvailable)
        var lines = ["int8 linears, GOP/s (" + engines.map(\.rawValue).joined(separator: " | ") + " | float linearForward)"]
        let saved = MatmulSelection.current
        defer { MatmulSelection.current = saved }
        for (name, o, i) in decodingShapes(d) {
            let w = FloatBuffer(count: o * i)
            for j in 0..<w.count { w[j] = rng.nextFloat() * 2 - 1 }
            let q = QuantizedMatrix(quantizing: w.pointer, rows: o, columns: i)
            var cells: [String] = []
            for n in rows {
                let x = FloatBuffer(count: n * i), y = FloatBuffer(count: n * o)
                for j in 0..<x.count { x[j] = rng.nextFloat() * 2 - 1 }
                let ops = 2.0 * Double(n) * Double(o) * Double(i)
                var rates: [String] = []
                for e in engines {
                    MatmulSelection.current.int8 = e
                    let t = time(minSeconds) { int8LinearForward(y.pointer, x.pointer, q, nil, rows: n) }
                    rates.append(String(format: "%.0f", ops / t / 1e9))
                }
                let tf = time(minSeconds) { linearForward(y.pointer, x.pointer, w.pointer, nil, rows: n, inFeatures: i, outFeatures: o) }
                rates.append(String(format: "%.0f", ops / tf / 1e9))
                cells.append("\(n): " + rates.joined(separator: " | "))
            }
            lines.append(String(format: "  %-14@ %5d x %4d   ", name, o, i) + cells.joined(separator: "   "))
        }
        return lines
    }

    private static func ns(_ name: String, _ f: Double, _ b: Double, _ count: Int) -> String {
        String(format: "    %-28@ %6.3f | %6.3f", name, f * 1e9 / Double(count), b * 1e9 / Double(count))
    }
}
