import CBLAS
import Foundation

/// The engines a float32 product can run on.
public enum GemmEngine: String, CaseIterable, Sendable {
    /// OpenBLAS's sgemm, with the kernels it was built for or told to use (OPENBLAS_CORETYPE).
    case openblas
    /// oneDNN's sgemm, with the kernels of this processor (AVX-512 where it has it).
    case onednn

    /// Whether this build has it (not with the OneDNN trait off, as in the static build).
    public var isAvailable: Bool {
        #if !OneDNN
        return self == .openblas
        #else
        return true
        #endif
    }
}

/// Which engine runs a float32 product: by shape from the processor and OpenBLAS's kernels, unless
/// `MatmulSelection.current.float32` forces one.
public enum GemmDispatch {
    /// The engine of large products when none is forced: oneDNN on processors with AVX-512, where
    /// it runs twice as fast as OpenBLAS's Haswell kernels (pinned by OPENBLAS_CORETYPE here, or
    /// picked by an OpenBLAS older than the processor) and level with OpenBLAS's own AVX-512 ones
    /// (`seq2seq bench kernels`: 1 thread, 210-235 against 103-117 GFLOP/s at training's shapes;
    /// `bench train` 10,700 against 6,500 tokens/s pinned, 10,200-10,700 unpinned). With AVX2 only,
    /// OpenBLAS: oneDNN's AVX2 kernels are level at best and reach 62-74 GFLOP/s against 100-112 for
    /// the weight gradients' transposed products (measured with ONEDNN_MAX_CPU_ISA=AVX2).
    public static let preferred: GemmEngine = KernelLevel.active == .avx512 && GemmEngine.onednn.isAvailable ? .onednn : .openblas

    /// Multiply-adds below which a product stays with OpenBLAS whatever the preferred engine: one
    /// attention head's products (30 × 30 × 64) and decoding's one-row products cost more in
    /// oneDNN's OpenMP start-up than they gain (2 threads, greedy at batch 1: 140 against 177
    /// sentences/s when every product went to oneDNN).
    public static let oneDNNMinimumWork = 1 << 18

    /// The engine of large products under `MatmulSelection.current`: `preferred` unless forced.
    @inline(__always)
    public static var engine: GemmEngine { MatmulSelection.current.float32 ?? preferred }

    /// The engine of one product of m × n × k multiply-adds.
    @inline(__always)
    static func engine(m: Int, n: Int, k: Int) -> GemmEngine {
        if let f = MatmulSelection.current.float32 { return f }
        return preferred == .onednn && m * n * k >= oneDNNMinimumWork ? .onednn : .openblas
    }
}

/// The one door to float32 matrix products. Row-major C[m, n] = alpha · op(A)[m, k] · op(B)[k, n],
/// C overwritten, where op transposes when asked. Leading dimensions are row strides in elements,
/// so a head's columns inside a [T, d] activation can be addressed in place (lda = d). The engine is
/// `GemmDispatch.engine`'s. Never fails: when oneDNN reports a failure (`OneDNNError`, recorded in
/// `OneDNNFailures`), OpenBLAS computes the product from the same inputs.
@inline(__always)
public func gemm(
    transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
    alpha: Float = 1, _ a: ConstFloatPtr, lda: Int, _ b: ConstFloatPtr, ldb: Int,
    _ c: FloatPtr, ldc: Int
) {
    // With beta 0 every oneDNN failure is recomputed: no error comes back.
    _ = gemmProduct(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a, lda: lda, b, ldb: ldb, beta: 0,
                    c, ldc: ldc)
}

/// C[m, n] = alpha · op(A) · op(B) + beta · C, as `gemm` above (which beta 0 is). Throws only when
/// beta ≠ 0 and oneDNN failed while running the product: C may then be partly updated, and what it
/// held cannot be restored here (a caller that can restore it, e.g. refill a bias, may recompute
/// with beta again). Every other oneDNN failure is answered by OpenBLAS.
@inline(__always)
public func gemm(
    transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
    alpha: Float = 1, _ a: ConstFloatPtr, lda: Int, _ b: ConstFloatPtr, ldb: Int,
    beta: Float, _ c: FloatPtr, ldc: Int
) throws(OneDNNError) {
    if let error = gemmProduct(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a, lda: lda, b, ldb: ldb,
                               beta: beta, c, ldc: ldc) { throw error }
}

/// Both `gemm`s: oneDNN when `GemmDispatch` chooses it, OpenBLAS otherwise or after a failure that
/// left C rebuildable. Returns the error only when C could not be rebuilt (`OneDNNError.losesOutput`).
@inline(__always)
private func gemmProduct(
    transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float, _ a: ConstFloatPtr, lda: Int,
    _ b: ConstFloatPtr, ldb: Int, beta: Float, _ c: FloatPtr, ldc: Int
) -> OneDNNError? {
    #if OneDNN
    if m > 0 && n > 0 && k > 0 && GemmDispatch.engine(m: m, n: n, k: k) == .onednn {
        do throws(OneDNNError) {
            try OneDNN.sgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a, lda: lda,
                             b, ldb: ldb, beta: beta, c, ldc: ldc)
            return nil
        } catch {
            if error.losesOutput(accumulating: beta != 0) { return error }
        }
    }
    #endif
    blasGemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a, lda: lda, b, ldb: ldb, beta: beta, c, ldc: ldc)
    return nil
}

/// The product through OpenBLAS, with BLAS's meaning for empty shapes kept explicitly.
@inline(__always)
func blasGemm(
    transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float, _ a: ConstFloatPtr, lda: Int,
    _ b: ConstFloatPtr, ldb: Int, beta: Float, _ c: FloatPtr, ldc: Int
) {
    if m == 0 || n == 0 { return }
    if k == 0 {
        // BLAS leaves C untouched (scaled by beta) when k == 0; keep that meaning explicitly.
        if beta == 0 { for i in 0..<m { (c + i * ldc).update(repeating: 0, count: n) } }
        else if beta != 1 { for i in 0..<m { for j in 0..<n { c[i * ldc + j] *= beta } } }
        return
    }
    cblas_sgemm(
        CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
        Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
}

/// Row-major y[m] = alpha · op(A)[m, n] · x + beta · y, op transposing when asked (A is stored [rows, cols]).
@inline(__always)
public func gemv(trans: Bool, rows: Int, cols: Int, alpha: Float = 1, _ a: ConstFloatPtr, lda: Int,
                 _ x: ConstFloatPtr, beta: Float = 0, _ y: FloatPtr) {
    if rows == 0 || cols == 0 { return }
    cblas_sgemv(CblasRowMajor, trans ? CblasTrans : CblasNoTrans, Int32(rows), Int32(cols), alpha, a, Int32(lda),
                x, 1, beta, y, 1)
}

/// The door to mixed-precision products: C[m, n] = alpha · op(A) · op(B) (+ bias[n] on every row),
/// C overwritten, A and B in bfloat16, C, the bias and every sum in float32, through oneDNN's matmul
/// (its AVX512_BF16 kernels where the processor has them). Callers check `BF16Gemm.isAvailable`
/// first (train --precision bf16 does). Never fails: when oneDNN reports a failure (recorded in
/// `OneDNNFailures`), or has no bf16 product (`BF16Gemm.isAvailable` false: no AVX-512, or no
/// oneDNN in this build), OpenBLAS computes it from the operands widened to float32 (exact),
/// summing in float32.
@inline(__always)
public func gemmBF16(
    transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
    _ a: ConstBF16Ptr, lda: Int, _ b: ConstBF16Ptr, ldb: Int, bias: ConstFloatPtr? = nil,
    _ c: FloatPtr, ldc: Int
) {
    // Overwriting C, every oneDNN failure is recomputed: no error comes back.
    _ = bf16Product(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a, lda: lda, b, ldb: ldb,
                    bias: bias, accumulate: false, c, ldc: ldc)
}

/// C[m, n] = alpha · op(A) · op(B) (+ bias[n] on every row) (+ C when `accumulate`), as `gemmBF16`
/// above (which `accumulate` false is). Throws only when accumulating and oneDNN failed while
/// running the product: C may then be partly updated, and what it held cannot be restored here.
/// Every other oneDNN failure is answered by OpenBLAS.
@inline(__always)
public func gemmBF16(
    transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
    _ a: ConstBF16Ptr, lda: Int, _ b: ConstBF16Ptr, ldb: Int, bias: ConstFloatPtr? = nil, accumulate: Bool,
    _ c: FloatPtr, ldc: Int
) throws(OneDNNError) {
    if let error = bf16Product(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a, lda: lda, b, ldb: ldb,
                               bias: bias, accumulate: accumulate, c, ldc: ldc) { throw error }
}

/// Both `gemmBF16`s: oneDNN's bf16 matmul where there is one, OpenBLAS on widened operands otherwise
/// or after a failure that left C rebuildable. Returns the error only when C could not be rebuilt.
@inline(__always)
private func bf16Product(
    transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float, _ a: ConstBF16Ptr, lda: Int,
    _ b: ConstBF16Ptr, ldb: Int, bias: ConstFloatPtr?, accumulate: Bool, _ c: FloatPtr, ldc: Int
) -> OneDNNError? {
    if m == 0 || n == 0 { return nil }
    #if OneDNN
    if k > 0 && BF16Gemm.isAvailable {
        do throws(OneDNNError) {
            try OneDNN.gemmBF16(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a, lda: lda,
                                b, ldb: ldb, bias: bias, accumulate: accumulate, c, ldc: ldc)
            return nil
        } catch {
            if error.losesOutput(accumulating: accumulate) { return error }
        }
    }
    #endif
    bf16ProductByOpenBLAS(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a, lda: lda, b, ldb: ldb,
                          bias: bias, accumulate: accumulate, c, ldc: ldc)
    return nil
}

/// A bf16 product without oneDNN: the stored operands widened to float32 (exact: bf16 is float32's
/// upper half), multiplied and summed by OpenBLAS in float32, then the bias added. The same sums as
/// oneDNN's up to their order (within float32's accumulation bound); only on failures or in builds
/// without oneDNN, so the copies are made per call.
func bf16ProductByOpenBLAS(
    transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
    _ a: ConstBF16Ptr, lda: Int, _ b: ConstBF16Ptr, ldb: Int, bias: ConstFloatPtr?, accumulate: Bool,
    _ c: FloatPtr, ldc: Int
) {
    if m == 0 || n == 0 { return }
    /// A stored [rows, cols] matrix with row stride ld, widened into the same layout.
    func widened(_ p: ConstBF16Ptr, rows: Int, cols: Int, ld: Int) -> FloatPtr {
        let out = FloatPtr.allocate(capacity: max(1, (rows - 1) * ld + cols))
        for r in 0..<rows {
            for j in 0..<cols { out[r * ld + j] = Float(bitPattern: UInt32(p[r * ld + j]) << 16) }
        }
        return out
    }
    if k > 0 {
        let wa = transA ? widened(a, rows: k, cols: m, ld: lda) : widened(a, rows: m, cols: k, ld: lda)
        let wb = transB ? widened(b, rows: n, cols: k, ld: ldb) : widened(b, rows: k, cols: n, ld: ldb)
        defer { wa.deallocate(); wb.deallocate() }
        blasGemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, wa, lda: lda, wb, ldb: ldb,
                 beta: accumulate ? 1 : 0, c, ldc: ldc)
    } else if !accumulate {
        for i in 0..<m { (c + i * ldc).update(repeating: 0, count: n) }
    }
    if let bias {
        for i in 0..<m {
            let row = c + i * ldc
            for j in 0..<n { row[j] += bias[j] }
        }
    }
}

/// oneDNN's bf16 matrix products, for mixed-precision training (``Precision/bf16``).
public enum BF16Gemm {
    /// Whether oneDNN has a bf16 matmul on this processor (AVX-512 at least; the AVX512_BF16 and AMX
    /// instructions make it fast). Asked once, by making a small product's primitive.
    public static let isAvailable: Bool = {
        #if !OneDNN
        return false
        #else
        return OneDNN.canMakeBF16Matmul()
        #endif
    }()
}
