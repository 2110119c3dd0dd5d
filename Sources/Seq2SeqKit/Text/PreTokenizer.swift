/// Splits normalized text into words, each marked with the word-start symbol "▁" (U+2581) as
/// sentencepiece and Hugging Face's Metaspace pre-tokenizer do: "Ein Mann" → ["▁Ein", "▁Mann"].
/// Normalized text has single spaces and no space at either end, so joining the words and turning
/// "▁" back into spaces (dropping the first) restores it exactly.
public enum PreTokenizer {
    /// The word-start mark "▁" (U+2581, LOWER ONE EIGHTH BLOCK).
    public static let wordStart: Unicode.Scalar = "\u{2581}"

    /// The space-separated words of normalized text, without their marks (see ``marked(_:)``).
    public static func words(_ normalized: String) -> [Substring] {
        normalized.split(separator: " ", omittingEmptySubsequences: true)
    }

    /// "▁" + word
    @inline(__always)
    public static func marked(_ word: Substring) -> String { "\u{2581}" + word }
}
