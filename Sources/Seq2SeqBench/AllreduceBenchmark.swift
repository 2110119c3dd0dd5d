import Foundation
@_spi(Testing) import Seq2SeqKit

/// The gradient reduction alone: MPI_Allreduce (sum) of a model's flat gradient buffer, timed on
/// every rank, reported by rank 0. Bus bandwidth is 2(N-1)/N × bytes / time, what a ring allreduce
/// moves per rank, so it compares with a link's speed.
public enum AllreduceBenchmark {
    public struct Report: CustomStringConvertible {
        public var name: String, floats: Int, ranks: Int, seconds: [Double]
        public var median: Double { seconds.sorted()[seconds.count / 2] }
        public var bytes: Double { Double(floats) * 4 }
        public var busBandwidth: Double { 2 * Double(ranks - 1) / Double(ranks) * bytes / median }
        public var description: String {
            String(format: "%@: %.2fM floats (%.1f MB), %d ranks: allreduce median %.2f ms (min %.2f, max %.2f), bus bandwidth %.2f GB/s",
                   name, Double(floats) / 1e6, bytes / 1e6, ranks, median * 1e3, seconds.min()! * 1e3, seconds.max()! * 1e3,
                   busBandwidth / 1e9)
        }
    }

    public static func run(_ comm: Communicator, name: String, floats: Int, repeats: Int) throws -> Report {
        let buffer = FloatBuffer(count: floats)
        for i in 0..<floats { buffer[i] = Float(i % 97) * 1e-3 }
        try comm.allreduceSum(buffer.pointer, count: floats)  // warm-up (connections, registration)
        var times: [Double] = []
        for _ in 0..<repeats {
            try comm.barrier()
            let t0 = Date()
            try comm.allreduceSum(buffer.pointer, count: floats)
            var t = [Date().timeIntervalSince(t0)]
            try comm.allreduceMax(&t)  // the slowest rank's time is the collective's
            times.append(t[0])
        }
        return Report(name: name, floats: floats, ranks: comm.size, seconds: times)
    }
}
