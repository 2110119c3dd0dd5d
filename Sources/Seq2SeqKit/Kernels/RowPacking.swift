// Packing the rows of an [N, D] activation that a pass needs and unpacking their gradients: the
// output projection and the loss of a training pass run over the labelled positions only (a batch
// of sentences of mixed lengths pads about an eighth of its decoder rows).

/// y[i, :] = x[rows[i], :] for each i: the rows of x [*, D] that `rows` names, packed in that order
/// into y [rows.count, D] (float32, or the bf16 bits of a mixed-precision pass).
public func gatherRows<T>(_ y: UnsafeMutablePointer<T>, _ x: UnsafePointer<T>, rows: UnsafeBufferPointer<Int32>, width d: Int) {
    guard let first = rows.baseAddress else { return }
    let yp = SendablePointer(y), xp = SendablePointer(x), rp = SendablePointer(first)
    parallelRows(rows.count, cost: d) { range in
        for i in range { (yp.p + i * d).update(from: xp.p + Int(rp.p[i]) * d, count: d) }
    }
}

/// y [N, D] = 0 except y[rows[i], :] = x[i, :]: undoes `gatherRows` for a gradient, the rows it left
/// out getting zero (their loss was not computed, so nothing flows back from them). `rows` ascend.
public func scatterRows(_ y: FloatPtr, rows n: Int, _ x: ConstFloatPtr, at rows: UnsafeBufferPointer<Int32>, width d: Int) {
    let yp = SendablePointer(y), xp = SendablePointer(x)
    guard let first = rows.baseAddress else { return zeroElements(y, count: n * d) }
    let rp = SendablePointer(first), count = rows.count
    parallelRows(n, cost: d) { range in
        // The packed rows that land in this range of y, found by binary search in the ascending list.
        var lo = 0, hi = count
        while lo < hi { let mid = (lo + hi) / 2; if Int(rp.p[mid]) < range.lowerBound { lo = mid + 1 } else { hi = mid } }
        var i = lo
        for r in range {
            let row = yp.p + r * d
            if i < count && Int(rp.p[i]) == r {
                row.update(from: xp.p + i * d, count: d)
                i += 1
            } else {
                row.update(repeating: 0, count: d)
            }
        }
    }
}
