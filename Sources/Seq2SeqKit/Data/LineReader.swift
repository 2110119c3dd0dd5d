import Foundation

/// Reads a text file line by line through a fixed buffer, so memory stays bounded whatever the
/// file's size (a single line longer than the buffer grows it to that line's length only).
/// Lines end at "\n"; a "\r" before it is dropped; a last line without "\n" counts.
public final class LineReader {
    /// The file's path (or the name given for a descriptor), used in errors.
    public let path: String
    private let fd: Int32
    private var buffer: UnsafeMutablePointer<UInt8>
    private var capacity: Int
    private var start = 0, end = 0
    private var eof = false
    /// The number of the line returned last (1-based).
    public private(set) var lineNumber = 0
    /// Bytes read so far and a running fingerprint of them (for the prepared corpus's header).
    public private(set) var bytesRead = 0
    /// Bytes of the lines returned so far (``bytesRead`` less what is buffered ahead): progress through the file.
    public var bytesConsumed: Int { bytesRead - (end - start) }
    /// A running fingerprint of the bytes read so far.
    public private(set) var hasher = Hasher64()

    private let ownsDescriptor: Bool

    /// Opens `path` for reading through a buffer of `bufferSize` bytes (default 1 MiB).
    /// - Throws: ``TextError/cannotRead(_:_:)`` if the file cannot be opened.
    public init(_ path: String, bufferSize: Int = 1 << 20) throws {
        self.path = path
        fd = open(path, O_RDONLY)
        guard fd >= 0 else {
            throw TextError.cannotRead(path, FileManager.default.fileExists(atPath: path) ? "permission denied" : "no such file")
        }
        ownsDescriptor = true
        capacity = bufferSize
        buffer = .allocate(capacity: capacity)
    }

    /// Reads an open descriptor (standard input: `LineReader(fileDescriptor: 0, name: "<stdin>")`).
    /// A read returns what has arrived, so a line typed at a terminal is returned when it is complete.
    public init(fileDescriptor: Int32, name: String, bufferSize: Int = 1 << 16) {
        path = name
        fd = fileDescriptor
        ownsDescriptor = false
        capacity = bufferSize
        buffer = .allocate(capacity: capacity)
    }

    deinit {
        if ownsDescriptor { close(fd) }
        buffer.deallocate()
    }

    /// A whole line is buffered, the end of input was seen, or the descriptor has data ready now:
    /// the next `next` will not wait for a producer.
    public var lineReady: Bool {
        if eof || memchr(buffer + start, 0x0A, end - start) != nil { return true }
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&p, 1, 0) > 0
    }

    /// Calls `body` with the next line's bytes (valid only during the call); false at end of file.
    public func next(_ body: (UnsafeBufferPointer<UInt8>) throws -> Void) throws -> Bool {
        var scanFrom = start
        while true {
            if let nl = memchr(buffer + scanFrom, 0x0A, end - scanFrom) {
                let at = buffer.distance(to: nl.assumingMemoryBound(to: UInt8.self))
                var stop = at
                if stop > start && buffer[stop - 1] == 0x0D { stop -= 1 }
                lineNumber += 1
                try body(UnsafeBufferPointer(start: buffer + start, count: stop - start))
                start = at + 1
                return true
            }
            if eof {
                guard start < end else { return false }
                var stop = end
                if buffer[stop - 1] == 0x0D { stop -= 1 }
                lineNumber += 1
                try body(UnsafeBufferPointer(start: buffer + start, count: stop - start))
                start = end
                return true
            }
            scanFrom = end - start
            try fill()
            scanFrom += start
        }
    }

    /// The next line as text (invalid UTF-8 is an error naming the file and line unless `lenient`).
    public func nextLine(lenient: Bool) throws -> (text: String, repaired: Bool)? {
        var out: (String, Bool)? = nil
        let more = try next { out = try TextFile.decodeLine($0, file: path, line: lineNumber, lenient: lenient) }
        return more ? out : nil
    }

    /// Moves the unread tail to the front and reads more (growing the buffer if a line fills it).
    private func fill() throws {
        if start > 0 {
            memmove(buffer, buffer + start, end - start)
            end -= start; start = 0
        }
        if end == capacity {
            let bigger = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity * 2)
            bigger.update(from: buffer, count: end)
            buffer.deallocate()
            buffer = bigger; capacity *= 2
        }
        var n = read(fd, buffer + end, capacity - end)
        while n < 0 && errno == EINTR { n = read(fd, buffer + end, capacity - end) }
        if n < 0 { throw TextError.cannotRead(path, String(cString: strerror(errno))) }
        if n == 0 { eof = true; return }
        hasher.add(UnsafeRawBufferPointer(start: buffer + end, count: n))
        end += n; bytesRead += n
    }
}
