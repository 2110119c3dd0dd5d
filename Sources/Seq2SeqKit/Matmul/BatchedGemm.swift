// Batched float32 products: one small product per (batch, head) pair, as attention has
// (B·H products of [T, Dh] by [Dh, T] and back). Row-major, dims legend: M rows of C, N columns
// of C, K the inner dimension; B batch, H heads.

/// Where matrix (b, h)'s element (r, c) of one operand sits: at
/// base + b·batchStride + h·headStride + r·rowStride + c·columnStride. A head's columns inside a
/// [B·T, D] activation are addressed in place (rowStride D, headStride Dh); a transposed read swaps
/// the row and column strides.
public struct BatchedLayout: Hashable, Sendable, CustomStringConvertible {
    /// Element strides (in floats) between consecutive batches, heads, rows and columns.
    public var batchStride: Int, headStride: Int, rowStride: Int, columnStride: Int
    /// A layout from its four strides.
    public init(batchStride: Int, headStride: Int, rowStride: Int, columnStride: Int) {
        self.batchStride = batchStride; self.headStride = headStride
        self.rowStride = rowStride; self.columnStride = columnStride
    }

    /// The same elements read transposed (row r, column c of the result is element (c, r)).
    public var transposed: BatchedLayout {
        BatchedLayout(batchStride: batchStride, headStride: headStride, rowStride: columnStride, columnStride: rowStride)
    }

    /// Dense [B, H, rows, cols] tensors (attention probabilities).
    public static func dense(heads: Int, rows: Int, cols: Int) -> BatchedLayout {
        BatchedLayout(batchStride: heads * rows * cols, headStride: rows * cols, rowStride: cols, columnStride: 1)
    }

    /// Heads in place in a [B·T, D] activation: matrix (b, h) is rows b·T ..< (b+1)·T, columns h·Dh ..< (h+1)·Dh.
    public static func headsOf(length t: Int, dModel d: Int, headDim dh: Int) -> BatchedLayout {
        BatchedLayout(batchStride: t * d, headStride: dh, rowStride: d, columnStride: 1)
    }

    /// The strides as "[batch, head, row, column]".
    public var description: String { "[\(batchStride), \(headStride), \(rowStride), \(columnStride)]" }
}

/// C[b, h] = alpha · A[b, h] · B[b, h] for every b < batch and h < heads (C overwritten), A [M, K],
/// B [K, N], C [M, N] in the given layouts; every matrix needs one unit stride (each operand is
/// read row- or column-major; C is written row-major).
///
/// Engines: with oneDNN preferred (Tensor/Gemm.swift), one oneDNN matmul for all B·H products
/// (its AVX-512 kernels, the matrices split over the threads); otherwise one OpenBLAS call per
/// matrix, the matrices split over the threads. A head's product (30 × 30 × 64 in training) is too
/// small for either library to split, and OpenBLAS's Haswell kernels plus its per-call packing ran
/// these at 58-84 GFLOP/s (`bench kernels`), the slowest products of a training step. Never fails:
/// when oneDNN reports a failure (recorded in `OneDNNFailures`), OpenBLAS computes the products.
public func batchedGemm(
    batch: Int, heads: Int, m: Int, n: Int, k: Int, alpha: Float = 1,
    _ a: ConstFloatPtr, _ la: BatchedLayout, _ b: ConstFloatPtr, _ lb: BatchedLayout,
    _ c: FloatPtr, _ lc: BatchedLayout
) {
    // Overwriting C, every oneDNN failure is recomputed: no error comes back.
    _ = batchedProduct(batch: batch, heads: heads, m: m, n: n, k: k, alpha: alpha, a, la, b, lb, accumulate: false, c, lc)
}

/// C[b, h] = alpha · A[b, h] · B[b, h] (+ C[b, h] when `accumulate`), as `batchedGemm` above (which
/// `accumulate` false is). Throws only when accumulating and oneDNN failed while running the
/// products: C may then be partly updated, and what it held cannot be restored here. Every other
/// oneDNN failure is answered by OpenBLAS.
public func batchedGemm(
    batch: Int, heads: Int, m: Int, n: Int, k: Int, alpha: Float = 1,
    _ a: ConstFloatPtr, _ la: BatchedLayout, _ b: ConstFloatPtr, _ lb: BatchedLayout,
    accumulate: Bool, _ c: FloatPtr, _ lc: BatchedLayout
) throws(OneDNNError) {
    if let error = batchedProduct(batch: batch, heads: heads, m: m, n: n, k: k, alpha: alpha, a, la, b, lb,
                                  accumulate: accumulate, c, lc) { throw error }
}

/// Both `batchedGemm`s: one oneDNN matmul when `GemmDispatch` chooses it for the products' total
/// work, OpenBLAS otherwise or after a failure that left C rebuildable. Returns the error only when
/// C could not be rebuilt.
private func batchedProduct(
    batch: Int, heads: Int, m: Int, n: Int, k: Int, alpha: Float,
    _ a: ConstFloatPtr, _ la: BatchedLayout, _ b: ConstFloatPtr, _ lb: BatchedLayout,
    accumulate: Bool, _ c: FloatPtr, _ lc: BatchedLayout
) -> OneDNNError? {
    if batch == 0 || heads == 0 || m == 0 || n == 0 { return nil }
    checkLayouts(la, lb, lc)
    #if OneDNN
    // The engine of one product with all the matrices' rows: the same threshold on the total work.
    if k > 0 && GemmDispatch.engine(m: batch * heads * m, n: n, k: k) == .onednn {
        do throws(OneDNNError) {
            try OneDNN.batchedSgemm(batch: batch, heads: heads, m: m, n: n, k: k, alpha: alpha, a, la, b, lb,
                                    accumulate: accumulate, c, lc)
            return nil
        } catch {
            if error.losesOutput(accumulating: accumulate) { return error }
        }
    }
    #endif
    batchedByOpenBLAS(batch: batch, heads: heads, m: m, n: n, k: k, alpha: alpha, a, la, b, lb, accumulate: accumulate, c, lc)
    return nil
}

@inline(__always)
private func checkLayouts(_ la: BatchedLayout, _ lb: BatchedLayout, _ lc: BatchedLayout) {
    precondition(lc.columnStride == 1, "batchedGemm: C is written row-major")
    precondition((la.columnStride == 1 || la.rowStride == 1) && (lb.columnStride == 1 || lb.rowStride == 1),
                 "batchedGemm: every operand needs one unit stride")
}

/// One OpenBLAS call per matrix, the matrices split over the threads.
private func batchedByOpenBLAS(
    batch: Int, heads: Int, m: Int, n: Int, k: Int, alpha: Float,
    _ a: ConstFloatPtr, _ la: BatchedLayout, _ b: ConstFloatPtr, _ lb: BatchedLayout,
    accumulate: Bool, _ c: FloatPtr, _ lc: BatchedLayout
) {
    let A = SendablePointer(a), B = SendablePointer(b), C = SendablePointer(c)
    parallelRows(batch * heads, cost: m * n * max(k, 1)) { range in
        for bh in range {
            let bi = bh / heads, h = bh % heads
            let pa = A.p + bi * la.batchStride + h * la.headStride
            let pb = B.p + bi * lb.batchStride + h * lb.headStride
            let pc = C.p + bi * lc.batchStride + h * lc.headStride
            blasGemm(transA: la.columnStride != 1, transB: lb.columnStride != 1, m: m, n: n, k: k, alpha: alpha,
                     pa, lda: la.columnStride != 1 ? la.columnStride : la.rowStride,
                     pb, ldb: lb.columnStride != 1 ? lb.columnStride : lb.rowStride,
                     beta: accumulate ? 1 : 0, pc, ldc: lc.rowStride)
        }
    }
}
