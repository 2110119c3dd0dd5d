/// One link of a word alignment: source word `source` is aligned to target word `target`, both
/// 0-based indices of space-separated words (of the source line as given, and of the translation as
/// output), as in Pharaoh's `i-j` format.
public struct WordAlignment: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The source word's index.
    public var source: Int
    /// The target word's index.
    public var target: Int

    /// Creates a link.
    public init(source: Int, target: Int) { self.source = source; self.target = target }

    /// "i-j".
    public var description: String { "\(source)-\(target)" }

    /// Ordered by source word, then target word.
    public static func < (a: WordAlignment, b: WordAlignment) -> Bool {
        a.source != b.source ? a.source < b.source : a.target < b.target
    }

    /// Links in Pharaoh format: "0-0 1-2 2-1".
    public static func pharaoh(_ links: [WordAlignment]) -> String {
        links.map(\.description).joined(separator: " ")
    }

    /// Hard word alignment from cross-attention, fairseq's `--print-alignment` rule lifted to words:
    /// each target piece (eos excluded) is linked to the source piece it attends to most (the
    /// source's final </s> excluded), averaged over the heads of the last decoder layer; a piece
    /// belongs to the space-separated word its "▁" mark starts, and a word pair is linked when any
    /// of their pieces are. Sorted by source word, then target word.
    /// - Parameters:
    ///   - attention: [target pieces][source pieces] averaged cross-attention (rows beyond the pieces
    ///     are ignored).
    ///   - source: The source pieces' ids, ending in </s>.
    ///   - target: The target pieces' ids (eos, when present, last).
    static func links(attention: [[Float]], source: [Int32], target: [Int32], vocabularies v: Vocabularies, eos: Int32) -> [WordAlignment] {
        let sourceWords = wordIndices(source, v.source), targetWords = wordIndices(target, v.target)
        var links = Set<WordAlignment>()
        for (j, row) in attention.enumerated() where j < target.count && target[j] != eos {
            guard let tw = targetWords[j] else { continue }
            var best = -Float.infinity, arg = -1
            for (i, a) in row.enumerated() where i < source.count && source[i] != eos && sourceWords[i] != nil && a > best {
                best = a; arg = i
            }
            if arg >= 0, let sw = sourceWords[arg] { links.insert(WordAlignment(source: sw, target: tw)) }
        }
        return links.sorted()
    }

    /// The space-separated word each piece falls in: a piece starting with "▁" (or a character
    /// vocabulary's " ") opens the next word; special tokens belong to none (nil).
    static func wordIndices(_ ids: [Int32], _ vocabulary: Vocabulary) -> [Int?] {
        var word = -1, open = false
        return ids.map { id in
            let i = Int(id)
            guard i >= Vocabulary.firstByteId || vocabulary.sentencePiece != nil, i < vocabulary.count else { return nil }
            let piece = vocabulary.pieces[i]
            if Vocabulary.specials.contains(piece) { return nil }
            if piece == " " { open = false; return nil }
            if piece.unicodeScalars.first == PreTokenizer.wordStart {
                word += 1; open = true
                if piece.unicodeScalars.count == 1 { return word }
            } else if !open {
                word += 1; open = true
            }
            return word
        }
    }
}
