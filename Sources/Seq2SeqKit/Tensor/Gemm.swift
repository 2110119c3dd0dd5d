import CBLAS

/// The one door to OpenBLAS. Row-major C[m, n] = alpha · op(A)[m, k] · op(B)[k, n] + beta · C,
/// where op transposes when asked. Leading dimensions are row strides in elements, so a head's
/// columns inside a [T, d] activation can be addressed in place (lda = d).
@inline(__always)
public func gemm(
    transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
    alpha: Float = 1, _ a: ConstFloatPtr, lda: Int, _ b: ConstFloatPtr, ldb: Int,
    beta: Float = 0, _ c: FloatPtr, ldc: Int
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

/// Thread settings shared by OpenBLAS and the row-parallel kernels.
public enum Threads {
    nonisolated(unsafe) public private(set) static var count: Int = 1

    /// Uses `n` threads for GEMM and for elementwise kernels large enough to pay for a split.
    public static func set(_ n: Int) {
        count = max(1, n)
        openblas_set_num_threads(Int32(count))
    }

    public static var blasCoreName: String {
        guard let p = openblas_get_corename() else { return "unknown" }
        return String(cString: p)
    }

    /// Whether OpenBLAS runs its AVX-512 kernels (the core names of its dynamic.c that have them).
    public static var blasUsesAVX512: Bool {
        ["skylakex", "cooperlake", "sapphirerapids"].contains(blasCoreName.lowercased())
    }

    public static var available: Int { Int(openblas_get_num_procs()) }
}

/// Row-major y[m] = alpha · op(A)[m, n] · x + beta · y, op transposing when asked (A is stored [rows, cols]).
@inline(__always)
public func gemv(trans: Bool, rows: Int, cols: Int, alpha: Float = 1, _ a: ConstFloatPtr, lda: Int,
                 _ x: ConstFloatPtr, beta: Float = 0, _ y: FloatPtr) {
    if rows == 0 || cols == 0 { return }
    cblas_sgemv(CblasRowMajor, trans ? CblasTrans : CblasNoTrans, Int32(rows), Int32(cols), alpha, a, Int32(lda),
                x, 1, beta, y, 1)
}
