/// Symbol pairs (a, b) → dense pair numbers 0, 1, 2, … in first-seen order: an open-addressing
/// table with multiplicative hashing. The BPE learner touches it for every pair update, where
/// Swift's Dictionary (SipHash on every lookup) costs several times more. Pairs are never removed.
struct PairIndex {
    private var keys: [UInt64]
    private var values: [Int32]
    private var mask: Int
    private var shift: UInt64
    private(set) var count = 0
    static let empty = UInt64.max

    init(capacity: Int = 1 << 16) {
        var n = 16, bits: UInt64 = 4
        while n < 2 * capacity { n <<= 1; bits += 1 }
        keys = [UInt64](repeating: Self.empty, count: n)
        values = [Int32](repeating: -1, count: n)
        mask = n - 1
        shift = 64 - bits
    }

    /// The key of the pair (a, b) of non-negative symbol ids; ordering keys orders pairs by (a, b).
    @inline(__always)
    static func key(_ a: Int32, _ b: Int32) -> UInt64 { UInt64(UInt32(a)) << 32 | UInt64(UInt32(b)) }

    @inline(__always)
    private func slot(_ key: UInt64) -> Int { Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> shift) }

    /// The pair's number, adding it (as `count`, then incrementing count) when new.
    @inline(__always)
    mutating func number(_ key: UInt64) -> (Int, isNew: Bool) {
        var s = slot(key)
        while true {
            let k = keys[s]
            if k == key { return (Int(values[s]), false) }
            if k == Self.empty { break }
            s = (s + 1) & mask
        }
        keys[s] = key
        values[s] = Int32(count)
        count += 1
        if count * 2 > keys.count { grow() }
        return (count - 1, true)
    }

    private mutating func grow() {
        let oldKeys = keys, oldValues = values
        let n = keys.count * 2
        keys = [UInt64](repeating: Self.empty, count: n)
        values = [Int32](repeating: -1, count: n)
        mask = n - 1
        shift -= 1
        for (k, v) in zip(oldKeys, oldValues) where k != Self.empty {
            var s = slot(k)
            while keys[s] != Self.empty { s = (s + 1) & mask }
            keys[s] = k
            values[s] = v
        }
    }
}
