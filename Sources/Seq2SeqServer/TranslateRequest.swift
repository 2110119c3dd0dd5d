import Foundation

/// `POST /translate`'s body, LibreTranslate's shape: `{"q": "text" | ["text", …]}` plus optional
/// `beam`, `n_best`, `max_len`, `repetition_penalty`, `no_repeat_ngram_size`, `target_prefix` (CTranslate2's:
/// a string, or with an array `q` an array of strings or nulls, one per text), `alignments` (a boolean)
/// and LibreTranslate's `source`, `target`, `format` ("text" or "html"), `api_key` (checked or ignored).
/// Wrong types are `ServiceError.badRequest` naming the field.
struct TranslateRequest: Decodable {
    enum Query { case one(String), many([String]) }

    var q: Query
    var beam: Int?
    var nBest: Int?
    var maxLen: Int?
    var repetitionPenalty: Float?
    var noRepeatNgramSize: Int?
    var source: String?
    var target: String?
    var format: String?
    /// Per text; nil: no prefixes at all.
    var targetPrefix: [String?]?
    var alignments: Bool?
    /// Source term → target term.
    var glossary: [String: String]?

    enum Keys: String, CodingKey {
        case q, beam, nBest = "n_best", maxLen = "max_len", repetitionPenalty = "repetition_penalty"
        case noRepeatNgramSize = "no_repeat_ngram_size", source, target, format
        case targetPrefix = "target_prefix", alignments, glossary
    }

    init(from decoder: any Decoder) throws {
        guard let c = try? decoder.container(keyedBy: Keys.self) else {
            throw ServiceError.badRequest("the body must be a JSON object such as {\"q\": \"Ein Mann fährt Fahrrad.\"}")
        }
        guard c.contains(.q) else {
            throw ServiceError.badRequest("missing \"q\": the text to translate (a string or an array of strings)")
        }
        if let s = try? c.decode(String.self, forKey: .q) {
            q = .one(s)
        } else if let a = try? c.decode([String].self, forKey: .q) {
            q = .many(a)
        } else {
            throw ServiceError.badRequest("\"q\" must be a string or an array of strings")
        }
        beam = try Self.integer(c, .beam)
        nBest = try Self.integer(c, .nBest)
        maxLen = try Self.integer(c, .maxLen)
        noRepeatNgramSize = try Self.integer(c, .noRepeatNgramSize)
        repetitionPenalty = try Self.number(c, .repetitionPenalty)
        source = try Self.string(c, .source)
        target = try Self.string(c, .target)
        format = try Self.string(c, .format)
        if c.contains(.targetPrefix), (try? c.decodeNil(forKey: .targetPrefix)) != true {
            switch q {
            case .one:
                guard let p = try? c.decode(String.self, forKey: .targetPrefix) else {
                    throw ServiceError.badRequest("\"target_prefix\" must be a string when \"q\" is one")
                }
                targetPrefix = [p]
            case .many(let texts):
                guard let ps = try? c.decode([String?].self, forKey: .targetPrefix), ps.count == texts.count else {
                    throw ServiceError.badRequest("\"target_prefix\" must be an array of \(texts.count) strings (or nulls), one per text of \"q\"")
                }
                targetPrefix = ps
            }
        }
        if c.contains(.glossary), (try? c.decodeNil(forKey: .glossary)) != true {
            guard let g = try? c.decode([String: String].self, forKey: .glossary),
                  g.allSatisfy({ !$0.key.isEmpty && !$0.value.isEmpty }) else {
                throw ServiceError.badRequest("\"glossary\" must be an object of source terms to target terms, e.g. {\"Hund\": \"hound\"}")
            }
            glossary = g
        }
        if c.contains(.alignments), (try? c.decodeNil(forKey: .alignments)) != true {
            guard let a = try? c.decode(Bool.self, forKey: .alignments) else {
                throw ServiceError.badRequest("\"alignments\" must be true or false")
            }
            alignments = a
        }
    }

    static func integer(_ c: KeyedDecodingContainer<Keys>, _ key: Keys) throws -> Int? {
        guard c.contains(key), (try? c.decodeNil(forKey: key)) != true else { return nil }
        guard let v = try? c.decode(Int.self, forKey: key) else {
            throw ServiceError.badRequest("\"\(key.rawValue)\" must be an integer")
        }
        return v
    }

    static func number(_ c: KeyedDecodingContainer<Keys>, _ key: Keys) throws -> Float? {
        guard c.contains(key), (try? c.decodeNil(forKey: key)) != true else { return nil }
        guard let v = try? c.decode(Float.self, forKey: key) else {
            throw ServiceError.badRequest("\"\(key.rawValue)\" must be a number")
        }
        return v
    }

    static func string(_ c: KeyedDecodingContainer<Keys>, _ key: Keys) throws -> String? {
        guard c.contains(key), (try? c.decodeNil(forKey: key)) != true else { return nil }
        guard let v = try? c.decode(String.self, forKey: key) else {
            throw ServiceError.badRequest("\"\(key.rawValue)\" must be a string")
        }
        return v
    }

    /// Parses a body: JSON, or an HTML form (`application/x-www-form-urlencoded`, what LibreTranslate
    /// also takes and clients such as libretranslatepy send) when `contentType` says so. Anything
    /// else is a 400 that says what is wrong.
    static func parse(_ data: Data, contentType: String? = nil) throws -> TranslateRequest {
        guard let text = String(data: data, encoding: .utf8) else {
            throw ServiceError.badRequest("the body is not valid UTF-8")
        }
        if let type = contentType?.lowercased(), type.hasPrefix("application/x-www-form-urlencoded") {
            return try parse(try formAsJSON(text))
        }
        do {
            return try JSONDecoder().decode(TranslateRequest.self, from: data)
        } catch let e as ServiceError {
            throw e
        } catch {
            throw ServiceError.badRequest("the body is not valid JSON (UTF-8): expected {\"q\": \"text\"}")
        }
    }
}

extension TranslateRequest {
    /// Form fields as the JSON object they stand for: integers and booleans where the field is one,
    /// `q` and `target_prefix` arrays when repeated, strings otherwise.
    static func formAsJSON(_ form: String) throws -> Data {
        var fields: [(String, String)] = []
        for pair in form.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ s: Substring) throws -> String {
                guard let v = s.replacingOccurrences(of: "+", with: " ").removingPercentEncoding else {
                    throw ServiceError.badRequest("the form body has a malformed percent-encoding in \"\(s.prefix(40))\"")
                }
                return v
            }
            fields.append((try decode(parts[0]), parts.count > 1 ? try decode(parts[1]) : ""))
        }
        let integers: Set<String> = ["beam", "n_best", "max_len", "no_repeat_ngram_size"]
        var object: [String: Any] = [:]
        for (key, value) in fields {
            let v: Any
            if integers.contains(key) {
                guard let i = Int(value) else { throw ServiceError.badRequest("\"\(key)\" must be an integer") }
                v = i
            } else if key == "repetition_penalty" {
                guard let x = Double(value), x.isFinite else { throw ServiceError.badRequest("\"repetition_penalty\" must be a number") }
                v = x
            } else if key == "alignments" {
                guard let b = ["true": true, "false": false][value] else { throw ServiceError.badRequest("\"alignments\" must be true or false") }
                v = b
            } else {
                v = value
            }
            if let old = object[key], key == "q" || key == "target_prefix" {
                object[key] = ((old as? [Any]) ?? [old]) + [v]
            } else {
                object[key] = v
            }
        }
        return try JSONSerialization.data(withJSONObject: object)
    }
}

/// `POST /translate`'s answer: `translatedText` is a string when `q` was one, an array otherwise;
/// with `n_best` > 1, `alternatives` holds the other hypotheses (best first) and `scores` every
/// hypothesis's score (the best's first), in the same shape; with `alignments`, `alignment` holds
/// each text's word alignment (Pharaoh "i-j" pairs over the text's words, lines included).
struct TranslateResponse: Encodable {
    struct Item {
        var text: String
        var alternatives: [String]
        var scores: [Float]
        var alignment = ""
    }
    var items: [Item]
    var single: Bool
    var withAlternatives: Bool
    var withAlignments = false

    enum Keys: String, CodingKey { case translatedText, alternatives, scores, alignment }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Keys.self)
        if single, let item = items.first {
            try c.encode(item.text, forKey: .translatedText)
            if withAlternatives {
                try c.encode(item.alternatives, forKey: .alternatives)
                try c.encode(item.scores, forKey: .scores)
            }
            if withAlignments { try c.encode(item.alignment, forKey: .alignment) }
        } else {
            try c.encode(items.map(\.text), forKey: .translatedText)
            if withAlternatives {
                try c.encode(items.map(\.alternatives), forKey: .alternatives)
                try c.encode(items.map(\.scores), forKey: .scores)
            }
            if withAlignments { try c.encode(items.map(\.alignment), forKey: .alignment) }
        }
    }
}
