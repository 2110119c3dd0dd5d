/// Short names for the raw buffers every kernel works on. Unsafe code stays in `Tensor` and `Kernels`.
public typealias FloatPtr = UnsafeMutablePointer<Float>
/// A read-only float buffer.
public typealias ConstFloatPtr = UnsafePointer<Float>

/// Wraps a raw pointer so it may cross into a `@Sendable` closure (`concurrentPerform`).
/// The kernels guarantee that concurrent workers touch disjoint rows.
@usableFromInline
struct SendablePointer<T>: @unchecked Sendable {
    @usableFromInline let p: UnsafeMutablePointer<T>
    @inlinable init(_ p: UnsafeMutablePointer<T>) { self.p = p }
    @inlinable init(_ p: UnsafePointer<T>) { self.p = UnsafeMutablePointer(mutating: p) }
}
