import Foundation

/// The vocabulary on disk is a Hugging Face `tokenizer.json`: a BPE model with byte fallback, its
/// merges, and the normalizer, pre-tokenizer and decoder described in the library's own terms, so
/// `tokenizers.Tokenizer.from_file` encodes text to the same ids as seq2seq.
extension Vocabulary {
    /// The file name of a joint vocabulary in a model directory.
    public static let fileName = "tokenizer.json"

    func tokenizerJSON() -> [String: Any] {
        var normalizers: [[String: Any]] = []
        switch normalizer.form {
        case .nfkc: normalizers.append(["type": "NFKC"])
        case .nfc: normalizers.append(["type": "NFC"])
        case .none: break
        }
        if normalizer.lowercase { normalizers.append(["type": "Lowercase"]) }
        if normalizer.cleanWhitespace { normalizers += [
            ["type": "Replace", "pattern": ["Regex": "\\s"], "content": " "],
            ["type": "Replace", "pattern": ["Regex": "\\p{Cc}"], "content": ""],
            ["type": "Replace", "pattern": ["Regex": " {2,}"], "content": " "],
            ["type": "Strip", "strip_left": true, "strip_right": true],
        ] }
        let preTokenizer: Any = characterLevel ? NSNull()
            : ["type": "Metaspace", "replacement": "\u{2581}", "prepend_scheme": "always", "split": true]
        let decoders: [[String: Any]] = characterLevel ? [["type": "ByteFallback"], ["type": "Fuse"]] : [
            ["type": "Replace", "pattern": ["String": "\u{2581}"], "content": " "],
            ["type": "ByteFallback"],
            ["type": "Fuse"],
            ["type": "Strip", "content": " ", "start": 1, "stop": 0],
        ]
        return [
            "version": "1.0",
            "truncation": NSNull(),
            "padding": NSNull(),
            "added_tokens": Self.specials.enumerated().map { i, s in
                ["id": i, "content": s, "single_word": false, "lstrip": false, "rstrip": false,
                 "normalized": false, "special": true] as [String: Any]
            },
            "normalizer": ["type": "Sequence", "normalizers": normalizers],
            "pre_tokenizer": preTokenizer,
            "post_processor": NSNull(),
            "decoder": ["type": "Sequence", "decoders": decoders],
            "model": [
                "type": "BPE", "dropout": NSNull(), "unk_token": NSNull(), "continuing_subword_prefix": NSNull(),
                "end_of_word_suffix": NSNull(), "fuse_unk": false, "byte_fallback": true, "ignore_merges": false,
                "vocab": Self.vocabPlaceholder, "merges": merges.map { [$0.0, $0.1] },
            ] as [String: Any],
        ]
    }

    /// Stands for the vocab object in `tokenizerJSON()`; `save` writes the object itself in id
    /// order, as Hugging Face does (a dictionary would come out in an order that changes from run to run).
    static let vocabPlaceholder = "\u{0}vocab in id order"

    /// Writes tokenizer.json atomically; the same vocabulary always gives the same bytes.
    /// - Throws: ``SafeTensors/Error/io(_:_:)`` if the file cannot be written or renamed into place.
    public func save(to path: String) throws {
        if let bl = byteLevel { return try writeAtomically(try bl.jsonData(), to: path) }
        try writeAtomically(try tokenizerData(path: path), to: path)
    }

    /// tokenizer.json's bytes, with `postProcessor` (Hugging Face's `post_processor` object, which adds
    /// special tokens around an encoding) when given; `path` names the file in errors.
    func tokenizerData(postProcessor: [String: Any]? = nil, path: String) throws -> Data {
        var json = tokenizerJSON()
        if let postProcessor { json["post_processor"] = postProcessor }
        let data = try JSONSerialization.data(withJSONObject: json, options: [.sortedKeys, .prettyPrinted])
        var text = String(decoding: data, as: UTF8.self)
        // The vocab is the last string of the model (keys are sorted: "merges" < "type" < "unk_token" < "vocab");
        // after the model only the post-processor can follow, and it names special tokens, never the
        // placeholder, so the last occurrence is the placeholder.
        let placeholder = "\"" + Self.jsonEscaped(Self.vocabPlaceholder) + "\""
        guard let at = text.range(of: placeholder, options: .backwards) else {
            throw VocabularyError.file(path, "internal error: no vocab placeholder in the serialized tokenizer")
        }
        let entries = pieces.enumerated().map { "      \"\(Self.jsonEscaped($1))\": \($0)" }
        text.replaceSubrange(at, with: "{\n" + entries.joined(separator: ",\n") + "\n    }")
        return Data(text.utf8)
    }

    /// A JSON string body: quote, backslash and control characters escaped.
    static func jsonEscaped(_ s: String) -> String {
        var out = ""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            case _ where u.value < 0x20: out += String(format: "\\u%04x", u.value)
            default: out.unicodeScalars.append(u)
            }
        }
        return out
    }

    /// Reads a tokenizer.json written by seq2seq, or a byte-level BPE one of GPT-2's kind
    /// (``ByteLevelBPE``); anything else (or a damaged file) is a clear error.
    /// - Throws: ``VocabularyError/file(_:_:)`` if the file is missing, is not JSON, or is not a BPE
    ///   vocabulary with byte fallback in seq2seq's layout.
    public static func load(_ path: String) throws -> Vocabulary {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw VocabularyError.file(path, "not found")
        }
        return try load(data: data, path: path)
    }

    /// The same from the file's bytes (`path` names it in errors).
    public static func load(data: Data, path: String) throws -> Vocabulary {
        func bad(_ m: String) -> VocabularyError {
            .file(path, "\(m); not a seq2seq vocabulary (or from an incompatible version): learn it again with `seq2seq vocab`")
        }
        guard let root = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else { throw bad("not valid JSON") }
        if ByteLevelBPE.isByteLevel(root) { return Vocabulary(byteLevel: try ByteLevelBPE.load(tokenizerJSON: data, path: path)) }
        guard let model = root["model"] as? [String: Any], model["type"] as? String == "BPE",
              model["byte_fallback"] as? Bool == true else { throw bad("model is not a BPE with byte fallback") }
        guard let vocab = model["vocab"] as? [String: Int], let rawMerges = model["merges"] as? [Any] else {
            throw bad("model has no vocab or merges")
        }
        var merges: [(String, String)] = []
        for m in rawMerges {
            if let pair = m as? [String], pair.count == 2 { merges.append((pair[0], pair[1])) }
            else if let s = m as? String, let sp = s.firstIndex(of: " ") {
                merges.append((String(s[..<sp]), String(s[s.index(after: sp)...])))
            } else { throw bad("malformed merge \(m)") }
        }
        // Normalizer settings from its description.
        let steps = ((root["normalizer"] as? [String: Any])?["normalizers"] as? [[String: Any]]) ?? []
        let types = steps.compactMap { $0["type"] as? String }
        let characterLevel = root["pre_tokenizer"] is NSNull || root["pre_tokenizer"] == nil
        guard characterLevel || types.contains("Strip") else { throw bad("unexpected normalizer") }
        let form: Normalizer.Form = types.contains("NFKC") ? .nfkc : types.contains("NFC") ? .nfc : .none
        let norm = Normalizer(form: form, lowercase: types.contains("Lowercase"), cleanWhitespace: types.contains("Strip"))

        let byId = vocab.sorted { $0.value < $1.value }
        guard byId.count >= firstPieceId, byId.enumerated().allSatisfy({ $0.offset == $0.element.value }) else {
            throw bad("ids are not 0..<\(vocab.count) without gaps")
        }
        let alphabet = byId.dropFirst(firstPieceId).map(\.key).filter { $0.unicodeScalars.count == 1 }
        let v: Vocabulary
        do { v = try Vocabulary(normalizer: norm, alphabet: alphabet, merges: merges, characterLevel: characterLevel) } catch { throw bad("\(error)") }
        guard v.pieces == byId.map(\.key) else { throw bad("vocab does not match its merges") }
        return v
    }
}

/// The vocabularies of a model: one joint (tokenizer.json) or a source and a target one
/// (source.tokenizer.json, target.tokenizer.json); decoder-only models use the target one.
///
/// ``Vocabularies/load(from:)`` also reads a Marian model's SentencePiece files (``MarianFiles``).
public struct Vocabularies {
    /// The vocabulary that encodes sources (the same object as ``target`` when ``joint``).
    public let source: Vocabulary
    /// The vocabulary of the decoder's tokens: it encodes targets and decodes outputs.
    public let target: Vocabulary
    /// Whether one vocabulary serves both sides (same object).
    public var joint: Bool { source === target }

    /// One vocabulary for both sides.
    public init(joint: Vocabulary) { source = joint; target = joint }
    /// A vocabulary per side (passing the same object twice makes a joint pair).
    public init(source: Vocabulary, target: Vocabulary) { self.source = source; self.target = target }

    /// The file names of separate source and target vocabularies in a model directory.
    public static let sourceFile = "source.tokenizer.json", targetFile = "target.tokenizer.json"

    /// Learns one joint vocabulary from both sides, or one per side when `separate`.
    ///
    /// Each vocabulary aims at `size` entries, specials and byte tokens included: it has fewer when no
    /// pair occurs twice any more, and more when the alphabet alone is larger.
    /// - Throws: ``VocabularyError`` if the learned pieces do not make a vocabulary.
    public static func learn(source: [String], target: [String], size: Int, normalizer: Normalizer,
                             separate: Bool) throws -> Vocabularies {
        if separate {
            return Vocabularies(source: try Vocabulary.learn(lines: source, size: size, normalizer: normalizer),
                                target: try Vocabulary.learn(lines: target, size: size, normalizer: normalizer))
        }
        return Vocabularies(joint: try Vocabulary.learn(lines: source + target, size: size, normalizer: normalizer))
    }

    /// Whether `dir` holds a vocabulary: tokenizer.json, target.tokenizer.json, a Marian source.spm, or
    /// GPT-2's merges.txt (with vocab.json).
    public static func exists(in dir: String) -> Bool {
        let fm = FileManager.default
        return fm.fileExists(atPath: "\(dir)/\(Vocabulary.fileName)") || fm.fileExists(atPath: "\(dir)/\(targetFile)")
            || fm.fileExists(atPath: "\(dir)/\(MarianFiles.sourceSPM)") || fm.fileExists(atPath: "\(dir)/\(GPT2Files.merges)")
    }

    /// Reads the vocabulary of `dir`: a Marian pair (source.spm and its companions) first, else a joint
    /// tokenizer.json, else target.tokenizer.json with source.tokenizer.json (the target one serves both
    /// sides when there is no source file).
    /// - Throws: ``VocabularyError/file(_:_:)`` if `dir` holds none or a file is damaged, and
    ///   ``SentencePieceError`` for a damaged Marian file.
    public static func load(from dir: String) throws -> Vocabularies {
        let fm = FileManager.default
        if fm.fileExists(atPath: "\(dir)/\(MarianFiles.sourceSPM)") { return try loadMarian(from: dir) }
        if fm.fileExists(atPath: "\(dir)/\(Vocabulary.fileName)") {
            return Vocabularies(joint: try Vocabulary.load("\(dir)/\(Vocabulary.fileName)"))
        }
        if fm.fileExists(atPath: "\(dir)/\(GPT2Files.vocab)") && fm.fileExists(atPath: "\(dir)/\(GPT2Files.merges)") {
            return Vocabularies(joint: Vocabulary(byteLevel: try ByteLevelBPE.load(vocabJSON: "\(dir)/\(GPT2Files.vocab)",
                                                                               mergesTXT: "\(dir)/\(GPT2Files.merges)")))
        }
        if fm.fileExists(atPath: "\(dir)/\(targetFile)") {
            let t = try Vocabulary.load("\(dir)/\(targetFile)")
            let s = fm.fileExists(atPath: "\(dir)/\(sourceFile)") ? try Vocabulary.load("\(dir)/\(sourceFile)") : t
            return Vocabularies(source: s, target: t)
        }
        throw VocabularyError.file(dir, "no \(Vocabulary.fileName) (or \(sourceFile) and \(targetFile)); learn one with `seq2seq vocab`")
    }

    /// Writes the vocabularies into `dir` (created if needed): tokenizer.json when joint, else
    /// source.tokenizer.json and target.tokenizer.json; a Marian pair writes back the files it was read from.
    /// - Throws: A Foundation error if `dir` cannot be created, ``SafeTensors/Error/io(_:_:)`` if a file
    ///   cannot be written, ``VocabularyError`` if the tokenizer cannot be serialized.
    public func save(to dir: String) throws {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        if let s = source.sentencePiece, let t = target.sentencePiece {
            for (name, data) in s.files + t.files { try writeAtomically(data, to: "\(dir)/\(name)") }
        } else if joint, let bl = source.byteLevel {
            try writeAtomically(try bl.jsonData(), to: "\(dir)/\(Vocabulary.fileName)")
        } else if joint {
            try source.save(to: "\(dir)/\(Vocabulary.fileName)")
        } else {
            try source.save(to: "\(dir)/\(Vocabularies.sourceFile)")
            try target.save(to: "\(dir)/\(Vocabularies.targetFile)")
        }
    }
}
