import Foundation

/// `POST /translate`'s body, LibreTranslate's shape: `{"q": "text" | ["text", …]}` plus optional
/// `beam`, `n_best`, `max_len`, `repetition_penalty`, `no_repeat_ngram_size` (and LibreTranslate's `source`, `target`, `format`, `api_key`, which
/// are checked or ignored). Wrong types are `ServiceError.badRequest` naming the field.
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

    enum Keys: String, CodingKey {
        case q, beam, nBest = "n_best", maxLen = "max_len", repetitionPenalty = "repetition_penalty"
        case noRepeatNgramSize = "no_repeat_ngram_size", source, target, format
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
        if c.contains(.repetitionPenalty), (try? c.decodeNil(forKey: .repetitionPenalty)) != true {
            guard let v = try? c.decode(Float.self, forKey: .repetitionPenalty) else {
                throw ServiceError.badRequest("\"repetition_penalty\" must be a number")
            }
            repetitionPenalty = v
        }
        source = try Self.string(c, .source)
        target = try Self.string(c, .target)
        format = try Self.string(c, .format)
    }

    static func integer(_ c: KeyedDecodingContainer<Keys>, _ key: Keys) throws -> Int? {
        guard c.contains(key), (try? c.decodeNil(forKey: key)) != true else { return nil }
        guard let v = try? c.decode(Int.self, forKey: key) else {
            throw ServiceError.badRequest("\"\(key.rawValue)\" must be an integer")
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

    /// Parses a body; anything that is not JSON is a 400 that says so.
    static func parse(_ data: Data) throws -> TranslateRequest {
        guard String(data: data, encoding: .utf8) != nil else {
            throw ServiceError.badRequest("the body is not valid UTF-8")
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

/// `POST /translate`'s answer: `translatedText` is a string when `q` was one, an array otherwise;
/// with `n_best` > 1, `alternatives` holds the other hypotheses (best first) and `scores` every
/// hypothesis's score (the best's first), in the same shape.
struct TranslateResponse: Encodable {
    struct Item {
        var text: String
        var alternatives: [String]
        var scores: [Float]
    }
    var items: [Item]
    var single: Bool
    var withAlternatives: Bool

    enum Keys: String, CodingKey { case translatedText, alternatives, scores }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Keys.self)
        if single, let item = items.first {
            try c.encode(item.text, forKey: .translatedText)
            if withAlternatives {
                try c.encode(item.alternatives, forKey: .alternatives)
                try c.encode(item.scores, forKey: .scores)
            }
        } else {
            try c.encode(items.map(\.text), forKey: .translatedText)
            if withAlternatives {
                try c.encode(items.map(\.alternatives), forKey: .alternatives)
                try c.encode(items.map(\.scores), forKey: .scores)
            }
        }
    }
}
