import ArgumentParser
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
    var out = FileHandle.standardOutput
    while let line = try StandardInput.shared.nextLine(lenient: lenient) { print(try body(line), to: &out) }
}

/// Standard input, line by line, through `LineReader` (bounded memory, linear time on any line).
final class StandardInput: @unchecked Sendable {
    static let shared = StandardInput()
    let reader = LineReader(fileDescriptor: 0, name: "<stdin>")
    /// The number of the line `nextLine` returned last (1-based), for error messages.
    var lineNumber: Int { reader.lineNumber }

    /// The next line as text (see `TextFile.decodeLine`), nil at end of input.
    func nextLine(lenient: Bool) throws -> String? { try reader.nextLine(lenient: lenient)?.text }
}

extension FileHandle: @retroactive TextOutputStream {
    public func write(_ string: String) { write(Data(string.utf8)) }
}

/// Reads lines (standard input, or a file) and hands them over in groups of up to `batch`: a group
/// is cut early whenever no more input is waiting, so an interactive or line-buffered producer gets
/// each translation as soon as its line is in. Memory holds one group, whatever the input's length.
func forEachInputLineBatched(_ reader: LineReader, lenient: Bool, batch: Int, _ body: ([String]) throws -> Void) throws {
    var group: [String] = []
    while let line = try reader.nextLine(lenient: lenient) {
        group.append(line.text)
        if group.count >= batch || !reader.lineReady {
            try body(group)
            group.removeAll(keepingCapacity: true)
        }
    }
    if !group.isEmpty { try body(group) }
}


/// Output lines to a file or standard output, each written (and so flushed) as it comes.
final class LineSink {
    private let handle: FileHandle

    init(path: String?) throws {
        guard let path else { handle = .standardOutput; return }
        guard FileManager.default.createFile(atPath: path, contents: nil), let h = FileHandle(forWritingAtPath: path) else {
            throw TextError.cannotRead(path, "cannot create the output file")
        }
        handle = h
    }

    func write(_ line: String) { handle.write(Data((line + "\n").utf8)) }
}

/// A problem with the files or input a command was given (not with its flags): printed as
/// "Error: …" without the usage text that argument errors get.
struct InputError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Flag checks: every numeric value a user can pass is checked against its range, and the message
/// names the flag, the range and the value given.
enum Check {
    static func int(_ v: Int, _ flag: String, _ range: ClosedRange<Int>) throws {
        guard range.contains(v) else {
            let hi = range.upperBound == Int.max ? "" : " and \(range.upperBound)"
            throw ValidationError(hi.isEmpty ? "\(flag) must be at least \(range.lowerBound) (got \(v))"
                                             : "\(flag) must be between \(range.lowerBound)\(hi) (got \(v))")
        }
    }

    static func int(_ v: Int?, _ flag: String, _ range: ClosedRange<Int>) throws {
        if let v { try int(v, flag, range) }
    }

    /// A finite number in `range` (NaN and infinities are refused by name).
    static func real<T: BinaryFloatingPoint>(_ v: T, _ flag: String, _ range: ClosedRange<Double>, open: Bool = false) throws {
        let d = Double(v)
        let inside = d.isFinite && range.contains(d) && !(open && d == range.lowerBound)
        guard inside else {
            throw ValidationError("\(flag) must be a finite number \(open ? "above" : "from") \(range.lowerBound) \(open ? "up to" : "to") \(range.upperBound) (got \(v))")
        }
    }

    static func real<T: BinaryFloatingPoint>(_ v: T?, _ flag: String, _ range: ClosedRange<Double>, open: Bool = false) throws {
        if let v { try real(v, flag, range, open: open) }
    }

    /// A comma-separated list of integers in `range`.
    static func list(_ s: String, _ flag: String, _ range: ClosedRange<Int>) throws -> [Int] {
        let parts = s.split(separator: ",", omittingEmptySubsequences: false)
        var out: [Int] = []
        for p in parts {
            guard let v = Int(p.trimmingCharacters(in: .whitespaces)) else {
                throw ValidationError("\(flag) '\(s)': give comma-separated whole numbers, e.g. 1,2")
            }
            try int(v, flag, range)
            out.append(v)
        }
        if out.isEmpty { throw ValidationError("\(flag) is empty") }
        return out
    }
}

/// A vocabulary given by a flag: a directory (tokenizer.json, or source/target.tokenizer.json) or a tokenizer.json file.
func loadVocabularies(_ path: String) throws -> Vocabularies {
    var isDir: ObjCBool = false
    if FileManager.default.fileExists(atPath: path, isDirectory: &isDir), !isDir.boolValue {
        return Vocabularies(joint: try Vocabulary.load(path))
    }
    return try Vocabularies.load(from: path)
}
