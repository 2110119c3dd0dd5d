import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A oneDNN call that did not succeed: its status, whether the product had started, and what was
/// being done. No oneDNN failure stops the process: the doors (Tensor/Gemm.swift,
/// Kernels/Int8Linear.swift) recompute a failed product with the other engine (OpenBLAS, or our int8
/// kernels) whenever the result can be rebuilt from the inputs: every product that overwrites its
/// output, and every failure before a product ran. They throw this error only for a product that
/// was adding into its output when it failed (that output may be partly updated and cannot be
/// restored): the weight gradients of a backward pass, which `Transformer.backward()` passes on. A
/// linear layer's forward, which adds into its bias rows, refills them and recomputes. So inference
/// (translate, serve, generate) never sees one; it is counted in `OneDNNFailures`.
public struct OneDNNError: Error, Sendable, CustomStringConvertible {
    /// Whether the failed product's output is lost: a product adding into its output that failed
    /// while running (the output may hold part of it, and what it held before is gone). Any other
    /// failure leaves the inputs and the output rebuildable, so the other engine recomputes it.
    public func losesOutput(accumulating: Bool) -> Bool { accumulating && stage == .execution }

    /// When the call failed: before the product ran, or while it ran.
    public enum Stage: String, Sendable {
        /// Before the product ran (engine, stream, descriptors, primitive and memory objects): its
        /// output is untouched.
        case setup
        /// While it ran (dnnl_sgemm, dnnl_gemm_u8s8s32, dnnl_primitive_execute): its output may be
        /// partly written.
        case execution
    }

    /// oneDNN's `dnnl_status_t`, as its raw value (1 out of memory, 2 invalid arguments,
    /// 3 unimplemented, 5 runtime error).
    public let status: Int32
    /// Whether the product had started.
    public let stage: Stage
    /// What was being done, with the product's shape.
    public let operation: String

    /// An error from its parts.
    public init(status: Int32, stage: Stage, operation: String) {
        self.status = status; self.stage = stage; self.operation = operation
    }

    /// The status in words ("out of memory", "invalid arguments", …).
    public var statusName: String {
        switch status {
        case 1: "out of memory"
        case 2: "invalid arguments"
        case 3: "unimplemented"
        case 4: "iterator ends"
        case 5: "runtime error"
        case 6: "not required"
        default: "unknown status"
        }
    }

    /// The message: what oneDNN could not prepare or run, and its status.
    public var description: String {
        "oneDNN \(stage == .setup ? "could not prepare" : "failed while running") \(operation): \(statusName) (status \(status))"
    }
}

/// The oneDNN failures this process has seen (none in a build without oneDNN). The first is
/// reported through `log`; later ones are only counted (`seq2seq serve` shows the count in /metrics).
public enum OneDNNFailures {
    private struct Record {
        var count = 0
        var last: OneDNNError?
        var logged = false
        /// The test hook's failures still to come (see `inject`).
        var injection: Injection? = Injection.fromEnvironment
    }
    private static let record = Mutex(Record())

    /// Failed oneDNN calls so far (each failed product counts once).
    public static var count: Int { record.withLock { $0.count } }
    /// The most recent one.
    public static var last: OneDNNError? { record.withLock { $0.last } }

    /// Where the first failure is reported: standard error unless replaced.
    nonisolated(unsafe) public static var log: @Sendable (String) -> Void = { message in
        FileHandle.standardError.write(Data("seq2seq: \(message)\n".utf8))
    }

    /// Counts `error` and reports it when it is the first.
    static func recordFailure(_ error: OneDNNError) {
        let first = record.withLock { r in
            r.count += 1
            r.last = error
            defer { r.logged = true }
            return !r.logged
        }
        if first {
            log("\(error); the product is recomputed with OpenBLAS (or our int8 kernels) where its inputs allow, and "
                + "only a product adding into its output passes the error on. Further oneDNN failures are counted, not logged.")
        }
    }

    // MARK: - Test hook

    /// TEST HOOK, for tests only: makes the next `count` oneDNN calls at `stage` (nil: either
    /// stage) report `status` without running (`count` nil: every call until `stopInjecting()`).
    /// It covers the calls each product makes (descriptors, primitive and memory objects, setting
    /// the data pointers, the run), not the engine, the streams or the bf16 availability probe,
    /// which are made once. `SEQ2SEQ_TEST_FAIL_ONEDNN=<setup|execution|any>:<count|all>` sets it
    /// from the environment (the `seq2seq serve` test: `any:all`); never set it in production.
    struct Injection: Sendable {
        var stage: OneDNNError.Stage?
        var remaining: Int?
        var status: Int32 = 5  // dnnl_runtime_error

        static let fromEnvironment: Injection? = {
            guard let value = ProcessInfo.processInfo.environment["SEQ2SEQ_TEST_FAIL_ONEDNN"], !value.isEmpty else { return nil }
            let parts = value.split(separator: ":").map(String.init)
            let stages: [String: OneDNNError.Stage?] = ["setup": .setup, "execution": .execution, "any": nil]
            guard parts.count == 2, let stage = stages[parts[0]], parts[1] == "all" || Int(parts[1]) != nil else {
                FileHandle.standardError.write(Data(
                    "seq2seq: SEQ2SEQ_TEST_FAIL_ONEDNN=\(value) ignored (a test hook: <setup|execution|any>:<count|all>)\n".utf8))
                return nil
            }
            return Injection(stage: stage, remaining: Int(parts[1]))
        }()
    }
    /// Whether the hook may fire (read on every call without the lock).
    private static let armed = Atomic<Bool>(Injection.fromEnvironment != nil)

    /// TEST HOOK (see `Injection`).
    @_spi(Testing) public static func inject(_ stage: OneDNNError.Stage?, count: Int?, status: Int32 = 5) {
        record.withLock { $0.injection = Injection(stage: stage, remaining: count, status: status) }
        armed.store(true, ordering: .sequentiallyConsistent)
    }

    /// TEST HOOK: no more injected failures.
    @_spi(Testing) public static func stopInjecting() {
        record.withLock { $0.injection = nil }
        armed.store(false, ordering: .sequentiallyConsistent)
    }

    /// TEST HOOK: the next failure is logged again.
    @_spi(Testing) public static func resetLog() { record.withLock { $0.logged = false } }

    /// The status the hook makes a call at `stage` report, if it fires for it (one of its count).
    @inline(__always)
    static func injectedStatus(_ stage: OneDNNError.Stage) -> Int32? {
        guard armed.load(ordering: .relaxed) else { return nil }
        let (status, exhausted) = record.withLock { r -> (Int32?, Bool) in
            guard var i = r.injection, i.stage == nil || i.stage == stage else { return (nil, false) }
            if let n = i.remaining {
                if n <= 0 { return (nil, true) }
                i.remaining = n - 1
            }
            r.injection = i
            return (i.status, i.remaining == 0)
        }
        if exhausted { armed.store(false, ordering: .sequentiallyConsistent) }
        return status
    }
}

// The static single-file build (the OneDNN trait off) has no oneDNN: Debian ships no static libdnnl.
#if OneDNN
import CDNNL

// oneDNN (Debian's libdnnl, the OpenMP build): its float32 sgemm, bf16 matrix multiplication and
// int8 products. It picks its kernels from the processor (AVX-512, AVX512_BF16, AMX) whatever
// OpenBLAS was built for or told to use, which is why the products of training go through it on
// processors where OpenBLAS runs older kernels (Tensor/Gemm.swift).
// Dims legend: M rows of C, N columns of C, K the inner dimension. Row-major throughout.
//
// Every call's status is checked: a failure becomes a `OneDNNError` (recorded in `OneDNNFailures`)
// thrown to the door that asked for the product, which decides between recomputing it and passing
// the error on (see OneDNNError).

@_spi(Testing) public enum OneDNN {
    /// oneDNN runs on OpenMP threads, whose number is a per-thread setting in OpenMP: it is set
    /// before every call (a store into the caller's thread state). Inside `parallelRows` each worker
    /// runs its product on one thread, as OpenBLAS does for such small products; otherwise OpenMP would start a team per worker on the same cores.
    /// libgomp arrives with libdnnl; its functions are looked up rather than linked
    /// (`OpenMPTeam`), so that the build needs no OpenMP development files.
    @inline(__always)
    static func prepareThreads() {
        OpenMPTeam.setThreadCount?(Int32(ParallelWorker.isActive ? 1 : Threads.count))
    }

    /// Makes one oneDNN call, or under the test hook reports its injected status instead
    /// (`OneDNNFailures.Injection`); a status other than success becomes a recorded `OneDNNError`.
    /// `probe`: neither hooked nor recorded here (the bf16 availability probe, whose failure is an
    /// answer; the engine and streams, made once, whose failure is recorded where they are asked for).
    @inline(__always)
    static func call(_ stage: OneDNNError.Stage, _ operation: @autoclosure () -> String, probe: Bool = false,
                     _ body: () -> dnnl_status_t) throws(OneDNNError) {
        let status = (probe ? nil : OneDNNFailures.injectedStatus(stage)).map { dnnl_status_t(rawValue: UInt32($0)) }
            ?? body()
        guard status == dnnl_success else {
            let error = OneDNNError(status: Int32(status.rawValue), stage: stage, operation: operation())
            if !probe { OneDNNFailures.recordFailure(error) }
            throw error
        }
    }

    /// C[M, N] = alpha · op(A) · op(B) + beta · C in float32 (dnnl_sgemm). A failure is of the
    /// execution stage: dnnl_sgemm checks its arguments and runs in one call.
    @inline(__always)
    @_spi(Testing) public static func sgemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float, _ a: ConstFloatPtr, lda: Int,
                      _ b: ConstFloatPtr, ldb: Int, beta: Float, _ c: FloatPtr, ldc: Int) throws(OneDNNError) {
        prepareThreads()
        try call(.execution, "dnnl_sgemm \(transA ? "T" : "N")\(transB ? "T" : "N") \(m)×\(n)×\(k) "
                             + "(lda \(lda), ldb \(ldb), ldc \(ldc), beta \(beta))") {
            dnnl_sgemm(
                CChar(UInt8(ascii: transA ? "T" : "N")), CChar(UInt8(ascii: transB ? "T" : "N")),
                dnnl_dim_t(m), dnnl_dim_t(n), dnnl_dim_t(k), alpha, a, dnnl_dim_t(lda), b, dnnl_dim_t(ldb),
                beta, c, dnnl_dim_t(ldc))
        }
    }

    // MARK: - Engine, stream and the bf16 matmul primitives

    /// The CPU engine, made on first use (engines are thread-safe; streams are kept per thread). A
    /// failure is kept too: every product then goes to the other engine.
    nonisolated(unsafe) private static let cpuEngine: Result<dnnl_engine_t, OneDNNError> = {
        var engine: dnnl_engine_t? = nil
        do throws(OneDNNError) {
            try call(.setup, "the CPU engine", probe: true) { dnnl_engine_create(&engine, dnnl_cpu, 0) }
            guard let engine else { throw OneDNNError(status: 5, stage: .setup, operation: "the CPU engine (none returned)") }
            return .success(engine)
        } catch {
            return .failure(error)
        }
    }()

    static func readyEngine() throws(OneDNNError) -> dnnl_engine_t {
        switch cpuEngine {
        case .success(let e): return e
        case .failure(let error): OneDNNFailures.recordFailure(error); throw error
        }
    }

    /// What identifies one bf16 product: a matmul primitive is made for each (oneDNN generates its
    /// kernel for the exact shape, and splits the work for the threads it has when it is made) and
    /// kept. Training sees a few hundred shapes (row counts vary with the batch), decoding a few per
    /// batch size.
    struct MatmulKey: Hashable, CustomStringConvertible {
        var transA: Bool, transB: Bool, m: Int, n: Int, k: Int, lda: Int, ldb: Int, ldc: Int
        var alpha: Float, accumulate: Bool
        /// Whether a float32 bias row [N] is added to every row of C.
        var bias = false
        var threads = ParallelWorker.isActive ? 1 : Threads.count

        var description: String {
            "bf16 matmul \(transA ? "T" : "N")\(transB ? "T" : "N") \(m)×\(n)×\(k) (lda \(lda), ldb \(ldb), ldc \(ldc), "
                + "alpha \(alpha)\(accumulate ? ", accumulating" : "")\(bias ? ", bias" : ""), \(threads) threads)"
        }
    }

    /// A primitive and the memory objects of its operands (their data pointers are set before each run).
    final class Matmul {
        let primitive: dnnl_primitive_t
        let src: dnnl_memory_t, weights: dnnl_memory_t, dst: dnnl_memory_t, bias: dnnl_memory_t?
        let what: String
        init(primitive: dnnl_primitive_t, src: dnnl_memory_t, weights: dnnl_memory_t, dst: dnnl_memory_t,
             bias: dnnl_memory_t?, what: String) {
            self.primitive = primitive; self.src = src; self.weights = weights; self.dst = dst; self.bias = bias
            self.what = what
        }
        deinit {
            dnnl_primitive_destroy(primitive)
            dnnl_memory_destroy(src); dnnl_memory_destroy(weights); dnnl_memory_destroy(dst)
            if let bias { dnnl_memory_destroy(bias) }
        }
    }

    /// Primitives by shape, per thread (memory objects carry the data pointers set before each run).
    private final class MatmulCache {
        var byKey: [MatmulKey: Matmul] = [:]
        /// This thread's in-order stream (or why there is none).
        let stream: Result<dnnl_stream_t, OneDNNError> = {
            do throws(OneDNNError) {
                let engine = try cpuEngine.get()  // its failure is recorded where the stream is asked for
                var stream: dnnl_stream_t? = nil
                try call(.setup, "a stream", probe: true) {
                    dnnl_stream_create(&stream, engine, dnnl_stream_default_flags.rawValue)
                }
                guard let stream else { throw OneDNNError(status: 5, stage: .setup, operation: "a stream (none returned)") }
                return .success(stream)
            } catch {
                return .failure(error)
            }
        }()
        deinit { if case .success(let s) = stream { dnnl_stream_destroy(s) } }

        func readyStream() throws(OneDNNError) -> dnnl_stream_t {
            switch stream {
            case .success(let s): return s
            case .failure(let error): OneDNNFailures.recordFailure(error); throw error
            }
        }
    }
    private static let matmuls = ThreadLocal { MatmulCache() }
    /// Beyond this many shapes on one thread the cache starts again (a long run over very varied
    /// batch shapes would otherwise keep every primitive it ever made).
    private static let cacheLimit = 4096

    /// A 2-D memory descriptor for a row-major [rows, cols] matrix with row stride `ld`, read
    /// transposed when `trans` (then it is stored [cols, rows]).
    private static func descriptor(rows: Int, cols: Int, ld: Int, trans: Bool, type: dnnl_data_type_t,
                                   probe: Bool) throws(OneDNNError) -> dnnl_memory_desc_t {
        var md = dnnl_memory_desc_t()
        var dims: (dnnl_dim_t, dnnl_dim_t) = (dnnl_dim_t(rows), dnnl_dim_t(cols))
        var strides: (dnnl_dim_t, dnnl_dim_t) = trans ? (1, dnnl_dim_t(ld)) : (dnnl_dim_t(ld), 1)
        try call(.setup, "a memory descriptor \(rows)×\(cols) ld \(ld)\(trans ? " transposed" : "")", probe: probe) {
            withUnsafeMutableBytes(of: &dims) { d in
                withUnsafeMutableBytes(of: &strides) { s in
                    dnnl_memory_desc_init_by_strides(&md, 2, d.baseAddress!.assumingMemoryBound(to: dnnl_dim_t.self), type,
                                                     s.baseAddress!.assumingMemoryBound(to: dnnl_dim_t.self))
                }
            }
        }
        return md
    }

    /// Whether a bf16 matmul primitive can be made here (oneDNN has none without AVX-512). A probe:
    /// its failure is the answer, not counted as a failure.
    static func canMakeBF16Matmul() -> Bool {
        (try? makeMatmul(MatmulKey(transA: false, transB: true, m: 16, n: 16, k: 16, lda: 16, ldb: 16, ldc: 16,
                                   alpha: 1, accumulate: false), probe: true)) != nil
    }

    private static func makeMatmul(_ key: MatmulKey, probe: Bool = false) throws(OneDNNError) -> Matmul {
        var a = try descriptor(rows: key.m, cols: key.k, ld: key.lda, trans: key.transA, type: dnnl_bf16, probe: probe)
        var b = try descriptor(rows: key.k, cols: key.n, ld: key.ldb, trans: key.transB, type: dnnl_bf16, probe: probe)
        var c = try descriptor(rows: key.m, cols: key.n, ld: key.ldc, trans: false, type: dnnl_f32, probe: probe)
        var bias: dnnl_memory_desc_t? = nil
        if key.bias { bias = try descriptor(rows: 1, cols: key.n, ld: key.n, trans: false, type: dnnl_f32, probe: probe) }
        return try makePrimitive(&a, &b, &c, bias: bias, alpha: key.alpha, accumulate: key.accumulate,
                                 what: key.description, probe: probe)
    }

    /// A matmul primitive C = alpha · A · B (+ bias) (+ C when `accumulate`) for the given operand
    /// descriptors, with memory objects for its operands. Throws when oneDNN has no implementation
    /// (no bf16 without AVX-512: status unimplemented) or any step fails; what was made is released.
    private static func makePrimitive(_ a: inout dnnl_memory_desc_t, _ b: inout dnnl_memory_desc_t,
                                      _ c: inout dnnl_memory_desc_t, bias: dnnl_memory_desc_t? = nil,
                                      alpha: Float, accumulate: Bool, what: String,
                                      probe: Bool = false) throws(OneDNNError) -> Matmul {
        let engine = try probe ? cpuEngine.get() : readyEngine()
        var desc = dnnl_matmul_desc_t()
        var biasDesc = bias ?? dnnl_memory_desc_t()
        try call(.setup, "the descriptor of a \(what)", probe: probe) {
            bias == nil ? dnnl_matmul_desc_init(&desc, &a, &b, nil, &c) : dnnl_matmul_desc_init(&desc, &a, &b, &biasDesc, &c)
        }
        var attr: dnnl_primitive_attr_t? = nil
        try call(.setup, "the attributes of a \(what)", probe: probe) { dnnl_primitive_attr_create(&attr) }
        defer { dnnl_primitive_attr_destroy(attr) }
        if alpha != 1 {
            var alpha = alpha
            try call(.setup, "the output scale of a \(what)", probe: probe) {
                dnnl_primitive_attr_set_output_scales(attr, 1, 0, &alpha)
            }
        }
        if accumulate {
            var ops: dnnl_post_ops_t? = nil
            try call(.setup, "the post-ops of a \(what)", probe: probe) { dnnl_post_ops_create(&ops) }
            defer { dnnl_post_ops_destroy(ops) }
            try call(.setup, "the sum post-op of a \(what)", probe: probe) { dnnl_post_ops_append_sum(ops, 1) }
            try call(.setup, "the post-ops of a \(what)", probe: probe) { dnnl_primitive_attr_set_post_ops(attr, ops) }
        }
        var pd: dnnl_primitive_desc_t? = nil
        try call(.setup, "the primitive descriptor of a \(what)", probe: probe) {
            dnnl_primitive_desc_create(&pd, &desc, attr, engine, nil)
        }
        defer { dnnl_primitive_desc_destroy(pd) }
        var primitive: dnnl_primitive_t? = nil
        try call(.setup, "the primitive of a \(what)", probe: probe) { dnnl_primitive_create(&primitive, pd) }
        guard let primitive else { throw OneDNNError(status: 5, stage: .setup, operation: "the primitive of a \(what) (none returned)") }

        // Its operands' memory objects: on a failure, those made so far and the primitive are released.
        var made: [dnnl_memory_t] = []
        var kept = false
        defer {
            if !kept {
                made.forEach { dnnl_memory_destroy($0) }
                dnnl_primitive_destroy(primitive)
            }
        }
        func memory(_ md: inout dnnl_memory_desc_t, _ name: String) throws(OneDNNError) -> dnnl_memory_t {
            var m: dnnl_memory_t? = nil
            try call(.setup, "the \(name) memory object of a \(what)", probe: probe) { dnnl_memory_create(&m, &md, engine, nil) }
            guard let m else { throw OneDNNError(status: 5, stage: .setup, operation: "the \(name) memory of a \(what) (none returned)") }
            made.append(m)
            return m
        }
        let src = try memory(&a, "source"), weights = try memory(&b, "weights"), dst = try memory(&c, "destination")
        var biasMemory: dnnl_memory_t? = nil
        if bias != nil { biasMemory = try memory(&biasDesc, "bias") }
        kept = true
        return Matmul(primitive: primitive, src: src, weights: weights, dst: dst, bias: biasMemory, what: what)
    }

    private static func matmul(_ key: MatmulKey) throws(OneDNNError) -> (Matmul, dnnl_stream_t) {
        let cache = matmuls.value
        let stream = try cache.readyStream()
        if let m = cache.byKey[key] { return (m, stream) }
        if cache.byKey.count >= cacheLimit { cache.byKey.removeAll() }
        let m = try makeMatmul(key)
        cache.byKey[key] = m
        return (m, stream)
    }

    /// C[M, N] = alpha · op(A) · op(B) (+ bias[N] on every row) (+ C when `accumulate`), A and B in
    /// bf16, C, the bias and the sums in float32.
    @_spi(Testing) public static func gemmBF16(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                         _ a: UnsafePointer<UInt16>, lda: Int, _ b: UnsafePointer<UInt16>, ldb: Int,
                         bias: ConstFloatPtr?, accumulate: Bool, _ c: FloatPtr, ldc: Int) throws(OneDNNError) {
        prepareThreads()
        let key = MatmulKey(transA: transA, transB: transB, m: m, n: n, k: k, lda: lda, ldb: ldb, ldc: ldc,
                            alpha: alpha, accumulate: accumulate, bias: bias != nil)
        let (mm, stream) = try matmul(key)
        try run(mm, stream, a, b, c, bias: bias)
    }

    /// Runs a primitive on this thread's stream with its operands at a, b and c.
    private static func run(_ mm: Matmul, _ stream: dnnl_stream_t, _ a: UnsafeRawPointer, _ b: UnsafeRawPointer,
                            _ c: UnsafeMutableRawPointer, bias: UnsafeRawPointer? = nil) throws(OneDNNError) {
        try call(.setup, "the operands' data pointers of a \(mm.what)") {
            var s = dnnl_memory_set_data_handle(mm.src, UnsafeMutableRawPointer(mutating: a))
            if s == dnnl_success { s = dnnl_memory_set_data_handle(mm.weights, UnsafeMutableRawPointer(mutating: b)) }
            if s == dnnl_success { s = dnnl_memory_set_data_handle(mm.dst, c) }
            if s == dnnl_success, let memory = mm.bias, let bias {
                s = dnnl_memory_set_data_handle(memory, UnsafeMutableRawPointer(mutating: bias))
            }
            return s
        }
        var args = [
            dnnl_exec_arg_t(arg: DNNL_ARG_SRC, memory: mm.src),
            dnnl_exec_arg_t(arg: DNNL_ARG_WEIGHTS, memory: mm.weights),
            dnnl_exec_arg_t(arg: DNNL_ARG_DST, memory: mm.dst),
        ]
        if let memory = mm.bias, bias != nil { args.append(dnnl_exec_arg_t(arg: DNNL_ARG_BIAS, memory: memory)) }
        try call(.execution, "a \(mm.what)") {
            dnnl_primitive_execute(mm.primitive, stream, Int32(args.count), &args)
        }
    }
}
#endif
