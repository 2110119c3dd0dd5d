/// The library's version (CHANGELOG.md), as `seq2seq --version` prints it.
public enum Seq2SeqVersion {
    /// The version number, major.minor.patch.
    public static let string = "0.9.0"
}
