import Foundation
import Hummingbird
import Seq2SeqKit

extension TranslationService {
    /// `POST /generate` (language models): samples a continuation on the worker thread, as
    /// `seq2seq generate --prompt P --seed S` does, and streams it as Server-Sent Events:
    ///
    ///     data: {"text":"…"}                   one per piece of text as it is produced
    ///     event: done
    ///     data: {"text":"<all of it>","tokens":N}
    ///
    /// A full queue is a 503 before the stream starts.
    func generate(_ request: Request) async throws -> Response {
        let req = try GenerateRequest.parse(try await body(request), maxTokens: configuration.maxGenerateTokens)
        guard let served = models.first, served.isDecoderOnly else {
            throw ServiceError.badRequest("this model translates: POST /translate {\"q\": \"…\"}")
        }
        if req.prompt.utf8.count > maxLineBytes {
            throw ServiceError.tooLarge("a prompt of \(req.prompt.utf8.count) bytes; this server takes at most \(maxLineBytes) (--max-line-bytes)")
        }
        let (events, sink) = AsyncStream<String>.makeStream()
        let metrics = self.metrics
        try served.worker.submit { engine in
            let vocab = engine.vocabularies.target
            var sampler = Sampler(temperature: req.temperature, topK: req.topK, topP: req.topP, seed: req.seed)
            sampler.repetition = RepetitionControl(penalty: req.repetitionPenalty, noRepeatNgram: req.noRepeatNgramSize)
            var detok = StreamingDetokenizer(vocabulary: vocab)
            var all = "", count = 0
            sampler.generate(engine.model, prompt: req.prompt.isEmpty ? [] : vocab.encode(req.prompt), maxTokens: req.maxTokens) { id in
                count += 1
                let s = detok.push(id)
                if !s.isEmpty { all += s; sink.yield(Self.event(["text": s])) }
            }
            let rest = detok.flush(final: true)
            if !rest.isEmpty { all += rest; sink.yield(Self.event(["text": rest])) }
            metrics.tokens.increment(by: Int64(count))
            sink.yield("event: done\n" + Self.event(Done(text: all, tokens: count)))
            sink.finish()
        }
        let body = ResponseBody(asyncSequence: events.map { ByteBuffer(string: $0) })
        return Response(status: .ok, headers: [.contentType: "text/event-stream; charset=utf-8", .cacheControl: "no-cache"], body: body)
    }

    struct Done: Encodable { var text: String; var tokens: Int }

    /// One SSE event: `data: <JSON>` and a blank line (JSON has no raw newlines).
    static func event<T: Encodable>(_ value: T) -> String {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let json = (try? e.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        return "data: \(json)\n\n"
    }
}
