import Foundation
import XCTest
import Seq2SeqKit

/// The float32 product engines (OpenBLAS, oneDNN) against a double-precision reference, and the
/// bf16 products and training passes of `--precision bf16` against float32 (Tensor/Gemm.swift,
/// Tensor/OneDNN.swift, Kernels/LinearBF16.swift, Model/Transformer+Precision.swift).
final class MixedPrecisionTests: XCTestCase {
    override func setUp() { Threads.set(1) }
    override func tearDown() { MatmulSelection.current = .automatic; Threads.set(1) }

    /// Shapes with odd sizes and tails, row strides wider than the rows, every transposition,
    /// alpha and beta (beta ≠ 0 keeps part of C).
    struct Case { var m: Int, n: Int, k: Int, transA: Bool, transB: Bool, alpha: Float, beta: Float }
    static let cases: [Case] = {
        var out: [Case] = []
        let shapes = [(1, 1, 1), (3, 5, 7), (17, 33, 65), (64, 96, 48), (130, 257, 31), (7, 1000, 256), (300, 64, 9)]
        for (si, (m, n, k)) in shapes.enumerated() {
            for t in 0..<4 {
                let alpha: Float = (si + t) % 3 == 0 ? 0.5 : 1
                let beta: Float = [0, 1, 0.25][(si + t) % 3]
                out.append(Case(m: m, n: n, k: k, transA: t & 1 != 0, transB: t & 2 != 0, alpha: alpha, beta: beta))
            }
        }
        return out
    }()

    /// Row-major operands with padding: A is [m, k] (or [k, m] when transposed) with row stride +3.
    struct Operands {
        var a: [Float], b: [Float], c: [Float], lda: Int, ldb: Int, ldc: Int
        init(_ t: Case, _ rng: inout RNG) {
            lda = (t.transA ? t.m : t.k) + 3
            ldb = (t.transB ? t.k : t.n) + 2
            ldc = t.n + 1
            a = (0..<((t.transA ? t.k : t.m) * lda)).map { _ in rng.nextFloat() * 2 - 1 }
            b = (0..<((t.transB ? t.n : t.k) * ldb)).map { _ in rng.nextFloat() * 2 - 1 }
            c = (0..<(t.m * ldc)).map { _ in rng.nextFloat() * 2 - 1 }
        }
        func aAt(_ t: Case, _ i: Int, _ p: Int) -> Float { t.transA ? a[p * lda + i] : a[i * lda + p] }
        func bAt(_ t: Case, _ p: Int, _ j: Int) -> Float { t.transB ? b[j * ldb + p] : b[p * ldb + j] }
    }

    /// Reference C and Σ|a||b| per element, in double, from operands mapped through `round`.
    static func reference(_ t: Case, _ o: Operands, round: (Float) -> Float) -> (value: [Double], magnitude: [Double]) {
        var value = [Double](repeating: 0, count: t.m * o.ldc), magnitude = value
        for i in 0..<t.m {
            for j in 0..<t.n {
                var s = 0.0, mag = 0.0
                for p in 0..<t.k {
                    let x = Double(round(o.aAt(t, i, p))) * Double(round(o.bAt(t, p, j)))
                    s += x; mag += abs(x)
                }
                value[i * o.ldc + j] = Double(t.alpha) * s + Double(t.beta) * Double(o.c[i * o.ldc + j])
                magnitude[i * o.ldc + j] = abs(Double(t.alpha)) * mag + abs(Double(t.beta) * Double(o.c[i * o.ldc + j]))
            }
        }
        return (value, magnitude)
    }

    /// Every float32 engine, 1 and 2 threads: each element within the float32 accumulation bound
    /// k·u·Σ|a||b| (u = 2⁻²⁴) of the double reference; elements past n in each row (the stride's
    /// padding) untouched.
    func testEveryFloat32EngineMatchesTheReference() throws {
        for engine in GemmEngine.allCases where engine.isAvailable {
            MatmulSelection.current.float32 = engine
            for threads in [1, 2] {
                Threads.set(threads)
                var rng = RNG(seed: 3)
                for t in Self.cases {
                    var o = Operands(t, &rng)
                    let before = o.c
                    let ref = Self.reference(t, o, round: { $0 })
                    let (lda, ldb, ldc) = (o.lda, o.ldb, o.ldc)
                    try o.a.withUnsafeBufferPointer { a in
                        try o.b.withUnsafeBufferPointer { b in
                            try o.c.withUnsafeMutableBufferPointer { c in
                                try gemm(transA: t.transA, transB: t.transB, m: t.m, n: t.n, k: t.k, alpha: t.alpha,
                                         a.baseAddress!, lda: lda, b.baseAddress!, ldb: ldb, beta: t.beta, c.baseAddress!, ldc: ldc)
                            }
                        }
                    }
                    var worst = 0.0
                    for i in 0..<t.m {
                        for j in 0..<ldc {
                            let at = i * ldc + j
                            if j >= t.n { XCTAssertEqual(o.c[at], before[at], "\(engine) wrote past n"); continue }
                            let bound = Double(t.k + 2) * 0x1p-24 * ref.magnitude[at] + 1e-30
                            worst = max(worst, abs(Double(o.c[at]) - ref.value[at]) / bound)
                        }
                    }
                    XCTAssertLessThanOrEqual(worst, 1, "\(engine), \(threads) threads, \(t)")
                }
            }
        }
    }

    /// bf16 products: against operands first rounded to bf16 each element is within float32's
    /// accumulation bound (so the sums are float32); against the float32 operands within the bound
    /// bf16 rounding implies, (2u + u²)·Σ|a||b| with u = 2⁻⁸, and that bound is approached (so the
    /// operands really are rounded: a float32 product would be 10⁴ times closer).
    func testBF16ProductsWithinTheRoundingBound() throws {
        guard BF16Gemm.isAvailable else { throw XCTSkip(Engines.oneDNN ? "oneDNN has no bf16 products on this processor (no AVX-512)" : "this build has no oneDNN (the package trait OneDNN is off)") }
        var closest = 0.0
        for threads in [1, 2] {
            Threads.set(threads)
            var rng = RNG(seed: 5)
            for t in Self.cases {
                var o = Operands(t, &rng)
                if t.beta != 0 && t.beta != 1 { continue }  // bf16 products accumulate (beta 1) or overwrite (beta 0)
                let rounded = Self.reference(t, o, round: { BFloat16.float(BFloat16.from($0)) })
                let exact = Self.reference(t, o, round: { $0 })
                let a16 = o.a.map(BFloat16.from), b16 = o.b.map(BFloat16.from)
                let ldc = o.ldc
                try a16.withUnsafeBufferPointer { a in
                    try b16.withUnsafeBufferPointer { b in
                        try o.c.withUnsafeMutableBufferPointer { c in
                            try gemmBF16(transA: t.transA, transB: t.transB, m: t.m, n: t.n, k: t.k, alpha: t.alpha,
                                         a.baseAddress!, lda: o.lda, b.baseAddress!, ldb: o.ldb, accumulate: t.beta == 1,
                                         c.baseAddress!, ldc: ldc)
                        }
                    }
                }
                let u = 0x1p-8
                for i in 0..<t.m {
                    for j in 0..<t.n {
                        let at = i * ldc + j, got = Double(o.c[at])
                        let float32Bound = Double(t.k + 2) * 0x1p-24 * rounded.magnitude[at] + 1e-30
                        XCTAssertLessThanOrEqual(abs(got - rounded.value[at]), float32Bound, "rounded operands \(t) [\(i), \(j)]")
                        let bf16Bound = (2 * u + u * u) * exact.magnitude[at] + float32Bound
                        XCTAssertLessThanOrEqual(abs(got - exact.value[at]), bf16Bound, "bf16 bound \(t) [\(i), \(j)]")
                        if t.k >= 7 { closest = max(closest, abs(got - exact.value[at]) / bf16Bound) }
                    }
                }
            }
        }
        XCTAssertGreaterThan(closest, 0.02, "the products look float32, not bf16")
    }

    func testBF16RoundsToNearestEven() {
        XCTAssertEqual(BFloat16.from(1), 0x3F80)
        XCTAssertEqual(BFloat16.from(Float(bitPattern: 0x3F80_8000)), 0x3F80)  // tie, even stays
        XCTAssertEqual(BFloat16.from(Float(bitPattern: 0x3F81_8000)), 0x3F82)  // tie, odd rounds up
        XCTAssertEqual(BFloat16.from(Float(bitPattern: 0x3F80_8001)), 0x3F81)
        XCTAssertEqual(BFloat16.from(-.infinity), 0xFF80)
        XCTAssertTrue(BFloat16.float(BFloat16.from(.nan)).isNaN)
        XCTAssertEqual(BFloat16.from(Float.greatestFiniteMagnitude), 0x7F80)  // rounds to infinity, as PyTorch
        // The vector conversion equals the scalar one, tails included.
        var rng = RNG(seed: 9)
        var xs = (0..<1037).map { _ in (rng.nextFloat() - 0.5) * 1e3 }
        xs[5] = .nan; xs[17] = .infinity; xs[100] = -0.0; xs[1036] = Float(bitPattern: 0x3F81_8000)
        xs[6] = -.nan; xs[7] = Float(bitPattern: 0x7F80_0001); xs[8] = Float(bitPattern: 0xFFFF_FFFF)  // NaNs, one signaling
        xs[9] = Float(bitPattern: 0x0000_8000); xs[10] = Float(bitPattern: 0x807F_FFFF)  // subnormals
        xs[11] = -.infinity; xs[12] = .greatestFiniteMagnitude
        var out = [UInt16](repeating: 0, count: xs.count)
        xs.withUnsafeBufferPointer { x in out.withUnsafeMutableBufferPointer { convertToBF16($0.baseAddress!, x.baseAddress!, count: xs.count) } }
        for (i, x) in xs.enumerated() {
            XCTAssertEqual(out[i], BFloat16.from(x), "\(i)")
            if x.isNaN { XCTAssertTrue(BFloat16.float(out[i]).isNaN, "\(i)") }
        }
    }

    /// The bf16 linear layer equals the float32 one on bf16-rounded operands (forward, dx, dW, db).
    func testBF16LinearLayerEqualsFloat32OnRoundedOperands() throws {
        guard BF16Gemm.isAvailable else { throw XCTSkip(Engines.oneDNN ? "oneDNN has no bf16 products on this processor (no AVX-512)" : "this build has no oneDNN (the package trait OneDNN is off)") }
        var rng = RNG(seed: 11)
        let n = 37, i = 48, o = 29
        func random(_ c: Int) -> [Float] { (0..<c).map { _ in rng.nextFloat() * 2 - 1 } }
        let x = random(n * i), w = random(o * i), b = random(o), dy = random(n * o)
        func r(_ v: [Float]) -> [Float] { v.map { BFloat16.float(BFloat16.from($0)) } }
        let (xr, wr, dyr) = (r(x), r(w), r(dy))
        let w16 = w.map(BFloat16.from)
        let s1 = BF16Buffer(count: n * i), s2 = BF16Buffer(count: n * o)
        var y = [Float](repeating: 0, count: n * o), yRef = y
        var dx = [Float](repeating: 0.5, count: n * i), dxRef = dx
        var dw = [Float](repeating: 0.25, count: o * i), dwRef = dw
        var db = [Float](repeating: 1, count: o), dbRef = db
        convertToBF16(s1.pointer, x, count: n * i)
        convertToBF16(s2.pointer, dy, count: n * o)
        linearForwardBF16(&y, s1.pointer, w16, b, rows: n, inFeatures: i, outFeatures: o)
        try linearBackwardBF16(dx: &dx, dw: &dw, db: &db, dy, s2.pointer, s1.pointer, w16, rows: n, inFeatures: i, outFeatures: o)
        MatmulSelection.current.float32 = .openblas
        linearForward(&yRef, xr, wr, b, rows: n, inFeatures: i, outFeatures: o)
        try linearBackward(dx: &dxRef, dw: &dwRef, db: &dbRef, dyr, xr, wr, rows: n, inFeatures: i, outFeatures: o)
        // db sums the float32 dy, as in float32 training.
        var dbExact = [Float](repeating: 1, count: o)
        for row in 0..<n { for j in 0..<o { dbExact[j] += dy[row * o + j] } }
        func close(_ a: [Float], _ e: [Float], _ what: String, tol: Float = 1e-5) {
            for k in a.indices { XCTAssertEqual(a[k], e[k], accuracy: tol * max(1, abs(e[k])), "\(what)[\(k)]") }
        }
        close(y, yRef, "y"); close(dx, dxRef, "dx"); close(dw, dwRef, "dW"); close(db, dbExact, "db")
        // Without accumulateDx the input gradient is overwritten.
        var dxOver = [Float](repeating: 7, count: n * i)
        try linearBackwardBF16(dx: &dxOver, dw: &dw, db: &db, dy, s2.pointer, s1.pointer, w16, rows: n, inFeatures: i,
                               outFeatures: o, accumulateDx: false)
        close(dxOver, dxRef.map { $0 - 0.5 }, "dx overwritten")
    }

    /// The parity fixtures through every float32 engine (ParityTests runs the machine's choice).
    func testFixtureLogitsAndGradientsThroughEveryEngine() throws {
        for engine in GemmEngine.allCases where engine.isAvailable {
            MatmulSelection.current.float32 = engine
            for path in try Fixtures.all() {
                let file = try SafeTensors(contentsOf: path)
                let name = "\((path as NSString).lastPathComponent) through \(engine)"
                let model = try Fixtures.model(file)
                let batch = try Fixtures.batch(file, decoderOnly: model.config.isDecoderOnly)
                var rng = RNG(seed: 0)
                assertClose(Array(try model.forward(batch, training: true, rng: &rng)), try file.floats("out.logits"), "\(name) logits")
                model.gradients.zero()
                _ = model.loss(smoothing: Float(file.metadata["label_smoothing"] ?? "0") ?? 0)
                try model.backward()
                for e in model.layout.entries where !e.name.hasSuffix("k_proj.bias") {
                    let ours = Array(UnsafeBufferPointer(start: model.gradients.pointer + e.offset, count: e.count))
                    assertClose(ours, try file.floats("grad." + e.name), "\(name) grad.\(e.name)")
                }
            }
        }
    }

    /// A bf16 pass of a fixture model stays near float32 (logits and gradients within a few bf16
    /// roundings), and float32 passes after it are float32 again (the bf16 weights are a copy).
    func testBF16PassIsCloseToFloat32AndLeavesFloat32Intact() throws {
        guard BF16Gemm.isAvailable else { throw XCTSkip(Engines.oneDNN ? "oneDNN has no bf16 products on this processor (no AVX-512)" : "this build has no oneDNN (the package trait OneDNN is off)") }
        for path in try Fixtures.all() {
            let file = try SafeTensors(contentsOf: path)
            let model = try Fixtures.model(file)
            let batch = try Fixtures.batch(file, decoderOnly: model.config.isDecoderOnly)
            let expected = try file.floats("out.logits")
            let scale = expected.map(abs).max()!
            try model.setPrecision(.bf16)
            var rng = RNG(seed: 0)
            let mixed = Array(try model.forward(batch, training: true, rng: &rng))
            let worst = zip(mixed, expected).map { abs($0 - $1) }.max()!
            XCTAssertLessThan(worst, 0.05 * scale, "bf16 logits far from float32")
            XCTAssertGreaterThan(worst, 1e-5 * scale, "bf16 logits equal float32's: no bf16 product ran")
            // Validation and decoding passes stay float32.
            rng = RNG(seed: 0)
            let eval = Array(try model.forward(batch, training: false, rng: &rng))
            try model.setPrecision(.float32)
            rng = RNG(seed: 0)
            let float32Eval = Array(try model.forward(batch, training: false, rng: &rng))
            XCTAssertEqual(eval, float32Eval)
        }
    }

    /// 300 steps of training in bf16 follow the float32 loss curve within 1% (the curve: each step's
    /// loss averaged with its 9 predecessors, as a plotted curve is smoothed; every single step
    /// within 3%), from the same initialization, batches and dropout. A GPT learns a Markov chain
    /// whose entropy (log 3 nats per token) keeps the loss from collapsing to 0.
    func testBF16TrainingFollowsTheFloat32LossCurve() throws {
        guard BF16Gemm.isAvailable else { throw XCTSkip(Engines.oneDNN ? "oneDNN has no bf16 products on this processor (no AVX-512)" : "this build has no oneDNN (the package trait OneDNN is off)") }
        Threads.set(2)
        var rng = RNG(seed: 21)
        var tokens: [Int32] = [4]
        for _ in 0..<20_000 { tokens.append((tokens.last! * 7 + Int32(rng.next() % 3)) % 60 + 4) }
        let base = NSTemporaryDirectory() + "seq2seq-bf16-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: base) }
        var curves: [Precision: [Double]] = [:]
        for precision in Precision.allCases {
            let config = ModelConfig(srcVocabSize: 0, tgtVocabSize: 64, dModel: 64, nHeads: 4, dFF: 256, encoderLayers: 0,
                                     decoderLayers: 2, maxPositions: 32, positional: .learned, activation: .gelu,
                                     scaleEmbedding: false, dropout: 0.1)
            let model = try Transformer(config: config)
            model.initialize(seed: 1)
            var s = TrainSettings()
            s.mode = .languageModel; s.optimizer = .adamw; s.schedule = .cosine; s.lr = 2e-3; s.minLR = 2e-4
            s.warmupSteps = 20; s.maxSteps = 300; s.labelSmoothing = 0; s.weightDecay = 0.1; s.blockSize = 32; s.batchSize = 8
            s.validateEvery = 0; s.minValidateSeconds = 1e9; s.precision = precision
            let stream = BlockStream(train: Array(tokens[..<18_000]), valid: Array(tokens[18_000...]), blockSize: 32,
                                     batchSize: 8, evalBatches: 2, seed: 3)
            let dir = base + "/" + precision.rawValue
            _ = try Trainer(model: model, settings: s, directory: dir, stream: stream, vocabularies: nil, resume: false).run()
            let losses = try CLI.losses(dir)
            curves[precision] = (1...300).map { losses[$0] ?? .nan }
        }
        let f = curves[.float32]!, b = curves[.bf16]!
        XCTAssertFalse(f.contains { $0.isNaN } || b.contains { $0.isNaN }, "a step's loss is missing")
        func smooth(_ c: [Double]) -> [Double] { c.indices.map { i in c[max(0, i - 9)...i].reduce(0, +) / Double(i - max(0, i - 9) + 1) } }
        let (fs, bs) = (smooth(f), smooth(b))
        let curve = zip(fs, bs).map { abs($1 - $0) / $0 }.max()!
        let step = zip(f, b).map { abs($1 - $0) / $0 }.max()!
        XCTAssertLessThan(curve, 0.01, "bf16 loss curve departs from float32's by \(curve * 100)%")
        XCTAssertLessThan(step, 0.03, "a bf16 step's loss departs from float32's by \(step * 100)%")
        XCTAssertLessThan(fs[299], 0.5 * fs[9], "the model learned (float32 curve \(fs[9]) → \(fs[299]))")
        XCTAssertLessThan(fs[299], 1.45, "the model approaches the chain's entropy, log 3 = 1.10")
        XCTAssertNotEqual(f, b, "the two runs are identical: bf16 did not run")
        print("bf16 vs float32 over 300 steps: smoothed curve within \(curve * 100)%, single steps within \(step * 100)%; final \(fs[299]) / \(bs[299])")
    }

    /// Training 12 steps in bf16 in one go and 6 + 6 with --resume gives the identical loss curve
    /// (the first pass after loading converts the restored float32 weights; Adam writes them afterwards).
    func testBF16ResumeReproducesTheLossCurve() throws {
        guard BF16Gemm.isAvailable else { throw XCTSkip(Engines.oneDNN ? "oneDNN has no bf16 products on this processor (no AVX-512)" : "this build has no oneDNN (the package trait OneDNN is off)") }
        let base = NSTemporaryDirectory() + "seq2seq-bf16-resume-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: base) }
        let bf16: (inout TrainSettings, inout ModelConfig) -> Void = { s, _ in s.precision = .bf16 }
        _ = try TrainingTests.makeTrainer(dir: base + "/once", steps: 12, resume: false, configure: bf16).run()
        _ = try TrainingTests.makeTrainer(dir: base + "/twice", steps: 6, resume: false, configure: bf16).run()
        _ = try TrainingTests.makeTrainer(dir: base + "/twice", steps: 12, resume: true, configure: bf16).run()
        let once = try CLI.losses(base + "/once"), twice = try CLI.losses(base + "/twice")
        XCTAssertEqual(once.count, 12)
        XCTAssertEqual(once, twice, "bf16 loss curves differ after resuming")
    }

    /// Adam's bf16 copy of the weights is exactly what the next pass would have converted: the pass
    /// that reads it gives the same logits, bit for bit, as one that converts again; a later write
    /// through `parametersDidChange()` (without a copy) is seen by the next pass.
    func testAdamWritesTheBF16WeightsThePassWouldConvert() throws {
        guard BF16Gemm.isAvailable else { throw XCTSkip(Engines.oneDNN ? "oneDNN has no bf16 products on this processor (no AVX-512)" : "this build has no oneDNN (the package trait OneDNN is off)") }
        let path = try XCTUnwrap(try Fixtures.all().first)
        let file = try SafeTensors(contentsOf: path)
        let model = try Fixtures.model(file)
        let batch = try Fixtures.batch(file, decoderOnly: model.config.isDecoderOnly)
        try model.setPrecision(.bf16)
        var rng = RNG(seed: 3)
        for i in 0..<model.gradients.count { model.gradients[i] = rng.nextFloat() * 2 - 1 }
        let adam = AdamOptimizer(layout: model.layout, settings: .init(weightDecay: 0.01))
        let copy = try XCTUnwrap(model.bf16ParameterCopy)
        adam.update(model.parameters, model.gradients, lr: 1e-2, bf16Copy: copy)
        model.parametersDidChange(bf16CopyWritten: true)
        let n = model.parameters.count
        XCTAssertEqual(Array(UnsafeBufferPointer(start: copy, count: n)), model.parameters.array.map(BFloat16.from))
        func logits() throws -> [Float] { var r = RNG(seed: 0); return Array(try model.forward(batch, training: true, rng: &r)) }
        let fromCopy = try logits()
        copy.update(repeating: 0, count: n)  // a pass that read this copy would give other logits
        model.parametersDidChange()
        XCTAssertEqual(try logits().map(\.bitPattern), fromCopy.map(\.bitPattern), "the converted weights differ from Adam's")
        XCTAssertEqual(Array(UnsafeBufferPointer(start: copy, count: n)), model.parameters.array.map(BFloat16.from))
        for i in 0..<n { model.parameters[i] *= 0.5 }
        model.parametersDidChange()
        XCTAssertNotEqual(try logits(), fromCopy, "a pass after a write did not read the new weights")
        try model.setPrecision(.float32)
        XCTAssertNil(model.bf16ParameterCopy, "float32 passes have no bf16 weights")
    }

    /// In a bf16 pass the pre-norm LayerNorms (each block's and the final ones) write only the bf16
    /// copies that the products read: a pass that follows a float32 pass with other weights (whose
    /// LayerNorm outputs are still in the float32 buffers) gives the same logits and gradients, bit
    /// for bit, as the same pass on a fresh model, so nothing reads those float32 buffers.
    func testBF16PassReadsNoFloat32LayerNormOutput() throws {
        guard BF16Gemm.isAvailable else { throw XCTSkip(Engines.oneDNN ? "oneDNN has no bf16 products on this processor (no AVX-512)" : "this build has no oneDNN (the package trait OneDNN is off)") }
        var checked = 0
        for path in try Fixtures.all() {
            let file = try SafeTensors(contentsOf: path)
            let fresh = try Fixtures.model(file), used = try Fixtures.model(file)
            guard fresh.config.norm == .pre else { continue }
            checked += 1
            let batch = try Fixtures.batch(file, decoderOnly: fresh.config.isDecoderOnly)
            func pass(_ model: Transformer) throws -> [Float] {
                model.gradients.zero()
                var rng = RNG(seed: 7)
                let logits = Array(try model.forward(batch, training: true, rng: &rng))
                model.loss(smoothing: 0.1)
                try model.backward()
                return logits + model.gradients.array
            }
            let weights = used.parameters.array
            for i in 0..<weights.count { used.parameters[i] = weights[i] * 0.5 }
            used.parametersDidChange()
            _ = try pass(used)  // float32: every LayerNorm output written with the halved weights
            used.parameters.pointer.update(from: weights, count: weights.count)
            used.parametersDidChange()
            try used.setPrecision(.bf16); try fresh.setPrecision(.bf16)
            XCTAssertEqual(try pass(used).map(\.bitPattern), try pass(fresh).map(\.bitPattern), path)
        }
        XCTAssertGreaterThan(checked, 0, "no pre-norm fixture")
    }

    /// The loss kernel's bf16 copy of its gradient (what the output projection's backward reads in a
    /// bf16 pass) is exactly the rounding of its float32 gradient, pad rows included, on 1 and 2 threads.
    func testLossKernelWritesTheRoundedGradient() {
        let n = 200, v = 1001
        var rng = RNG(seed: 11)
        let logits = (0..<(n * v)).map { _ in rng.nextFloat() * 8 - 4 }
        let targets = (0..<n).map { r in Int32(r % 17 == 0 ? 0 : 1 + Int(rng.next() % UInt64(v - 1))) }
        for threads in [1, 2] {
            Threads.set(threads)
            var d = [Float](repeating: 0, count: n * v), d16 = [UInt16](repeating: 0xFFFF, count: n * v)
            var rows = [Float](repeating: 0, count: n)
            let out = crossEntropyForwardBackward(dLogits: &d, dLogits16: &d16, rowLoss: &rows, logits, targets: targets,
                                                  rows: n, vocab: v, smoothing: 0.1, padId: 0, gradScale: 0.01)
            XCTAssertEqual(out.count, n - (n + 16) / 17)
            XCTAssertEqual(d16, d.map(BFloat16.from), "\(threads) threads")
            XCTAssertTrue(d16[0..<v].allSatisfy { $0 == 0 } && d[0..<v].allSatisfy { $0 == 0 }, "a pad row has no gradient")
        }
    }

    /// The kernels split over threads give the same bits on one and two threads (each sum keeps its
    /// order), so a run's numbers do not depend on --threads: LayerNorm's backward, the bf16
    /// conversion, dropout, the element-wise sums and products, the bias and embedding gradients,
    /// the gradient norm and its clipping.
    func testSplitKernelsGiveTheSameBitsOnOneAndTwoThreads() {
        let n = 3000, d = 256, count = n * d
        var rng = RNG(seed: 5)
        let x = (0..<count).map { _ in rng.nextFloat() * 4 - 2 }
        let dy = (0..<count).map { _ in rng.nextFloat() - 0.5 }
        let gamma = (0..<d).map { _ in 0.5 + rng.nextFloat() }, beta = (0..<d).map { _ in rng.nextFloat() - 0.5 }
        var outputs: [[[Float]]] = []
        var halves: [[UInt16]] = [], states: [[UInt64]] = []
        var reductions: [[[Float]]] = [], norms: [Float] = []
        for threads in [1, 2] {
            Threads.set(threads)
            var y = [Float](repeating: 0, count: count), mean = [Float](repeating: 0, count: n), rstd = mean
            layerNormForward(&y, mean: &mean, rstd: &rstd, x, gamma: gamma, beta: beta, rows: n, dim: d, eps: 1e-5)
            var dx = dy, dg = [Float](repeating: 0.25, count: d), db = dg
            layerNormBackward(dx: &dx, dGamma: &dg, dBeta: &db, dy, x, mean: mean, rstd: rstd, gamma: gamma, rows: n, dim: d)
            var dropped = [Float](repeating: 0, count: count), mask = dropped
            var r = RNG(seed: 9)
            dropoutForward(&dropped, mask: &mask, x, count: count, p: 0.1, rng: &r)
            var sum = [Float](repeating: 0, count: count), product = sum, acc = dy
            addElementwise(&sum, x, dy, count: count)
            multiplyElementwise(&product, x, dy, count: count)
            accumulateElementwise(&acc, x, count: count)
            var h = [UInt16](repeating: 0, count: count)
            convertToBF16(&h, x, count: count)
            outputs.append([y, dx, dg, db, dropped, mask, sum, product, acc])
            // Reductions split by columns or blocks: bias gradients, the embedding's scatter-add,
            // the gradient norm; and the embedding lookup split by rows.
            var columns = [Float](repeating: 0.25, count: d)
            addColumnSums(&columns, dy, rows: n, cols: d)
            var table = [Float](repeating: 0, count: 40 * d)
            let ids = (0..<n).map { Int32(($0 * 7) % 40) }
            embeddingBackward(dTable: &table, dPositions: nil, dy, ids: ids, scale: 2, batch: 1, length: n, dModel: d)
            let grads = FloatBuffer(dy)
            norms.append(clipGradientNorm(grads, maxNorm: 1))
            var embedded = [Float](repeating: 0, count: count)
            embeddingForward(&embedded, ids: ids, table: table, positions: x, scale: 0.5, batch: 1, length: n, dModel: d)
            reductions.append([columns, table, grads.array, embedded])
            halves.append(h)
            states.append(r.state)
        }
        let names = ["layerNorm y", "dx", "dgamma", "dbeta", "dropout", "mask", "sum", "product", "accumulate"]
        for (i, name) in names.enumerated() {
            XCTAssertEqual(outputs[0][i].map(\.bitPattern), outputs[1][i].map(\.bitPattern), name)
        }
        XCTAssertEqual(halves[0], halves[1], "bf16 conversion")
        // Against the serial loops they replace, which sum in the same order: equal bits.
        var sums = [Float](repeating: 0.25, count: d), table = [Float](repeating: 0, count: 40 * d)
        for r in 0..<n { for j in 0..<d { sums[j] += dy[r * d + j] } }
        let ids = (0..<n).map { Int32(($0 * 7) % 40) }
        for r in 0..<n { for j in 0..<d { table[Int(ids[r]) * d + j] += dy[r * d + j] * 2 } }
        var sumSquares: Double = 0, chunk: Float = 0
        for i in 0..<count {
            chunk = (dy[i] * dy[i]) + chunk
            if i % 4096 == 4095 || i == count - 1 { sumSquares += Double(chunk); chunk = 0 }
        }
        for (i, name) in ["column sums", "embedding gradient", "clipped", "embedded"].enumerated() {
            XCTAssertEqual(reductions[0][i].map(\.bitPattern), reductions[1][i].map(\.bitPattern), "\(name), 1 against 2 threads")
        }
        XCTAssertEqual(reductions[0][0], sums)
        XCTAssertEqual(reductions[0][1], table)
        XCTAssertEqual(norms[0], norms[1])
        XCTAssertEqual(norms[0], Float(sumSquares.squareRoot()), accuracy: norms[0] * 1e-6)
        let s = 1 / (norms[0] + 1e-6)
        XCTAssertEqual(reductions[0][2], dy.map { $0 * s }, "clipped to norm 1")
        XCTAssertEqual(states[0], states[1], "the generator after dropout")
        XCTAssertEqual(halves[0], x.map(BFloat16.from))
        // Dropout kept about 90%, and the mask scales what it keeps by 1 / 0.9.
        let kept = outputs[0][5].filter { $0 != 0 }
        XCTAssertEqual(Double(kept.count) / Double(count), 0.9, accuracy: 0.005)
        XCTAssertTrue(kept.allSatisfy { abs($0 - 1 / 0.9) < 1e-6 })
    }
}
