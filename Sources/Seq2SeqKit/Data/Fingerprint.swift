/// A fast 64-bit fingerprint of a byte stream (not cryptographic): it tells whether a corpus or a
/// vocabulary is the one a prepared corpus or a checkpoint was made from. Eight bytes at a time,
/// each word mixed by a multiply-xorshift; bytes fed in any chunking give the same value.
public struct Hasher64: Sendable {
    private var state: UInt64 = 0x243F_6A88_85A3_08D3
    private var pending: UInt64 = 0
    private var pendingBytes = 0
    private var total: UInt64 = 0

    /// An empty fingerprint.
    public init() {}

    @inline(__always) private static func mix(_ h: UInt64, _ w: UInt64) -> UInt64 {
        var x = (h ^ w) &* 0x9E37_79B9_7F4A_7C15
        x ^= x >> 29
        return x &* 0xBF58_476D_1CE4_E5B9
    }

    /// Feeds bytes; the fingerprint depends on the bytes and their order, not on how they are split into calls.
    public mutating func add(_ bytes: UnsafeRawBufferPointer) {
        var i = 0
        let n = bytes.count
        total &+= UInt64(n)
        // Finish a partial word first.
        while pendingBytes > 0 && i < n {
            pending |= UInt64(bytes[i]) << (8 * UInt64(pendingBytes))
            pendingBytes += 1; i += 1
            if pendingBytes == 8 { state = Self.mix(state, pending); pending = 0; pendingBytes = 0 }
        }
        while i + 8 <= n {
            state = Self.mix(state, bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self))
            i += 8
        }
        while i < n {
            pending |= UInt64(bytes[i]) << (8 * UInt64(pendingBytes))
            pendingBytes += 1; i += 1
        }
    }

    /// Feeds a string's UTF-8 bytes.
    public mutating func add(_ s: String) {
        var s = s
        s.withUTF8 { add(UnsafeRawBufferPointer($0)) }
    }

    /// The fingerprint as 16 hex digits.
    public var hex: String {
        var h = state
        if pendingBytes > 0 { h = Self.mix(h, pending) }
        h = Self.mix(h, total)
        let s = String(h, radix: 16)
        return String(repeating: "0", count: 16 - s.count) + s
    }
}

extension Vocabulary {
    /// What decides how text becomes ids: the normalizer, the mode and every piece in id order
    /// (merges follow from the pieces). Two vocabularies with the same fingerprint encode alike.
    public var fingerprint: String {
        var h = Hasher64()
        h.add("\(normalizer.form.rawValue) \(normalizer.lowercase) \(normalizer.cleanWhitespace) \(characterLevel)\(byteLevel != nil ? " byte-level" : "")\n")
        for p in pieces { h.add(p); h.add("\u{0}") }
        for (a, b) in merges { h.add(a); h.add(" "); h.add(b); h.add("\u{0}") }
        return h.hex
    }
}
