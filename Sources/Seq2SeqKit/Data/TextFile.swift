import Foundation

/// Errors about user-supplied text; each names the file and line and says what to do.
public enum TextError: Error, CustomStringConvertible, Equatable {
    case cannotRead(String, String)
    case invalidUTF8(file: String, line: Int)
    case lineCountMismatch(String, Int, String, Int)
    case empty(String)

    public var description: String {
        switch self {
        case .cannotRead(let f, let why): return "\(f): cannot read: \(why)"
        case .invalidUTF8(let f, let l):
            return "\(f):\(l): invalid UTF-8; convert the file to UTF-8 (e.g. iconv -f latin1 -t utf-8) or pass --lenient to replace bad bytes"
        case .lineCountMismatch(let a, let na, let b, let nb):
            return "\(a) has \(na) lines but \(b) has \(nb); the files must be line-aligned"
        case .empty(let f): return "\(f): no lines"
        }
    }
}

/// Reading line-oriented UTF-8 text. Lines end at "\n" (a "\r" before it is dropped); a final line
/// without a newline counts; empty lines are kept.
public enum TextFile {
    /// Lines of `path` ("-" reads standard input). Invalid UTF-8 is an error naming the line unless
    /// `lenient`, which replaces bad bytes with U+FFFD and counts the lines it repaired.
    public static func readLines(_ path: String, lenient: Bool = false) throws -> (lines: [String], repaired: Int) {
        let data: Data
        if path == "-" {
            data = FileHandle.standardInput.readDataToEndOfFile()
        } else {
            guard let d = FileManager.default.contents(atPath: path) else {
                throw TextError.cannotRead(path, FileManager.default.fileExists(atPath: path) ? "permission denied" : "no such file")
            }
            data = d
        }
        return try splitLines(data, name: path, lenient: lenient)
    }

    public static func splitLines(_ data: Data, name: String, lenient: Bool) throws -> (lines: [String], repaired: Int) {
        var lines: [String] = []
        var repaired = 0
        try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            let bytes = raw.bindMemory(to: UInt8.self)
            var start = 0
            let n = bytes.count
            while start < n {
                var end = start
                while end < n && bytes[end] != 0x0A { end += 1 }
                var stop = end
                if stop > start && bytes[stop - 1] == 0x0D { stop -= 1 }
                let (line, bad) = try decodeLine(UnsafeBufferPointer(rebasing: bytes[start..<stop]), file: name,
                                                 line: lines.count + 1, lenient: lenient)
                lines.append(line)
                if bad { repaired += 1 }
                start = end + 1
            }
        }
        return (lines, repaired)
    }

    public static func lines(_ path: String) throws -> [String] { try readLines(path).lines }

    /// One line's bytes as text: invalid UTF-8 is an error naming `file` and `line`, or, when
    /// `lenient`, replaced by U+FFFD (and reported as repaired).
    public static func decodeLine(_ bytes: UnsafeBufferPointer<UInt8>, file: String, line: Int,
                                  lenient: Bool) throws -> (text: String, repaired: Bool) {
        if let s = String(validating: bytes, as: UTF8.self) { return (s, false) }
        guard lenient else { throw TextError.invalidUTF8(file: file, line: line) }
        return (String(decoding: bytes, as: UTF8.self), true)
    }
}
