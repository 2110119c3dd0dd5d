// Linear layers applied to a few rows, through `linearForward`: training's and the full forward
// pass's products with few rows, and every row count where the AVX-512 broadcast tiles beat OpenBLAS.
// (Decoding and encoding no longer come here: they run on the batch-invariant kernels of
// InvariantLinear.swift, whose bits do not depend on the row count; the measurements below were
// made when decoding did.)
// Dims legend: N rows, I input features, O output features.
//
// OpenBLAS 0.3.21 packs all of W (O × I) on every sgemm call. For a handful of rows that costs about
// as much as the product itself (sgemm reaches 34 GFLOP/s at N = 5, 61 at 8, 83 at 16 on one core
// here), so these rows are multiplied straight from W's row-major layout instead: each W row is
// dotted with up to 5 input rows at once, and W is walked in blocks that stay in L2 while every row
// group passes over them. When decoding, W streams from memory (the decoder's 19 MB of weights do
// not stay in this machine's shared L3), so reading it once, in order, is what counts.
// From 6 rows on, processors with AVX-512 use tiles of 4 W rows × 6 input rows instead
// (CKernels/kernels_tiles_avx512.h), which do 4 FMAs per load rather than about 1: at 32 rows
// 120-150 GFLOP/s against 90-96 for the one-W-row kernel (`seq2seq bench kernels --decoding-only`).
// From 28 rows they use broadcast tiles (16 W rows × 16 input rows, no folding of accumulators).
// With OpenBLAS's own AVX-512 kernels, sending up to 32 rows here was fastest (beam 5 at batch 32 has
// 160 rows per step, and those stay with sgemm); where OpenBLAS runs AVX2 kernels on an AVX-512
// processor, every row count comes here, training's forward products included (`FewRowsLinear.allRows`).

import CKernels

/// Float32 linear layers over a few rows, multiplied straight from the weights' row-major layout
/// (the reasons and measurements are in the notes at the top of FewRowsLinear.swift). Its members are
/// internal; ``MatmulSelection/fewRowsForEveryRowCount`` forces its choice.
public enum FewRowsLinear {
    /// Tiles in AVX-512 registers where the kernels run at that level (`KernelLevel.active`);
    /// otherwise the one-W-row kernel. Tests switch the level to cover both.
    static var useAVX512: Bool { KernelLevel.active == .avx512 }

    /// Largest row count that `linearForward` sends here rather than to sgemm.
    static let limit = 32

    /// Every row count goes to the AVX-512 broadcast tiles (for the shapes they take: I a multiple of
    /// 16, O ≥ 16) when the processor has AVX-512 but OpenBLAS runs AVX2 kernels: an older OpenBLAS,
    /// or OPENBLAS_CORETYPE set, as on the machine these figures come from. There the tiles do
    /// 150-200 GFLOP/s at 64-160 rows against sgemm's 100-117; at 1 thread beam 5 at batch 32 went
    /// from 119 to 180 sentences/s (168 with the encoder left to sgemm) and training 6,985 to 7,215
    /// tokens/s. With OpenBLAS's own AVX-512 kernels (~200 GFLOP/s at 160 rows, packing included)
    /// sgemm stays ahead: 194 against 178 sentences/s.
    /// `MatmulSelection.fewRowsForEveryRowCount` forces either choice (tests cover both).
    static var allRows: Bool {
        (MatmulSelection.current.fewRowsForEveryRowCount ?? allRowsByDefault) && useAVX512
    }
    static let allRowsByDefault = !Threads.blasUsesAVX512 && GemmDispatch.preferred == .openblas

    /// Whether `linearForward` of this shape runs here.
    @inline(__always)
    static func takes(rows n: Int, inFeatures i: Int, outFeatures o: Int) -> Bool {
        n <= limit || (allRows && useAVX512 && broadcastShape(inFeatures: i, outFeatures: o))
    }

    @inline(__always)
    static func broadcastShape(inFeatures i: Int, outFeatures o: Int) -> Bool { i % 16 == 0 && o >= 16 }
}

/// Multiply-adds below which a few-row product stays on one thread: splitting a decoding step's
/// smaller layers cost more in dispatch than it saved (2 threads, beam 5 at batch 1: 96 sentences/s
/// with the kernels' usual 2^19, 113 with 2^21, 96 with no split at all).
let fewRowsSplitMinimum = 1 << 21

/// y[N, O] = x[N, I] · W[O, I]ᵀ + bias[O] (none: zero), for the shapes `FewRowsLinear.takes`.
func fewRowsLinear(_ y: FloatPtr, _ x: ConstFloatPtr, _ w: ConstFloatPtr, _ bias: ConstFloatPtr?, rows n: Int,
                   inFeatures i: Int, outFeatures o: Int) {
    @inline(__always) func initialize(_ j0: Int, _ cols: Int) {
        for r in 0..<n {
            if let bias { (y + r * o + j0).update(from: bias + j0, count: cols) }
            else { (y + r * o + j0).update(repeating: 0, count: cols) }
        }
    }
    if FewRowsLinear.useAVX512 && FewRowsLinear.broadcastShape(inFeatures: i, outFeatures: o) && (i <= 256 ? n >= 28 : n > 32) {
        // Broadcast tiles from 28 rows (32 for rows longer than 256, whose W tiles must first be
        // copied), measured against the dot-product tiles: at 32 rows 132-137 against 120 GFLOP/s (I = 256).
        let main = o & ~15
        if main < o { initialize(main, o - main) }
        return broadcastLinear(y, x, w, bias, rows: n, inFeatures: i, outFeatures: o)
    }
    initialize(0, o)
    if n == 1 { return oneRowLinear(y, x, w, inFeatures: i, outFeatures: o) }
    // Up to 5 rows only stream W, which the one-W-row kernel does as well as the AVX-512 tiles.
    let wide = FewRowsLinear.useAVX512 && n >= 6
    // Row groups of at most 5 (6 in AVX-512 tiles), as even as possible (16 → 4 + 4 + 4 + 4).
    let most = wide ? 6 : 5
    let groups = (n + most - 1) / most
    // Column blocks of W rows: 256 KB, a quarter of this machine's L2 (16 and 128 KB were slower), or
    // a thread's share of W.
    let block = max(1, min(64 * 1024 / max(1, i), (o + Threads.count - 1) / Threads.count))
    let yp = SendablePointer(y), xp = SendablePointer(x), wp = SendablePointer(w)
    let blocks = (o + block - 1) / block
    parallelRows(blocks, cost: block * i * n, minimum: fewRowsSplitMinimum) { range in
        for b in range {
            let j0 = b * block, cols = min(block, o - j0)
            var r = 0
            for g in 0..<groups {
                let take = n * (g + 1) / groups - n * g / groups
                let yy = yp.p + r * o + j0, xx = UnsafePointer(xp.p + r * i), ww = UnsafePointer(wp.p + j0 * i)
                if wide {
                    s2s_tile_linear_avx512(yy, xx, ww, take, i, cols, o)
                } else {
                    s2s_row_group_linear(yy, xx, ww, take, i, cols, o)
                }
                r += take
            }
        }
    }
}

/// The AVX-512 broadcast tiles (CKernels/kernels_tiles_avx512.h) for 28 or more rows: x
/// transposed once into this thread's scratch, column blocks of W (multiples of 16 rows) split across
/// threads, and the last o % 16 columns in dot-product tiles. y is written, not added to (bias
/// included), which spares reading back and zeroing every row of logits; the last o % 16 columns
/// must already hold their bias (or zero).
private func broadcastLinear(_ y: FloatPtr, _ x: ConstFloatPtr, _ w: ConstFloatPtr, _ bias: ConstFloatPtr?, rows n: Int,
                             inFeatures i: Int, outFeatures o: Int) {
    let block = max(16, min(64 * 1024 / max(1, i), (o + Threads.count - 1) / Threads.count) & ~15)
    let ld = (n + 15) & ~15
    let scratch = ThreadScratch.buffer(i * ld)
    s2s_transpose_rows_avx512(scratch.pointer, ld, x, n, i)
    let yp = SendablePointer(y), tp = SendablePointer(scratch.pointer), wp = SendablePointer(w)
    let bp = bias.map { SendablePointer($0) }
    let main = o & ~15
    let blocks = (main + block - 1) / block
    parallelRows(blocks, cost: block * i * n, minimum: fewRowsSplitMinimum) { range in
        for b in range {
            let j0 = b * block, cols = min(block, main - j0)
            // Features in pieces of 256, so that a tile's 16 W rows (16 KB) stay in L1.
            var k0 = 0
            while k0 < i {
                let piece = min(256, i - k0)
                s2s_broadcast_linear_avx512(yp.p + j0, o, n, UnsafePointer(tp.p + k0 * ld), ld,
                                            UnsafePointer(wp.p + j0 * i + k0), i, piece, cols, k0 == 0 ? 1 : 0,
                                            bp.map { UnsafePointer($0.p + j0) })
                k0 += piece
            }
        }
    }
    if main < o {
        var r = 0
        while r < n {
            let take = min(6, n - r)
            s2s_tile_linear_avx512(y + r * o + main, x + r * i, w + main * i, take, i, o - main, o)
            r += take
        }
    }
}

/// y[O] += W[O, I] · x[I] for one row (greedy decoding of one sentence, sampling), which only
/// streams W from memory: two read streams half the matrix apart, rows j and j + O/2, keep more reads
/// in flight than one (measured from memory: 41 → 52 GB/s; adjacent rows were slower, 22 GB/s).
func oneRowLinear(_ y: FloatPtr, _ x: ConstFloatPtr, _ w: ConstFloatPtr, inFeatures i: Int, outFeatures o: Int) {
    let half = o / 2
    let yp = SendablePointer(y), xp = SendablePointer(x), wp = SendablePointer(w)
    parallelRows(half, cost: 2 * i, minimum: fewRowsSplitMinimum) { range in
        s2s_one_row_linear(yp.p, xp.p, wp.p, i, half, range.lowerBound, range.upperBound)
    }
    if o % 2 == 1 { s2s_row_group_linear(y + o - 1, x, w + (o - 1) * i, 1, i, 1, o) }
}
