// Linear layers in AVX-512 registers, included by kernels_body.h at the AVX-512 level only.
// Dims legend: R input rows (≤ 6), I input features, C output columns (rows of W[O, I]).
//
// A tile is 4 W rows × R input rows: per 16 features it loads 4 + R vectors and does 4R FMAs, so
// with R = 6 the two FMA pipes, not the loads, set the pace. 24 accumulators + 4 W vectors + 1 input
// vector fit the 32 zmm registers. The four accumulators of an input row are folded together
// (sums4), which leaves its four dot products in one 4-lane vector.

INLINE void tile_rows(float *y, const float *x, const float *w, const int R, long i, long columns, long ldy) {
    long vectorEnd = i & ~15L;
    // The tile's four W rows are a quarter of the block apart: with two input rows, where W's stream
    // from memory sets the pace, four adjacent rows ran at 24 GFLOP/s and four rows a quarter of a
    // 256 KB block apart at 34-43.
    long q = columns / 4;
    for (long j = 0; j < q; j++) {
        const float *w0 = w + j * i, *w1 = w0 + q * i, *w2 = w1 + q * i, *w3 = w2 + q * i;
        f32x16 a[6][4];
        for (int r = 0; r < 6; r++) for (int c = 0; c < 4; c++) a[r][c] = splat(0);
        for (long k = 0; k < vectorEnd; k += 16) {
            f32x16 v0 = load16(w0 + k), v1 = load16(w1 + k), v2 = load16(w2 + k), v3 = load16(w3 + k);
            for (int r = 0; r < R; r++) {
                f32x16 xv = load16(x + r * i + k);
                a[r][0] = FMA(xv, v0, a[r][0]); a[r][1] = FMA(xv, v1, a[r][1]);
                a[r][2] = FMA(xv, v2, a[r][2]); a[r][3] = FMA(xv, v3, a[r][3]);
            }
        }
        for (int r = 0; r < R; r++) {
            f32x4 s = sums4(a[r][0], a[r][1], a[r][2], a[r][3]);
            for (long t = vectorEnd; t < i; t++) {
                f32x4 wt = {w0[t], w1[t], w2[t], w3[t]};
                s += wt * x[r * i + t];
            }
            float *out = y + r * ldy + j;
            out[0] += s[0]; out[q] += s[1]; out[2 * q] += s[2]; out[3 * q] += s[3];
        }
    }
    // The last columns (fewer than 4) one W row at a time.
    for (long j = 4 * q; j < columns; j++) {
        const float *wj = w + j * i;
        for (int r = 0; r < R; r++) {
            f32x16 a = splat(0);
            for (long k = 0; k < vectorEnd; k += 16) a = FMA(load16(x + r * i + k), load16(wj + k), a);
            float s = hsum(a);
            for (long t = vectorEnd; t < i; t++) s += x[r * i + t] * wj[t];
            y[r * ldy + j] += s;
        }
    }
}

__attribute__((noinline)) static void tile1(float *y, const float *x, const float *w, long i, long c, long ldy) { tile_rows(y, x, w, 1, i, c, ldy); }
__attribute__((noinline)) static void tile2(float *y, const float *x, const float *w, long i, long c, long ldy) { tile_rows(y, x, w, 2, i, c, ldy); }
__attribute__((noinline)) static void tile3(float *y, const float *x, const float *w, long i, long c, long ldy) { tile_rows(y, x, w, 3, i, c, ldy); }
__attribute__((noinline)) static void tile4(float *y, const float *x, const float *w, long i, long c, long ldy) { tile_rows(y, x, w, 4, i, c, ldy); }
__attribute__((noinline)) static void tile5(float *y, const float *x, const float *w, long i, long c, long ldy) { tile_rows(y, x, w, 5, i, c, ldy); }
__attribute__((noinline)) static void tile6(float *y, const float *x, const float *w, long i, long c, long ldy) { tile_rows(y, x, w, 6, i, c, ldy); }

static void tile_linear(float *y, const float *x, const float *w, long rows, long i, long columns, long ldy) {
    switch (rows) {
    case 1: tile1(y, x, w, i, columns, ldy); break;
    case 2: tile2(y, x, w, i, columns, ldy); break;
    case 3: tile3(y, x, w, i, columns, ldy); break;
    case 4: tile4(y, x, w, i, columns, ldy); break;
    case 5: tile5(y, x, w, i, columns, ldy); break;
    default: tile6(y, x, w, i, columns, ldy); break;
    }
}

// MARK: - Broadcast tiles, from 28 rows
//
// With many rows the dot-product tiles spend a third of their time folding accumulators. Here x is
// transposed once (xT [I, rows padded to 16]) and a tile holds 16 W rows × 16 input rows with no
// folding: each W element is broadcast against 16 input rows of xT. The tile is transposed in
// registers at the end to add 16 contiguous outputs to each of its 16 rows of y.

static void transpose_rows(float *xT, long ldxT, const float *x, long n, long i) {
    for (long r0 = 0; r0 < n; r0 += 16) {
        for (long k0 = 0; k0 < i; k0 += 16) {
            f32x16 m[16];
            for (int r = 0; r < 16; r++) m[r] = r0 + r < n ? load16(x + (r0 + r) * i + k0) : splat(0);
            transpose16(m);
            for (int c = 0; c < 16; c++) store16(xT + (k0 + c) * ldxT + r0, m[c]);
        }
    }
}

/// One column tile: y[r, c] (+)= Σ_k W[c, k] · xT[k, r] for 16 columns c and every row r < n, with
/// W[c, k] at base[k · stride + c · step] (constants where the caller passes them, folded by inlining).
INLINE void broadcast_tile(float *y, long ldy, long n, const float *xT, long ldxT, const float *base, long step,
                           long stride, long i, int overwrite, const float *bias) {
    for (long r0 = 0; r0 < n; r0 += 16) {
        f32x16 a[16];
        for (int c = 0; c < 16; c++) a[c] = splat(0);
        const float *xp = xT + r0;
        for (long k = 0; k < i; k++) {
            f32x16 xv = load16(xp);
            const float *wk = base + stride * k;
            xp += ldxT;
            for (int c = 0; c < 16; c++) a[c] = FMA(splat(wk[c * step]), xv, a[c]);
        }
        // a[c] lane r is y[r0 + r, c]; transposed, a[r] holds row r0 + r's 16 outputs.
        transpose16(a);
        f32x16 start = overwrite && bias ? load16(bias) : splat(0);
        for (long r = 0; r < 16 && r0 + r < n; r++) {
            float *out = y + (r0 + r) * ldy;
            f32x16 before = overwrite ? start : load16(out);
            store16(out, before + a[r]);
        }
    }
}

__attribute__((noinline)) static void broadcast_packed(float *y, long ldy, long n, const float *xT, long ldxT,
                                                       const float *base, long i, int overwrite, const float *bias) {
    broadcast_tile(y, ldy, n, xT, ldxT, base, 1, 16, i, overwrite, bias);
}
__attribute__((noinline)) static void broadcast_256(float *y, long ldy, long n, const float *xT, long ldxT,
                                                    const float *base, long i, int overwrite, const float *bias) {
    broadcast_tile(y, ldy, n, xT, ldxT, base, 256, 1, i, overwrite, bias);
}
__attribute__((noinline)) static void broadcast_any(float *y, long ldy, long n, const float *xT, long ldxT,
                                                    const float *base, long step, long i, int overwrite,
                                                    const float *bias) {
    broadcast_tile(y, ldy, n, xT, ldxT, base, step, 1, i, overwrite, bias);
}

/// wt[k, c] = w[c, k] for 16 rows c (ldw apart) and k < I, by 16 × 16 blocks transposed in registers.
static void pack_tile(float *wt, const float *w, long ldw, long i) {
    long k0 = 0;
    for (; k0 + 16 <= i; k0 += 16) {
        f32x16 m[16];
        for (int c = 0; c < 16; c++) m[c] = load16(w + c * ldw + k0);
        transpose16(m);
        for (int k = 0; k < 16; k++) store16(wt + (k0 + k) * 16, m[k]);
    }
    for (long k = k0; k < i; k++) for (int c = 0; c < 16; c++) wt[k * 16 + c] = w[c * ldw + k];
}

/// A tile's 16 W rows are read in place when they are at most 1 KB apart; further apart (fc2's 4 KB
/// rows all fall into one L1 set) they are first copied feature-major into 16 KB of stack.
static void broadcast_linear(float *y, long ldy, long n, const float *xT, long ldxT, const float *w, long ldw,
                             long i, long columns, int overwrite, const float *bias) {
    float packed[256 * 16] __attribute__((aligned(64)));
    for (long j = 0; j < columns; j += 16) {
        float *out = y + j;
        const float *b = bias ? bias + j : 0;
        if (ldw > 256) {
            pack_tile(packed, w + j * ldw, ldw, i);
            broadcast_packed(out, ldy, n, xT, ldxT, packed, i, overwrite, b);
        } else if (ldw == 256) {
            broadcast_256(out, ldy, n, xT, ldxT, w + j * ldw, i, overwrite, b);
        } else {
            broadcast_any(out, ldy, n, xT, ldxT, w + j * ldw, ldw, i, overwrite, b);
        }
    }
}
