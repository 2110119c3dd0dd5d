import Foundation

/// Standard corpora that are read in place, never shipped: $SEQ2SEQ_CORPORA (default ../shared/corpora
/// beside the working directory, then ./corpora/downloaded).
public enum Corpora {
    /// The files of a parallel corpus with training, validation and test splits.
    public struct Parallel: Sendable {
        /// The training split's source and target files.
        public let trainSource: String, trainTarget: String
        /// The validation split's source and target files.
        public let validSource: String, validTarget: String
        /// The test split's source and target files.
        public let testSource: String, testTarget: String

        /// The bundled sample corpus's file names inside `dir`.
        public init(sample d: String) {
            trainSource = "\(d)/train.de"; trainTarget = "\(d)/train.en"; validSource = "\(d)/valid.de"
            validTarget = "\(d)/valid.en"; testSource = "\(d)/test.de"; testTarget = "\(d)/test.en"
        }

        /// Multi30k's file names inside `dir`.
        public init(multi30k d: String) {
            trainSource = "\(d)/train.de"; trainTarget = "\(d)/train.en"; validSource = "\(d)/val.de"
            validTarget = "\(d)/val.en"; testSource = "\(d)/test2016.de"; testTarget = "\(d)/test2016.en"
        }
    }

    /// The directories searched, in order: $SEQ2SEQ_CORPORA when set, ../shared/corpora, corpora/downloaded
    /// (relative paths are relative to the working directory).
    public static var roots: [String] {
        var r: [String] = []
        if let e = ProcessInfo.processInfo.environment["SEQ2SEQ_CORPORA"], !e.isEmpty { r.append(e) }
        r.append("../shared/corpora")
        r.append("corpora/downloaded")
        return r
    }

    /// Multi30k de→en (train, val, test2016) if one of the roots has it.
    public static func multi30k() -> Parallel? {
        for root in roots {
            let d = "\(root)/multi30k"
            if FileManager.default.fileExists(atPath: "\(d)/train.de") && FileManager.default.fileExists(atPath: "\(d)/test2016.en") {
                return Parallel(multi30k: d)
            }
        }
        return nil
    }
}
