import CKernels

// bfloat16: the top 16 bits of a float32 (sign, 8-bit exponent, 7-bit mantissa), the operand type
// of mixed-precision matrix products. Swift has no BFloat16 type on x86-64 (../shared/PLATFORM.md),
// so values are UInt16 bit patterns; conversion rounds to nearest, ties to even, as PyTorch and
// oneDNN do (NaN stays NaN).

/// A buffer of bfloat16 values, as bit patterns.
public typealias BF16Ptr = UnsafeMutablePointer<UInt16>
/// A read-only buffer of bfloat16 values, as bit patterns.
public typealias ConstBF16Ptr = UnsafePointer<UInt16>

/// Conversions between float32 and bfloat16 bit patterns.
public enum BFloat16 {
    /// The nearest bfloat16 of `x` (ties to even).
    @inline(__always)
    public static func from(_ x: Float) -> UInt16 {
        let u = x.bitPattern
        if x.isNaN { return UInt16(truncatingIfNeeded: u >> 16) | 0x40 }  // quiet NaN
        return UInt16(truncatingIfNeeded: (u &+ 0x7FFF &+ ((u >> 16) & 1)) >> 16)
    }

    /// The float32 value of bfloat16 bits `b` (exact: bfloat16 is float32's top half).
    @inline(__always)
    public static func float(_ b: UInt16) -> Float { Float(bitPattern: UInt32(b) << 16) }

    /// Unit roundoff of bfloat16: |bf16(x) − x| ≤ 2⁻⁸ |x| (8 significant bits).
    public static let unitRoundoff: Float = 1.0 / 256
}

/// dst[i] = bf16(src[i]) for i < count. Sixteen lanes at a time, split over the threads from 256K
/// values: this runs over every operand of every bf16 product (millions of values per training
/// step), so it must go at memory speed.
public func convertToBF16(_ dst: BF16Ptr, _ src: ConstFloatPtr, count: Int) {
    let d = SendablePointer(dst), s = SendablePointer(src)
    parallelRows(count, cost: 2, minimum: 1 << 19) { r in
        convertToBF16Serial(d.p + r.lowerBound, s.p + r.lowerBound, count: r.count)
    }
}

/// `convertToBF16` on the calling thread (for kernels that convert rows inside their own split).
@inline(__always)
func convertToBF16Serial(_ dst: BF16Ptr, _ src: ConstFloatPtr, count: Int) { s2s_to_bf16(dst, src, count) }

/// An owned, growable bf16 buffer, kept in a FloatBuffer's storage (two values per float: same
/// alignment, same mapping of large buffers, nothing allocated once large enough).
public final class BF16Buffer: @unchecked Sendable {
    private let storage = FloatBuffer(count: 0)
    /// The number of values (the last ``reserve(_:)``'s).
    public private(set) var count = 0

    /// A buffer with room for `count` values.
    public init(count: Int = 0) { reserve(count) }

    /// The first value; it changes when ``reserve(_:)`` reallocates.
    public var pointer: BF16Ptr {
        UnsafeMutableRawPointer(storage.pointer).assumingMemoryBound(to: UInt16.self)
    }

    /// Room for `n` values (contents undefined after a reallocation).
    public func reserve(_ n: Int) {
        count = n
        storage.reserve((n + 1) / 2)
    }
}
