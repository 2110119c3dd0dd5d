#if OneDNN
import CDNNL
#endif
import CKernels
import Foundation
#if canImport(Glibc)
import Glibc
#endif

// The one door to int8 products: C[N, O] (int32) = Xu[N, K] (u8) · Wq[O, K]ᵀ (s8), exactly, by one of
// three engines. Dims legend: N rows, O output features, K the padded row length (a multiple of 32).
//
// Unsigned activations times signed weights is what the x86 instructions take (vpmaddubsw,
// vpdpbusd). Without VNNI, vpmaddubsw adds two u8 · s8 products into a saturating int16: with
// activations below 128 (7 bits) and weights in [-127, 127] a pair stays below 2 · 127 · 127 = 32,258,
// so the sums are exact. oneDNN's AVX2 kernels use the same instruction and carry the same limit
// (its dev guide, "Int8 computation aspects"). VNNI's vpdpbusd adds each product in 32 bits, so
// its engines take 8-bit activations. The activation range is chosen per engine for that
// (`Int8Activations.range(for:)`), and every engine computes the same integers for the same bytes.

/// The engines of int8 products (`SEQ2SEQ_INT8_ENGINE`, ``MatmulSelection/int8``); all compute the same integers.
public enum Int8Engine: String, CaseIterable, Sendable {
    /// Plain Swift loops over integers: any processor.
    case portable
    /// Our tiles with AVX2 intrinsics (CKernels/kernels_int8_avx2.h): the few rows of decoding,
    /// where the kernels run at the AVX2 level or above.
    case avx2
    /// VNNI's vpdpbusd, one instruction per 32 multiply-adds (64 with zmm) instead of three, the same
    /// integers: with AVX512-VNNI at the AVX-512 level, our kernel over W's packed layout
    /// (CKernels/kernels_int8_packed_avx512vnni.c, every row count); with AVX-VNNI only, the
    /// row-major tiles (CKernels/kernels_int8_vnni_avx.c).
    case vnni
    /// oneDNN's dnnl_gemm_u8s8s32: many rows (encoder, batched beam search), where it packs both
    /// operands into its own blocked layouts.
    case onednn

    /// Whether its sums stay exact with 8-bit activations: every u8 · s8 product added in 32 bits
    /// (VNNI's vpdpbusd, the portable loops, oneDNN where the processor has AVX512-VNNI), not in
    /// vpmaddubsw's saturating int16 pairs.
    public var takesEightBits: Bool {
        switch self {
        case .vnni, .portable: return true
        case .onednn: return CPUFeatures.hasAVX512VNNI
        case .avx2: return false
        }
    }

    /// Whether this build and processor can run it.
    public var isAvailable: Bool {
        switch self {
        case .portable: return true
        case .onednn:
            // The static single-file build (the OneDNN trait off) has no oneDNN: Debian ships no static libdnnl.
            #if !OneDNN
            return false
            #else
            return true
            #endif
        case .avx2:
            return s2s_int8_tiles_available() != 0
        case .vnni:
            return s2s_int8_vnni_tiles_available() != 0
        }
    }
}

/// The door to int8 products: which engine a product of a given row count goes to.
public enum Int8Gemm {
    /// The engine a product of `n` rows goes to under `MatmulSelection.current`: its `int8` engine
    /// when set and available, otherwise oneDNN from `int8OneDNNFromRows` rows (when available) and
    /// our tiles (or the portable loops) below.
    @inline(__always)
    public static func engine(rows n: Int) -> Int8Engine {
        let selection = MatmulSelection.current
        if let f = selection.int8, f.isAvailable { return f }
        // With AVX512-VNNI our kernel reads W in its packed layout, with no per-call packing and the
        // dequantization in registers: faster than oneDNN's at every row count measured (1 to 640;
        // see `packedFromEveryRow`).
        if packedFromEveryRow { return .vnni }
        return n >= selection.int8OneDNNFromRows && Int8Engine.onednn.isAvailable ? .onednn : ownEngine
    }

    /// Whether every int8 product goes to our VNNI kernel over W's packed layout: where AVX512-VNNI
    /// runs. Measured on AMD EPYC Zen 4 (`seq2seq bench kernels --int8`, GOP/s, ours | oneDNN) at the
    /// shapes of a d-256 model (q/k/v 256 × 256, fc1 1024 × 256, fc2 256 × 1024, output 8000 × 256):
    /// 1 thread, 1 row 163-190 | 140-191, 5 rows 302-335 | 145-198, 160 rows 373-416 | 335-374,
    /// 640 rows 373-411 | 307-384; 2 threads, 160 rows 591-833 | 487-610.
    static var packedFromEveryRow: Bool { s2s_int8_packed_available() != 0 }

    /// The engine of a product whose rows oneDNN does not take: our tiles where the build has them.
    static var ownEngine: Int8Engine { Int8Engine.vnni.isAvailable ? .vnni : Int8Engine.avx2.isAvailable ? .avx2 : .portable }

    /// C[N, O] = Xu · Wqᵀ through oneDNN (int32, row-major, ldc = O). C is overwritten, so on a
    /// failure (thrown, and recorded in `OneDNNFailures`) the caller recomputes it with `ownEngine`.
    static func oneDNN(_ c: UnsafeMutablePointer<Int32>, _ xu: UnsafePointer<UInt8>, _ w: QuantizedMatrix,
                       rows n: Int) throws(OneDNNError) {
        #if !OneDNN
        portable(c, xu, w, rows: n)  // never chosen: `engine(rows:)` asks isAvailable
        #else
        var zero: Int32 = 0
        let k = w.stride
        OneDNN.prepareThreads()
        try OneDNN.call(.execution, "dnnl_gemm_u8s8s32 \(n)×\(w.rows)×\(k)") {
            dnnl_gemm_u8s8s32(
                CChar(UInt8(ascii: "N")), CChar(UInt8(ascii: "T")), CChar(UInt8(ascii: "F")),
                dnnl_dim_t(n), dnnl_dim_t(w.rows), dnnl_dim_t(k), 1, xu, dnnl_dim_t(k), 0,
                w.values, dnnl_dim_t(k), 0, 0, c, dnnl_dim_t(w.rows), &zero)
        }
        #endif
    }

    /// C[N, O] in plain integer loops: the reference the other engines are tested against.
    static func portable(_ c: UnsafeMutablePointer<Int32>, _ xu: UnsafePointer<UInt8>, _ w: QuantizedMatrix, rows n: Int) {
        let k = w.stride
        for r in 0..<n {
            let x = xu + r * k
            for j in 0..<w.rows {
                let wr = w.values + j * k
                var s: Int32 = 0
                for t in 0..<k { s &+= Int32(x[t]) &* Int32(wr[t]) }
                c[r * w.rows + j] = s
            }
        }
    }
}
