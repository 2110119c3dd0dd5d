import Foundation

/// Errors about user-supplied text; each names the file and line and says what to do.
public enum TextError: Error, CustomStringConvertible, Equatable {
    /// A file cannot be opened, read or written (file, reason).
    case cannotRead(String, String)
    /// A line is not valid UTF-8 (file, 1-based line number).
    case invalidUTF8(file: String, line: Int)
    /// Two files that must be line-aligned have different line counts (file, lines, other file, lines).
    case lineCountMismatch(String, Int, String, Int)
    /// A file has no lines.
    case empty(String)

    /// The message, naming the file (and line) and what to do.
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
    /// - Throws: ``TextError/cannotRead(_:_:)`` if the file cannot be opened or read,
    ///   ``TextError/invalidUTF8(file:line:)`` for invalid UTF-8 unless `lenient`.
    public static func readLines(_ path: String, lenient: Bool = false) throws -> (lines: [String], repaired: Int) {
        let reader = path == "-" ? LineReader(fileDescriptor: 0, name: "<stdin>") : try LineReader(path)
        var lines: [String] = []
        var repaired = 0
        while let l = try reader.nextLine(lenient: lenient) {
            lines.append(l.text)
            if l.repaired { repaired += 1 }
        }
        return (lines, repaired)
    }

    /// The lines of `path`, strictly (invalid UTF-8 is an error); see ``readLines(_:lenient:)``.
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
