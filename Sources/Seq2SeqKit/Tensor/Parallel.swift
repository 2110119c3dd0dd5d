import Dispatch

/// Splits `0..<count` rows into one contiguous chunk per thread when the work (`count × cost`
/// elements) is large enough to pay for the ~1 µs dispatch; runs inline otherwise.
/// ../shared/PLATFORM.md: a split pays from about 1M elements.
@inline(__always)
func parallelRows(_ count: Int, cost: Int, minimum: Int = 1 << 19, _ body: (Range<Int>) -> Void) {
    let threads = Threads.count
    if threads <= 1 || count < 2 || count * cost < minimum {
        body(0..<count)
        return
    }
    let chunks = min(threads, count)
    withoutActuallyEscaping(body) { body in
        let box = UncheckedBox(body)
        DispatchQueue.concurrentPerform(iterations: chunks) { c in
            let lo = count * c / chunks, hi = count * (c + 1) / chunks
            let worker = ParallelWorker.local.value
            let outer = worker.active
            worker.active = true
            box.value(lo..<hi)
            worker.active = outer
        }
    }
}

struct UncheckedBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

/// Whether the current thread runs a chunk of `parallelRows`: a product it calls then runs on one
/// thread (Tensor/OneDNN.swift), since the chunks already keep every core busy.
enum ParallelWorker {
    final class State { var active = false }
    static let local = ThreadLocal { State() }
    static var isActive: Bool { local.value.active }
}
