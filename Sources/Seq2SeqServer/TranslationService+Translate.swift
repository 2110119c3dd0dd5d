import Foundation
import Hummingbird
import Seq2SeqKit

extension TranslationService {
    /// `POST /translate`: every line of every text goes to the worker as one request (it may share
    /// a batch with other clients' lines); the answers come back in order and are joined per text.
    func translate(_ request: Request) async throws -> Response {
        let req = try TranslateRequest.parse(try await body(request))
        if isDecoderOnly {
            throw ServiceError.badRequest("this model is a language model: POST /generate {\"prompt\": \"…\"}")
        }
        try checkLanguages(source: req.source, target: req.target)
        if let f = req.format, f != "text" {
            throw ServiceError.badRequest("\"format\" must be \"text\" (got \"\(f)\"); HTML is not supported")
        }
        var settings = try decodeSettings(beam: req.beam, nBest: req.nBest, maxLen: req.maxLen)
        settings.repetition = try Self.repetition(penalty: req.repetitionPenalty, noRepeatNgram: req.noRepeatNgramSize)
        let texts: [String]
        switch req.q {
        case .one(let s): texts = [s]
        case .many(let a): texts = a
        }
        let split = try texts.map { try lines(of: $0) }
        let outputs = try await worker.translate(split.flatMap { $0 }, settings: settings)
        var items: [TranslateResponse.Item] = []
        var offset = 0
        for textLines in split {
            let outs = outputs[offset..<offset + textLines.count]
            offset += textLines.count
            items.append(Self.item(Array(outs), nBest: settings.nBest))
        }
        var single = false
        if case .one = req.q { single = true }
        return JSONResponse.make(TranslateResponse(items: items, single: single, withAlternatives: settings.nBest > 1))
    }

    /// One text's answer from its lines' outputs: the best hypotheses joined with "\n"; alternative
    /// k joins each line's k-th hypothesis (its best when it has fewer), and its score is the sum
    /// of those lines' scores (a one-line text: the hypothesis's own score).
    static func item(_ outs: [Translator.Output], nBest: Int) -> TranslateResponse.Item {
        let text = outs.map(\.text).joined(separator: "\n")
        guard nBest > 1 else { return .init(text: text, alternatives: [], scores: []) }
        let ranks = max(1, outs.map(\.hypotheses.count).max() ?? 1)
        func hyp(_ o: Translator.Output, _ k: Int) -> (text: String, score: Float) {
            let h = o.hypotheses
            if h.isEmpty { return ("", 0) }
            let x = h[k < h.count ? k : 0]
            return (x.text, x.score)
        }
        let alternatives = (1..<max(ranks, 1)).map { k in outs.map { hyp($0, k).text }.joined(separator: "\n") }
        let scores = (0..<ranks).map { k in outs.reduce(Float(0)) { $0 + hyp($1, k).score } }
        return .init(text: text, alternatives: alternatives, scores: scores)
    }

    /// Request options checked against the server's limits; defaults are `translate`'s.
    func decodeSettings(beam: Int?, nBest: Int?, maxLen: Int?) throws -> DecodeSettings {
        let b = beam ?? configuration.beam
        guard (1...configuration.maxBeam).contains(b) else {
            throw ServiceError.badRequest("\"beam\" must be between 1 and \(configuration.maxBeam) (got \(b))")
        }
        let n = nBest ?? 1
        guard (1...b).contains(n) else { throw ServiceError.badRequest("\"n_best\" must be between 1 and beam (\(b)) (got \(n))") }
        if let m = maxLen, !(1...(maxPositions - 1)).contains(m) {
            throw ServiceError.badRequest("\"max_len\" must be between 1 and \(maxPositions - 1), the model's positions (got \(m))")
        }
        return DecodeSettings(beam: b, nBest: n, maxLength: maxLen)
    }

    /// A request's `repetition_penalty` and `no_repeat_ngram_size` (either may be absent: off).
    static func repetition(penalty: Float?, noRepeatNgram: Int?) throws -> RepetitionControl {
        let control = RepetitionControl(penalty: penalty ?? 1, noRepeatNgram: noRepeatNgram ?? 0)
        if let p = penalty, !(p.isFinite && p >= 0.01 && p <= 100) {
            throw ServiceError.badRequest("\"repetition_penalty\" must be a number from 0.01 to 100, 1 being off (got \(p))")
        }
        if let n = noRepeatNgram, !(0...1_000_000).contains(n) {
            throw ServiceError.badRequest("\"no_repeat_ngram_size\" must be between 0 (off) and 1000000 (got \(n))")
        }
        return control
    }

    /// LibreTranslate clients send `source` and `target`: when the server was told its languages,
    /// other pairs are refused ("auto" is accepted as the source).
    func checkLanguages(source: String?, target: String?) throws {
        if let want = configuration.sourceLanguage, let s = source, s != want, s != "auto" {
            throw ServiceError.badRequest("this model translates from \"\(want)\", not \"\(s)\" (see GET /languages)")
        }
        if let want = configuration.targetLanguage, let t = target, t != want {
            throw ServiceError.badRequest("this model translates into \"\(want)\", not \"\(t)\" (see GET /languages)")
        }
    }
}
