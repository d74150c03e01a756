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
constexpr index_t direct_s2_max_kw = 16, detail_s2_max_kh = 16;

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
           g.kh <= detail_s2_max_kh && g.oh() > 0 &&
           g.ow() > 0 && g.ow() <= lanes && g.w <= 2 * lanes;
}

// Scratch for the kernel's packed weights at any ISA: (O + 16) * C*KH*KW values (the last block of
// channels is padded with zero weights).
inline index_t direct_s2_packed_size(const conv2d_geometry& g) { return (g.o + 16) * g.c * g.kh * g.kw; }

namespace detail {
// The input rows of one tile, for each (ky, vector r, row q of the vector's RPV): a pointer to the
// row in channel 0 and the step to the next channel; rows outside the image (or past OH) read a
// zero row with step 0. No test in the reduction.
template <class T, index_t RB>
struct s2_rows {
    const T* at[detail_s2_max_kh][RB][2];
    index_t step[detail_s2_max_kh][RB][2];
};

// One tile: OB output channels (the first `valid` stored) x RB vectors of RPV output rows from oy0
// (rows past OH are not stored). wp: the block's packed weights, (C, KH, KW, OB); y at (o0, 0, 0). The last channel's
// rows are loaded masked (nothing past the image is read), the others whole (the lanes past a row
// are never picked).
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
    for (index_t ch = 0; ch + 1 < g.c; ++ch) reduce(ch, std::false_type{});
    reduce(g.c - 1, std::true_type{});
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
        // Lane j of a vector: output row j / OW of its RPV, column ox = j % OW; tap kx reads input
        // column 2 ox - P + kx D of that row's input (value r W + column of the pair when two rows
        // share it), zero where the column is outside the image.
        pair_lanes<Arch> pick[direct_s2_max_kw];
        for (index_t kx = 0; kx < g.kw; ++kx) {
            std::int32_t idx[w];
            for (index_t j = 0; j < w; ++j) {
                const index_t r = j / ow, ox = j % ow, ix = 2 * ox - g.pad + kx * g.dilation;
                const index_t base = rpv == 1 ? 0 : r * w;
                idx[j] = r < rpv && ix >= 0 && ix < g.w ? std::int32_t(base + ix) : -1;
            }
            pick[kx] = pair_lanes<Arch>(idx);
        }
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

}  // namespace typenet::kernels::cpu
