import CBLAS

/// Thread settings shared by OpenBLAS and the row-parallel kernels.
public enum Threads {
    nonisolated(unsafe) public private(set) static var count: Int = 1

    /// Uses `n` threads for GEMM and for elementwise kernels large enough to pay for a split.
    public static func set(_ n: Int) {
        count = max(1, n)
        openblas_set_num_threads(Int32(count))
    }

    public static var blasCoreName: String {
        guard let p = openblas_get_corename() else { return "unknown" }
        return String(cString: p)
    }

    /// Whether OpenBLAS runs its AVX-512 kernels (the core names of its dynamic.c that have them).
    public static var blasUsesAVX512: Bool {
        ["skylakex", "cooperlake", "sapphirerapids"].contains(blasCoreName.lowercased())
    }

    public static var available: Int { Int(openblas_get_num_procs()) }
}
