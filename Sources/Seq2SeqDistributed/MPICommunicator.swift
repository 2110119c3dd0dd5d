#if MPI
import CMPI
#endif
import Foundation
import Seq2SeqKit

#if MPI

/// MPI_COMM_WORLD of a process started by mpirun (Open MPI). MPI is initialized only when the
/// launcher's environment says so, so a plain `seq2seq train` never starts it.
public final class MPICommunicator: Communicator {
    public let rank: Int
    public let size: Int
    /// Ranks on this host (for the default thread count).
    public let localSize: Int
    private let comm: MPI_Comm
    /// Non-blocking reductions in flight.
    private var requests: [MPI_Request?] = []

    /// True when this process was started by mpirun / srun under an MPI launcher.
    public static var launchedByMPI: Bool {
        let env = ProcessInfo.processInfo.environment
        return env["OMPI_COMM_WORLD_SIZE"] != nil || env["PMIX_RANK"] != nil || env["PMI_SIZE"] != nil
    }

    /// Initializes MPI (once per process). Errors are returned, not fatal, so a failing call can
    /// be reported with its name.
    public init() throws {
        var provided: Int32 = 0
        var initialized: Int32 = 0
        MPI_Initialized(&initialized)
        if initialized == 0 {
            let rc = MPI_Init_thread(nil, nil, s2s_mpi_thread_funneled(), &provided)
            guard rc == MPI_SUCCESS else { throw DistributedError.mpi("MPI_Init_thread", rc) }
        }
        comm = s2s_mpi_comm_world()
        MPI_Comm_set_errhandler(comm, s2s_mpi_errors_return())
        var r: Int32 = 0, s: Int32 = 0
        MPI_Comm_rank(comm, &r)
        MPI_Comm_size(comm, &s)
        rank = Int(r); size = Int(s)
        let env = ProcessInfo.processInfo.environment
        localSize = env["OMPI_COMM_WORLD_LOCAL_SIZE"].flatMap(Int.init) ?? 1
    }

    /// Ends MPI cleanly (call once, at the end of the program).
    public func finalize() { MPI_Finalize() }

    /// Ends every rank at once (after an error on one of them: the others may be waiting in a collective).
    public func abort(code: Int32) -> Never {
        MPI_Abort(comm, code)
        exit(code)
    }

    private func check(_ rc: Int32, _ call: String) throws {
        if rc != MPI_SUCCESS { throw DistributedError.mpi(call, rc) }
    }

    public func allreduceSum(_ values: UnsafeMutablePointer<Float>, count: Int) throws {
        // MPI counts are Int32: large buffers go in pieces.
        var done = 0
        while done < count {
            let n = min(count - done, 1 << 30)
            try check(MPI_Allreduce(s2s_mpi_in_place(), values + done, Int32(n), s2s_mpi_float(), s2s_mpi_sum(), comm), "MPI_Allreduce")
            done += n
        }
    }

    public func allreduceSum(_ values: inout [Double]) throws {
        let n = Int32(values.count)
        try values.withUnsafeMutableBufferPointer {
            try check(MPI_Allreduce(s2s_mpi_in_place(), $0.baseAddress, n, s2s_mpi_double(), s2s_mpi_sum(), comm), "MPI_Allreduce")
        }
    }

    public func allreduceMax(_ values: inout [Double]) throws {
        let n = Int32(values.count)
        try values.withUnsafeMutableBufferPointer {
            try check(MPI_Allreduce(s2s_mpi_in_place(), $0.baseAddress, n, s2s_mpi_double(), s2s_mpi_max(), comm), "MPI_Allreduce")
        }
    }

    public func broadcast(_ bytes: inout [UInt8]) throws {
        var count = Int64(bytes.count)  // rank 0's length first, so the others can make room
        try check(MPI_Bcast(&count, 1, s2s_mpi_int64(), 0, comm), "MPI_Bcast")
        let n = Int(count)
        if rank != 0 { bytes = [UInt8](repeating: 0, count: n) }
        try bytes.withUnsafeMutableBufferPointer {
            try check(MPI_Bcast($0.baseAddress, Int32(n), s2s_mpi_byte(), 0, comm), "MPI_Bcast")
        }
    }

    public func barrier() throws { try check(MPI_Barrier(comm), "MPI_Barrier") }

    public func startAllreduceSum(_ values: UnsafeMutablePointer<Float>, count: Int) throws {
        var done = 0
        while done < count {
            let n = min(count - done, 1 << 30)
            var r: MPI_Request? = s2s_mpi_request_null()
            try check(MPI_Iallreduce(s2s_mpi_in_place(), values + done, Int32(n), s2s_mpi_float(), s2s_mpi_sum(), comm, &r), "MPI_Iallreduce")
            requests.append(r)
            done += n
        }
    }

    public func progressReductions() throws {
        guard !requests.isEmpty else { return }
        var flag: Int32 = 0
        let n = Int32(requests.count)
        try requests.withUnsafeMutableBufferPointer {
            try check(MPI_Testall(n, $0.baseAddress, &flag, s2s_mpi_statuses_ignore()), "MPI_Testall")
        }
        if flag != 0 { requests.removeAll(keepingCapacity: true) }
    }

    public func finishReductions() throws {
        guard !requests.isEmpty else { return }
        let n = Int32(requests.count)
        try requests.withUnsafeMutableBufferPointer {
            try check(MPI_Waitall(n, $0.baseAddress, s2s_mpi_statuses_ignore()), "MPI_Waitall")
        }
        requests.removeAll(keepingCapacity: true)
    }
}
#else
/// A build without Open MPI (the MPI trait off, as in scripts/build-static.sh: Debian ships no static
/// libmpi): the same interface, but starting it under mpirun is an error that says which build to use.
public final class MPICommunicator: Communicator {
    public let rank = 0, size = 1, localSize = 1

    public static var launchedByMPI: Bool {
        let env = ProcessInfo.processInfo.environment
        return env["OMPI_COMM_WORLD_SIZE"] != nil || env["PMIX_RANK"] != nil || env["PMI_SIZE"] != nil
    }

    public init() throws {
        throw DistributedError.mismatch("this seq2seq was built without MPI (the static single-file build); run data-parallel training with the normal build (swift build -c release)")
    }

    public func finalize() {}
    public func abort(code: Int32) -> Never { exit(code) }
    public func allreduceSum(_ values: UnsafeMutablePointer<Float>, count: Int) throws {}
    public func allreduceSum(_ values: inout [Double]) throws {}
    public func allreduceMax(_ values: inout [Double]) throws {}
    public func broadcast(_ bytes: inout [UInt8]) throws {}
    public func barrier() throws {}
}
#endif
