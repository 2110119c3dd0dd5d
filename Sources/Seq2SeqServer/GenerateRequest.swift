import Foundation

/// `POST /generate`'s body: `{"prompt": "ROMEO:", "max_tokens": 200, "temperature": 0.8, "top_k": 200,
/// "top_p": 1, "seed": 1337, "repetition_penalty": 1, "no_repeat_ngram_size": 0}`, every field
/// optional, defaults as `seq2seq generate`'s.
struct GenerateRequest: Decodable {
    var prompt = ""
    var maxTokens = 200
    var temperature: Float = 0.8
    var topK = 200
    var topP: Float = 1
    var seed: UInt64 = 1337
    var repetitionPenalty: Float = 1
    var noRepeatNgramSize = 0

    enum Keys: String, CodingKey {
        case prompt, maxTokens = "max_tokens", temperature, topK = "top_k", topP = "top_p", seed
        case repetitionPenalty = "repetition_penalty", noRepeatNgramSize = "no_repeat_ngram_size"
    }

    init(from decoder: any Decoder) throws {
        guard let c = try? decoder.container(keyedBy: Keys.self) else {
            throw ServiceError.badRequest("the body must be a JSON object such as {\"prompt\": \"ROMEO:\"}")
        }
        func field<T: Decodable>(_ key: Keys, _ type: T.Type, _ what: String) throws -> T? {
            guard c.contains(key), (try? c.decodeNil(forKey: key)) != true else { return nil }
            guard let v = try? c.decode(T.self, forKey: key) else {
                throw ServiceError.badRequest("\"\(key.rawValue)\" must be \(what)")
            }
            return v
        }
        prompt = try field(.prompt, String.self, "a string") ?? prompt
        maxTokens = try field(.maxTokens, Int.self, "an integer") ?? maxTokens
        temperature = try field(.temperature, Float.self, "a number") ?? temperature
        topK = try field(.topK, Int.self, "an integer") ?? topK
        topP = try field(.topP, Float.self, "a number") ?? topP
        seed = try field(.seed, UInt64.self, "a non-negative integer") ?? seed
        repetitionPenalty = try field(.repetitionPenalty, Float.self, "a number") ?? repetitionPenalty
        noRepeatNgramSize = try field(.noRepeatNgramSize, Int.self, "an integer") ?? noRepeatNgramSize
    }

    static func parse(_ data: Data, maxTokens limit: Int) throws -> GenerateRequest {
        let r: GenerateRequest
        guard String(data: data, encoding: .utf8) != nil else {
            throw ServiceError.badRequest("the body is not valid UTF-8")
        }
        do {
            r = try JSONDecoder().decode(GenerateRequest.self, from: data)
        } catch let e as ServiceError {
            throw e
        } catch {
            throw ServiceError.badRequest("the body is not valid JSON (UTF-8): expected {\"prompt\": \"text\"}")
        }
        guard (0...limit).contains(r.maxTokens) else {
            throw ServiceError.badRequest("\"max_tokens\" must be between 0 and \(limit) (--max-generate-tokens) (got \(r.maxTokens))")
        }
        guard r.temperature.isFinite, (0...100).contains(r.temperature) else {
            throw ServiceError.badRequest("\"temperature\" must be between 0 and 100")
        }
        guard r.topK >= 0 else { throw ServiceError.badRequest("\"top_k\" must be 0 (all tokens) or more") }
        guard r.topP.isFinite, r.topP > 0, r.topP <= 1 else { throw ServiceError.badRequest("\"top_p\" must be in (0, 1]") }
        _ = try TranslationService.repetition(penalty: r.repetitionPenalty, noRepeatNgram: r.noRepeatNgramSize)
        return r
    }
}
