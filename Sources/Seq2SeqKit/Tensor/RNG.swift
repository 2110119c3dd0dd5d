/// xoshiro256** seeded through SplitMix64: fast, reproducible and small enough to save in a
/// checkpoint (`state`), so dropout masks and batch order repeat exactly after `--resume`.
public struct RNG: RandomNumberGenerator, Codable, Sendable, Equatable {
    /// The generator's four state words (what a checkpoint saves to continue the stream).
    public var state: [UInt64]

    /// A generator whose state is derived from `seed` by SplitMix64; the same seed gives the same stream.
    public init(seed: UInt64) {
        var z = seed
        var s = [UInt64](repeating: 0, count: 4)
        for i in 0..<4 {
            s[i] = Self.splitMix64(z)
            z &+= 0x9E37_79B9_7F4A_7C15
        }
        state = s
    }

    /// One SplitMix64 output: `z` advanced by the golden-ratio increment, then finalized (Steele et al.'s
    /// mixer). Seeds the state above and folds several numbers into one seed (`BPEDropoutCorpus`).
    @inline(__always)
    static func splitMix64(_ z: UInt64) -> UInt64 {
        var x = z &+ 0x9E37_79B9_7F4A_7C15
        x = (x ^ (x >> 30)) &* 0xBF58_476D_1CE4_E5B9
        x = (x ^ (x >> 27)) &* 0x94D0_49BB_1331_11EB
        return x ^ (x >> 31)
    }

    /// The next 64 random bits.
    @inline(__always)
    public mutating func next() -> UInt64 {
        withRegisters { $0.next() }
    }

    /// Uniform in [0, 1) with 24 random bits.
    @inline(__always)
    public mutating func nextFloat() -> Float {
        withRegisters { $0.nextFloat() }
    }

    /// Runs `body` on the same stream with the state held in four locals, written back at the end:
    /// loops that draw once per element (dropout masks, millions of draws per training step) would
    /// otherwise pay the Array behind `state` a uniqueness and a bounds check per draw.
    @inline(__always)
    public mutating func withRegisters<R>(_ body: (inout Xoshiro256) throws -> R) rethrows -> R {
        var g = Xoshiro256(state[0], state[1], state[2], state[3])
        defer { state[0] = g.s0; state[1] = g.s1; state[2] = g.s2; state[3] = g.s3 }
        return try body(&g)
    }

    /// Standard normal (Box-Muller), for initialization.
    public mutating func nextGaussian() -> Float {
        let u1 = max(Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0), 1e-300)
        let u2 = Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0)
        return Float((-2 * _log(u1)).squareRoot() * _cos(2 * Double.pi * u2))
    }

}

/// xoshiro256** itself, on a state in registers (`RNG.withRegisters` lends one).
public struct Xoshiro256 {
    @usableFromInline var s0, s1, s2, s3: UInt64

    @inlinable init(_ s0: UInt64, _ s1: UInt64, _ s2: UInt64, _ s3: UInt64) {
        self.s0 = s0; self.s1 = s1; self.s2 = s2; self.s3 = s3
    }

    /// The next 64 random bits (xoshiro256**).
    @inline(__always)
    public mutating func next() -> UInt64 {
        let result = Self.rotl(s1 &* 5, 7) &* 9
        let t = s1 << 17
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = Self.rotl(s3, 45)
        return result
    }

    /// Uniform in [0, 1) with 24 random bits.
    @inline(__always)
    public mutating func nextFloat() -> Float {
        Float(next() >> 40) * (1.0 / 16_777_216.0)
    }

    @inline(__always) static func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }
}

import RealModule
@inline(__always) private func _log(_ x: Double) -> Double { Double.log(x) }
@inline(__always) private func _cos(_ x: Double) -> Double { Double.cos(x) }
