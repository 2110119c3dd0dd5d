import Foundation
import Seq2SeqKit

/// The one thread that owns the model. Handlers hand it work through a bounded queue and await the
/// answer; it gathers translation requests from concurrent clients into one batch (up to `maxBatch`
/// sentences, waiting at most `maxWait` after the first one arrived) and decodes them with the same
/// `Translator` call `seq2seq translate` makes, so each line's answer is the offline one. Other
/// work (attention maps, generation) runs alone, in queue order.
final class BatchingWorker: @unchecked Sendable {
    /// A queued request. `lines` counts towards the bound.
    private enum Pending {
        case translate(lines: [TranslationInput], settings: DecodeSettings, enqueued: ContinuousClock.Instant,
                       done: CheckedContinuation<[Translator.Output], any Error>)
        case exclusive(lines: Int, work: (Engine) -> Void)

        var lineCount: Int {
            switch self {
            case .translate(let lines, _, _, _): lines.count
            case .exclusive(let n, _): n
            }
        }
    }

    private let engine: Engine
    private let metrics: ServiceMetrics
    private let maxBatch: Int
    private let maxWait: Duration
    let maxQueue: Int

    // Guarded by `condition`.
    private let condition = NSCondition()
    private var queue: [Pending] = []
    private var queuedLines = 0
    private var stopping = false
    private let finished = DispatchSemaphore(value: 0)

    init(engine: Engine, metrics: ServiceMetrics) {
        self.engine = engine
        self.metrics = metrics
        let c = engine.configuration
        maxBatch = c.maxBatch
        maxWait = .milliseconds(c.maxWaitMilliseconds)
        maxQueue = c.maxQueue
    }

    /// Starts the worker thread.
    func start() {
        let thread = Thread { [self] in
            run()
            finished.signal()
        }
        thread.name = "seq2seq-model"
        thread.stackSize = 16 << 20
        thread.start()
    }

    /// Lets the queue drain, then ends the thread (after the HTTP server has answered everything).
    /// A second call returns at once.
    func stop() {
        condition.lock()
        let already = stopping
        stopping = true
        condition.broadcast()
        condition.unlock()
        if !already { finished.wait() }
    }

    /// Translates `lines` within a batch of whatever else is queued with the same settings.
    func translate(_ lines: [TranslationInput], settings: DecodeSettings) async throws -> [Translator.Output] {
        try await withCheckedThrowingContinuation { done in
            do {
                try enqueue(.translate(lines: lines, settings: settings, enqueued: .now, done: done))
            } catch {
                done.resume(throwing: error)
            }
        }
    }

    /// Runs `work` on the worker thread, alone, and returns its result.
    func exclusive<T: Sendable>(lines: Int = 1, _ work: @escaping @Sendable (Engine) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (done: CheckedContinuation<T, any Error>) in
            do {
                try enqueue(.exclusive(lines: lines, work: { engine in done.resume(with: Result { try work(engine) }) }))
            } catch {
                done.resume(throwing: error)
            }
        }
    }

    /// Queues `work` to run on the worker thread, alone, without waiting for it (it reports through
    /// what it captures, e.g. a stream). Throws at once when the queue is full or stopping.
    func submit(lines: Int = 1, _ work: @escaping @Sendable (Engine) -> Void) throws {
        try enqueue(.exclusive(lines: lines, work: work))
    }

    /// Sentences waiting.
    var depth: Int {
        condition.lock(); defer { condition.unlock() }
        return queuedLines
    }

    private func enqueue(_ item: Pending) throws {
        condition.lock()
        defer { condition.unlock() }
        if stopping { throw ServiceError.unavailable("the server is shutting down") }
        if item.lineCount > maxQueue {
            throw ServiceError.tooLarge("\(item.lineCount) lines in one request; this server queues at most \(maxQueue) (--max-queue)")
        }
        if queuedLines + item.lineCount > maxQueue {
            metrics.rejected.increment()
            throw ServiceError.unavailable("the queue is full (\(queuedLines) of \(maxQueue) sentences waiting); retry later")
        }
        queue.append(item)
        queuedLines += item.lineCount
        metrics.setQueue(queuedLines, of: self)
        condition.signal()
    }

    /// Removes and returns the next unit of work: one exclusive item, or translation requests with
    /// the first one's settings, in arrival order, up to `maxBatch` sentences (at least the first).
    private func next() -> [Pending]? {
        condition.lock()
        defer { condition.unlock() }
        while queue.isEmpty && !stopping { condition.wait() }
        guard let first = queue.first else { return nil }  // empty and stopping
        guard case .translate(_, let settings, let enqueued, _) = first else {
            queue.removeFirst()
            queuedLines -= first.lineCount
            metrics.setQueue(queuedLines, of: self)
            return [first]
        }
        func matching() -> Int {
            queue.reduce(0) { n, p in
                if case .translate(let l, let s, _, _) = p, s == settings { n + l.count } else { n }
            }
        }
        // Wait for company, but never longer than maxWait after the first request arrived: when the
        // worker was busy, requests queued meanwhile go at once.
        let deadline = enqueued + maxWait
        while matching() < maxBatch && !stopping {
            let left = ContinuousClock.now.duration(to: deadline)
            if left <= .zero { break }
            let (s, atto) = left.components
            _ = condition.wait(until: Date(timeIntervalSinceNow: Double(s) + Double(atto) * 1e-18))
        }
        var taken: [Pending] = []
        var lines = 0
        var rest: [Pending] = []
        for p in queue {
            if case .translate(let l, let s, _, _) = p, s == settings, taken.isEmpty || lines + l.count <= maxBatch {
                taken.append(p)
                lines += l.count
            } else {
                rest.append(p)
            }
        }
        queue = rest
        queuedLines -= lines
        metrics.setQueue(queuedLines, of: self)
        return taken
    }

    private func run() {
        while let work = next() {
            if work.count == 1, case .exclusive(_, let job) = work[0] {
                job(engine)
                continue
            }
            var lines: [TranslationInput] = []
            var settings: DecodeSettings?
            for case .translate(let l, let s, _, _) in work { lines += l; settings = s }
            guard let settings else { continue }
            let start = ContinuousClock.now
            do {
                let outputs = try engine.translate(lines, settings: settings)
                metrics.recordBatch(sentences: lines.count, tokens: outputs.reduce(0) { $0 + $1.tokens.count },
                                    seconds: (ContinuousClock.now - start).seconds)
                var offset = 0
                for case .translate(let l, _, _, let done) in work {
                    done.resume(returning: Array(outputs[offset..<offset + l.count]))
                    offset += l.count
                }
            } catch {
                // One request's input (a target prefix too long for the model) must not fail the
                // others it was batched with: each is translated alone, and answers for itself.
                for case .translate(let l, _, _, let done) in work {
                    do {
                        done.resume(returning: try engine.translate(l, settings: settings))
                    } catch ModelError.invalidInput(let m) {
                        done.resume(throwing: ServiceError.badRequest(Self.requestMessage(m)))
                    } catch {
                        done.resume(throwing: ServiceError.internalError("translation failed: \(error)"))
                    }
                }
            }
        }
    }
}

extension BatchingWorker {
    /// The translator's "input K: …" names a line of the request; its per-input checks are the
    /// target prefix's and the glossary terms' lengths.
    static func requestMessage(_ m: String) -> String {
        guard m.hasPrefix("input ") else { return m }
        let rest = m.dropFirst("input ".count).drop { $0.isNumber }
        return (rest.contains("constraints") ? "\"glossary\"" : "\"target_prefix\"") + rest
    }
}

extension Duration {
    var seconds: Double {
        let (s, atto) = components
        return Double(s) + Double(atto) * 1e-18
    }
}
