#if canImport(Glibc)
import Glibc
#endif

/// An owned, growable, 64-byte aligned Float buffer: the storage of parameters, gradients, optimizer
/// moments and activations. Growing reallocates (contents are not kept); a buffer that is already
/// large enough is reused as is, so a steady training loop allocates nothing.
public final class FloatBuffer: @unchecked Sendable {
    /// The first element (64-byte aligned); it changes when ``reserve(_:)`` reallocates.
    public private(set) var pointer: FloatPtr
    /// Elements allocated (at least ``count``, and at least 1).
    public private(set) var capacity: Int
    /// Elements in use: the initializer's count or the last ``reserve(_:)``'s.
    public private(set) var count: Int

    /// A buffer of `count` floats, zero unless `zeroed` is false (large buffers are zero either way: fresh
    /// mapped pages).
    public init(count: Int, zeroed: Bool = true) {
        let cap = max(count, 1)
        pointer = FloatBuffer.allocate(cap)
        capacity = cap
        self.count = count
        if zeroed && !FloatBuffer.isMapped(cap) { pointer.initialize(repeating: 0, count: cap) }
    }

    /// A buffer holding a copy of `values`.
    public convenience init(_ values: [Float]) {
        self.init(count: values.count, zeroed: false)
        values.withUnsafeBufferPointer { pointer.update(from: $0.baseAddress!, count: values.count) }
    }

    deinit { FloatBuffer.release(pointer, capacity) }

    /// Large buffers are mapped pages of their own (mmap), returned to the system as soon as they
    /// are released. Through malloc they would, after glibc raises its mmap threshold, come from the
    /// heap and stay resident once freed, so a workspace that grows with the batch shape would hold
    /// every size it ever had.
    /// Mapped pages also start zeroed, and are only made resident when first touched: zero-filling
    /// them would fault in the whole buffer at once.
    private static let mapThreshold = 64 * 1024  // floats (256 KB)

    private static func isMapped(_ n: Int) -> Bool { n >= mapThreshold }

    private static func allocate(_ n: Int) -> FloatPtr {
        if isMapped(n) {
            let bytes = n * MemoryLayout<Float>.stride
            guard let p = mmap(nil, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
                  p != MAP_FAILED else {
                fatalError("out of memory: cannot map \(bytes) bytes")
            }
            return p.bindMemory(to: Float.self, capacity: n)
        }
        return UnsafeMutableRawPointer.allocate(byteCount: n * MemoryLayout<Float>.stride, alignment: 64)
            .bindMemory(to: Float.self, capacity: n)
    }

    private static func release(_ p: FloatPtr, _ n: Int) {
        if isMapped(n) { munmap(p, n * MemoryLayout<Float>.stride) } else { p.deallocate() }
    }

    /// Makes room for `n` elements; reallocates (zeroed) only when `n` exceeds the capacity, and
    /// then by at least half again, so that shapes growing a little at a time (translation batches
    /// sorted by length) reallocate only a few times. Returns true when it had to reallocate.
    @discardableResult
    public func reserve(_ n: Int) -> Bool {
        count = n
        if n <= capacity { return false }
        FloatBuffer.release(pointer, capacity)
        capacity = max(n, capacity + capacity / 2)
        pointer = FloatBuffer.allocate(capacity)
        if !FloatBuffer.isMapped(capacity) { pointer.initialize(repeating: 0, count: capacity) }
        return true
    }

    /// Sets every element to 0 (split over the threads when large).
    public func zero() { zeroElements(pointer, count: count) }

    /// A copy of the first ``count`` elements.
    public var array: [Float] { Array(UnsafeBufferPointer(start: pointer, count: count)) }

    /// Element `i` (not bounds-checked).
    public subscript(i: Int) -> Float {
        get { pointer[i] }
        set { pointer[i] = newValue }
    }
}
