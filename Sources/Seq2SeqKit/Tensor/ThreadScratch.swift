#if canImport(Glibc)
import Glibc
#endif

/// One scratch FloatBuffer per thread, kept for the thread's life: for kernels that need a little
/// room of their own on every call (a transposed copy of a few input rows) without allocating on
/// every call, and without sharing between translators that run on different threads.
enum ThreadScratch {
    private static let key: pthread_key_t = {
        var k = pthread_key_t()
        pthread_key_create(&k) { p in if let p { Unmanaged<FloatBuffer>.fromOpaque(p).release() } }
        return k
    }()

    /// This thread's buffer, holding at least `count` floats (contents undefined).
    static func buffer(_ count: Int) -> FloatBuffer {
        if let p = pthread_getspecific(key) {
            let b = Unmanaged<FloatBuffer>.fromOpaque(p).takeUnretainedValue()
            _ = b.reserve(count)
            return b
        }
        let b = FloatBuffer(count: count)
        pthread_setspecific(key, Unmanaged.passRetained(b).toOpaque())
        return b
    }
}
