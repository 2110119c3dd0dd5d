import Foundation
import XCTest

/// The documentation stays true: every relative link in README.md, CHANGELOG.md and docs/ (and the
/// example's and corpora's READMEs) resolves to a file of the repository, and to a heading of it when
/// it names one; every `seq2seq COMMAND --flag` they show exists in that command's `--help`.
final class DocsTests: XCTestCase {
    /// The Markdown files users read, relative to the repository.
    static var pages: [String] {
        let docs = (try? FileManager.default.contentsOfDirectory(atPath: CLI.repository + "/docs")) ?? []
        return ["README.md", "CHANGELOG.md", "Examples/TranslateLines/README.md", "corpora/README.md"]
            + docs.filter { $0.hasSuffix(".md") }.sorted().map { "docs/" + $0 }
    }

    func read(_ page: String) throws -> String {
        try String(contentsOfFile: CLI.repository + "/" + page, encoding: .utf8)
    }

    /// GitHub's anchor for a heading: lower case, punctuation other than "-" and "_" dropped, spaces
    /// as "-".
    static func anchor(_ heading: String) -> String {
        let plain = heading.replacingOccurrences(of: "`", with: "").lowercased()
        return String(plain.unicodeScalars.compactMap { c -> Character? in
            if c == " " { return "-" }
            if c == "-" || c == "_" || CharacterSet.alphanumerics.contains(c) { return Character(c) }
            return nil
        })
    }

    static func anchors(_ text: String) -> Set<String> {
        var inCode = false
        var result = Set<String>()
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("```") { inCode.toggle(); continue }
            guard !inCode, line.hasPrefix("#") else { continue }
            result.insert(anchor(line.drop { $0 == "#" }.trimmingCharacters(in: .whitespaces)))
        }
        return result
    }

    func testEveryRelativeLinkResolves() throws {
        let linkPattern = try NSRegularExpression(pattern: #"\]\(([^)\s]+)\)"#)
        var checked = 0
        for page in Self.pages {
            let text = try read(page)
            let base = URL(fileURLWithPath: CLI.repository + "/" + page).deletingLastPathComponent()
            for m in linkPattern.matches(in: text, range: NSRange(text.startIndex..., in: text)) {
                let link = String(text[Range(m.range(at: 1), in: text)!])
                if link.contains("://") || link.hasPrefix("mailto:") { continue }
                let parts = link.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
                let path = parts[0].isEmpty ? URL(fileURLWithPath: CLI.repository + "/" + page) : base.appendingPathComponent(parts[0])
                var isDirectory: ObjCBool = false
                XCTAssertTrue(FileManager.default.fileExists(atPath: path.path, isDirectory: &isDirectory),
                              "\(page): the link \(link) points at nothing")
                if parts.count == 2, path.pathExtension == "md", !isDirectory.boolValue,
                   let target = try? String(contentsOf: path, encoding: .utf8) {
                    XCTAssertTrue(Self.anchors(target).contains(parts[1]), "\(page): the link \(link) names no heading of \(path.lastPathComponent)")
                }
                checked += 1
            }
        }
        XCTAssertGreaterThan(checked, 50, "too few links found: is the pattern still right?")
    }

    /// `seq2seq WORD …` in a code span or block: the command (and a subcommand, for bench and
    /// the like) and the flags that follow it on that command line.
    struct Invocation: Hashable { var command: [String]; var flags: [String]; var page: String }

    static func invocations(_ text: String, page: String, commands: Set<String>) -> [Invocation] {
        // Code: fenced blocks (continuation lines joined) and inline spans.
        var snippets: [String] = []
        var inCode = false
        var pending = ""
        for line in text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            if line.hasPrefix("```") { inCode.toggle(); continue }
            if inCode || line.hasPrefix("    ") {
                if line.hasSuffix("\\") { pending += line.dropLast() + " "; continue }
                snippets.append(pending + line)
                pending = ""
            } else {
                let spans = line.split(separator: "`", omittingEmptySubsequences: false)
                snippets += stride(from: 1, to: spans.count, by: 2).map { String(spans[$0]) }
            }
        }
        var result: [Invocation] = []
        for snippet in snippets {
            // Each shell command of the line on its own.
            for part in snippet.components(separatedBy: CharacterSet(charactersIn: "|;&<>")) {
                let words = part.split(separator: " ").map(String.init)
                guard let i = words.firstIndex(where: { $0 == "seq2seq" || $0.hasSuffix("/seq2seq") }),
                      i + 1 < words.count, commands.contains(words[i + 1]) else { continue }
                let flags = words[(i + 2)...].compactMap { w -> String? in
                    guard w.hasPrefix("--"), w.count > 2 else { return nil }
                    return String(w.prefix { $0 != "=" && $0 != "," && $0 != ")" && $0 != "." })
                }
                var command = [words[i + 1]]
                if i + 2 < words.count, !words[i + 2].hasPrefix("-") { command.append(words[i + 2]) }
                result.append(Invocation(command: command, flags: flags, page: page))
            }
        }
        return result
    }

    func testEveryFlagShownExistsInItsCommandsHelp() throws {
        guard CLI.binary != nil else { throw CLI.Missing("the seq2seq binary is not built beside the tests (swift test builds it)") }
        let top = try CLI.run(["--help"]).output
        let commands = Set(Self.subcommands(top))
        XCTAssertTrue(commands.isSuperset(of: ["train", "translate", "serve", "quantize", "bench"]), top)
        var help: [[String]: String] = [:]
        func helpText(_ command: [String]) throws -> String {
            if let h = help[command] { return h }
            // A second word is a subcommand only when the command lists it.
            let parent = try CLI.run([command[0], "--help"]).output
            let path = command.count > 1 && Self.subcommands(parent).contains(command[1]) ? command : [command[0]]
            let text = path == [command[0]] ? parent : try CLI.run(path + ["--help"]).output
            help[command] = text
            return text
        }
        var checked = 0
        for page in Self.pages {
            for inv in Self.invocations(try read(page), page: page, commands: commands) {
                let text = try helpText(inv.command)
                for flag in inv.flags where flag != "--help" {
                    XCTAssertTrue(text.contains(flag + " ") || text.contains(flag + "\n") || text.contains(flag + ","),
                                  "\(inv.page): `seq2seq \(inv.command.joined(separator: " ")) \(flag)` is not in its --help")
                    checked += 1
                }
            }
        }
        XCTAssertGreaterThan(checked, 50, "too few flags found: is the parser still right?")
    }

    /// The names under SUBCOMMANDS in a --help text.
    static func subcommands(_ help: String) -> [String] {
        guard let start = help.range(of: "SUBCOMMANDS:") else { return [] }
        return help[start.upperBound...].split(separator: "\n").compactMap { line -> String? in
            guard line.hasPrefix("  "), !line.hasPrefix("   "), let word = line.split(separator: " ").first else { return nil }
            return String(word)
        }
    }
}
