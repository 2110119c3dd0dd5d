import CKernels

// Linear layers with int8 weights (QuantizedMatrix): activations are quantized per row on the fly,
// the product runs in integers (Tensor/Int8Gemm.swift), and dequantization is fused with the bias.
// Dims legend: N rows, I input features (K = I padded to 32), O output features.
//
//   xu[r, k] = round(x[r, k] / sx[r]) + z,   sx[r] = max_k |x[r, k]| / L,  z = L + 1
//   y[r, j]  = sx[r] · sw[j] · (Σ_k xu[r, k] · q[j, k] − z · Σ_k q[j, k]) + b[j]
//
// with L = 127 (8 bits, xu in [1, 255]) where the engine adds u8 · s8 products in 32 bits (VNNI's
// vpdpbusd, the portable loops), and L = 63 (7 bits, xu in [1, 127]) where int16 pair sums would
// otherwise saturate (AVX2's vpmaddubsw; see Int8Gemm.swift): `Int8Activations.Range`. Either way
// the integer sums are exact. The error against the float product is that of rounding x to L
// levels and W to 127 (bounded in Int8LinearTests).

/// One thread's room for quantized activations and int32 products, kept for the thread's life.
final class Int8Scratch: @unchecked Sendable {
    private(set) var bytes: UnsafeMutablePointer<UInt8> = .allocate(capacity: 1)
    private(set) var scales: UnsafeMutablePointer<Float> = .allocate(capacity: 1)
    private(set) var sums: UnsafeMutablePointer<Int32> = .allocate(capacity: 1)
    private var byteCapacity = 1, scaleCapacity = 1, sumCapacity = 1

    func reserve(bytes b: Int, rows: Int, sums s: Int) {
        if b > byteCapacity { bytes.deallocate(); bytes = .allocate(capacity: b); byteCapacity = b }
        if rows > scaleCapacity { scales.deallocate(); scales = .allocate(capacity: rows); scaleCapacity = rows }
        if s > sumCapacity { sums.deallocate(); sums = .allocate(capacity: s); sumCapacity = s }
    }

    deinit { bytes.deallocate(); scales.deallocate(); sums.deallocate() }

    private static let local = ThreadLocal { Int8Scratch() }
    static var current: Int8Scratch { local.value }
}

/// How activations are quantized for int8 products: per row, to unsigned bytes around a zero point.
public enum Int8Activations {
    /// The activations' range: 8 bits where the engine's sums cannot saturate, 7 where they could.
    public enum Range: Int, Sendable {
        /// Levels ±63 around zero point 64: xu in [1, 127], so that pairs of u8 · s8 products stay
        /// within vpmaddubsw's int16 (2 · 127 · 127 < 32,768).
        case sevenBit = 7
        /// Levels ±127 around zero point 128: xu in [1, 255], for engines that add every product in
        /// 32 bits (VNNI's vpdpbusd, the portable loops): half the rounding error of 7 bits.
        case eightBit = 8

        /// Quantization levels on each side of zero.
        public var levels: Float { self == .eightBit ? 127 : 63 }
        /// The zero point: xu = round(x / sx) + zeroPoint.
        public var zeroPoint: Int32 { self == .eightBit ? 128 : 64 }
    }

    /// The range the products of `engine` take under `selection`: its ``MatmulSelection/int8Range``
    /// when set, else 8 bits for the engines whose sums are 32-bit throughout (`vnni`, `portable`,
    /// and oneDNN where it has VNNI), 7 for the others. Without a forced engine, 8 bits only where
    /// every row count goes to one such engine (AVX512-VNNI's packed kernel), so that the range
    /// never depends on the number of rows, that is on the batch.
    public static func range(for engine: Int8Engine, selection: MatmulSelection = .current) -> Range {
        if let range = selection.int8Range { return range }
        if selection.int8 == nil { return Int8Gemm.packedFromEveryRow ? .eightBit : .sevenBit }
        return engine.takesEightBits ? .eightBit : .sevenBit
    }

    /// xu[N, K] and sx[N] from x[N, I] (row stride I) in `range`; K − I trailing bytes of each row are zero.
    @_spi(Testing)
    public static func quantize(_ x: ConstFloatPtr, rows n: Int, features i: Int, stride k: Int, range: Range,
                                into xu: UnsafeMutablePointer<UInt8>, scales sx: UnsafeMutablePointer<Float>) {
        let levels = range.levels, zeroPoint = range.zeroPoint
        for r in 0..<n {
            let row = x + r * i, out = xu + r * k
            let m = maxAbs(row, i)
            // A zero row (or one of NaNs, which compare false) quantizes to the zero point with scale 0.
            let scale: Float = m > 0 && m.isFinite ? m / levels : 0
            sx[r] = scale
            let inv: Float = scale > 0 ? levels / m : 0
            s2s_quantize_row(out, row, i, inv, zeroPoint)
            if k > i { (out + i).update(repeating: 0, count: k - i) }
        }
    }

    /// max |p[t]| over t < n (NaNs dropped).
    @inline(__always)
    static func maxAbs(_ p: ConstFloatPtr, _ n: Int) -> Float { s2s_max_abs(p, n) }
}

/// y[N, O] = dequantize(quantize(x[N, I]) · Wqᵀ) + bias[O] (none: zero). Never fails: when oneDNN
/// reports a failure (recorded in `OneDNNFailures`), our own engine computes the same integers.
public func int8LinearForward(_ y: FloatPtr, _ x: ConstFloatPtr, _ w: QuantizedMatrix, _ bias: ConstFloatPtr?,
                              rows n: Int) {
    let i = w.columns, o = w.rows, k = w.stride
    if n == 0 || o == 0 { return }
    let scratch = Int8Scratch.current
    var engine = Int8Gemm.engine(rows: n)
    scratch.reserve(bytes: n * k, rows: n, sums: engine == .avx2 || engine == .vnni ? 1 : n * o)
    let range = Int8Activations.range(for: engine)
    Int8Activations.quantize(x, rows: n, features: i, stride: k, range: range, into: scratch.bytes, scales: scratch.scales)
    let out = Int8Output(y: y, xScales: UnsafePointer(scratch.scales), bias: bias, matrix: w,
                         correction: w.correction(for: range))
    if engine == .onednn {
        do throws(OneDNNError) {
            try Int8Gemm.oneDNN(scratch.sums, UnsafePointer(scratch.bytes), w, rows: n)
            return out.dequantize(UnsafePointer(scratch.sums), rows: 0..<n)
        } catch {
            engine = Int8Gemm.ownEngine  // the sums are overwritten: recomputed from the same bytes
            if range == .eightBit && !engine.takesEightBits {
                engine = .portable  // whose 32-bit sums take the 8-bit bytes already made
            }
        }
    }
    switch engine {
    case .avx2, .vnni:
        out.tiles(UnsafePointer(scratch.bytes), rows: n, vnni: engine == .vnni)
    case .portable, .onednn:  // (oneDNN's product returned above, or fell back to our engine)
        Int8Gemm.portable(scratch.sums, UnsafePointer(scratch.bytes), w, rows: n)
        out.dequantize(UnsafePointer(scratch.sums), rows: 0..<n)
    }
}

/// Where an int8 product's sums go: y[r, j] = sx[r] · sw[j] · (s − z · rowSum[j]) + b[j].
struct Int8Output: @unchecked Sendable {
    let y: FloatPtr
    let xScales: UnsafePointer<Float>
    let bias: ConstFloatPtr?
    let matrix: QuantizedMatrix
    /// z · rowSum[j] for the activations' zero point z.
    let correction: UnsafePointer<Int32>

    /// One value from its integer sum.
    @inline(__always)
    func store(_ s: Int32, row r: Int, column j: Int) {
        let w = matrix
        let v = Float(s &- correction[j]) * (xScales[r] * w.scalePointer[j])
        y[r * w.rows + j] = v + (bias?[j] ?? 0)
    }

    /// y = dequantize(xu[N, K] · Wqᵀ) for all N rows by the AVX2 tiles (CKernels/kernels_int8_avx2.h):
    /// W is walked in blocks that stay in L2 while every row group passes over them, and the blocks
    /// are split between threads.
    func tiles(_ xu: UnsafePointer<UInt8>, rows n: Int, vnni: Bool) {
        let w = matrix, o = w.rows, k = w.stride
        if vnni, s2s_int8_packed_available() != 0, let p = w.packed {  // packed whenever the processor has AVX512-VNNI
            return packedTiles(xu, p, rows: n)
        }
        // Blocks of W rows of 256 KB (a quarter of L2), or a thread's share.
        let block = max(2, min(256 * 1024 / k, (o + Threads.count - 1) / Threads.count)) & ~1
        let blocks = (o + block - 1) / block
        let me = self, xp = SendablePointer(xu)
        parallelRows(blocks, cost: block * k * n, minimum: 1 << 20) { range in
            let j0 = range.lowerBound * block, j1 = min(o, range.upperBound * block)
            if vnni {
                s2s_int8_vnni_tiles(me.y, xp.p, w.values, me.xScales, w.scalePointer, me.correction, me.bias, n, o, k, j0, j1)
            } else {
                s2s_int8_tiles(me.y, xp.p, w.values, me.xScales, w.scalePointer, me.correction, me.bias, n, o, k, j0, j1)
            }
        }
    }

    /// y = dequantize(xu[N, K] · Wqᵀ) from W's packed layout (CKernels/kernels_int8_packed_avx512vnni.c),
    /// its 16-row blocks split between threads.
    private func packedTiles(_ xu: UnsafePointer<UInt8>, _ p: UnsafeMutablePointer<Int8>, rows n: Int) {
        let w = matrix, o = w.rows, k = w.stride
        let blocks = (o + 15) / 16
        let me = self, xp = SendablePointer(xu), pp = SendablePointer(UnsafePointer(p))
        parallelRows(blocks, cost: 16 * k * n, minimum: 1 << 20) { range in
            s2s_int8_packed(me.y, xp.p, pp.p, me.xScales, w.scalePointer, me.correction, me.bias, n, o, k,
                            range.lowerBound, range.upperBound)
        }
    }

    /// Rows of int32 sums c[N, O] to y.
    func dequantize(_ c: UnsafePointer<Int32>, rows: Range<Int>) {
        let o = matrix.rows
        for r in rows {
            s2s_dequantize_row(y + r * o, c + r * o, o, xScales[r], matrix.scalePointer, correction, bias)
        }
    }
}
