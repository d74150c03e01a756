// kernels/cpu/conv_direct_s2.hpp — 2-D convolution at stride 2 computed in place, without im2col,
// where an output row fits one vector: a ResNet's downsampling layers (16x28x28 -> 14x14 and
// 32x14x14 -> 7x7, 3x3 windows). Each vector of the output holds one row (or two, where two fit),
//   y[o, oy, :] += w[o, c, ky, kx] * x[c, 2 oy - P + ky D, 2 ox - P + kx D  for ox < OW]
// over (c, ky, kx); the strided, shifted input row is one permute (pair_lanes) of the input row(s)
// loaded once per (c, ky). A tile of OB output channels x RB vectors stays in registers across the
// whole reduction: per (c, ky, kx), RB permutes and OB broadcasts feed OB*RB FMAs.
// im2col + GEMM wrote the unrolled input (C*KH*KW values per output, 113 KB a sample at 16x28x28)
// to L2 and read it back: 30 % of those layers' forward (perf), bound by the stores. At AVX-512
// (direct_s2_blocking says why not at AVX2).
//
//   x (C, H, W)   w (O, C, KH, KW)   b (O)   y (O, OH, OW)    one sample
#pragma once
#include <algorithm>
#include <cstdint>
#include <type_traits>
#include <utility>

#include "typenet/kernels/cpu/common.hpp"
#include "typenet/kernels/cpu/conv_geometry.hpp"
#include "typenet/kernels/cpu/dispatch.hpp"

namespace typenet::kernels::cpu {

template <class T, class Arch>
struct direct_s2_blocking {
    // AVX-512 only. At AVX2 (8 lanes: only the 7-column layer fits) a pick is two permutes, a blend
    // and a mask, and 4 x 1 accumulators are all its 16 registers allow: conv_bench, batch 64, one
    // thread, forward, 32x14x14 -> 64 k3 s2 1,953-1,971 us by im2col + GEMM against 3,510-3,756
    // direct, and 1x1 at stride 2 300 against 790-907.
    static constexpr bool available = has_lane_permute<Arch, T> && std::is_base_of_v<xsimd::avx512f, Arch>;
    static constexpr index_t w = xsimd::batch<T, Arch>::size;
    // OB output channels x RB vectors in registers (and the 2 RB input vectors, RB permuted ones):
    // 16 x 1, one permute per 16 FMAs. conv_bench, batch 64, one thread, forward, ResNet 16x28x28 ->
    // 32 k3 s2 / 32x14x14 -> 64 k3 s2, against im2col + GEMM at 1,209-1,271 / 1,215-1,235 us:
    // 16 x 1 1,095-1,180 / 1,206-1,323, 12 x 2 1,112-1,132 / 1,160-1,251 (but 12 leaves a padded
    // block of 32 and 64 channels), 8 x 2 1,135-1,195 / 1,205-1,235, 16 x 2 (spills) 1,232-1,388,
    // 6 x 4 1,393-1,485.
    static constexpr index_t ob = 16;
    static constexpr index_t rb = 1;
};
constexpr index_t direct_s2_max_kw = 16, direct_s2_max_kh = 16;

// Output rows per vector: two where two rows fit one vector and an input row fits one (a pair of
// vectors then holds two input rows), else one (an input row in a pair of vectors). Over the Arch:
// compiled into each ISA's kernel (dispatch.hpp).
template <class Arch>
inline index_t direct_s2_rows_per_vector(Arch, const conv2d_geometry& g, index_t lanes) {
    return 2 * g.ow() <= lanes && g.w <= lanes ? 2 : 1;
}

// Whether conv2d_direct_s2 takes g at an ISA of `lanes` float lanes that has the kernel.
template <class T>
inline bool direct_s2_fits(const conv2d_geometry& g, index_t lanes) {
    return std::is_same_v<T, float> && g.stride == 2 && g.groups == 1 && g.kw <= direct_s2_max_kw &&
           g.kh <= direct_s2_max_kh && g.oh() > 0 &&
           g.ow() > 0 && g.ow() <= lanes && g.w <= 2 * lanes;
}

// Scratch for the kernel's packed weights at any ISA: (O + 16) * C*KH*KW values (the last block of
// channels is padded with zero weights).
inline index_t direct_s2_packed_size(const conv2d_geometry& g) { return (g.o + 16) * g.c * g.kh * g.kw; }

namespace detail {
// The tap picks of a stride-2 row: pick[kx] takes lane j of a vector (output row r = j / OW of its
// RPV, column ox = j % OW) from input column 2 ox - P + kx D of that row's input, held in a pair
// of vectors (value r W + column where two rows share the pair), zero where the column is outside
// the image. Used by the forward kernel and by im2col at stride 2 (RPV 1).
template <class Arch>
inline void stride2_picks(const conv2d_geometry& g, index_t ow, index_t rpv, pair_lanes<Arch>* pick) {
    constexpr index_t w = pair_lanes<Arch>::w;
    for (index_t kx = 0; kx < g.kw; ++kx) {
        std::int32_t idx[w];
        for (index_t j = 0; j < w; ++j) {
            const index_t r = j / ow, ox = j % ow, ix = 2 * ox - g.pad + kx * g.dilation;
            idx[j] = r < rpv && ix >= 0 && ix < g.w ? std::int32_t((rpv == 1 ? 0 : r * w) + ix) : -1;
        }
        pick[kx] = pair_lanes<Arch>(idx);
    }
}

// The input rows of one tile, for each (ky, vector r, row q of the vector's RPV): a pointer to the
// row in channel 0 and the step to the next channel; rows outside the image (or past OH) read a
// zero row with step 0. No test in the reduction.
template <class T, index_t RB>
struct s2_rows {
    const T* at[direct_s2_max_kh][RB][2];
    index_t step[direct_s2_max_kh][RB][2];
};

// One tile: OB output channels (the first `valid` stored) x RB vectors of RPV output rows from oy0
// (rows past OH are not stored). wp: the block's packed weights, (C, KH, KW, OB); y at (o0, 0, 0).
// Rows are loaded as whole vectors (the lanes past a row are never picked) where that stays inside
// the sample, else masked: nothing past the sample is read.
template <index_t OB, index_t RB, class Arch, class T>
inline void conv_direct_s2_tile(const conv2d_geometry& g, index_t rpv, const pair_lanes<Arch>* pick,
                                const s2_rows<T, RB>& rows, const T* wp, const T* bias, index_t valid, T* y,
                                index_t oy0) {
    using batch = xsimd::batch<T, Arch>;
    constexpr index_t w = batch::size;
    const index_t oh = g.oh(), ow = g.ow(), s = oh * ow;
    batch acc[OB][RB];
#pragma GCC unroll 16
    for (index_t o = 0; o < OB; ++o)
#pragma GCC unroll 16
        for (index_t r = 0; r < RB; ++r) acc[o][r] = batch(o < valid ? bias[o] : T(0));
    auto reduce = [&](index_t ch, auto masked) {
        for (index_t ky = 0; ky < g.kh; ++ky) {
            batch a[RB][2];
#pragma GCC unroll 16
            for (index_t r = 0; r < RB; ++r) {
                const T* p0 = rows.at[ky][r][0] + ch * rows.step[ky][r][0];
                if (rpv == 1) {
                    if constexpr (decltype(masked)::value) load_pair<Arch>(p0, g.w, a[r][0], a[r][1]);
                    else a[r][0] = batch::load_unaligned(p0), a[r][1] = batch::load_unaligned(p0 + w);
                } else {
                    const T* p1 = rows.at[ky][r][1] + ch * rows.step[ky][r][1];
                    if constexpr (decltype(masked)::value) a[r][0] = load_first<Arch>(p0, g.w), a[r][1] = load_first<Arch>(p1, g.w);
                    else a[r][0] = batch::load_unaligned(p0), a[r][1] = batch::load_unaligned(p1);
                }
            }
            const T* wk = wp + (ch * g.kh + ky) * g.kw * OB;     // w[o0 + o, ch, ky, kx] = wk[kx * OB + o]
            for (index_t kx = 0; kx < g.kw; ++kx) {
                batch v[RB];
#pragma GCC unroll 16
                for (index_t r = 0; r < RB; ++r) v[r] = pick[kx](a[r][0], a[r][1]);
#pragma GCC unroll 16
                for (index_t o = 0; o < OB; ++o) {
                    const batch wv(wk[kx * OB + o]);
#pragma GCC unroll 16
                    for (index_t r = 0; r < RB; ++r) acc[o][r] = xsimd::fma(wv, v[r], acc[o][r]);
                }
            }
        }
    };
    // Whole-vector loads while the furthest one, from the last row of a channel, ends inside the
    // sample: ch * HW + (H - 1) W + (2 or 1) w <= C HW. Then masked loads for the rest (the last
    // channel, more where a channel holds fewer than 2 w values).
    const index_t plane = g.h * g.w, reach = (g.h - 1) * g.w + (rpv == 1 ? 2 : 1) * w;
    const index_t whole = std::clamp<index_t>(g.c * plane >= reach ? (g.c * plane - reach) / plane + 1 : 0, 0, g.c);
    for (index_t ch = 0; ch < whole; ++ch) reduce(ch, std::false_type{});
    for (index_t ch = whole; ch < g.c; ++ch) reduce(ch, std::true_type{});
    for (index_t r = 0; r < RB; ++r) {
        const index_t oy = oy0 + r * rpv, n = std::min(rpv, oh - oy);
        if (n <= 0) break;
#pragma GCC unroll 16
        for (index_t o = 0; o < OB; ++o)                        // unrolled: acc stays in registers
            if (o < valid) store_upto(acc[o][r], y + o * s + oy * ow, n * ow);
    }
}

// wp (C, KH, KW, OB) := w[o0 + o, c, ky, kx] for the `valid` channels from wt (at o0), zero for the
// rest of the block.
template <index_t OB, class T>
inline void conv_direct_s2_pack(const conv2d_geometry& g, const T* wt, index_t valid, T* wp) {
    const index_t k = g.c * g.kh * g.kw;
    for (index_t j = 0; j < k; ++j)
        for (index_t o = 0; o < OB; ++o) wp[j * OB + o] = o < valid ? wt[o * k + j] : T(0);
}
}  // namespace detail

// y = conv(x, w) + b for n samples side by side (x (n, C, H, W), y (n, O, OH, OW)), g stride 2 with
// direct_s2_fits(g, lanes of Arch); wp: scratch of direct_s2_packed_size(g).
struct conv2d_direct_s2 {
    template <class Arch, class T>
    void operator()(Arch, const conv2d_geometry& g, index_t n, const T* x, const T* wt, const T* bias, T* y,
                    T* wp) const;
};

template <class Arch, class T>
inline void conv2d_direct_s2::operator()(Arch, const conv2d_geometry& g, index_t n, const T* x, const T* wt,
                                         const T* bias, T* y, T* wp) const {
    using blk = direct_s2_blocking<T, Arch>;
    if constexpr (!blk::available) {
        (void)g, (void)n, (void)x, (void)wt, (void)bias, (void)y, (void)wp;   // not in the table: never called
    } else {
        constexpr index_t w = blk::w, ob = blk::ob, rb = blk::rb;
        const index_t oh = g.oh(), ow = g.ow(), rpv = direct_s2_rows_per_vector(Arch{}, g, w), k = g.c * g.kh * g.kw;
        const index_t s = oh * ow, plane = g.h * g.w, tile_rows = rb * rpv;
        pair_lanes<Arch> pick[direct_s2_max_kw];
        detail::stride2_picks(g, ow, rpv, pick);
        alignas(64) static constexpr T zero_row[2 * w] = {};
        // Weights packed once for all n samples: blocks of OB channels, then the rest in one block
        // of OB (more than OB / 2 left) or OB / 2, padded with zero weights; two instances per ISA.
        const index_t full = g.o / ob * ob, rest = g.o - full;
        for (index_t o = 0; o < full; o += ob) detail::conv_direct_s2_pack<ob>(g, wt + o * k, ob, wp + o * k);
        if (rest > ob / 2) detail::conv_direct_s2_pack<ob>(g, wt + full * k, rest, wp + full * k);
        else if (rest > 0) detail::conv_direct_s2_pack<ob / 2>(g, wt + full * k, rest, wp + full * k);
        // A sample within L1 (32 KB): each block of channels sweeps all its rows, its weights in L1;
        // a larger one (16x28x28, 50 KB): each band of rows meets every block while in L1.
        const bool channels_outer = plane * g.c * index_t(sizeof(T)) <= (index_t(32) << 10);
        for (index_t b = 0; b < n; ++b) {
            const T* xb = x + b * g.c * plane;
            T* yb = y + b * g.o * s;
            auto band = [&](index_t oy0) {
                detail::s2_rows<T, rb> rows;
                for (index_t ky = 0; ky < g.kh; ++ky)
                    for (index_t r = 0; r < rb; ++r)
                        for (index_t q = 0; q < 2; ++q) {
                            const index_t oy = oy0 + r * rpv + q, iy = 2 * oy - g.pad + ky * g.dilation;
                            const bool in = q < rpv && oy < oh && iy >= 0 && iy < g.h;
                            rows.at[ky][r][q] = in ? xb + iy * g.w : zero_row;
                            rows.step[ky][r][q] = in ? plane : 0;
                        }
                return rows;
            };
            auto block = [&](index_t o, const detail::s2_rows<T, rb>& rows, index_t oy0) {
                const index_t valid = std::min(ob, g.o - o);
                if (valid == ob || valid > ob / 2)
                    detail::conv_direct_s2_tile<ob, rb, Arch>(g, rpv, pick, rows, wp + o * k, bias + o, valid, yb + o * s, oy0);
                else
                    detail::conv_direct_s2_tile<ob / 2, rb, Arch>(g, rpv, pick, rows, wp + o * k, bias + o, valid,
                                                                  yb + o * s, oy0);
            };
            if (channels_outer) {
                for (index_t o = 0; o < g.o; o += ob)
                    for (index_t oy0 = 0; oy0 < oh; oy0 += tile_rows) block(o, band(oy0), oy0);
            } else {
                for (index_t oy0 = 0; oy0 < oh; oy0 += tile_rows) {
                    const detail::s2_rows<T, rb> rows = band(oy0);
                    for (index_t o = 0; o < g.o; o += ob) block(o, rows, oy0);
                }
            }
        }
    }
}

// ---- dx of the same convolutions ------------------------------------------------------------------------
// dx = the adjoint of the stride-2 convolution, computed per phase: dx's even columns 2j and odd
// columns 2j + 1 are each a sum of dy rows shifted by whole columns,
//   dx[c, iy, 2 j + e] = sum over o, ky with iy + P - ky D = 2 oy, kx with e + P - kx D = 2 sh:
//                        w[o, c, ky, kx] * dy[o, oy, j + sh]
// so each term is one (masked) load of a dy row, no permute, and each phase is zipped into dx's
// row once at the end. A vector holds the phase of RPV dx rows of one parity (iy, iy + 2, ...),
// lane r OW + j, since their dy rows oy, oy + 1, ... lie one after another: one load covers them.
// CB input channels x the two phases stay in registers across the (o, ky, kx) reduction. Every
// value of dx is written (zeros where no window reaches), so dx needs no clearing. It replaces
// dcol = w^T dy (a GEMM that wrote C*KH*KW values per output position) and col2im's gather.
constexpr index_t direct_s2_dx_cb = 16;

// Whether conv2d_direct_s2_dx takes g at an ISA of `lanes` float lanes that has the kernel: each
// phase of a dx row fits the OW lanes of its dy row.
template <class T>
inline bool direct_s2_dx_fits(const conv2d_geometry& g, index_t lanes) {
    return direct_s2_fits<T>(g, lanes) && (g.w + 1) / 2 <= g.ow();
}

// Scratch for the packed weights: (C + CB) * O*KH*KW values.
inline index_t direct_s2_dx_packed_size(const conv2d_geometry& g) {
    return (g.c + direct_s2_dx_cb) * g.o * g.kh * g.kw;
}

// wp := w in blocks of CB input channels, each (KH, KW, O, CB), zero past C.
template <class T>
inline void direct_s2_dx_pack(const conv2d_geometry& g, const T* w, T* wp) {
    constexpr index_t cb = direct_s2_dx_cb;
    const index_t kk = g.kh * g.kw;
    for (index_t c0 = 0; c0 < g.c; c0 += cb)
        for (index_t t = 0; t < kk; ++t)
            for (index_t o = 0; o < g.o; ++o)
                for (index_t c = 0; c < cb; ++c)
                    wp[c0 * g.o * kk + (t * g.o + o) * cb + c] = c0 + c < g.c ? w[(o * g.c + c0 + c) * kk + t] : T(0);
}

namespace detail {
// What a dx tile needs of each tap kx, the same for every tile: its phase e (e + P - kx D even), the
// shift sh of dy's columns (j + sh), and the lanes r OW + j with j inside dx's phase (j < WE) and
// j + sh inside dy's row.
struct s2_dx_taps {
    index_t count[2] = {0, 0}, kx[2][direct_s2_max_kw];
    index_t shift[direct_s2_max_kw];
    unsigned lanes[direct_s2_max_kw];
};

// One tile of dx: CB channels (the first `valid` stored) x RPV rows iy0, iy0 + 2, ... (`rows` of
// them in dx) of one parity, both phases.
template <class Arch, class T>
inline void conv_direct_s2_dx_tile(const conv2d_geometry& g, index_t rpv, index_t rows, const s2_dx_taps& taps,
                                   const T* dy, const T* wp, T* dx, index_t iy0, index_t valid) {
#if defined(__AVX512F__)
    using batch = xsimd::batch<T, Arch>;
    constexpr index_t w = batch::size, cb = direct_s2_dx_cb;
    const index_t oh = g.oh(), ow = g.ow(), s = oh * ow;
    // The windows rows ky that reach dx's row iy0 (one parity: the same for the tile's rows), the
    // dy row oy0 each reads, and the lanes of the tile's rows whose dy row oy0 + r is inside dy.
    index_t nky = 0, kys[direct_s2_max_kh], oy0s[direct_s2_max_kh];
    unsigned row_lanes[direct_s2_max_kh];
    for (index_t ky = 0; ky < g.kh; ++ky) {
        const index_t t = iy0 + g.pad - ky * g.dilation;                             // 2 oy0
        if (t % 2 != 0) continue;
        unsigned m = 0;
        for (index_t r = 0; r < rows; ++r)
            if (t / 2 + r >= 0 && t / 2 + r < oh) m |= ((1u << ow) - 1u) << (r * ow);
        if (m == 0) continue;
        kys[nky] = ky, oy0s[nky] = t / 2, row_lanes[nky] = m;
        ++nky;
    }
    const auto at = [](const T* p, std::ptrdiff_t d) {             // p + d without forming an out-of-range pointer
        return reinterpret_cast<const T*>(reinterpret_cast<std::uintptr_t>(p) + std::uintptr_t(d * std::ptrdiff_t(sizeof(T))));
    };
    // One phase at a time, CB accumulators: for each window row and tap of the phase, the sum over
    // o is a masked load of dy and CB independent FMAs (mask, offset fixed through the loop). Both
    // phases' 2 x 8 accumulators live (each then takes one FMA per o, at the FMA's latency):
    // conv_bench, the 16x28x28 layer's backward, 2,373-2,582 us against 2,322-2,402 this way (three
    // alternating runs); the 32x14x14 layer's the same either way.
    alignas(64) T even[cb * w];                                    // phase 0's sums, until zipped
    batch odd[cb];
    auto phase = [&](auto e) {
        constexpr index_t ph = decltype(e)::value;
        batch acc[cb];
#pragma GCC unroll 16
        for (index_t c = 0; c < cb; ++c) acc[c] = batch(T(0));
        for (index_t i = 0; i < nky; ++i)
            for (index_t q = 0; q < taps.count[ph]; ++q) {
                const index_t kx = taps.kx[ph][q];
                const __mmask16 mask = __mmask16(taps.lanes[kx] & row_lanes[i]);
                std::ptrdiff_t d = std::ptrdiff_t(oy0s[i] * ow + taps.shift[kx]);   // may be before dy: masked off
                const T* wk = wp + (kys[i] * g.kw + kx) * g.o * cb;   // (o, c)
                for (index_t o = 0; o < g.o; ++o, d += s, wk += cb) {
                    const batch v = _mm512_maskz_loadu_ps(mask, at(dy, d));
#pragma GCC unroll 16
                    for (index_t c = 0; c < cb; ++c) acc[c] = xsimd::fma(batch(wk[c]), v, acc[c]);
                }
            }
#pragma GCC unroll 16
        for (index_t c = 0; c < cb; ++c) {
            if constexpr (ph == 0) acc[c].store_aligned(even + c * w);
            else odd[c] = acc[c];
        }
    };
    phase(std::integral_constant<index_t, 0>{});
    phase(std::integral_constant<index_t, 1>{});
    // Row r of the tile is zipped lanes [2 r OW, 2 r OW + W).
#pragma GCC unroll 16
    for (index_t c = 0; c < cb; ++c) {
        if (c >= valid) break;
        batch z0, z1;
        zip<Arch>(batch::load_aligned(even + c * w), odd[c], z0, z1);
        T* out = dx + c * g.h * g.w + iy0 * g.w;
        if (rpv == 1) {
            store_pair<Arch>(z0, z1, out, g.w);
        } else {
            store_upto(z0, out, g.w);
            if (rows > 1) {
                const __m512i from = _mm512_add_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                                      _mm512_set1_epi32(int(2 * ow)));
                store_upto(batch(_mm512_permutex2var_ps(z0, from, z1)), out + 2 * g.w, g.w);
            }
        }
    }
#else
    (void)g, (void)rpv, (void)rows, (void)taps, (void)dy, (void)wp, (void)dx, (void)iy0, (void)valid;
#endif
}
}  // namespace detail

// dx = the adjoint of y = conv(x, w) (stride 2) for n samples side by side, dy (n, O, OH, OW) to
// dx (n, C, H, W), overwritten; g with direct_s2_dx_fits(g, lanes of Arch); wp from
// direct_s2_dx_pack.
struct conv2d_direct_s2_dx {
    template <class Arch, class T>
    void operator()(Arch, const conv2d_geometry& g, index_t n, const T* dy, const T* wp, T* dx) const;
};

template <class Arch, class T>
inline void conv2d_direct_s2_dx::operator()(Arch, const conv2d_geometry& g, index_t n, const T* dy, const T* wp,
                                            T* dx) const {
    using blk = direct_s2_blocking<T, Arch>;
    if constexpr (!blk::available) {
        (void)g, (void)n, (void)dy, (void)wp, (void)dx;            // not in the table: never called
    } else {
        constexpr index_t w = blk::w, cb = direct_s2_dx_cb;
        const index_t ow = g.ow(), s = g.oh() * ow, rpv = direct_s2_rows_per_vector(Arch{}, g, w);   // g.w <= 2 OW
        const index_t we[2] = {(g.w + 1) / 2, g.w / 2};                   // dx's even and odd columns
        detail::s2_dx_taps taps;
        for (index_t kx = 0; kx < g.kw; ++kx) {
            const index_t u = g.pad - kx * g.dilation, e = u % 2 != 0 ? 1 : 0, sh = (e + u) / 2;
            taps.kx[e][taps.count[e]++] = kx;
            taps.shift[kx] = sh;
            unsigned m = 0;
            for (index_t lane = 0; lane < w; ++lane) {
                const index_t r = lane / ow, j = lane % ow;
                m |= r < rpv && j < we[e] && j + sh >= 0 && j + sh < ow ? 1u << lane : 0u;
            }
            taps.lanes[kx] = m;
        }
        for (index_t b = 0; b < n; ++b)
            for (index_t c0 = 0; c0 < g.c; c0 += cb)
                for (index_t parity = 0; parity < 2; ++parity)
                    for (index_t iy0 = parity; iy0 < g.h; iy0 += 2 * rpv) {
                        const index_t rows = std::min(rpv, (g.h - iy0 + 1) / 2);
                        detail::conv_direct_s2_dx_tile<Arch>(g, rpv, rows, taps, dy + b * g.o * s,
                                                             wp + c0 * g.o * g.kh * g.kw,
                                                             dx + (b * g.c + c0) * g.h * g.w, iy0,
                                                             std::min(cb, g.c - c0));
                    }
    }
}

}  // namespace typenet::kernels::cpu
