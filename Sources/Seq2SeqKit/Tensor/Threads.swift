import CBLAS

/// Thread settings shared by OpenBLAS and the row-parallel kernels.
public enum Threads {
    /// Threads in use (default 1 until ``set(_:)``); read without a lock, so set it only while nothing runs.
    nonisolated(unsafe) public private(set) static var count: Int = 1

    /// Uses `n` threads for GEMM and for elementwise kernels large enough to pay for a split.
    public static func set(_ n: Int) {
        count = max(1, n)
        openblas_set_num_threads(Int32(count))
    }

    /// The name of the kernel family OpenBLAS chose for this processor ("Haswell", "SkylakeX", …), or "unknown".
    public static var blasCoreName: String {
        guard let p = openblas_get_corename() else { return "unknown" }
        return String(cString: p)
    }

    /// Whether OpenBLAS runs its AVX-512 kernels (the core names of its dynamic.c that have them).
    public static var blasUsesAVX512: Bool {
        ["skylakex", "cooperlake", "sapphirerapids"].contains(blasCoreName.lowercased())
    }

    /// The processors OpenBLAS sees (the default thread count of a training run).
    public static var available: Int { Int(openblas_get_num_procs()) }
}
