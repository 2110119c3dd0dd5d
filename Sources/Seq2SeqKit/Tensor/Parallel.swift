import Dispatch
#if canImport(Glibc)
import Glibc
#endif

/// Splits `0..<count` rows into one contiguous chunk per thread when the work (`count × cost`
/// elements) is large enough to pay for the ~1 µs dispatch; runs inline otherwise.
/// ../shared/PLATFORM.md: a split pays from about 1M elements.
///
/// The chunks run on OpenMP's team when oneDNN computes the large products (Tensor/Gemm.swift):
/// its threads wait for work by spinning for a while after each product, so a second pool
/// (Dispatch's) would find the cores taken and a chunk could wait a whole scheduler slice for one.
/// One pool for both keeps a thread per core. Elsewhere Dispatch's `concurrentPerform` runs them.
@inline(__always)
func parallelRows(_ count: Int, cost: Int, minimum: Int = 1 << 19, _ body: (Range<Int>) -> Void) {
    let threads = Threads.count
    if threads <= 1 || count < 2 || count * cost < minimum {
        body(0..<count)
        return
    }
    let chunks = min(threads, count)
    withoutActuallyEscaping(body) { body in
        if OpenMPTeam.inUse, let parallel = OpenMPTeam.parallel {
            var work = OpenMPTeam.Work(body: body, count: count, chunks: chunks)
            withUnsafeMutablePointer(to: &work) { parallel(OpenMPTeam.runChunk, $0, UInt32(chunks), 0) }
            return
        }
        let box = UncheckedBox(body)
        DispatchQueue.concurrentPerform(iterations: chunks) { c in
            ParallelWorker.run(box.value, count * c / chunks ..< count * (c + 1) / chunks)
        }
    }
}

/// libgomp (loaded with oneDNN) entered through its ABI: `GOMP_parallel` is what
/// `#pragma omp parallel num_threads(n)` compiles to. Looked up, not linked (no OpenMP development files needed).
enum OpenMPTeam {
    typealias Body = @convention(c) (UnsafeMutableRawPointer?) -> Void

    /// A libgomp function by name, or nil when libgomp is not loaded (no oneDNN in this build).
    private static func function<F>(_ name: String, as type: F.Type) -> F? {
        dlsym(nil /* RTLD_DEFAULT */, name).map { unsafeBitCast($0, to: type) }
    }
    static let parallel = function("GOMP_parallel",
                                   as: (@convention(c) (Body, UnsafeMutableRawPointer?, UInt32, UInt32) -> Void).self)
    static let threadNumber = function("omp_get_thread_num", as: (@convention(c) () -> Int32).self)
    static let teamSize = function("omp_get_num_threads", as: (@convention(c) () -> Int32).self)
    /// The caller's OpenMP thread count, a per-thread setting (Tensor/OneDNN.swift sets it before each product).
    static let setThreadCount = function("omp_set_num_threads", as: (@convention(c) (Int32) -> Void).self)

    /// Whether libgomp is loaded with the functions the team needs.
    static let available = parallel != nil && threadNumber != nil && teamSize != nil

    /// Whether row-parallel kernels run on the team: `MatmulSelection.current.rowThreads`, by default
    /// when oneDNN is the engine of large products.
    static var inUse: Bool {
        switch MatmulSelection.current.rowThreads {
        case .openmp?: return available
        case .dispatch?: return false
        case nil: return available && GemmDispatch.preferred == .onednn
        }
    }

    struct Work {
        let body: (Range<Int>) -> Void
        let count: Int, chunks: Int
    }

    /// One team thread's share of `Work`: chunks t, t + team, … (a team may have fewer threads than
    /// asked for, e.g. inside another parallel region; then its threads take several chunks).
    static let runChunk: Body = { raw in
        let w = raw!.assumingMemoryBound(to: Work.self).pointee
        let team = max(1, Int(OpenMPTeam.teamSize!()))
        var c = Int(OpenMPTeam.threadNumber!())
        while c < w.chunks {
            ParallelWorker.run(w.body, w.count * c / w.chunks ..< w.count * (c + 1) / w.chunks)
            c += team
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

    @inline(__always)
    static func run(_ body: (Range<Int>) -> Void, _ range: Range<Int>) {
        let worker = local.value
        let outer = worker.active
        worker.active = true
        body(range)
        worker.active = outer
    }
}

/// `[body(0), body(1), …, body(count - 1)]`, computed on all threads in one contiguous chunk per thread
/// of at least `grain` items (Dispatch's pool: for text work, such as encoding lines, outside the products).
func mapOnAllThreads<T>(_ count: Int, grain: Int, _ body: (Int) -> T) -> [T] {
    let chunks = max(1, min(Threads.count, count / grain))
    if chunks == 1 { return (0..<count).map(body) }
    return withoutActuallyEscaping(body) { body in
        let work = UncheckedBox(body)
        // Every slot is initialized exactly once, by the chunk that owns it, before the count is set.
        return [T](unsafeUninitializedCapacity: count) { buf, initialized in
            let out = SendablePointer(buf.baseAddress!)
            DispatchQueue.concurrentPerform(iterations: chunks) { c in
                for i in (count * c / chunks)..<(count * (c + 1) / chunks) {
                    (out.p + i).initialize(to: work.value(i))
                }
            }
            initialized = count
        }
    }
}
