import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// SIGINT and SIGTERM. During training the first asks the trainer to save checkpoint_last and stop
/// after the current update; a second, or one before training starts, exits at once.
///
/// Why the signals are blocked on the working threads and taken by a thread of their own: a
/// handler runs on whichever thread the kernel picks, which writes the handler's frame on that
/// thread's stack just below its stack pointer. oneDNN 2.6's JIT sgemm (Debian's libdnnl) keeps
/// data there, beyond the 128-byte red zone, so a handler that lands inside a product corrupts
/// the heap ("corrupted size vs. prev_size while consolidating": 3 of 3 runs of a C loop of
/// dnnl_sgemm under a 50 µs timer signal abort, none when the handler runs on an alternate signal
/// stack). Blocked signals are never delivered to a thread, and a thread inherits its creator's
/// mask: blocking them first thing in a command covers every thread that command starts (OpenMP's
/// team, Dispatch's, MPI's, the server's worker).
enum StopSignals {
    private static let received = Atomic<Int32>(0)
    private static let taken = Atomic<Int32>(0)
    private static let armed = Atomic<Bool>(false)
    private static let started = Atomic<Bool>(false)

    private static func stopSet() -> sigset_t {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGTERM)
        return set
    }

    /// Blocks SIGINT and SIGTERM on the calling thread and on every thread it starts from now on.
    /// Call it before the command starts any thread. (`serve` stops here: its service takes the
    /// signals through Dispatch, which reads blocked signals from a signalfd.)
    static func blockOnThisAndLaterThreads() {
        var set = stopSet()
        pthread_sigmask(SIG_BLOCK, &set, nil)
    }

    /// Blocks the signals (as above) and starts the thread that takes them. Until `arm`, a signal
    /// exits at once with the shell's status for it (128 + signal), as the default action would.
    static func install() {
        guard !started.exchange(true, ordering: .relaxed) else { return }
        blockOnThisAndLaterThreads()
        // Threads that began before main (OpenBLAS's pool) do not block them; a handler there does
        // the same as the thread below (those threads never run oneDNN).
        for s in [SIGINT, SIGTERM] { signal(s) { StopSignals.take($0) } }
        let receiver = Thread {
            var set = stopSet()
            while true {
                var sig: Int32 = 0
                if sigwait(&set, &sig) == 0 { take(sig) }
            }
        }
        receiver.name = "seq2seq-signals"
        receiver.start()
    }

    /// From now on the first signal asks for a stop (`reason`) instead of exiting.
    /// `note` is what the first signal prints (the training one by default).
    static func arm(note: StaticString = "\nseq2seq: stopping after this update and saving checkpoint_last (again to quit at once)\n") {
        stopNote = note
        armed.store(true, ordering: .sequentiallyConsistent)
    }
    /// Written before `arm` publishes it through `armed`; read by the handler only once armed.
    nonisolated(unsafe) private static var stopNote: StaticString = ""
    /// Back to exiting at once (after training, e.g. when quickstart goes on to translate).
    static func disarm() { armed.store(false, ordering: .sequentiallyConsistent) }

    /// Async-signal-safe (it may run in a handler): atomics, write(2) of static bytes, _exit.
    private static func take(_ sig: Int32) {
        guard armed.load(ordering: .sequentiallyConsistent),
              taken.add(1, ordering: .sequentiallyConsistent).newValue == 1 else { _exit(128 + sig) }
        received.store(sig, ordering: .sequentiallyConsistent)
        let note = stopNote
        _ = write(2, note.utf8Start, note.utf8CodeUnitCount)
    }

    /// Why training should stop, once a signal asked it to.
    static func reason() -> String? {
        switch received.load(ordering: .sequentiallyConsistent) {
        case 0: return nil
        case SIGINT: return "interrupted (SIGINT)"
        case SIGTERM: return "terminated (SIGTERM)"
        case let s: return "signal \(s)"
        }
    }
}
