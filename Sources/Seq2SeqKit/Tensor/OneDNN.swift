// The static single-file build (SEQ2SEQ_STATIC=1) has no oneDNN: Debian ships no static libdnnl.
#if OneDNN
import CDNNL
import Foundation
#if canImport(Glibc)
import Glibc
#endif

// oneDNN (Debian's libdnnl, the OpenMP build): its float32 sgemm, bf16 matrix multiplication and
// int8 products. It picks its kernels from the processor (AVX-512, AVX512_BF16, AMX) whatever
// OpenBLAS was built for or told to use, which is why the products of training go through it on
// processors where OpenBLAS runs older kernels (Tensor/Gemm.swift).
// Dims legend: M rows of C, N columns of C, K the inner dimension. Row-major throughout.

enum OneDNN {
    /// oneDNN runs on OpenMP threads, whose number is a per-thread setting in OpenMP: it is set
    /// before every call (a store into the caller's thread state). Inside `parallelRows` (the
    /// per-head products of attention) each worker runs its product on one thread, as OpenBLAS does
    /// for such small products; otherwise OpenMP would start a team per worker on the same cores.
    /// libgomp arrives with libdnnl; its functions are looked up rather than linked
    /// (`OpenMPTeam`), so that the build needs no OpenMP development files.
    @inline(__always)
    static func prepareThreads() {
        OpenMPTeam.setThreadCount?(Int32(ParallelWorker.isActive ? 1 : Threads.count))
    }

    /// C[M, N] = alpha · op(A) · op(B) + beta · C in float32 (dnnl_sgemm).
    @inline(__always)
    static func sgemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float, _ a: ConstFloatPtr, lda: Int,
                      _ b: ConstFloatPtr, ldb: Int, beta: Float, _ c: FloatPtr, ldc: Int) {
        prepareThreads()
        let status = dnnl_sgemm(
            CChar(UInt8(ascii: transA ? "T" : "N")), CChar(UInt8(ascii: transB ? "T" : "N")),
            dnnl_dim_t(m), dnnl_dim_t(n), dnnl_dim_t(k), alpha, a, dnnl_dim_t(lda), b, dnnl_dim_t(ldb),
            beta, c, dnnl_dim_t(ldc))
        // The shapes are ours and checked by the callers; a failure here is a bug, not a user's input.
        precondition(status == dnnl_success, "dnnl_sgemm failed with status \(status.rawValue)")
    }

    // MARK: - Engine, stream and the bf16 matmul primitives

    /// The CPU engine, made on first use (engines are thread-safe; streams are kept per thread).
    nonisolated(unsafe) static let engine: dnnl_engine_t = {
        var engine: dnnl_engine_t? = nil
        precondition(dnnl_engine_create(&engine, dnnl_cpu, 0) == dnnl_success, "oneDNN: no CPU engine")
        return engine!
    }()

    /// What identifies one bf16 product: a matmul primitive is made for each (oneDNN generates its
    /// kernel for the exact shape, and splits the work for the threads it has when it is made) and
    /// kept. Training sees a few hundred shapes (row counts vary with the batch), decoding a few per
    /// batch size.
    struct MatmulKey: Hashable {
        var transA: Bool, transB: Bool, m: Int, n: Int, k: Int, lda: Int, ldb: Int, ldc: Int
        var alpha: Float, accumulate: Bool
        /// Whether a float32 bias row [N] is added to every row of C.
        var bias = false
        var threads = ParallelWorker.isActive ? 1 : Threads.count
    }

    final class Matmul {
        let primitive: dnnl_primitive_t
        let src: dnnl_memory_t, weights: dnnl_memory_t, dst: dnnl_memory_t, bias: dnnl_memory_t?
        init(primitive: dnnl_primitive_t, src: dnnl_memory_t, weights: dnnl_memory_t, dst: dnnl_memory_t,
             bias: dnnl_memory_t?) {
            self.primitive = primitive; self.src = src; self.weights = weights; self.dst = dst; self.bias = bias
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
        var batched: [BatchedKey: Matmul] = [:]
        /// This thread's in-order stream.
        let stream: dnnl_stream_t = {
            var stream: dnnl_stream_t? = nil
            precondition(dnnl_stream_create(&stream, engine, dnnl_stream_default_flags.rawValue) == dnnl_success,
                         "oneDNN: no stream")
            return stream!
        }()
        deinit { dnnl_stream_destroy(stream) }
    }
    private static let matmuls = ThreadLocal { MatmulCache() }
    /// Beyond this many shapes on one thread the cache starts again (a long run over very varied
    /// batch shapes would otherwise keep every primitive it ever made).
    private static let cacheLimit = 4096

    /// A 2-D memory descriptor for a row-major [rows, cols] matrix with row stride `ld`, read
    /// transposed when `trans` (then it is stored [cols, rows]).
    private static func descriptor(rows: Int, cols: Int, ld: Int, trans: Bool, type: dnnl_data_type_t) -> dnnl_memory_desc_t {
        var md = dnnl_memory_desc_t()
        var dims: (dnnl_dim_t, dnnl_dim_t) = (dnnl_dim_t(rows), dnnl_dim_t(cols))
        var strides: (dnnl_dim_t, dnnl_dim_t) = trans ? (1, dnnl_dim_t(ld)) : (dnnl_dim_t(ld), 1)
        let status = withUnsafeMutableBytes(of: &dims) { d in
            withUnsafeMutableBytes(of: &strides) { s in
                dnnl_memory_desc_init_by_strides(&md, 2, d.baseAddress!.assumingMemoryBound(to: dnnl_dim_t.self), type,
                                                 s.baseAddress!.assumingMemoryBound(to: dnnl_dim_t.self))
            }
        }
        precondition(status == dnnl_success, "oneDNN: bad memory descriptor \(rows)×\(cols) ld \(ld)")
        return md
    }

    /// Whether a bf16 matmul primitive can be made here (oneDNN has none without AVX-512).
    static func canMakeBF16Matmul() -> Bool {
        makeMatmul(MatmulKey(transA: false, transB: true, m: 16, n: 16, k: 16, lda: 16, ldb: 16, ldc: 16,
                             alpha: 1, accumulate: false)) != nil
    }

    private static func makeMatmul(_ key: MatmulKey) -> Matmul? {
        var a = descriptor(rows: key.m, cols: key.k, ld: key.lda, trans: key.transA, type: dnnl_bf16)
        var b = descriptor(rows: key.k, cols: key.n, ld: key.ldb, trans: key.transB, type: dnnl_bf16)
        var c = descriptor(rows: key.m, cols: key.n, ld: key.ldc, trans: false, type: dnnl_f32)
        let bias = descriptor(rows: 1, cols: key.n, ld: key.n, trans: false, type: dnnl_f32)
        return makePrimitive(&a, &b, &c, bias: key.bias ? bias : nil, alpha: key.alpha, accumulate: key.accumulate)
    }

    /// A matmul primitive C = alpha · A · B (+ bias) (+ C when `accumulate`) for the given operand
    /// descriptors, with memory objects for its operands; nil when oneDNN has no implementation
    /// (no bf16 without AVX-512).
    private static func makePrimitive(_ a: inout dnnl_memory_desc_t, _ b: inout dnnl_memory_desc_t,
                                      _ c: inout dnnl_memory_desc_t, bias: dnnl_memory_desc_t? = nil,
                                      alpha: Float, accumulate: Bool) -> Matmul? {
        var desc = dnnl_matmul_desc_t()
        var biasDesc = bias ?? dnnl_memory_desc_t()
        let status = bias == nil ? dnnl_matmul_desc_init(&desc, &a, &b, nil, &c)
                                 : dnnl_matmul_desc_init(&desc, &a, &b, &biasDesc, &c)
        precondition(status == dnnl_success, "oneDNN: matmul descriptor")
        var attr: dnnl_primitive_attr_t? = nil
        dnnl_primitive_attr_create(&attr)
        defer { dnnl_primitive_attr_destroy(attr) }
        if alpha != 1 {
            var alpha = alpha
            dnnl_primitive_attr_set_output_scales(attr, 1, 0, &alpha)
        }
        if accumulate {
            var ops: dnnl_post_ops_t? = nil
            dnnl_post_ops_create(&ops)
            dnnl_post_ops_append_sum(ops, 1)
            dnnl_primitive_attr_set_post_ops(attr, ops)
            dnnl_post_ops_destroy(ops)
        }
        var pd: dnnl_primitive_desc_t? = nil
        guard dnnl_primitive_desc_create(&pd, &desc, attr, engine, nil) == dnnl_success else { return nil }
        defer { dnnl_primitive_desc_destroy(pd) }
        var primitive: dnnl_primitive_t? = nil
        precondition(dnnl_primitive_create(&primitive, pd) == dnnl_success, "oneDNN: matmul primitive")
        var src: dnnl_memory_t? = nil, weights: dnnl_memory_t? = nil, dst: dnnl_memory_t? = nil
        dnnl_memory_create(&src, &a, engine, nil)
        dnnl_memory_create(&weights, &b, engine, nil)
        dnnl_memory_create(&dst, &c, engine, nil)
        var biasMemory: dnnl_memory_t? = nil
        if bias != nil { dnnl_memory_create(&biasMemory, &biasDesc, engine, nil) }
        return Matmul(primitive: primitive!, src: src!, weights: weights!, dst: dst!, bias: biasMemory)
    }

    private static func matmul(_ key: MatmulKey) -> (Matmul, dnnl_stream_t) {
        let cache = matmuls.value
        if let m = cache.byKey[key] { return (m, cache.stream) }
        if cache.byKey.count >= cacheLimit { cache.byKey.removeAll() }
        // Shapes are ours and the processor was checked (BF16Gemm.isAvailable): a failure is a bug.
        guard let m = makeMatmul(key) else { preconditionFailure("oneDNN: no bf16 matmul for \(key)") }
        cache.byKey[key] = m
        return (m, cache.stream)
    }

    /// C[M, N] = alpha · op(A) · op(B) (+ bias[N] on every row) (+ C when `accumulate`), A and B in
    /// bf16, C, the bias and the sums in float32.
    static func gemmBF16(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                         _ a: UnsafePointer<UInt16>, lda: Int, _ b: UnsafePointer<UInt16>, ldb: Int,
                         bias: ConstFloatPtr?, accumulate: Bool, _ c: FloatPtr, ldc: Int) {
        prepareThreads()
        let key = MatmulKey(transA: transA, transB: transB, m: m, n: n, k: k, lda: lda, ldb: ldb, ldc: ldc,
                            alpha: alpha, accumulate: accumulate, bias: bias != nil)
        let (mm, stream) = matmul(key)
        run(mm, stream, a, b, c, bias: bias)
    }

    /// Runs a primitive on this thread's stream with its operands at a, b and c.
    private static func run(_ mm: Matmul, _ stream: dnnl_stream_t, _ a: UnsafeRawPointer, _ b: UnsafeRawPointer,
                            _ c: UnsafeMutableRawPointer, bias: UnsafeRawPointer? = nil) {
        dnnl_memory_set_data_handle(mm.src, UnsafeMutableRawPointer(mutating: a))
        dnnl_memory_set_data_handle(mm.weights, UnsafeMutableRawPointer(mutating: b))
        dnnl_memory_set_data_handle(mm.dst, c)
        var args = [
            dnnl_exec_arg_t(arg: DNNL_ARG_SRC, memory: mm.src),
            dnnl_exec_arg_t(arg: DNNL_ARG_WEIGHTS, memory: mm.weights),
            dnnl_exec_arg_t(arg: DNNL_ARG_DST, memory: mm.dst),
        ]
        if let memory = mm.bias, let bias {
            dnnl_memory_set_data_handle(memory, UnsafeMutableRawPointer(mutating: bias))
            args.append(dnnl_exec_arg_t(arg: DNNL_ARG_BIAS, memory: memory))
        }
        let status = dnnl_primitive_execute(mm.primitive, stream, Int32(args.count), &args)
        precondition(status == dnnl_success, "oneDNN matmul failed with status \(status.rawValue)")
    }

    // MARK: - Batched float32 products (attention's heads)

    /// What identifies one batched product (Tensor/BatchedGemm.swift): its sizes, the operands'
    /// strides, alpha and the threads it was made for.
    struct BatchedKey: Hashable {
        var batch: Int, heads: Int, m: Int, n: Int, k: Int
        var a: BatchedLayout, b: BatchedLayout, c: BatchedLayout
        var alpha: Float, accumulate: Bool
        var threads = ParallelWorker.isActive ? 1 : Threads.count
    }

    /// A 4-D descriptor [batch, heads, rows, cols] with the layout's strides.
    private static func descriptor(batch: Int, heads: Int, rows: Int, cols: Int, _ l: BatchedLayout) -> dnnl_memory_desc_t {
        var md = dnnl_memory_desc_t()
        var dims: [dnnl_dim_t] = [batch, heads, rows, cols].map { dnnl_dim_t($0) }
        var strides: [dnnl_dim_t] = [l.batchStride, l.headStride, l.rowStride, l.columnStride].map { dnnl_dim_t($0) }
        let status = dnnl_memory_desc_init_by_strides(&md, 4, &dims, dnnl_f32, &strides)
        precondition(status == dnnl_success, "oneDNN: bad memory descriptor \(batch)×\(heads)×\(rows)×\(cols) \(l)")
        return md
    }

    /// C[b, h] = alpha · A[b, h] · B[b, h] (+ C[b, h] when `accumulate`) for every b < batch and
    /// h < heads, in float32, as one primitive that splits the matrices over the threads.
    static func batchedSgemm(batch: Int, heads: Int, m: Int, n: Int, k: Int, alpha: Float,
                             _ a: ConstFloatPtr, _ la: BatchedLayout, _ b: ConstFloatPtr, _ lb: BatchedLayout,
                             accumulate: Bool, _ c: FloatPtr, _ lc: BatchedLayout) {
        prepareThreads()
        let key = BatchedKey(batch: batch, heads: heads, m: m, n: n, k: k, a: la, b: lb, c: lc, alpha: alpha,
                             accumulate: accumulate)
        let cache = matmuls.value
        let mm: Matmul
        if let found = cache.batched[key] {
            mm = found
        } else {
            if cache.batched.count >= cacheLimit { cache.batched.removeAll() }
            var da = descriptor(batch: batch, heads: heads, rows: m, cols: k, la)
            var db = descriptor(batch: batch, heads: heads, rows: k, cols: n, lb)
            var dc = descriptor(batch: batch, heads: heads, rows: m, cols: n, lc)
            // float32 matmul exists on every x86-64 oneDNN supports: a failure is a bug.
            guard let made = makePrimitive(&da, &db, &dc, alpha: alpha, accumulate: accumulate) else {
                preconditionFailure("oneDNN: no batched matmul for \(key)")
            }
            cache.batched[key] = made
            mm = made
        }
        run(mm, cache.stream, a, b, c)
    }
}
#endif
