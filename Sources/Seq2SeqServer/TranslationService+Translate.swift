import Foundation
import Hummingbird
import Seq2SeqKit

extension TranslationService {
    /// `POST /translate`: every line of every text goes to the worker as one request (it may share
    /// a batch with other clients' lines); the answers come back in order and are joined per text.
    /// A text's target prefix steers its first line.
    func translate(_ request: Request) async throws -> Response {
        let req = try TranslateRequest.parse(try await body(request), contentType: request.headers[.contentType])
        let served = try model(source: req.source, target: req.target)
        if served.isDecoderOnly {
            throw ServiceError.badRequest("this model is a language model: POST /generate {\"prompt\": \"…\"}")
        }
        var settings = try decodeSettings(beam: req.beam, nBest: req.nBest, maxLen: req.maxLen, model: served)
        settings.repetition = try Self.repetition(penalty: req.repetitionPenalty, noRepeatNgram: req.noRepeatNgramSize)
        settings.alignments = req.alignments ?? false
        let texts: [String]
        switch req.q {
        case .one(let s): texts = [s]
        case .many(let a): texts = a
        }
        switch req.format ?? "text" {
        case "text": break
        case "html": return try await translateHTML(req, texts: texts, settings: settings, worker: served.worker)
        case let f: throw ServiceError.badRequest("\"format\" must be \"text\" or \"html\" (got \"\(f)\")")
        }
        let split = try texts.map { try lines(of: $0) }
        var inputs: [TranslationInput] = []
        for (t, textLines) in split.enumerated() {
            for (l, line) in textLines.enumerated() {
                inputs.append(TranslationInput(line, targetPrefix: l == 0 ? req.targetPrefix?[t] : nil,
                                               constraints: req.glossary.map { TranslationInput.glossaryConstraints($0, in: line) } ?? []))
            }
        }
        let outputs = try await served.worker.translate(inputs, settings: settings)
        var items: [TranslateResponse.Item] = []
        var offset = 0
        for textLines in split {
            let outs = Array(outputs[offset..<offset + textLines.count])
            offset += textLines.count
            var item = Self.item(outs, nBest: settings.nBest)
            if settings.alignments { item.alignment = Self.alignment(sources: textLines, outputs: outs) }
            items.append(item)
        }
        var single = false
        if case .one = req.q { single = true }
        return JSONResponse.make(TranslateResponse(items: items, single: single, withAlternatives: settings.nBest > 1,
                                                   withAlignments: settings.alignments))
    }

    /// `format: "html"`: each text's blocks are translated (one worker request per block, with word
    /// alignments, which put the inline tags back) and the markup is kept (``HTMLText``).
    func translateHTML(_ req: TranslateRequest, texts: [String], settings: DecodeSettings, worker: BatchingWorker) async throws -> Response {
        if req.targetPrefix != nil { throw ServiceError.badRequest("\"target_prefix\" is for \"format\": \"text\"") }
        if req.glossary != nil { throw ServiceError.badRequest("\"glossary\" is for \"format\": \"text\"") }
        if settings.nBest > 1 { throw ServiceError.badRequest("\"n_best\" above 1 is for \"format\": \"text\"") }
        if req.alignments == true { throw ServiceError.badRequest("\"alignments\" is for \"format\": \"text\"") }
        var settings = settings
        settings.alignments = true
        let documents = texts.map { HTMLText(parsing: $0) }
        let blocks = documents.map(\.texts)
        for b in blocks.joined() where b.utf8.count > maxLineBytes {
            throw ServiceError.tooLarge("a block of \(b.utf8.count) bytes of text; this server takes at most \(maxLineBytes) per line (--max-line-bytes)")
        }
        let outputs = try await worker.translate(blocks.joined().map { TranslationInput($0) }, settings: settings)
        var items: [TranslateResponse.Item] = []
        var offset = 0
        for (document, b) in zip(documents, blocks) {
            let html = document.rendered(with: Array(outputs[offset..<offset + b.count]))
            offset += b.count
            items.append(.init(text: html, alternatives: [], scores: []))
        }
        var single = false
        if case .one = req.q { single = true }
        return JSONResponse.make(TranslateResponse(items: items, single: single, withAlternatives: false))
    }

    /// A text's alignment from its lines' ones: word indices count the words of the lines before.
    static func alignment(sources: [String], outputs: [Translator.Output]) -> String {
        var links: [WordAlignment] = []
        var sourceWords = 0, targetWords = 0
        for (line, out) in zip(sources, outputs) {
            links += out.alignments.map { WordAlignment(source: $0.source + sourceWords, target: $0.target + targetWords) }
            sourceWords += line.split(whereSeparator: \.isWhitespace).count
            targetWords += out.text.split(whereSeparator: \.isWhitespace).count
        }
        return WordAlignment.pharaoh(links)
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
    func decodeSettings(beam: Int?, nBest: Int?, maxLen: Int?, model: ServedModel) throws -> DecodeSettings {
        let maxPositions = model.maxPositions
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
}
