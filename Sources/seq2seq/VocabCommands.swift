import ArgumentParser
import Foundation
import Seq2SeqKit

extension Normalizer.Form: ExpressibleByArgument {}

/// How text is normalized before subword segmentation.
struct NormalizationOptions: ParsableArguments {
    @Option(help: "Unicode normalization: nfkc (default), nfc or none.")
    var normalization: Normalizer.Form = .nfkc

    @Flag(help: "Lowercase all text (ICU full case mapping).")
    var lowercase = false

    var normalizer: Normalizer { Normalizer(form: normalization, lowercase: lowercase) }
}

struct VocabCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vocab",
        abstract: "Learn a BPE vocabulary (saved as a Hugging Face tokenizer.json).",
        discussion: "Example: seq2seq vocab --src train.de --tgt train.en --size 8000 --output vocab/"
    )

    @Option(help: "Source-side training text.")
    var src: String?

    @Option(help: "Target-side training text (or the only text, for a language model).")
    var tgt: String

    @Option(help: "Vocabulary size, including the 3 special and 256 byte tokens.")
    var size = 8000

    @Flag(help: "Learn separate source and target vocabularies instead of one joint vocabulary.")
    var separate = false

    @Option(help: "Output directory.")
    var output: String

    @OptionGroup var norm: NormalizationOptions

    @Flag(help: "Replace invalid UTF-8 with U+FFFD instead of stopping.")
    var lenient = false

    func validate() throws {
        if size <= Vocabulary.firstPieceId { throw ValidationError("--size must exceed \(Vocabulary.firstPieceId) (specials and bytes) (got \(size))") }
        try Check.int(size, "--size", (Vocabulary.firstPieceId + 1)...1_000_000)
        if separate && src == nil { throw ValidationError("--separate needs --src") }
    }

    func run() throws {
        let start = Date()
        let t = try readText(tgt, lenient: lenient)
        let s = try src.map { try readText($0, lenient: lenient) } ?? []
        for (path, lines) in [(tgt, t)] + (src.map { [($0, s)] } ?? [])
        where !lines.contains(where: { !$0.allSatisfy(\.isWhitespace) }) {
            throw InputError("\(path): no text to learn a vocabulary from (the file is empty or blank)")
        }
        let vocabs = try Vocabularies.learn(source: s, target: t, size: size, normalizer: norm.normalizer, separate: separate)
        try vocabs.save(to: output)
        let sizes = vocabs.joint ? "\(vocabs.source.count)" : "source \(vocabs.source.count), target \(vocabs.target.count)"
        stderrLine(String(format: "learned %@ vocabulary (%@ entries) from %d lines in %.2f s → %@",
                          vocabs.joint ? "a joint" : "separate", sizes, s.count + t.count, Date().timeIntervalSince(start), output))
    }
}

enum Side: String, ExpressibleByArgument { case source, target }

/// Where a vocabulary comes from: a model or vocabulary directory, or one tokenizer.json.
struct VocabularyOptions: ParsableArguments {
    @Option(name: .customLong("vocab"), help: "A vocabulary directory (or model directory), or a tokenizer.json file.")
    var path: String

    @Option(help: "Which vocabulary of a separate pair to use: source (default) or target.")
    var side: Side = .source

    func load() throws -> Vocabulary {
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDir), !isDir.boolValue {
            return try Vocabulary.load(path)
        }
        let v = try Vocabularies.load(from: path)
        return side == .source ? v.source : v.target
    }
}

struct Tokenize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Text → subword ids (or pieces), a stdin → stdout filter.",
        discussion: "Example: echo 'Ein Mann fährt Fahrrad.' | seq2seq tokenize --vocab vocab/ --pieces"
    )

    @OptionGroup var vocab: VocabularyOptions

    @Flag(help: "Print pieces instead of ids.")
    var pieces = false

    @Flag(help: "Replace invalid UTF-8 with U+FFFD instead of stopping.")
    var lenient = false

    func run() throws {
        let v = try vocab.load()
        try forEachInputLine(lenient: lenient) { line in
            let ids = v.encode(line)
            return pieces ? v.pieces(of: ids).joined(separator: " ") : ids.map(String.init).joined(separator: " ")
        }
    }
}

struct Detokenize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Subword ids (or pieces) → text, a stdin → stdout filter.",
        discussion: "Example: seq2seq tokenize --vocab vocab/ < in.txt | seq2seq detokenize --vocab vocab/"
    )

    @OptionGroup var vocab: VocabularyOptions

    @Flag(help: "Read pieces instead of ids.")
    var pieces = false

    func run() throws {
        let v = try vocab.load()
        try forEachInputLine(lenient: false) { line in
            let lineNo = StandardInput.shared.lineNumber
            var ids: [Int32] = []
            for field in line.split(separator: " ") {
                if pieces {
                    guard let id = v.id(of: String(field)) else {
                        throw InputError("<stdin>:\(lineNo): '\(field)' is not a piece of this vocabulary")
                    }
                    ids.append(id)
                } else {
                    guard let id = Int32(field), id >= 0, Int(id) < v.count else {
                        throw InputError("<stdin>:\(lineNo): '\(field)' is not an id below \(v.count)")
                    }
                    ids.append(id)
                }
            }
            return v.decode(ids)
        }
    }
}
