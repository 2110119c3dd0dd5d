/// The collective operations data-parallel training needs, over one group of processes ("ranks").
/// Every rank calls the same operations in the same order; each call returns when all have joined.
///
/// ``SingleProcess`` is the one-rank case; `MPICommunicator` (in the Seq2SeqDistributed library) runs
/// under `mpirun`. Call a communicator's operations from one thread: `MPICommunicator` asks MPI for
/// MPI_THREAD_FUNNELED (MPI calls only from the thread that initialized it). Every operation throws
/// ``DistributedError`` when the collective fails (typically because another rank died).
public protocol Communicator: AnyObject {
    /// This process's rank, 0..<``size``; rank 0 is the main one (it validates and writes files).
    var rank: Int { get }
    /// The number of ranks.
    var size: Int { get }
    /// Ranks on this machine (they share its cores: the default thread count divides by it).
    var localSize: Int { get }
    /// Sums `count` floats across ranks, in place; every rank receives the same sum.
    func allreduceSum(_ values: UnsafeMutablePointer<Float>, count: Int) throws
    /// Element-wise sums / maxima of a few doubles across ranks, in place.
    func allreduceSum(_ values: inout [Double]) throws
    /// Element-wise maxima of a few doubles across ranks, in place; every rank receives the same maxima.
    func allreduceMax(_ values: inout [Double]) throws
    /// Rank 0's bytes to every rank (the others' `bytes` are replaced).
    func broadcast(_ bytes: inout [UInt8]) throws
    /// Returns once every rank has called it.
    func barrier() throws
    /// Starts summing `count` floats across ranks in place and returns at once; the sum is there
    /// after `finishReductions`. Ranks start the same reductions in the same order.
    func startAllreduceSum(_ values: UnsafeMutablePointer<Float>, count: Int) throws
    /// Lets started reductions advance (MPI moves non-blocking collectives only inside MPI calls).
    func progressReductions() throws
    /// Waits for every started reduction.
    func finishReductions() throws
}

extension Communicator {
    /// Whether this is rank 0, the one that validates, writes the model directory and logs.
    public var isMain: Bool { rank == 0 }
    /// One rank per machine unless the communicator knows better.
    public var localSize: Int { 1 }

    // Without non-blocking collectives, a reduction is done when started.
    /// The blocking sum: the default for communicators without non-blocking collectives.
    public func startAllreduceSum(_ values: UnsafeMutablePointer<Float>, count: Int) throws { try allreduceSum(values, count: count) }
    /// Nothing to advance: the default, for reductions that finish when started.
    public func progressReductions() throws {}
    /// Nothing to wait for: the default, for reductions that finish when started.
    public func finishReductions() throws {}

    /// Rank 0's flag on every rank.
    public func broadcast(_ flag: Bool) throws -> Bool {
        var b: [UInt8] = [flag ? 1 : 0]
        try broadcast(&b)
        return b.first == 1
    }
}

/// One process: every collective is the identity. Training without mpirun uses this and pays nothing.
public final class SingleProcess: Communicator {
    /// The one-process communicator (rank 0 of 1).
    public init() {}
    /// Always 0.
    public var rank: Int { 0 }
    /// Always 1.
    public var size: Int { 1 }
    /// Leaves the values as they are (the sum over one rank).
    public func allreduceSum(_ values: UnsafeMutablePointer<Float>, count: Int) throws {}
    /// Leaves the values as they are.
    public func allreduceSum(_ values: inout [Double]) throws {}
    /// Leaves the values as they are.
    public func allreduceMax(_ values: inout [Double]) throws {}
    /// Leaves the bytes as they are (this is rank 0).
    public func broadcast(_ bytes: inout [UInt8]) throws {}
    /// Returns at once.
    public func barrier() throws {}
}

/// Why a distributed run stops.
public enum DistributedError: Error, CustomStringConvertible {
    /// An MPI call failed (the call, its error code); usually another rank died.
    case mpi(String, Int32)
    /// The ranks' parameters differ after a step (the step, the checksums): they did not run the same
    /// computation, e.g. on different data.
    case diverged(step: Int, String)
    /// The run cannot be distributed as asked; the message says why (e.g. a build without MPI under `mpirun`).
    case mismatch(String)

    /// The message, with what to check.
    public var description: String {
        switch self {
        case .mpi(let call, let code): return "MPI: \(call) failed (error \(code)); a rank probably died: see mpirun's message above"
        case .diverged(let step, let what):
            return "ranks diverged at step \(step): \(what); every rank must run the same binary on the same data (check --data on each host), so the run stops"
        case .mismatch(let m): return m
        }
    }
}
