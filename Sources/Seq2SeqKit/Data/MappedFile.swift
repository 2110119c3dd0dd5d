import Foundation

/// A whole file mapped read-only into memory. Pages are read on first touch and belong to the
/// page cache, so mapping a corpus of any size costs no allocation and no start-up time.
public final class MappedFile: @unchecked Sendable {
    public let path: String
    public let count: Int
    public let bytes: UnsafeRawPointer?

    public init(_ path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw TextError.cannotRead(path, String(cString: strerror(errno))) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw TextError.cannotRead(path, String(cString: strerror(errno))) }
        count = Int(st.st_size)
        if count == 0 { bytes = nil; return }
        guard let p = mmap(nil, count, PROT_READ, MAP_SHARED, fd, 0), p != MAP_FAILED else {
            throw TextError.cannotRead(path, "mmap: \(String(cString: strerror(errno)))")
        }
        bytes = UnsafeRawPointer(p)
    }

    /// The file as `count / stride(T)` values of T (the file's length must be a multiple of it).
    public func typed<T>(_: T.Type) -> UnsafeBufferPointer<T> {
        guard let bytes else { return UnsafeBufferPointer(start: nil, count: 0) }
        return UnsafeBufferPointer(start: bytes.assumingMemoryBound(to: T.self), count: count / MemoryLayout<T>.stride)
    }

    /// Drops the resident pages (they are read again from the page cache or the disk when touched):
    /// after a one-off scan, so that scanning does not count in the process's resident memory.
    public func release() {
        guard let bytes, count > 0 else { return }
        madvise(UnsafeMutableRawPointer(mutating: bytes), count, Int32(MADV_DONTNEED))
    }

    deinit {
        if let bytes { munmap(UnsafeMutableRawPointer(mutating: bytes), count) }
    }
}
