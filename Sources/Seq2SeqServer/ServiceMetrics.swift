import Foundation
import Prometheus
import Seq2SeqKit
import Synchronization

/// What `GET /metrics` reports, in Prometheus's text format (swift-prometheus): requests by route
/// and status, request latency, batch sizes, queue depth, sentences and generated tokens (their
/// rates are tokens/s and sentences/s; the last batch's tokens/s is a gauge too), and the oneDNN
/// failures the model's products met (each answered by OpenBLAS: see `OneDNNError`).
final class ServiceMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    let queueDepth: Gauge
    let rejected: Counter
    let batchSentences: ValueHistogram
    let sentences: Counter
    let tokens: Counter
    let batchTokensPerSecond: Gauge
    let oneDNNFailures: Counter
    /// Sentences queued per worker (one per model); the gauge shows their sum.
    private let queues = Mutex([ObjectIdentifier: Int]())

    /// Records that `worker`'s queue holds `lines` sentences.
    func setQueue(_ lines: Int, of worker: AnyObject) {
        let total = queues.withLock { q in
            q[ObjectIdentifier(worker)] = lines
            return q.values.reduce(0, +)
        }
        queueDepth.set(Double(total))
    }

    /// `OneDNNFailures.count` when the counter was last brought up to it.
    private let oneDNNFailuresCounted = Mutex(0)

    /// Routes with a label of their own; anything else counts as "other" (bounded label values).
    static let routes: Set<String> = ["/", "/translate", "/attention", "/generate", "/health", "/metrics", "/languages"]

    init() {
        func name(_ n: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
            MetricNameDescriptor(namespace: "seq2seq", metricName: n, unitName: unit, helpText: help)
        }
        queueDepth = registry.makeGauge(descriptor: name("queue", "sentences", "Sentences waiting for the model worker"))
        rejected = registry.makeCounter(descriptor: name("rejected", "total", "Requests refused because the queue was full"))
        batchSentences = registry.makeValueHistogram(
            descriptor: name("batch", "sentences", "Sentences per decoded batch"),
            buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256])
        sentences = registry.makeCounter(descriptor: name("translated_sentences", "total", "Sentences translated"))
        tokens = registry.makeCounter(descriptor: name("generated_tokens", "total", "Tokens generated (translations and /generate)"))
        batchTokensPerSecond = registry.makeGauge(descriptor: name("last_batch_tokens", "per_second", "Generated tokens per second in the last batch"))
        oneDNNFailures = registry.makeCounter(descriptor: name("onednn_failures", "total",
                                                              "oneDNN calls that failed (their products were recomputed with OpenBLAS)"))
    }

    func recordBatch(sentences n: Int, tokens t: Int, seconds: Double) {
        batchSentences.record(Double(n))
        sentences.increment(by: Int64(n))
        tokens.increment(by: Int64(t))
        if seconds > 0 { batchTokensPerSecond.set(Double(t) / seconds) }
    }

    func recordRequest(route: String, status: Int, seconds: Double) {
        let r = Self.routes.contains(route) ? route : "other"
        registry.makeCounter(descriptor: .init(namespace: "seq2seq", metricName: "requests", unitName: "total", helpText: "HTTP requests by route and status"),
                             labels: [("route", r), ("status", String(status))]).increment()
        registry.makeDurationHistogram(
            descriptor: .init(namespace: "seq2seq", metricName: "request_duration", unitName: "seconds", helpText: "Time from request to response"),
            labels: [("route", r)],
            buckets: [.milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
                      .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10)]
        ).record(.nanoseconds(Int64(seconds * 1e9)))
    }

    func text() -> String {
        let seen = OneDNNFailures.count
        oneDNNFailuresCounted.withLock { counted in
            if seen > counted { oneDNNFailures.increment(by: Int64(seen - counted)); counted = seen }
        }
        return registry.emitToString()
    }
}
