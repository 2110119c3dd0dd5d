// swift-tools-version:6.1
import PackageDescription

// MARK: - Build settings
// No build flags: code that needs an instruction set (AVX2/FMA, AVX-512) lives in the C target
// CKernels, compiled for every level with per-function target attributes and chosen at run time
// (SEQ2SEQ_ISA forces a lower level). The same binary runs on any x86-64 or arm64 processor.
//
// Optional engines are package traits, on by default (a dependent that names its own traits gets
// only those; `swift build --disable-default-traits` builds without both):
//   OneDNN: oneDNN's float32, bf16 and int8 products (Debian's libdnnl-dev); without it every
//           product goes through OpenBLAS, int8 products of many rows through our tiles, and bf16
//           training is refused with an error.
//   MPI:    data-parallel training under mpirun (Debian's libopenmpi-dev); without it a run under
//           mpirun is refused with an error.

let package = Package(
    name: "seq2seq",
    products: [
        .executable(name: "seq2seq", targets: ["seq2seq"]),
        .executable(name: "seq2seq-fuzz", targets: ["seq2seq-fuzz"]),
        .library(name: "Seq2SeqKit", targets: ["Seq2SeqKit"]),
        .library(name: "Seq2SeqDistributed", targets: ["Seq2SeqDistributed"]),
    ],
    traits: [
        .trait(name: "OneDNN", description: "oneDNN products: float32, bf16 training, int8 of many rows (libdnnl-dev)."),
        .trait(name: "MPI", description: "Data-parallel training under mpirun (libopenmpi-dev)."),
        .default(enabledTraits: ["OneDNN", "MPI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-numerics", from: "1.0.0"),
        // `swift package generate-documentation --target Seq2SeqKit` (the DocC catalog in
        // Sources/Seq2SeqKit/Seq2SeqKit.docc); a plugin, so nothing is linked.
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.4.0"),
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

        // MARK: - Kernels
        // Every instruction-set kernel (portable, AVX2+FMA, AVX-512) and the run-time choice of level.
        .target(name: "CKernels"),

        // MARK: - Library
        .target(
            name: "Seq2SeqKit",
            dependencies: [
                "CBLAS", "CICU", "CKernels",
                .product(name: "RealModule", package: "swift-numerics"),
                .target(name: "CDNNL", condition: .when(traits: ["OneDNN"])),
            ]
        ),

        // MARK: - Distributed training
        // The MPI communicator that `mpirun seq2seq train` runs over. The Communicator protocol and
        // the one-process case stay in Seq2SeqKit, which therefore never links Open MPI.
        .target(
            name: "Seq2SeqDistributed",
            dependencies: ["Seq2SeqKit", .target(name: "CMPI", condition: .when(traits: ["MPI"]))]
        ),

        // MARK: - Benchmarks
        // `seq2seq bench`: kernels, training and translation throughput, tokenizers, allreduce.
        .target(name: "Seq2SeqBench", dependencies: ["Seq2SeqKit", "CBLAS"]),

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
                "Seq2SeqKit", "Seq2SeqDistributed", "Seq2SeqBench", "Seq2SeqServer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        // The readers of user files under libFuzzer (scripts/fuzz.sh), or replaying inputs (CI).
        .executableTarget(name: "seq2seq-fuzz", dependencies: ["Seq2SeqKit"]),

        // MARK: - Tests
        // A loopback HTTP client the test targets share (not part of any product).
        .target(name: "HTTPTestSupport", path: "Tests/HTTPTestSupport"),
        .testTarget(
            name: "Seq2SeqKitTests",
            dependencies: ["Seq2SeqKit", "HTTPTestSupport"],
            resources: [.copy("Fixtures")]
        ),
        .testTarget(
            name: "Seq2SeqServerTests",
            dependencies: ["Seq2SeqKit", "Seq2SeqServer", "HTTPTestSupport"]
        ),
    ]
)
