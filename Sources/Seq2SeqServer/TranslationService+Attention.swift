import Foundation
import Hummingbird
import Seq2SeqKit

extension TranslationService {
    /// `POST /attention` {"q": "one sentence"}: the translation (the same search as /translate) and
    /// its cross-attention, the mean of the last decoder layer's heads, as weights
    /// [target piece][source piece] and as an SVG heatmap (what the page shows).
    func attention(_ request: Request) async throws -> Response {
        let req = try TranslateRequest.parse(try await body(request), contentType: request.headers[.contentType])
        let served = try model(source: req.source, target: req.target)
        if served.isDecoderOnly { throw ServiceError.badRequest("this model is a language model: it has no cross-attention") }
        guard case .one(let text) = req.q else { throw ServiceError.badRequest("\"q\" must be one sentence (a string) here") }
        let ls = try lines(of: text)
        guard ls.count == 1, let line = ls.first else { throw ServiceError.badRequest("\"q\" must be one line here (no newlines)") }
        let settings = try decodeSettings(beam: req.beam, nBest: 1, maxLen: req.maxLen, model: served)
        let answer = try await served.worker.exclusive { engine in try Self.attention(engine, line: line, settings: settings) }
        return JSONResponse.make(answer)
    }

    struct AttentionAnswer: Encodable, Sendable {
        var translatedText: String
        var sourcePieces: [String]
        var targetPieces: [String]
        var weights: [[Float]]
        var svg: String
        enum CodingKeys: String, CodingKey {
            case translatedText, sourcePieces = "source_pieces", targetPieces = "target_pieces", weights, svg
        }
    }

    /// On the worker thread: translate, then capture the attention of that output.
    static func attention(_ engine: Engine, line: String, settings: DecodeSettings) throws -> AttentionAnswer {
        guard let out = try engine.translate([TranslationInput(line)], settings: settings).first else {
            throw ServiceError.internalError("no translation came back")
        }
        let source = engine.vocabularies.source.encode(line)
        if source.isEmpty {
            return AttentionAnswer(translatedText: "", sourcePieces: [], targetPieces: [], weights: [], svg: "")
        }
        let maps = try AttentionMaps.capture(model: engine.model, vocabularies: engine.vocabularies, source: source, target: out.tokens)
        // [head][target][source] of the last layer → mean over heads.
        let heads = maps.cross.last ?? []
        var mean = [[Float]]()
        if let first = heads.first {
            mean = first.indices.map { i in
                first[i].indices.map { j in heads.reduce(Float(0)) { $0 + $1[i][j] } / Float(heads.count) }
            }
        }
        let svg = HeatmapSVG.render(mean, rows: maps.targetPieces, columns: maps.sourcePieces,
                                    title: "cross-attention, last layer, mean of heads")
        return AttentionAnswer(translatedText: out.text, sourcePieces: maps.sourcePieces, targetPieces: maps.targetPieces,
                               weights: mean, svg: svg)
    }
}
