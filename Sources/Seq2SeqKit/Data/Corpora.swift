import Foundation

/// Standard corpora that are read in place, never shipped: $SEQ2SEQ_CORPORA (default ../shared/corpora
/// beside the working directory, then ./corpora/downloaded).
public enum Corpora {
    public struct Parallel: Sendable {
        public let trainSource: String, trainTarget: String
        public let validSource: String, validTarget: String
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
