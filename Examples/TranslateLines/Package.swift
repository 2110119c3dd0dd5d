// swift-tools-version:6.1
import Foundation
import PackageDescription

// seq2seq as an application would use it: by URL and version. SEQ2SEQ_PACKAGE_URL and
// SEQ2SEQ_PACKAGE_VERSION point the example at another copy (a fork, a mirror, a local
// repository by file:// URL) without editing this file.
let environment = ProcessInfo.processInfo.environment
let seq2seqURL = environment["SEQ2SEQ_PACKAGE_URL"] ?? "https://github.com/seq2seq/seq2seq.git"
let versionString = environment["SEQ2SEQ_PACKAGE_VERSION"] ?? "0.9.0"
guard let seq2seqVersion = Version(versionString) else {
    fatalError("SEQ2SEQ_PACKAGE_VERSION=\(versionString) is not a semantic version such as 0.9.0")
}

let package = Package(
    name: "TranslateLines",
    dependencies: [
        .package(url: seq2seqURL, from: seq2seqVersion),
    ],
    targets: [
        .executableTarget(
            name: "translate-lines",
            dependencies: [.product(name: "Seq2SeqKit", package: "seq2seq")],
            path: "Sources/TranslateLines"
        ),
    ]
)
