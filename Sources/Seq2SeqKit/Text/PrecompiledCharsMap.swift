/// SentencePiece's precompiled normalization rules (NormalizerSpec.precompiled_charsmap): a
/// darts-clone double-array trie over UTF-8 byte strings whose values are offsets into a pool of
/// NUL-terminated replacement strings. Layout: trie size in bytes (UInt32, little endian), the
/// trie's 32-bit units, then the pool. At each position the longest key that matches wins
/// (sentencepiece's normalizer.cc, NormalizePrefix).
public struct PrecompiledCharsMap: Sendable {
    let units: [UInt32]
    let pool: [UInt8]

    /// Reads the blob; `path` names the model file in errors.
    public init(_ blob: [UInt8], path: String) throws {
        func bad(_ m: String) -> SentencePieceError {
            .file(path, "its precompiled_charsmap is damaged (\(m)); copy the .spm file again")
        }
        guard blob.count > 4 else { throw bad("\(blob.count) bytes") }
        let size = Int(blob[0]) | Int(blob[1]) << 8 | Int(blob[2]) << 16 | Int(blob[3]) << 24
        guard size % 4 == 0, size >= 4, size <= blob.count - 4 else {
            throw bad("a trie of \(size) bytes in a blob of \(blob.count)")
        }
        units = (0..<(size / 4)).map { i in
            let o = 4 + 4 * i
            return UInt32(blob[o]) | UInt32(blob[o + 1]) << 8 | UInt32(blob[o + 2]) << 16 | UInt32(blob[o + 3]) << 24
        }
        pool = Array(blob[(4 + size)...])
    }

    // A darts-clone unit: label in bits 0-7 (bit 31 set marks a value unit), has-leaf flag bit 8,
    // offset in bits 10-31 shifted left by 8 when bit 9 is set; a value unit holds its value in bits 0-30.
    @inline(__always) static func offset(_ u: UInt32) -> Int { Int((u >> 10) << ((u & (1 << 9)) >> 6)) }
    @inline(__always) static func label(_ u: UInt32) -> UInt32 { u & ((1 << 31) | 0xFF) }
    @inline(__always) static func hasLeaf(_ u: UInt32) -> Bool { (u >> 8) & 1 == 1 }

    /// The longest rule matching a prefix of `bytes[from...]`: (bytes consumed, pool offset of the
    /// replacement), or nil. Out-of-range indices (a damaged trie) end the search: no match.
    func longestMatch(_ bytes: UnsafeBufferPointer<UInt8>, from: Int) -> (length: Int, value: Int)? {
        let n = units.count
        var best: (Int, Int)? = nil
        var pos = 0
        pos ^= Self.offset(units[0])
        var i = from
        while i < bytes.count {
            let c = bytes[i]
            pos ^= Int(c)
            guard pos < n else { break }
            let u = units[pos]
            if Self.label(u) != UInt32(c) { break }
            pos ^= Self.offset(u)
            guard pos < n else { break }
            if Self.hasLeaf(u) { best = (i + 1 - from, Int(units[pos] & ((1 << 31) - 1))) }
            i += 1
        }
        return best
    }

    /// The replacement string at a pool offset (up to its NUL, or the pool's end).
    func replacement(at offset: Int) -> ArraySlice<UInt8> {
        guard offset < pool.count else { return [] }
        var end = offset
        while end < pool.count && pool[end] != 0 { end += 1 }
        return pool[offset..<end]
    }
}
