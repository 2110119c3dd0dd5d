/// The library's version (CHANGELOG.md), as `seq2seq --version` prints it.
public enum Seq2SeqVersion {
    public static let string = "0.9.0"
}
