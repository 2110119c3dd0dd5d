import Foundation

// Built by scripts/fuzz.sh with libFuzzer and AddressSanitizer (-DFUZZING): libFuzzer's own main
// runs the target named by SEQ2SEQ_FUZZ_TARGET (its arguments: corpus directories, -max_total_time, ...).
// Built normally: `seq2seq-fuzz TARGET [FILE|DIR ...]` replays every file through TARGET once.
#if FUZZING
let fuzzTarget: @Sendable (Data) -> Void = {
    let name = ProcessInfo.processInfo.environment["SEQ2SEQ_FUZZ_TARGET"] ?? ""
    guard let t = FuzzTargets.all[name] else {
        FileHandle.standardError.write(Data("set SEQ2SEQ_FUZZ_TARGET to one of \(FuzzTargets.all.keys.sorted().joined(separator: ", "))\n".utf8))
        exit(2)
    }
    return t
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    fuzzTarget(size == 0 || data == nil ? Data() : Data(bytes: data!, count: size))
    return 0
}
#else
@main
struct Replay {
    static func main() {
        let args = CommandLine.arguments
        guard args.count >= 2, let target = FuzzTargets.all[args[1]] else {
            FileHandle.standardError.write(Data("usage: seq2seq-fuzz TARGET [FILE|DIR ...]; targets: \(FuzzTargets.all.keys.sorted().joined(separator: ", "))\n".utf8))
            exit(2)
        }
        var files: [String] = []
        for a in args.dropFirst(2) {
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: a, isDirectory: &isDir) else {
                FileHandle.standardError.write(Data("seq2seq-fuzz: \(a): no such file\n".utf8))
                exit(2)
            }
            if isDir.boolValue {
                files += ((try? FileManager.default.contentsOfDirectory(atPath: a)) ?? []).sorted().map { "\(a)/\($0)" }
            } else {
                files.append(a)
            }
        }
        for f in files { target((try? Data(contentsOf: URL(fileURLWithPath: f))) ?? Data()) }
        print("seq2seq-fuzz \(args[1]): replayed \(files.count) inputs")
    }
}
#endif
