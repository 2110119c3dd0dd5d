import Foundation

/// A whole file mapped read-only into memory. Pages are read on first touch and belong to the
/// page cache, so mapping a corpus of any size costs no allocation and no start-up time.
public final class MappedFile: @unchecked Sendable {
    /// The file's path.
    public let path: String
    /// The file's size in bytes when it was mapped.
    public let count: Int
    /// The mapping's first byte; nil for an empty file. Valid while this object lives.
    public let bytes: UnsafeRawPointer?

    /// Maps the whole of `path` read-only (shared with the page cache).
    /// - Throws: ``TextError/cannotRead(_:_:)`` if the file cannot be opened, examined or mapped.
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
    public func release() { release(bytes: 0..<count) }

    /// Tells the kernel that reads will be scattered (batches gather pairs from anywhere): no
    /// read-ahead and no mapping of neighbouring pages on a fault, so residency tracks what was read.
    public func adviseRandomAccess() {
        guard let bytes, count > 0 else { return }
        madvise(UnsafeMutableRawPointer(mutating: bytes), count, Int32(MADV_RANDOM))
    }

    /// Drops the resident pages wholly inside `range` (byte offsets).
    public func release(bytes range: Range<Int>) {
        guard let bytes, count > 0 else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let lo = (range.lowerBound + page - 1) / page * page
        let hi = range.upperBound >= count ? count : range.upperBound / page * page
        guard hi > lo else { return }
        madvise(UnsafeMutableRawPointer(mutating: bytes + lo), hi - lo, Int32(MADV_DONTNEED))
    }

    /// Visits the file in chunks of `chunk` elements of T, releasing each chunk's pages after the
    /// visit, so that a full scan keeps at most one chunk resident.
    public func scan<T>(_: T.Type, chunk: Int = 1 << 22, _ body: (UnsafeBufferPointer<T>) throws -> Void) rethrows {
        let all = typed(T.self)
        var start = 0
        while start < all.count {
            let n = min(chunk, all.count - start)
            try body(UnsafeBufferPointer(rebasing: all[start..<(start + n)]))
            release(bytes: (start * MemoryLayout<T>.stride)..<((start + n) * MemoryLayout<T>.stride))
            start += n
        }
    }

    deinit {
        if let bytes { munmap(UnsafeMutableRawPointer(mutating: bytes), count) }
    }
}
