/// Learns byte-pair-encoding merges from word counts: start from characters, repeatedly merge the
/// most frequent adjacent pair (ties: the pair whose symbols were created first, then the left one)
/// until the vocabulary reaches its target size or no pair occurs twice. Pair counts are updated
/// incrementally (only the neighbours of each merged occurrence change) and the best pair comes
/// from a max-heap with lazy invalidation, as Hugging Face's trainer does.
public struct BPELearner {
    /// Characters seen fewer times than this are left to byte fallback instead of the alphabet.
    public var minCharacterCount = 1

    /// A learner; characters seen fewer than `minCharacterCount` times (default 1: none) stay out of the alphabet.
    public init(minCharacterCount: Int = 1) { self.minCharacterCount = minCharacterCount }

    /// - Parameters:
    ///   - wordCounts: word (with its "▁" mark) → occurrences
    ///   - vocabularySize: total size including specials and the 256 byte tokens
    /// The result depends only on the counts (never on dictionary order): ties between pairs are
    /// broken by symbol ids, and symbol ids come from the alphabet's (count, code point) order.
    public func learn(wordCounts: [String: Int], vocabularySize: Int) -> (alphabet: [String], merges: [(String, String)]) {
        // Words as code points in one flat buffer: word w is sym[wordStart[w] ..< wordStart[w] + wordLength[w]].
        var sym: [Int32] = [], wordStart: [Int] = [], wordLength: [Int] = [], freqs: [Int] = []
        wordStart.reserveCapacity(wordCounts.count); wordLength.reserveCapacity(wordCounts.count)
        freqs.reserveCapacity(wordCounts.count)
        for (w, c) in wordCounts {
            wordStart.append(sym.count)
            for u in w.unicodeScalars { sym.append(Int32(bitPattern: u.value)) }
            wordLength.append(sym.count - wordStart[wordStart.count - 1])
            freqs.append(c)
        }

        // Alphabet: characters by descending frequency, then code point. Code points below
        // `direct` are counted and mapped through arrays; the rare others through dictionaries.
        let direct = 0x3000
        var directCount = [Int](repeating: 0, count: direct)
        var otherCount: [Int32: Int] = [:]
        for (w, f) in freqs.enumerated() {
            for i in wordStart[w]..<(wordStart[w] + wordLength[w]) {
                let u = sym[i]
                if u < direct { directCount[Int(u)] += f } else { otherCount[u, default: 0] += f }
            }
        }
        var charCounts = otherCount.map { (code: $0.key, count: $0.value) }
        for u in 0..<direct where directCount[u] > 0 { charCounts.append((Int32(u), directCount[u])) }
        let alphabet = charCounts.filter { $0.count >= minCharacterCount }
            .sorted { $0.count != $1.count ? $0.count > $1.count : $0.code < $1.code }.map(\.code)
        var directId = [Int32](repeating: -1, count: direct)
        var otherId: [Int32: Int32] = [:]
        for (i, u) in alphabet.enumerated() {
            if u < direct { directId[Int(u)] = Int32(i) } else { otherId[u] = Int32(i) }
        }
        // Characters outside the alphabet become -1, which never pairs (the word splits there).
        for i in sym.indices { let u = sym[i]; sym[i] = u < direct ? directId[Int(u)] : otherId[u] ?? -1 }
        let alphabetStrings = alphabet.map { String(Unicode.Scalar(UInt32(bitPattern: $0))!) }
        var symbols = alphabetStrings
        let numMerges = vocabularySize - Vocabulary.firstPieceId - alphabet.count
        guard numMerges > 0 else { return (symbols, []) }

        var pairs = PairStats()
        for w in freqs.indices {
            let base = wordStart[w]
            for i in base..<(base + wordLength[w] - 1) where sym[i] >= 0 && sym[i + 1] >= 0 {
                pairs.gain(PairIndex.key(sym[i], sym[i + 1]), freqs[w], word: w, merge: 0)
            }
        }
        var heap = BinaryHeap<PairCandidate>()
        for q in pairs.count.indices { heap.push(PairCandidate(count: pairs.count[q], key: pairs.key[q], pair: Int32(q))) }

        // Each merge rewrites the words that hold the pair in place and updates only the counts
        // of the pairs around each occurrence: (l, a) and (b, r) lose, (l, new) and (new, r) gain.
        var merges: [(String, String)] = []
        var seen = [Int](repeating: 0, count: freqs.count)
        // A piece spelled like a special or byte token ("</s>" inside "ab</s>cd") would share its id:
        // such pairs are never merged, so text can never produce a special token.
        var forbidden = Set<Int32>()
        while merges.count < numMerges, let top = heap.pop() {
            let p = Int(top.pair), current = pairs.count[p]
            if current != top.count {  // stale entry: counts of old pairs only fall
                if current > 0 { heap.push(PairCandidate(count: current, key: top.key, pair: top.pair)) }
                continue
            }
            if current < 2 { break }
            let a = Int32(truncatingIfNeeded: top.key >> 32), b = Int32(truncatingIfNeeded: top.key & 0xFFFF_FFFF)
            if forbidden.contains(top.pair) { continue }
            if Vocabulary.reservedPieces.contains(symbols[Int(a)] + symbols[Int(b)]) { forbidden.insert(top.pair); continue }
            let newId = Int32(symbols.count)
            symbols.append(symbols[Int(a)] + symbols[Int(b)])
            merges.append((symbols[Int(a)], symbols[Int(b)]))
            let m = merges.count
            pairs.touched.removeAll(keepingCapacity: true)
            var node = Int(pairs.head[p])
            while node >= 0 {
                let w = Int(pairs.occurrenceWord[node])
                node = Int(pairs.occurrenceNext[node])
                if seen[w] == m { continue }
                seen[w] = m
                let base = wordStart[w], n = wordLength[w], f = freqs[w]
                var i = 0, o = 0
                while i < n {
                    let s = sym[base + i]
                    if s == a && i + 1 < n && sym[base + i + 1] == b {
                        if o > 0 {
                            let l = sym[base + o - 1]
                            if l >= 0 { pairs.lose(PairIndex.key(l, a), f); pairs.gain(PairIndex.key(l, newId), f, word: w, merge: m) }
                        }
                        if i + 2 < n {
                            let r = sym[base + i + 2]
                            if r >= 0 { pairs.lose(PairIndex.key(b, r), f); pairs.gain(PairIndex.key(newId, r), f, word: w, merge: m) }
                        }
                        sym[base + o] = newId
                        i += 2
                    } else {
                        sym[base + o] = s
                        i += 1
                    }
                    o += 1
                }
                wordLength[w] = o
            }
            pairs.count[p] = 0
            pairs.head[p] = -1
            for q in pairs.touched where pairs.count[q] > 0 {
                heap.push(PairCandidate(count: pairs.count[q], key: pairs.key[q], pair: Int32(q)))
            }
        }
        return (alphabetStrings, merges)
    }
}

/// Per pair (numbered by a `PairIndex`): its count, its key and the words it occurs in, as a linked
/// list in occurrenceWord/occurrenceNext (possibly stale: a word is re-scanned when merged).
/// A struct with mutating methods rather than closures over local arrays, so that every access is
/// checked for exclusivity at compile time instead of at run time.
private struct PairStats {
    var index = PairIndex(capacity: 1 << 17)
    var count: [Int] = [], key: [UInt64] = [], head: [Int32] = [], lastTouched: [Int] = []
    var occurrenceWord: [Int32] = [], occurrenceNext: [Int32] = []
    /// Pairs whose count grew during the current merge.
    var touched: [Int] = []

    @inline(__always)
    mutating func number(_ k: UInt64) -> Int {
        let (q, isNew) = index.number(k)
        if isNew { count.append(0); key.append(k); head.append(-1); lastTouched.append(-1) }
        return q
    }

    @inline(__always)
    mutating func lose(_ k: UInt64, _ f: Int) { count[number(k)] -= f }

    /// Adds f occurrences of pair k in word w during merge m.
    @inline(__always)
    mutating func gain(_ k: UInt64, _ f: Int, word w: Int, merge m: Int) {
        let q = number(k)
        count[q] += f
        if lastTouched[q] != m { lastTouched[q] = m; touched.append(q) }
        let h = Int(head[q])
        if h >= 0 && Int(occurrenceWord[h]) == w { return }
        occurrenceWord.append(Int32(w)); occurrenceNext.append(Int32(h)); head[q] = Int32(occurrenceWord.count - 1)
    }
}

/// Pair candidates: the highest count first; ties go to the smaller key (older symbols, left first).
struct PairCandidate: HeapOrdered {
    let count: Int, key: UInt64, pair: Int32
    static func before(_ x: Self, _ y: Self) -> Bool { x.count != y.count ? x.count > y.count : x.key < y.key }
}
