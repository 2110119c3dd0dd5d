// swift-tools-version:6.0
import PackageDescription

// MARK: - Build settings
// Numeric kernels are judged in release builds only. On x86-64, AVX2/FMA is on so that plain loops
// vectorize (../shared/PLATFORM.md: baseline x86-64 is SSE only, 2-4x slower for softmax and
// LayerNorm), and the binary checks for them before main (Sources/CPUCheck). SEQ2SEQ_PORTABLE=1
// builds for any x86-64. Elsewhere (arm64) the portable code paths are compiled: Swift's SIMD types
// lower to NEON.
import Foundation
let portable = ProcessInfo.processInfo.environment["SEQ2SEQ_PORTABLE"] == "1"
// SEQ2SEQ_STATIC=1 (scripts/build-static.sh): the single-file build, linked against static archives.
// Debian ships none for oneDNN or Open MPI, so that build leaves both out: int8 products of many
// rows use our AVX2 tiles, and training under mpirun is refused with an error.
let staticBuild = ProcessInfo.processInfo.environment["SEQ2SEQ_STATIC"] == "1"
let optionalLibraries: [Target.Dependency] = staticBuild ? [] : ["CDNNL", "CMPI"]
let optionalLibrarySettings: [SwiftSetting] = staticBuild ? [.define("S2S_NO_ONEDNN"), .define("S2S_NO_MPI")] : []
#if arch(x86_64)
let numericSettings: [SwiftSetting] = portable ? [] : [
    .unsafeFlags(["-Xcc", "-mavx2", "-Xcc", "-mfma", "-target-cpu", "haswell"]),
    // The int8 kernels written with AVX2 intrinsics (Kernels/Int8AVX2.swift) compile only then.
    .define("S2S_AVX2"),
]
let cpuCheckSettings: [CSetting] = portable ? [] : [.define("S2S_NEEDS_AVX2")]
// The linear-layer tiles in AVX-512 registers, called only on processors that have it.
let avx512Settings: [SwiftSetting] = [.unsafeFlags(["-target-cpu", "skylake-avx512"])]
#else
let numericSettings: [SwiftSetting] = []
let cpuCheckSettings: [CSetting] = []
let avx512Settings: [SwiftSetting] = []
#endif

let package = Package(
    name: "seq2seq",
    products: [
        .executable(name: "seq2seq", targets: ["seq2seq"]),
        .executable(name: "seq2seq-fuzz", targets: ["seq2seq-fuzz"]),
        .library(name: "Seq2SeqKit", targets: ["Seq2SeqKit"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-numerics", from: "1.0.0"),
        // The HTTP service (Sources/Seq2SeqServer) only; the library never depends on them.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.0.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.0.0"),
    ],
    targets: [
        // MARK: - System libraries
        .systemLibrary(
            name: "CBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]
        ),
        // Open MPI (Debian's libopenmpi-dev): the C API plus inline functions for the handles that are
        // macros (MPI_COMM_WORLD, MPI_FLOAT, MPI_SUM, ...). MPI is started only under mpirun.
        .systemLibrary(
            name: "CMPI",
            pkgConfig: "ompi-c",
            providers: [.apt(["libopenmpi-dev"])]
        ),
        // A plain C wrapper over ICU (see ../shared/PLATFORM.md: a system-library module for ICU
        // clashes with Foundation's private copy, so the public header uses only <stdint.h> types).
        // oneDNN (Debian's libdnnl-dev): int8 products of many rows (Tensor/Int8Gemm.swift).
        .systemLibrary(
            name: "CDNNL",
            providers: [.apt(["libdnnl-dev"])]
        ),
        .target(
            name: "CICU",
            linkerSettings: [.linkedLibrary("icui18n"), .linkedLibrary("icuuc"), .linkedLibrary("icudata")]
        ),

        // Before main: does this processor run what the build was compiled for?
        .target(name: "CPUCheck", cSettings: cpuCheckSettings),

        // MARK: - Library
        .target(name: "Seq2SeqKitAVX512", swiftSettings: avx512Settings),
        .target(
            name: "Seq2SeqKit",
            dependencies: [
                "CBLAS", "CICU", "Seq2SeqKitAVX512",
                .product(name: "RealModule", package: "swift-numerics"),
            ] + optionalLibraries,
            swiftSettings: numericSettings + optionalLibrarySettings
        ),

        // MARK: - HTTP service
        // `seq2seq serve`: Hummingbird routes in front of one batching worker that owns the model.
        .target(
            name: "Seq2SeqServer",
            dependencies: [
                "Seq2SeqKit",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),

        // MARK: - Command-line tool
        .executableTarget(
            name: "seq2seq",
            dependencies: [
                "Seq2SeqKit", "Seq2SeqServer", "CPUCheck",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: numericSettings
        ),

        // The readers of user files under libFuzzer (scripts/fuzz.sh), or replaying inputs (CI).
        .executableTarget(name: "seq2seq-fuzz", dependencies: ["Seq2SeqKit", "CPUCheck"], swiftSettings: numericSettings),

        // MARK: - Tests
        .testTarget(
            name: "Seq2SeqKitTests",
            dependencies: ["Seq2SeqKit"],
            resources: [.copy("Fixtures")],
            swiftSettings: numericSettings
        ),
    ]
)
