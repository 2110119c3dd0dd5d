import Foundation
import Seq2SeqKit

/// Writes a line to standard error (progress and notices; standard output carries results).
func stderrLine(_ s: String) {
    FileHandle.standardError.write(Data((s + "\n").utf8))
}

/// Lines of a text file; invalid UTF-8 names the file and line unless `lenient`.
func readText(_ path: String, lenient: Bool) throws -> [String] {
    let (lines, repaired) = try TextFile.readLines(path, lenient: lenient)
    if repaired > 0 { stderrLine("\(path): replaced invalid UTF-8 on \(repaired) lines") }
    return lines
}

/// Streams standard input line by line (flushing each output line, so it works as a filter).
func forEachInputLine(lenient: Bool, _ body: (String) throws -> String) throws {
    var lineNo = 0
    var out = FileHandle.standardOutput
    while let raw = readBytesLine() {
        lineNo += 1
        let line: String
        if let s = String(validating: raw, as: UTF8.self) { line = s }
        else if lenient { line = String(decoding: raw, as: UTF8.self) }
        else { throw TextError.invalidUTF8(file: "<stdin>", line: lineNo) }
        print(try body(line), to: &out)
    }
}

/// One line of standard input as bytes (without "\n" or "\r\n"), nil at end of input.
func readBytesLine() -> [UInt8]? {
    var bytes: [UInt8] = []
    while true {
        let c = getchar()
        if c == EOF { return bytes.isEmpty ? nil : bytes }
        if c == 0x0A { break }
        bytes.append(UInt8(c))
    }
    if bytes.last == 0x0D { bytes.removeLast() }
    return bytes
}

extension FileHandle: @retroactive TextOutputStream {
    public func write(_ string: String) { write(Data(string.utf8)) }
}
