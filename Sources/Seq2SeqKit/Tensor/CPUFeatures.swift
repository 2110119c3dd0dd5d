import Foundation

/// What the processor offers beyond the AVX2/FMA baseline the package is compiled for, read once
/// from /proc/cpuinfo (Linux lists an extension there only when the kernel saves its registers).
public enum CPUFeatures {
    /// The AVX-512 set (F, BW, CD, DQ, VL: x86-64-v4) of the skylake-avx512 target that the
    /// Seq2SeqKitAVX512 module is compiled for.
    /// `SEQ2SEQ_NO_AVX512=1` in the environment turns it off (to compare, or to rule it out).
    public static let hasAVX512: Bool = {
        if let off = ProcessInfo.processInfo.environment["SEQ2SEQ_NO_AVX512"], off != "" && off != "0" { return false }
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("flags") })
        else { return false }
        let flags = Set(line.split(separator: " ").map(String.init))
        return ["avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"].allSatisfy(flags.contains)
    }()
}
