import CKernels

// Linear layers whose values do not depend on the batch (after Thinking Machines' batch-invariant
// kernels, 2025). A product engine picks its kernel, its blocking and its reduction order by shape:
// OpenBLAS and oneDNN change kernels with the row count, and our own few-row kernels fold their
// accumulators differently from the broadcast tiles. So a sentence decoded beside others (more rows)
// could round differently from the same sentence alone, and a near-tie between two words could flip.
//
// Here every value is computed one way (CKernels' `s2s_invariant_linear`): the bias, then one fused
// multiply-add chain per slice of 256 input features, k ascending, the slices added in order. Work is
// split by output columns (and by rows when there are few columns), never along the features, so the
// row count, the thread count and the AVX2 or AVX-512 level leave the bits alone.
//
// Decoding and encoding (`Transformer.linear`) run every float32 linear layer here; training's
// products stay with the engines (`linearForward`), which are faster there and need no such promise.

/// A matrix W[O, I] in the layout the batch-invariant kernels read: panels of 16 columns, feature-major
/// (panel p holds W[16p ..< 16p + 16, k] for each k in turn, zero past O), a multiple of 8 of them. Made
/// once per model for decoding (`Transformer.decodingPanels`), it spares each call the transposition.
public final class PanelMatrix: @unchecked Sendable {
    let values: FloatBuffer
    let rows: Int, columns: Int

    /// The panels of w [rows, columns].
    public init(_ w: ConstFloatPtr, rows o: Int, columns i: Int) {
        rows = o
        columns = i
        let panels = (o + 127) / 128 * 8
        values = FloatBuffer(count: max(1, panels * i * 16))
        let vp = SendablePointer(values.pointer), wp = SendablePointer(w)
        parallelRows(panels, cost: i * 16) { range in
            s2s_pack_panels(vp.p, wp.p, o, i, range.lowerBound, range.upperBound)
        }
    }
}

/// y[N, O] = x[N, I] · W[O, I]ᵀ + b[O] (none: zero), each value's bits fixed by its own row of x and
/// column of W: the same for any N, any batch neighbours, any thread count. `panels`, W's panel copy
/// when there is one, gives the same bits faster. See the notes at the top of InvariantLinear.swift.
public func invariantLinearForward(_ y: FloatPtr, _ x: ConstFloatPtr, _ w: ConstFloatPtr, _ b: ConstFloatPtr?,
                                   rows n: Int, inFeatures i: Int, outFeatures o: Int) {
    invariantLinearForward(y, x, w, b, panels: nil, rows: n, inFeatures: i, outFeatures: o)
}

/// The same product read from W's panels (`panels`, made from `w`) when given.
public func invariantLinearForward(_ y: FloatPtr, _ x: ConstFloatPtr, _ w: ConstFloatPtr, _ b: ConstFloatPtr?,
                            panels: PanelMatrix?, rows n: Int, inFeatures i: Int, outFeatures o: Int) {
    if n == 0 || o == 0 { return }
    // Tasks of 128 columns; with many rows (beam 5 at batch 32: 160), or fewer column blocks than
    // threads, each thread takes a share of the rows instead and every column: measured on 2 threads,
    // beam 5 at batch 32 went from 154-195 to 188-233 sentences/s.
    let blocks = (o + 127) / 128
    let rowParts = blocks >= Threads.count && n < 96 ? 1 : max(1, min(Threads.count, n / 24))
    let yp = SendablePointer(y), xp = SendablePointer(x), wp = SendablePointer(w), bp = b.map { SendablePointer($0) }
    let pp = panels.map { SendablePointer($0.values.pointer) }
    parallelRows(blocks * rowParts, cost: 128 * i * max(1, n / rowParts), minimum: fewRowsSplitMinimum) { range in
        for task in range {
            let block = task % blocks, part = task / blocks
            let r0 = n * part / rowParts, r1 = n * (part + 1) / rowParts
            s2s_invariant_linear(yp.p + r0 * o, xp.p + r0 * i, wp.p, pp.map { UnsafePointer($0.p) },
                                 bp.map { UnsafePointer($0.p) }, r1 - r0, i, o, block * 128, min(o, block * 128 + 128))
        }
    }
}
