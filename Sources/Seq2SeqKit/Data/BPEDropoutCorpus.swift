import Foundation

/// Training pairs segmented anew every epoch with BPE-dropout (Provilkov et al., 2020): each merge of
/// each word occurrence is skipped with probability p, so the model sees a word as "▁Mann", as
/// "▁M" "ann" or as "▁Ma" "nn" and learns its pieces' composition, a regularizer that helps most on
/// small corpora. Validation and translation keep the deterministic segmentation.
///
/// The text stays in memory as indices into its distinct words (normalized and split once), so an
/// epoch costs only the merges. An epoch's segmentation depends only on the seed, the epoch and the
/// line, never on the thread count: every rank of a distributed run, and a resumed run, draws the
/// same pairs.
public struct BPEDropoutCorpus: Sendable {
    /// The probability of skipping a merge, in (0, 1).
    public let p: Float
    let seed: UInt64
    let maxLength: Int
    let sides: [Side]

    /// One side's text: lines as word indices, and each distinct raw word's marked words.
    struct Side: Sendable {
        let vocabulary: Vocabulary
        var lines: [[Int32]] = []
        var words: [[String]] = []
    }

    /// The corpus of line-aligned `source` and `target` lines.
    /// - Parameters:
    ///   - source: The source lines, as read from the training file.
    ///   - target: The target lines, line-aligned with `source`.
    ///   - v: The vocabularies that segment each side.
    ///   - p: The merge dropout probability, in (0, 1).
    ///   - seed: Seeds the segmentations (with the epoch and the line).
    ///   - maxLength: Pairs with a side longer than this many tokens are skipped in that epoch.
    /// - Precondition: both vocabularies ``Vocabulary/samplesSegmentations``; the line counts match.
    public init(source: [String], target: [String], vocabularies v: Vocabularies, p: Float, seed: UInt64, maxLength: Int) {
        precondition(source.count == target.count && v.source.samplesSegmentations && v.target.samplesSegmentations)
        self.p = p; self.seed = seed; self.maxLength = maxLength
        sides = [Self.side(source, v.source), Self.side(target, v.target)]
    }

    static func side(_ text: [String], _ v: Vocabulary) -> Side {
        var s = Side(vocabulary: v)
        var index: [Substring: Int32] = [:]
        s.lines = text.map { line in
            line.split(separator: " ").map { raw in
                if let i = index[raw] { return i }
                let i = Int32(s.words.count)
                index[raw] = i
                s.words.append(v.markedWords(raw))
                return i
            }
        }
        return s
    }

    /// The number of lines (pairs before skipping).
    public var lineCount: Int { sides[0].lines.count }

    /// Epoch `epoch`'s pairs: every line segmented with dropout, empty pairs and pairs with a side longer
    /// than the length limit skipped (counted in the result), on all threads.
    public func pairs(epoch: Int) -> ParallelData {
        let n = lineCount
        return ParallelData.make(sourceIds: mapOnAllThreads(n, grain: 500) { segment(line: $0, side: 0, epoch: epoch) },
                                 targetIds: mapOnAllThreads(n, grain: 500) { segment(line: $0, side: 1, epoch: epoch) },
                                 maxLength: maxLength)
    }

    /// Line `line` of side `side` (0 source, 1 target) as epoch `epoch` segments it.
    func segment(line: Int, side: Int, epoch: Int) -> [Int32] {
        let s = sides[side]
        var rng = RNG(seed: Self.mix(seed, UInt64(epoch), UInt64(2 * line + side)))
        var out: [Int32] = []
        for w in s.lines[line] {
            for marked in s.words[Int(w)] { out += s.vocabulary.encodeWord(marked, dropout: p, rng: &rng) }
        }
        return out
    }

    /// One seed from several numbers (a SplitMix64 step after each).
    static func mix(_ values: UInt64...) -> UInt64 {
        var h: UInt64 = 0x6A09_E667_F3BC_C909
        for v in values { h = RNG.splitMix64(h ^ v) }
        return h
    }
}
