/// Learns byte-pair-encoding merges from word counts: start from characters, repeatedly merge the
/// most frequent adjacent pair (ties: the pair whose symbols were created first, then the left one)
/// until the vocabulary reaches its target size or no pair occurs twice. Pair counts are updated
/// incrementally (only the words containing the merged pair are touched) and the best pair comes
/// from a max-heap with lazy invalidation, as Hugging Face's trainer does.
public struct BPELearner {
    /// Characters seen fewer times than this are left to byte fallback instead of the alphabet.
    public var minCharacterCount = 1

    public init(minCharacterCount: Int = 1) { self.minCharacterCount = minCharacterCount }

    /// - Parameters:
    ///   - wordCounts: word (with its "▁" mark) → occurrences
    ///   - vocabularySize: total size including specials and the 256 byte tokens
    public func learn(wordCounts: [String: Int], vocabularySize: Int) -> (alphabet: [String], merges: [(String, String)]) {
        // Alphabet: characters by descending frequency, then code point.
        var charCounts: [Unicode.Scalar: Int] = [:]
        for (w, c) in wordCounts { for s in w.unicodeScalars { charCounts[s, default: 0] += c } }
        let alphabet = charCounts.filter { $0.value >= minCharacterCount }
            .sorted { $0.value != $1.value ? $0.value > $1.value : $0.key.value < $1.key.value }.map(\.key)
        var symbols = alphabet.map { String($0) }
        var charId: [Unicode.Scalar: Int32] = [:]
        for (i, c) in alphabet.enumerated() { charId[c] = Int32(i) }
        let numMerges = vocabularySize - Vocabulary.firstPieceId - alphabet.count
        guard numMerges > 0 else { return (symbols, []) }

        // Words as symbol sequences (characters outside the alphabet split the word: -1 never pairs).
        // A deterministic order (dictionary order changes from run to run); byte order is enough and
        // much cheaper than String's Unicode-aware comparison.
        let sortedWords = wordCounts.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
        var words: [[Int32]] = sortedWords.map { w in w.key.unicodeScalars.map { charId[$0] ?? -1 } }
        let freqs: [Int] = sortedWords.map(\.value)
        var pairCounts: [UInt64: Int] = [:]
        var pairWords: [UInt64: [Int32]] = [:]
        @inline(__always) func key(_ a: Int32, _ b: Int32) -> UInt64 { UInt64(UInt32(a)) << 32 | UInt64(UInt32(b)) }
        for (wi, w) in words.enumerated() where w.count > 1 {
            for i in 0..<(w.count - 1) where w[i] >= 0 && w[i + 1] >= 0 {
                let k = key(w[i], w[i + 1])
                pairCounts[k, default: 0] += freqs[wi]
                pairWords[k, default: []].append(Int32(wi))
            }
        }
        var heap = BinaryHeap<PairCandidate>()
        for (k, c) in pairCounts { heap.push(PairCandidate(count: c, key: k)) }

        var merges: [(String, String)] = []
        var seen = [Int](repeating: -1, count: words.count)
        while merges.count < numMerges, let top = heap.pop() {
            let current = pairCounts[top.key] ?? 0
            if current != top.count {
                if current > 0 { heap.push(PairCandidate(count: current, key: top.key)) }
                continue
            }
            if current < 2 { break }
            let a = Int32(truncatingIfNeeded: top.key >> 32), b = Int32(truncatingIfNeeded: top.key & 0xFFFF_FFFF)
            let newId = Int32(symbols.count)
            symbols.append(symbols[Int(a)] + symbols[Int(b)])
            merges.append((symbols[Int(a)], symbols[Int(b)]))
            var touched: [UInt64: Int] = [:]  // pairs with the new symbol → count
            for wi32 in pairWords[top.key] ?? [] {
                let wi = Int(wi32)
                if seen[wi] == merges.count { continue }
                seen[wi] = merges.count
                let w = words[wi], f = freqs[wi]
                var merged: [Int32] = []
                merged.reserveCapacity(w.count)
                var i = 0, changed = false
                while i < w.count {
                    if i + 1 < w.count && w[i] == a && w[i + 1] == b { merged.append(newId); i += 2; changed = true }
                    else { merged.append(w[i]); i += 1 }
                }
                if !changed { continue }
                for j in 0..<(w.count - 1) where w[j] >= 0 && w[j + 1] >= 0 { pairCounts[key(w[j], w[j + 1]), default: 0] -= f }
                for j in 0..<(merged.count - 1) where merged[j] >= 0 && merged[j + 1] >= 0 {
                    let k = key(merged[j], merged[j + 1])
                    pairCounts[k, default: 0] += f
                    if merged[j] == newId || merged[j + 1] == newId {
                        touched[k, default: 0] += f
                        pairWords[k, default: []].append(wi32)
                    }
                }
                words[wi] = merged
            }
            pairCounts[top.key] = nil
            pairWords[top.key] = nil
            for k in touched.keys { if let c = pairCounts[k], c > 0 { heap.push(PairCandidate(count: c, key: k)) } }
        }
        return (alphabet.map { String($0) }, merges)
    }
}

/// Pair candidates: the highest count first; ties go to the smaller key (older symbols, left first).
struct PairCandidate: HeapOrdered {
    let count: Int, key: UInt64
    static func before(_ x: Self, _ y: Self) -> Bool { x.count != y.count ? x.count > y.count : x.key < y.key }
}
