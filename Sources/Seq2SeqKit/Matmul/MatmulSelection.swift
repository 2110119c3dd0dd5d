import Foundation

/// Where row-parallel kernels (softmax, LayerNorm, the few-row tiles, …) run their chunks.
public enum RowThreads: String, CaseIterable, Sendable {
    /// The OpenMP team that oneDNN's products use, when oneDNN is the engine of large products:
    /// the same threads stay warm between a product and the kernels around it.
    case openmp
    /// Dispatch's concurrentPerform (always available).
    case dispatch
}

/// How this process carries out matrix products: the one value that every product door
/// (`gemm`, `gemmBF16`, the int8 and few-row linear layers) consults.
///
/// The default, `automatic`, chooses by shape from what the processor and the build have (see
/// `GemmDispatch`, `Int8Gemm` and `FewRowsLinear` for the measurements behind each choice). A field
/// set to a value forces that choice for every shape, which is how the tests cover each path and
/// how benchmarks compare engines. The environment sets the process's starting value:
///
/// - `SEQ2SEQ_GEMM_ENGINE=openblas|onednn`: every float32 product on one engine.
/// - `SEQ2SEQ_INT8_ENGINE=portable|avx2|vnni|onednn`: every int8 product on one engine.
/// - `SEQ2SEQ_ROW_THREADS=openmp|dispatch`: where row-parallel kernels run.
///
/// A value that names nothing, or an engine this build or processor does not have, is reported by
/// `MatmulSelection.environmentProblem` (the command-line tool refuses to start with it) and
/// otherwise ignored.
///
/// Change `current` only while no product runs (before a run, or between tests): it is read
/// without a lock on every product.
public struct MatmulSelection: Sendable, Equatable {
    /// The engine of every float32 product; nil: by shape (`GemmDispatch`).
    public var float32: GemmEngine?
    /// The engine of every int8 product; nil: by rows (`Int8Gemm`).
    public var int8: Int8Engine?
    /// Row counts from which int8 products go to oneDNN when `int8` is nil. Measured on an AVX2
    /// processor (AMD EPYC, Zen 3; `seq2seq bench kernels --int8`, 1 thread, GOP/s, ours | oneDNN):
    /// at 1 row 47-79 | 20-33 (oneDNN's call and packing dominate), at 2 rows 49-81 | 34-39, at 5 rows
    /// 45-84 | 61-88, from 8 rows 65-133 | 84-157.
    public var int8OneDNNFromRows: Int = 4
    /// The range of int8 products' activations; nil: by engine (`Int8Activations.range(for:)`).
    /// Tests set it to compare engines in one range.
    public var int8Range: Int8Activations.Range?
    /// Whether float32 linear layers of any row count may use the AVX-512 broadcast tiles
    /// (`FewRowsLinear`); nil: when OpenBLAS runs AVX2 kernels on an AVX-512 processor and OpenBLAS
    /// is the engine of large products.
    public var fewRowsForEveryRowCount: Bool?
    /// Where row-parallel kernels run; nil: on the OpenMP team when oneDNN is the engine of large
    /// products, otherwise on Dispatch.
    public var rowThreads: RowThreads?

    /// A selection; every field left at its default chooses by shape, as ``automatic`` does.
    public init(float32: GemmEngine? = nil, int8: Int8Engine? = nil, int8OneDNNFromRows: Int = 4,
                fewRowsForEveryRowCount: Bool? = nil, rowThreads: RowThreads? = nil,
                int8Range: Int8Activations.Range? = nil) {
        self.float32 = float32
        self.int8 = int8
        self.int8OneDNNFromRows = int8OneDNNFromRows
        self.fewRowsForEveryRowCount = fewRowsForEveryRowCount
        self.rowThreads = rowThreads
        self.int8Range = int8Range
    }

    /// Every choice by shape.
    public static let automatic = MatmulSelection()

    /// The environment's selection and its problem, read once.
    private static let fromStartingEnvironment = fromEnvironment()

    /// The selection in force for this process.
    nonisolated(unsafe) public static var current: MatmulSelection = fromStartingEnvironment.selection

    /// What was wrong with the environment's SEQ2SEQ_GEMM_ENGINE, SEQ2SEQ_INT8_ENGINE or
    /// SEQ2SEQ_ROW_THREADS, if anything.
    public static var environmentProblem: String? { fromStartingEnvironment.problem }

    /// Runs `body` with `selection` in force, then restores the one before (tests and benchmarks).
    public static func with<T>(_ selection: MatmulSelection, _ body: () throws -> T) rethrows -> T {
        let saved = current
        current = selection
        defer { current = saved }
        return try body()
    }

    /// The selection the environment asks for, and what in it could not be honoured.
    static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment)
        -> (selection: MatmulSelection, problem: String?) {
        var s = MatmulSelection.automatic
        var problems: [String] = []
        func read<E: RawRepresentable & CaseIterable>(_ name: String, _ type: E.Type, available: (E) -> Bool) -> E?
            where E.RawValue == String {
            guard let value = environment[name], !value.isEmpty else { return nil }
            let names = E.allCases.map(\.rawValue).joined(separator: ", ")
            guard let e = E(rawValue: value) else {
                problems.append("\(name)=\(value) is not one of \(names); unset it or choose one")
                return nil
            }
            guard available(e) else {
                problems.append("\(name)=\(value): this build or processor has no \(value) engine; unset it")
                return nil
            }
            return e
        }
        s.float32 = read("SEQ2SEQ_GEMM_ENGINE", GemmEngine.self) { $0.isAvailable }
        s.int8 = read("SEQ2SEQ_INT8_ENGINE", Int8Engine.self) { $0.isAvailable }
        s.rowThreads = read("SEQ2SEQ_ROW_THREADS", RowThreads.self) { $0 == .dispatch || OpenMPTeam.available }
        return (s, problems.isEmpty ? nil : problems.joined(separator: "; "))
    }
}
