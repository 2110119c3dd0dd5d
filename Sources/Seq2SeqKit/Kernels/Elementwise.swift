import CKernels
// Element-by-element arithmetic over activations ([N, D] buffers, millions of values per training
// step), split over the threads like the other kernels: alone on one core these memory-bound
// loops leave the other core waiting between products.

/// y[i] = a[i] + b[i] (y may be a or b).
public func addElementwise(_ y: FloatPtr, _ a: ConstFloatPtr, _ b: ConstFloatPtr, count n: Int) {
    let yp = SendablePointer(y), ap = SendablePointer(a), bp = SendablePointer(b)
    parallelRows(n, cost: 1) { r in
        for i in r { yp.p[i] = ap.p[i] + bp.p[i] }
    }
}

/// y[i] += x[i]
public func accumulateElementwise(_ y: FloatPtr, _ x: ConstFloatPtr, count n: Int) {
    let yp = SendablePointer(y), xp = SendablePointer(x)
    parallelRows(n, cost: 1) { r in
        for i in r { yp.p[i] += xp.p[i] }
    }
}

/// y[i] = a[i] · b[i] (y may be a or b).
public func multiplyElementwise(_ y: FloatPtr, _ a: ConstFloatPtr, _ b: ConstFloatPtr, count n: Int) {
    let yp = SendablePointer(y), ap = SendablePointer(a), bp = SendablePointer(b)
    parallelRows(n, cost: 1) { r in
        for i in r { yp.p[i] = ap.p[i] * bp.p[i] }
    }
}

/// y[i] = 0: the gradient buffers a backward pass accumulates into.
public func zeroElements(_ y: FloatPtr, count n: Int) {
    let yp = SendablePointer(y)
    parallelRows(n, cost: 1, minimum: 1 << 18) { r in (yp.p + r.lowerBound).update(repeating: 0, count: r.count) }
}

/// y[r, :] = b for each of `rows` rows of width `cols` (a bias the product then accumulates onto).
public func fillRows(_ y: FloatPtr, with b: ConstFloatPtr, rows n: Int, cols o: Int) {
    let yp = SendablePointer(y), bp = SendablePointer(b)
    parallelRows(n, cost: o) { range in
        for r in range { (yp.p + r * o).update(from: bp.p, count: o) }
    }
}

/// db[O] += Σ_rows dy[N, O]: a bias's gradient. The columns are split over the threads, so each
/// sum runs over the rows in order whatever the thread count (the same bits on 1 or 2 threads).
/// 64 columns' sums stay in four registers while the rows stream past.
public func addColumnSums(_ db: FloatPtr, _ dy: ConstFloatPtr, rows n: Int, cols o: Int) {
    let dbp = SendablePointer(db), dyp = SendablePointer(dy)
    let blocks = (o + 63) / 64
    parallelRows(blocks, cost: n * 64) { range in
        for block in range {
            let j = block * 64
            if j + 64 <= o {
                s2s_column_sums64(dbp.p + j, dyp.p + j, n, o)
            } else {
                for r in 0..<n {
                    let row = dyp.p + r * o
                    for c in j..<o { dbp.p[c] += row[c] }
                }
            }
        }
    }
}
