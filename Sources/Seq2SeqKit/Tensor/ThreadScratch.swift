#if canImport(Glibc)
import Glibc
#endif

/// One object per thread, made on the thread's first use and kept for the thread's life (released
/// when it ends): scratch room that kernels need on every call, without allocating on every call
/// and without sharing between translators that run on different threads.
final class ThreadLocal<Value: AnyObject>: @unchecked Sendable {
    private let key: pthread_key_t
    private let make: () -> Value

    init(_ make: @escaping () -> Value) {
        var k = pthread_key_t()
        pthread_key_create(&k) { p in if let p { Unmanaged<AnyObject>.fromOpaque(p).release() } }
        key = k
        self.make = make
    }

    /// This thread's object.
    var value: Value {
        if let p = pthread_getspecific(key) { return Unmanaged<AnyObject>.fromOpaque(p).takeUnretainedValue() as! Value }
        let v = make()
        pthread_setspecific(key, Unmanaged.passRetained(v as AnyObject).toOpaque())
        return v
    }
}

/// One scratch FloatBuffer per thread (a transposed copy of a few input rows, FewRowsLinear.swift).
enum ThreadScratch {
    private static let local = ThreadLocal { FloatBuffer(count: 0) }

    /// This thread's buffer, holding at least `count` floats (contents undefined).
    static func buffer(_ count: Int) -> FloatBuffer {
        let b = local.value
        _ = b.reserve(count)
        return b
    }
}
