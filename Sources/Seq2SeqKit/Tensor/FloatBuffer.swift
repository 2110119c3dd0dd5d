/// An owned, growable, 64-byte aligned Float buffer: the storage of parameters, gradients, optimizer
/// moments and activations. Growing reallocates (contents are not kept); a buffer that is already
/// large enough is reused as is, so a steady training loop allocates nothing.
public final class FloatBuffer: @unchecked Sendable {
    public private(set) var pointer: FloatPtr
    public private(set) var capacity: Int
    public private(set) var count: Int

    public init(count: Int, zeroed: Bool = true) {
        let cap = max(count, 1)
        pointer = FloatBuffer.allocate(cap)
        capacity = cap
        self.count = count
        if zeroed { pointer.initialize(repeating: 0, count: cap) }
    }

    public convenience init(_ values: [Float]) {
        self.init(count: values.count, zeroed: false)
        values.withUnsafeBufferPointer { pointer.update(from: $0.baseAddress!, count: values.count) }
    }

    deinit { pointer.deallocate() }

    private static func allocate(_ n: Int) -> FloatPtr {
        UnsafeMutableRawPointer.allocate(byteCount: n * MemoryLayout<Float>.stride, alignment: 64)
            .bindMemory(to: Float.self, capacity: n)
    }

    /// Makes room for `n` elements; reallocates (zeroed) only when `n` exceeds the capacity.
    /// Returns true when it had to reallocate.
    @discardableResult
    public func reserve(_ n: Int) -> Bool {
        count = n
        if n <= capacity { return false }
        pointer.deallocate()
        capacity = n
        pointer = FloatBuffer.allocate(n)
        pointer.initialize(repeating: 0, count: n)
        return true
    }

    public func zero() { pointer.update(repeating: 0, count: count) }

    public var array: [Float] { Array(UnsafeBufferPointer(start: pointer, count: count)) }

    public subscript(i: Int) -> Float {
        get { pointer[i] }
        set { pointer[i] = newValue }
    }
}
