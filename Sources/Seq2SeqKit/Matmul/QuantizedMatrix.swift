import CKernels
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A weight matrix W[O, I] in int8, quantized per output row as CTranslate2 does: row j holds
/// round(W[j, :] / scale[j]) in [-127, 127], scale[j] = max |W[j, :]| / 127. Rows are stored with a
/// stride of I rounded up to 32 bytes (zeros beyond I), the width of one AVX2 load, so that the
/// kernels never need a tail; `rowSums` (Σ_k q[j, k]) serves the zero-point correction of unsigned
/// activations (Kernels/Int8Linear.swift).
/// Dims legend: O rows (output features), I columns (input features).
public final class QuantizedMatrix: @unchecked Sendable {
    /// The matrix's shape [O, I]: output features (rows) and input features (columns).
    public let rows: Int, columns: Int
    /// Row stride in bytes: columns rounded up to a multiple of 32.
    public let stride: Int
    /// The quantized values [O, ``stride``], row-major, zeros beyond ``columns`` in each row; 64-byte aligned,
    /// owned by this object. Where the packed layout is held (processors with AVX512-VNNI) this copy
    /// is made on first use, by the engines that read it (`SEQ2SEQ_INT8_ENGINE=portable|avx2|onednn`).
    public var values: UnsafeMutablePointer<Int8> {
        if packed == nil { return rowMajor! }  // the only copy, set once in init: no lock on this hot path
        rowMajorLock.lock()
        defer { rowMajorLock.unlock() }
        if let v = rowMajor { return v }
        let v = QuantizedMatrix.alignedBytes(rows * stride)
        for j in 0..<rows { for k in 0..<stride { v[j * stride + k] = value(row: j, column: k) } }
        rowMajor = v
        return v
    }
    private var rowMajor: UnsafeMutablePointer<Int8>?
    private let rowMajorLock = NSLock()
    /// Each row's scale [O]: W[j, k] ≈ values[j, k] · scales[j].
    public let scales: [Float]                       // [O]
    /// Each row's sum of quantized values [O] (for the activations' zero-point correction).
    public let rowSums: [Int32]                      // [O]
    /// The kernels' copies: scales, and z · rowSums for activations of zero point z (64 for 7 bits,
    /// 128 for 8: `Int8Activations.Range`), read through pointers in the inner loops.
    let scalePointer: UnsafeMutablePointer<Float>
    private let correction7: UnsafeMutablePointer<Int32>, correction8: UnsafeMutablePointer<Int32>
    /// The values in VNNI's packed layout (CKernels' s2s_int8_pack_vnni: 16-row blocks of 4-byte
    /// groups, [ceil(O / 16) · 16, stride] bytes, 64-byte aligned), which the int8 products read on
    /// processors with AVX512-VNNI, where it is the only copy held; nil elsewhere.
    @_spi(Testing) public let packed: UnsafeMutablePointer<Int8>?

    /// The row stride in bytes for `columns` columns: the next multiple of 32.
    public static func stride(columns: Int) -> Int { (columns + 31) & ~31 }

    /// Quantizes W[O, I] (row-major, row stride `ld`, default I).
    public convenience init(quantizing w: ConstFloatPtr, rows o: Int, columns i: Int, ld: Int? = nil) {
        let ld = ld ?? i
        var scales = [Float](repeating: 0, count: o)
        let q = UnsafeMutablePointer<Int8>.allocate(capacity: max(1, o * i))
        defer { q.deallocate() }
        for j in 0..<o {
            let row = w + j * ld
            var m: Float = 0
            for k in 0..<i { m = max(m, abs(row[k])) }
            // An all-zero row keeps scale 0: its products are 0 whatever q holds.
            scales[j] = m / 127
            let inv: Float = m > 0 ? 127 / m : 0
            for k in 0..<i { q[j * i + k] = Int8(max(-127, min(127, (row[k] * inv).rounded()))) }
        }
        self.init(values: UnsafePointer(q), scales: scales, rows: o, columns: i)
    }

    /// Takes stored values q[O, I] (dense, as in a safetensors I8 tensor) and their scales [O].
    public init(values q: UnsafePointer<Int8>, scales: [Float], rows o: Int, columns i: Int) {
        precondition(scales.count == o, "one scale per row")
        rows = o; columns = i
        stride = QuantizedMatrix.stride(columns: i)
        let dense = QuantizedMatrix.alignedBytes(o * stride)
        dense.initialize(repeating: 0, count: max(1, o * stride))
        var sums = [Int32](repeating: 0, count: o)
        for j in 0..<o {
            (dense + j * stride).update(from: q + j * i, count: i)
            var s: Int32 = 0
            for k in 0..<i { s += Int32(q[j * i + k]) }
            sums[j] = s
        }
        self.scales = scales
        rowSums = sums
        scalePointer = .allocate(capacity: max(1, o))
        scalePointer.initialize(from: scales, count: o)
        correction7 = .allocate(capacity: max(1, o))
        correction8 = .allocate(capacity: max(1, o))
        for j in 0..<o {
            correction7[j] = Int8Activations.Range.sevenBit.zeroPoint &* sums[j]
            correction8[j] = Int8Activations.Range.eightBit.zeroPoint &* sums[j]
        }
        if s2s_int8_packed_supported() != 0 && o > 0 {
            let p = QuantizedMatrix.alignedBytes((o + 15) / 16 * 16 * stride)
            s2s_int8_pack_vnni(p, dense, o, stride)
            packed = p
            free(dense)
        } else {
            packed = nil
            rowMajor = dense
        }
    }

    deinit { free(rowMajor); free(packed); scalePointer.deallocate(); correction7.deallocate(); correction8.deallocate() }

    /// z · rowSums [O] for activations quantized in `range`.
    func correction(for range: Int8Activations.Range) -> UnsafePointer<Int32> {
        UnsafePointer(range == .eightBit ? correction8 : correction7)
    }

    /// `count` bytes (at least 1), 64-byte aligned, for free().
    private static func alignedBytes(_ count: Int) -> UnsafeMutablePointer<Int8> {
        var raw: UnsafeMutableRawPointer? = nil
        guard posix_memalign(&raw, 64, max(1, count)) == 0, let raw else { fatalError("out of memory for an int8 matrix") }
        return raw.bindMemory(to: Int8.self, capacity: max(1, count))
    }

    /// q[j, k] from whichever layout is held (k < stride; zero beyond ``columns``).
    @inline(__always)
    func value(row j: Int, column k: Int) -> Int8 {
        guard let p = packed else { return rowMajor![j * stride + k] }
        return p[((j / 16) * (stride / 4) + k / 4) * 64 + (j % 16) * 4 + k % 4]
    }

    /// The stored values densely, [O, I] (what a safetensors I8 tensor holds).
    public func denseValues() -> [Int8] {
        var out = [Int8](repeating: 0, count: rows * columns)
        for j in 0..<rows { for k in 0..<columns { out[j * columns + k] = value(row: j, column: k) } }
        return out
    }

    /// Row j back in float: q[j, :] · scale[j] into `out` [I].
    @inline(__always)
    public func dequantizeRow(_ j: Int, into out: FloatPtr) {
        let s = scales[j]
        for k in 0..<columns { out[k] = Float(value(row: j, column: k)) * s }
    }
}
