/// The collective operations data-parallel training needs, over one group of processes ("ranks").
/// Every rank calls the same operations in the same order; each call returns when all have joined.
public protocol Communicator: AnyObject {
    var rank: Int { get }
    var size: Int { get }
    /// Ranks on this machine (they share its cores: the default thread count divides by it).
    var localSize: Int { get }
    /// Sums `count` floats across ranks, in place; every rank receives the same sum.
    func allreduceSum(_ values: UnsafeMutablePointer<Float>, count: Int) throws
    /// Element-wise sums / maxima of a few doubles across ranks, in place.
    func allreduceSum(_ values: inout [Double]) throws
    func allreduceMax(_ values: inout [Double]) throws
    /// Rank 0's bytes to every rank (the others' `bytes` are replaced).
    func broadcast(_ bytes: inout [UInt8]) throws
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
    public var isMain: Bool { rank == 0 }
    /// One rank per machine unless the communicator knows better.
    public var localSize: Int { 1 }

    // Without non-blocking collectives, a reduction is done when started.
    public func startAllreduceSum(_ values: UnsafeMutablePointer<Float>, count: Int) throws { try allreduceSum(values, count: count) }
    public func progressReductions() throws {}
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
    public init() {}
    public var rank: Int { 0 }
    public var size: Int { 1 }
    public func allreduceSum(_ values: UnsafeMutablePointer<Float>, count: Int) throws {}
    public func allreduceSum(_ values: inout [Double]) throws {}
    public func allreduceMax(_ values: inout [Double]) throws {}
    public func broadcast(_ bytes: inout [UInt8]) throws {}
    public func barrier() throws {}
}

public enum DistributedError: Error, CustomStringConvertible {
    case mpi(String, Int32)
    case diverged(step: Int, String)
    case mismatch(String)

    public var description: String {
        switch self {
        case .mpi(let call, let code): return "MPI: \(call) failed (error \(code)); a rank probably died: see mpirun's message above"
        case .diverged(let step, let what):
            return "ranks diverged at step \(step): \(what); every rank must run the same binary on the same data (check --data on each host), so the run stops"
        case .mismatch(let m): return m
        }
    }
}
