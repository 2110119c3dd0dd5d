import CKernels

/// The instruction-set level the kernels run at, chosen once at start-up from what the processor
/// reports (CPUID, and XGETBV for the registers the operating system saves): the one place that
/// says which kernels run. `SEQ2SEQ_ISA=portable|avx2|avx512` forces a lower level (for tests and
/// measurements); `seq2seq --version` and `seq2seq bench kernels` print it.
public enum KernelLevel: Int, CaseIterable, Comparable, Sendable, CustomStringConvertible {
    /// Any processor: 16-lane vectors lowered to the base target (SSE2 on x86-64, NEON on arm64).
    case portable = 0
    /// AVX2 and FMA (x86-64-v3).
    case avx2 = 1
    /// AVX-512 F, BW, CD, DQ, VL (x86-64-v4).
    case avx512 = 2

    /// The highest level this processor runs.
    public static var supported: KernelLevel { KernelLevel(rawValue: Int(s2s_isa_supported())) ?? .portable }

    /// The level the kernels run at now.
    public static var active: KernelLevel { KernelLevel(rawValue: Int(s2s_isa_active())) ?? .portable }

    /// Every level this processor runs, lowest first (what the tests cover).
    public static var available: [KernelLevel] { allCases.filter { $0 <= supported } }

    /// What was wrong with SEQ2SEQ_ISA (an unknown name, or a level above `supported`), if anything;
    /// the kernels then run at `supported`.
    public static var environmentProblem: String? { s2s_isa_environment_problem().map { String(cString: $0) } }

    /// Switches every kernel to `level` (process-wide; tests and benchmarks). Throws above `supported`.
    public static func select(_ level: KernelLevel) throws {
        guard s2s_isa_select(Int32(level.rawValue)) == 0 else {
            throw KernelLevelError(requested: level, supported: supported)
        }
    }

    /// Levels are ordered portable < avx2 < avx512.
    public static func < (a: KernelLevel, b: KernelLevel) -> Bool { a.rawValue < b.rawValue }

    /// The level's name: "portable", "avx2" or "avx512".
    public var description: String { String(cString: s2s_isa_name(Int32(rawValue))) }

    /// "avx512 (processor: avx2 fma avx512 avx512-vnni avx512-bf16)": the active level and what the
    /// processor offers, for logs and `--version`.
    public static var summary: String {
        let f = CPUFeatures.flags
        return "kernels \(active) (processor: \(f.isEmpty ? "baseline only" : f.joined(separator: " ")))"
    }
}

/// ``KernelLevel/select(_:)`` was asked for a level the processor does not run.
public struct KernelLevelError: Error, CustomStringConvertible {
    /// The level asked for, and the highest one the processor runs.
    public let requested: KernelLevel, supported: KernelLevel
    /// The message, naming both levels.
    public var description: String { "kernel level \(requested) is not available: this processor runs at most \(supported)" }
}

/// What the processor offers, as read by CKernels.
public enum CPUFeatures {
    static var bits: UInt32 { UInt32(s2s_cpu_features()) }

    /// AVX-512 (F, BW, CD, DQ, VL) with its registers saved by the operating system.
    public static var hasAVX512: Bool { bits & UInt32(S2S_CPU_AVX512) != 0 }
    /// AVX512_BF16 (bf16 dot products, which oneDNN's bf16 products use; whether they beat float32
    /// depends on the processor: see ``Precision/bf16Pays``).
    public static var hasAVX512BF16: Bool { bits & UInt32(S2S_CPU_AVX512_BF16) != 0 }
    /// AMX tiles enabled by the operating system (Sapphire Rapids and later): oneDNN runs bf16 products on them.
    public static var hasAMX: Bool { bits & UInt32(S2S_CPU_AMX) != 0 }
    /// AVX512-VNNI (vpdpbusd).
    public static var hasAVX512VNNI: Bool { bits & UInt32(S2S_CPU_AVX512_VNNI) != 0 }
    /// The CPUID vendor string: "AuthenticAMD", "GenuineIntel", … ("" on processors without CPUID).
    public static let vendor = String(cString: s2s_cpu_vendor())

    /// The named features present, in a fixed order.
    public static var flags: [String] {
        let names: [(Int, String)] = [
            (S2S_CPU_AVX2, "avx2"), (S2S_CPU_FMA, "fma"), (S2S_CPU_AVX512, "avx512"),
            (S2S_CPU_AVX512_VNNI, "avx512-vnni"), (S2S_CPU_AVX512_BF16, "avx512-bf16"),
            (S2S_CPU_AVX_VNNI, "avx-vnni"), (S2S_CPU_AMX, "amx"),
        ]
        return names.filter { bits & UInt32($0.0) != 0 }.map(\.1)
    }
}
