import HTTPTestSupport
import XCTest
@_spi(Testing) import Seq2SeqKit

/// oneDNN failures (Tensor/OneDNN.swift) never stop the process: each becomes a `OneDNNError`
/// (status, stage, what was being done), counted in `OneDNNFailures`; a product that overwrites its
/// output, or whose failure came before it ran, is recomputed by OpenBLAS (or our int8 engine), so
/// its values are those of that engine to the last bit; a product that was adding into its output
/// when it failed throws, and so does the backward pass that asked for it. Failures are made real
/// with invalid descriptors and arguments, and forced elsewhere with the test hook
/// (`OneDNNFailures.inject`), which makes calls report a failure status without running.
final class OneDNNErrorTests: XCTestCase {
    override func setUpWithError() throws {
        guard GemmEngine.onednn.isAvailable else { throw XCTSkip("this build has no oneDNN") }
        Threads.set(1)
        OneDNNFailures.stopInjecting()
    }

    override func tearDown() {
        OneDNNFailures.stopInjecting()
        MatmulSelection.current.float32 = nil
        MatmulSelection.current.int8 = nil
        Threads.set(1)
    }

    func random(_ count: Int, _ rng: inout RNG) -> [Float] { (0..<count).map { _ in rng.nextFloat() * 2 - 1 } }

    /// Which oneDNN calls the hook makes fail.
    enum Failing { case off, at(OneDNNError.Stage), all }

    /// Runs `body` with every product on `engine` and the `failing` oneDNN calls reporting a
    /// failure, and returns what it returned.
    func with<T>(_ engine: GemmEngine, failing: Failing = .off, _ body: () throws -> T) rethrows -> T {
        MatmulSelection.current.float32 = engine
        switch failing {
        case .off: break
        case .at(let stage): OneDNNFailures.inject(stage, count: nil)
        case .all: OneDNNFailures.inject(nil, count: nil)
        }
        defer { OneDNNFailures.stopInjecting(); MatmulSelection.current.float32 = nil }
        return try body()
    }

    // MARK: - Real failures

    /// oneDNN's own statuses, without the hook: an sgemm whose lda is shorter than a row, a memory
    /// descriptor with a negative size (a bf16 product). Each is an error with its
    /// status, stage and shape, and is counted; nothing traps.
    func testInvalidArgumentsAndDescriptorsBecomeErrors() throws {
        // The oneDNN calls are compiled in only with the OneDNN trait (setUp skips without it).
        #if OneDNN
        var rng = RNG(seed: 1)
        let a = random(64, &rng), b = random(64, &rng)
        var c = [Float](repeating: 0, count: 64)
        let before = OneDNNFailures.count
        XCTAssertThrowsError(try OneDNN.sgemm(transA: false, transB: false, m: 4, n: 4, k: 8, alpha: 1, a, lda: 2, b, ldb: 4,
                                              beta: 0, &c, ldc: 4)) { error in
            let e = error as? OneDNNError
            XCTAssertEqual(e?.status, 2, "\(error)")  // dnnl_invalid_arguments
            XCTAssertEqual(e?.stage, .execution)
            XCTAssertTrue(e?.operation.contains("dnnl_sgemm NN 4×4×8 (lda 2") == true, "\(error)")
            XCTAssertTrue(e?.description.contains("invalid arguments (status 2)") == true, "\(error)")
        }
        XCTAssertEqual(OneDNNFailures.count, before + 1)
        XCTAssertEqual(OneDNNFailures.last?.status, 2)

        let a16 = a.map(BFloat16.from), b16 = b.map(BFloat16.from)
        XCTAssertThrowsError(try OneDNN.gemmBF16(transA: false, transB: false, m: 4, n: 4, k: -8, alpha: 1, a16, lda: 8,
                                                 b16, ldb: 4, bias: nil, accumulate: false, &c, ldc: 4)) { error in
            let e = error as? OneDNNError
            XCTAssertEqual(e?.stage, .setup, "\(error)")
            XCTAssertNotEqual(e?.status, 0)
        }
        XCTAssertEqual(OneDNNFailures.count, before + 2)
        #else
        XCTAssertFalse(Engines.oneDNN, "the OneDNN trait's condition must reach the tests too")
        #endif
    }

    /// The first failure is reported once through `OneDNNFailures.log`; later ones are only counted.
    func testTheFirstFailureIsLoggedOnceAndEveryOneCounted() {
        let saved = OneDNNFailures.log
        let messages = Locked([String]())
        OneDNNFailures.log = { m in messages.update { $0.append(m) } }
        defer { OneDNNFailures.log = saved }
        OneDNNFailures.resetLog()
        var rng = RNG(seed: 2)
        let a = random(64 * 64, &rng), b = random(64 * 64, &rng)
        var c = [Float](repeating: 0, count: 64 * 64)
        let before = OneDNNFailures.count
        MatmulSelection.current.float32 = .onednn
        OneDNNFailures.inject(.execution, count: 3, status: 1)
        for _ in 0..<5 { gemm(transA: false, transB: false, m: 64, n: 64, k: 64, a, lda: 64, b, ldb: 64, &c, ldc: 64) }
        XCTAssertEqual(OneDNNFailures.count, before + 3, "3 injected failures, then oneDNN runs again")
        XCTAssertEqual(messages.value.count, 1, "\(messages.value)")
        XCTAssertTrue(messages.value.first?.contains("oneDNN failed while running dnnl_sgemm NN 64×64×64") == true, "\(messages.value)")
        XCTAssertTrue(messages.value.first?.contains("out of memory (status 1)") == true, "\(messages.value)")
        XCTAssertEqual(OneDNNFailures.last?.stage, .execution)
    }

    // MARK: - Each door

    /// float32 products that overwrite C: with every oneDNN call failing, the values are OpenBLAS's
    /// exactly. Products adding into C (beta ≠ 0) throw when the run failed (C may be partly
    /// updated); the linear layer, which knows C held its bias, refills it and gets OpenBLAS's values.
    func testFloat32ProductsFallBackToOpenBLASOrThrowWhenAccumulating() throws {
        var rng = RNG(seed: 3)
        let (m, n, k) = (70, 50, 90)
        let a = random(m * k, &rng), b = random(n * k, &rng), c0 = random(m * n, &rng), bias = random(n, &rng)
        for (transA, transB) in [(false, false), (false, true), (true, false), (true, true)] {
            let (lda, ldb) = (transA ? m : k, transB ? k : n)
            func product(_ engine: GemmEngine, failing: Failing = .off) -> [Float] {
                var c = c0
                with(engine, failing: failing) {
                    gemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: 0.5, a, lda: lda, b, ldb: ldb, &c, ldc: n)
                }
                return c
            }
            let blas = product(.openblas)
            XCTAssertEqual(product(.onednn, failing: .all), blas, "\(transA) \(transB)")
            XCTAssertNotEqual(product(.onednn), c0)

            var c = c0
            let before = OneDNNFailures.count
            XCTAssertThrowsError(try with(.onednn, failing: .at(.execution)) {
                try gemm(transA: transA, transB: transB, m: m, n: n, k: k, a, lda: lda, b, ldb: ldb, beta: 1, &c, ldc: n)
            }) { XCTAssertEqual(($0 as? OneDNNError)?.stage, .execution) }
            XCTAssertEqual(OneDNNFailures.count, before + 1)
            // beta 0 through the accumulating door is an overwrite: it falls back.
            c = c0
            try with(.onednn, failing: .at(.execution)) {
                try gemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: 0.5, a, lda: lda, b, ldb: ldb, beta: 0, &c, ldc: n)
            }
            XCTAssertEqual(c, blas)
        }

        // The linear layer with a bias (beyond the few-row kernels): OpenBLAS's values exactly.
        let allRows = MatmulSelection.current.fewRowsForEveryRowCount
        MatmulSelection.current.fewRowsForEveryRowCount = false
        defer { MatmulSelection.current.fewRowsForEveryRowCount = allRows }
        func linear(_ engine: GemmEngine, failing: Failing = .off) -> [Float] {
            var y = [Float](repeating: .nan, count: m * n)
            with(engine, failing: failing) { linearForward(&y, a, b, bias, rows: m, inFeatures: k, outFeatures: n) }
            return y
        }
        XCTAssertEqual(linear(.onednn, failing: .all), linear(.openblas))
    }

    /// bf16 products: on a failure the widened operands go through OpenBLAS, within float32's
    /// accumulation bound of oneDNN's own result (the bias included); an accumulating product that
    /// failed while running throws.
    func testBF16ProductsFallBackToOpenBLASOrThrowWhenAccumulating() throws {
        guard BF16Gemm.isAvailable else { throw XCTSkip("oneDNN has no bf16 products on this processor (no AVX-512)") }
        var rng = RNG(seed: 5)
        let (m, n, k) = (37, 29, 48)
        let a = random(m * k, &rng).map(BFloat16.from), b = random(n * k, &rng).map(BFloat16.from)
        let bias = random(n, &rng), c0 = random(m * n, &rng)
        // Σ|a||b| per element, for the bound.
        var magnitude = [Double](repeating: 0, count: m * n)
        for i in 0..<m { for j in 0..<n { for p in 0..<k {
            magnitude[i * n + j] += abs(Double(BFloat16.float(a[i * k + p])) * Double(BFloat16.float(b[j * k + p])))
        } } }
        for accumulate in [false, true] {
            func product(failing: Failing = .off) throws -> [Float] {
                var c = c0
                try with(.onednn, failing: failing) {
                    try gemmBF16(transA: false, transB: true, m: m, n: n, k: k, a, lda: k, b, ldb: k, bias: bias,
                                 accumulate: accumulate, &c, ldc: n)
                }
                return c
            }
            let dnnl = try product()
            let stages: [OneDNNError.Stage] = accumulate ? [.setup] : [.setup, .execution]
            for stage in stages {
                let fallback = try product(failing: .at(stage))
                for t in 0..<(m * n) {
                    let base = abs(Double(bias[t % n])) + (accumulate ? abs(Double(c0[t])) : 0)
                    let bound = 2 * Double(k + 2) * 0x1p-24 * (magnitude[t] + base)
                    XCTAssertLessThanOrEqual(abs(Double(fallback[t]) - Double(dnnl[t])), bound, "accumulate \(accumulate), \(stage) [\(t)]")
                }
            }
        }
        XCTAssertThrowsError(try {
            var c = c0
            try with(.onednn, failing: .at(.execution)) {
                try gemmBF16(transA: false, transB: true, m: m, n: n, k: k, a, lda: k, b, ldb: k, accumulate: true, &c, ldc: n)
            }
        }()) { XCTAssertEqual(($0 as? OneDNNError)?.stage, .execution, "\($0)") }
    }

    /// int8 products: on a failure our own engine computes the same integers, so the same outputs.
    func testInt8ProductsFallBackToOurEngine() {
        var rng = RNG(seed: 6)
        let (n, i, o) = (40, 100, 70)
        let x = random(n * i, &rng), w = random(o * i, &rng), bias = random(o, &rng)
        let q = w.withUnsafeBufferPointer { QuantizedMatrix(quantizing: $0.baseAddress!, rows: o, columns: i) }
        func forward(_ engine: Int8Engine, failing: Bool = false) -> [Float] {
            MatmulSelection.current.int8 = engine
            if failing { OneDNNFailures.inject(nil, count: nil) }
            defer { OneDNNFailures.stopInjecting(); MatmulSelection.current.int8 = nil }
            var y = [Float](repeating: .nan, count: n * o)
            int8LinearForward(&y, x, q, bias, rows: n)
            return y
        }
        let before = OneDNNFailures.count
        XCTAssertEqual(forward(.onednn, failing: true), forward(.portable))
        XCTAssertEqual(OneDNNFailures.count, before + 1)
        XCTAssertEqual(forward(.onednn), forward(.portable))
    }

    // MARK: - A model

    /// A whole model with every oneDNN call failing: the forward pass and beam search give OpenBLAS's
    /// logits and translations exactly; the backward pass, whose weight gradients add into the
    /// gradient buffer, throws; with oneDNN working again the next step's gradients are right.
    func testModelForwardFallsBackAndBackwardThrows() throws {
        let allRows = MatmulSelection.current.fewRowsForEveryRowCount
        MatmulSelection.current.fewRowsForEveryRowCount = false
        defer { MatmulSelection.current.fewRowsForEveryRowCount = allRows }
        let config = ModelConfig(srcVocabSize: 40, tgtVocabSize: 36, dModel: 32, nHeads: 4, dFF: 48, encoderLayers: 1,
                                 decoderLayers: 1, maxPositions: 24, dropout: 0)
        let model = try Transformer(config: config)
        model.initialize(seed: 5)
        var rng = RNG(seed: 6)
        let sources = (0..<4).map { _ in (0..<12).map { _ in Int32(3 + rng.next() % 37) } }
        let targets = (0..<4).map { _ in (0..<11).map { _ in Int32(3 + rng.next() % 33) } }
        let batch = Batch(sources: sources, targets: targets, pad: 0, bos: 1, eos: 2)

        func logits(_ engine: GemmEngine, failing: Failing = .off) throws -> [Float] {
            var r = RNG(seed: 1)
            return try with(engine, failing: failing) { Array(try model.forward(batch, training: false, rng: &r)) }
        }
        let blas = try logits(.openblas)
        var before = OneDNNFailures.count
        XCTAssertEqual(try logits(.onednn, failing: .all), blas)
        XCTAssertGreaterThan(OneDNNFailures.count, before, "no product went to oneDNN")

        let src: [Int32] = sources.flatMap { $0 + [2] }
        func translate(_ engine: GemmEngine, failing: Failing = .off) throws -> [[BeamSearch.Hypothesis]] {
            try with(engine, failing: failing) {
                try BeamSearch(beam: 3).translate(model, src: src, batch: 4, srcLength: 13, maxLength: [10, 10, 10, 10])
            }
        }
        // Decoding's float32 products run on the batch-invariant kernels whatever engine is named:
        // the same hypotheses, and no call reaches oneDNN (int8 decoding's do: see ServeTests).
        before = OneDNNFailures.count
        XCTAssertEqual(try translate(.onednn, failing: .all), try translate(.openblas))
        XCTAssertEqual(OneDNNFailures.count, before, "a decoding product went to oneDNN")

        func gradients(_ engine: GemmEngine, failing: Failing = .off) throws -> [Float] {
            var r = RNG(seed: 1)
            return try with(engine, failing: failing) {
                model.gradients.zero()
                try model.forward(batch, training: true, rng: &r)
                model.loss(smoothing: 0.1)
                try model.backward()
                return model.gradients.array
            }
        }
        before = OneDNNFailures.count
        XCTAssertThrowsError(try gradients(.onednn, failing: .at(.execution))) { error in
            XCTAssertEqual((error as? OneDNNError)?.stage, .execution, "\(error)")
        }
        XCTAssertGreaterThan(OneDNNFailures.count, before)
        let expected = try gradients(.openblas), again = try gradients(.onednn)
        let largest = expected.map(abs).max()!
        XCTAssertGreaterThan(largest, 0)
        for (x, y) in zip(again, expected) { XCTAssertEqual(x, y, accuracy: 1e-5 * largest) }
    }

    /// `seq2seq train` with oneDNN failing while running (and every product sent to it), in float32 and
    /// (where oneDNN has bf16 products) in bf16: the weight gradients' products cannot be recomputed,
    /// so training stops with the error, exit status 1 and the message, instead of a trap.
    func testTrainingStopsWithTheErrorInsteadOfTrapping() throws {
        guard CLI.binary != nil else { throw CLI.Missing("the seq2seq binary is not built beside the tests (swift test builds it)") }
        let sample = CLI.repository + "/corpora/sample"
        var cases = [("float32", "dnnl_sgemm")]
        if BF16Gemm.isAvailable { cases.append(("bf16", "a bf16 matmul")) }
        for (precision, product) in cases {
            let dir = NSTemporaryDirectory() + "seq2seq-onednn-\(getpid())-\(UUID().uuidString.prefix(8))"
            defer { try? FileManager.default.removeItem(atPath: dir) }
            let r = try CLI.run(["train", "--src", "\(sample)/train.de", "--tgt", "\(sample)/train.en", "--model", dir,
                                 "--d-model", "32", "--d-ff", "64", "--layers", "1", "--heads", "2", "--vocab-size", "500",
                                 "--max-steps", "5", "--threads", "1", "--precision", precision],
                                environment: ["SEQ2SEQ_GEMM_ENGINE": "onednn", "SEQ2SEQ_TEST_FAIL_ONEDNN": "execution:all"])
            XCTAssertEqual(r.status, 1, "\(precision): \(r.output)")
            XCTAssertTrue(r.stderr.contains("Error: oneDNN failed while running \(product)"), "\(precision): \(r.output)")
            XCTAssertEqual(r.stderr.components(separatedBy: "seq2seq: oneDNN ").count - 1, 1, "\(precision): the first failure, logged once: \(r.output)")
        }
    }
}
