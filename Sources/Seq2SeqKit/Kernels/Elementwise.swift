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
