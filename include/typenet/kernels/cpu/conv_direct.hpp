// kernels/cpu/conv_direct.hpp — 2-D convolution computed in place, without im2col, for stride 1,
// dilation 1 and one group. The padded sample is laid out with one gap of zeros between rows, which
// is both a row's right padding and the next row's left padding, so that with a row stride of WP
// every output is a sum of one flat input sequence shifted by a constant per tap:
//   yq[o, q] += w[o, c, ky, kx] * xp[c, q + ky WP + kx],   q = oy WP + ox,
// over (c, ky, kx). A vector of outputs is any 16 (AVX-512) consecutive q, across row ends: the
// WP - OW positions past each row's end are computed and dropped when stored. A tile of OB output
// channels x RB vectors stays in registers across the whole (c, ky, kx) reduction: RB loads and
// OB broadcasts feed OB*RB FMAs. No unrolled copy of the input is written, which for few channels
// (LeNet, a ResNet's stem) costs more than the arithmetic.
//
// Against one vector per output row (the layout before, xp rows of WP >= one vector + KW - 1
// columns), the flat positions fill the lanes where a row is not a multiple of the vector: 28
// columns took two vectors (87.5 %), and three rows per tile left 28 rows 93 % used; flat, the
// ResNet's 16x28x28 layer computes 816 positions for its 784 outputs (96 %). One sample, batch 64,
// one thread, AVX-512 (a side-by-side microbenchmark, medians of 15): 16x28x28 -> 16 k3 2.62 -> 1.85
// ms (88 -> 125 GFLOP/s), LeNet's 6x14x14 -> 16 k5 425 -> 300 us, 32x14x14 -> 32 k3 2.38 -> 2.03 ms.
//
//   x (C, H, W)   w (O, C, KH, KW)   b (O)   y (O, OH, OW)    one sample
//   xp (C, plane): the padded sample, rows of WP from the top padding on; see plane()
#pragma once
#include <algorithm>
#include <type_traits>

#include "typenet/kernels/cpu/common.hpp"
#include "typenet/kernels/cpu/conv_direct_s2.hpp"
#include "typenet/kernels/cpu/dispatch.hpp"

namespace typenet::kernels::cpu {

// The most vectors a tile holds per output channel, at any ISA (direct_blocking::rb).
inline constexpr index_t direct_max_rb = 4;

struct conv_direct_geometry {
    index_t c, h, w;          // input channels, height, width
    index_t o, kh, kw;        // output channels, kernel height, width
    index_t pad;
    constexpr index_t oh() const { return h + 2 * pad - kh + 1; }
    constexpr index_t ow() const { return w + 2 * pad - kw + 1; }
    constexpr index_t hp() const { return h + 2 * pad; }
    // The padded layout's row stride: W values and a gap of at least `pad` zeros. An output row
    // reads columns [0, W + 2 pad) from its row's start, the gap of the row after included.
    constexpr index_t wp() const { return std::max(w + pad, ow()); }
    // The flat positions q = oy * WP + ox up to the last output.
    constexpr index_t positions() const { return (oh() - 1) * wp() + ow(); }
    // One channel's plane in xp: the padded rows and the next row's leading gap, or what the last
    // tile reads (direct_max_rb vectors from the last vector's start), whichever is more. A plane
    // of a multiple of 4 KB (floats) is moved off it: the same column of 16 channels then falls in
    // one L1 set, and a 16-channel layer's planes of 4,080 bytes ran 10 % slower than of 4,144.
    constexpr index_t plane(index_t lanes) const {
        const index_t vectors = (positions() + lanes - 1) / lanes + direct_max_rb - 1;
        index_t n = std::max(vectors * lanes + (kh - 1) * wp() + kw - 1, hp() * wp() + pad);
        n = (n + 15) / 16 * 16;
        if (n % 1024 < 32 || n % 1024 > 1024 - 32) n += 32;
        return n;
    }
    constexpr index_t padded_size(index_t lanes) const { return c * plane(lanes); }
};

template <class T, class Arch>
struct direct_blocking {
    static constexpr index_t w = xsimd::batch<T, Arch>::size;
    // OB x RB accumulators + RB input vectors: 8 x 3 + 3 of AVX-512's 32 registers, 4 x 3 + 3 of
    // AVX2's 16. One sample, batch 64, one thread (a side-by-side microbenchmark, medians of 15),
    // AVX-512 against 6 x 4 and 12 x 2: 16x28x28 k3 2.03 ms against 2.09 and 3.85, LeNet's 6x14x14
    // k5 300 us against 393 and 492; AVX2 against 2 x 4, 3 x 3, 4 x 2 and 2 x 5: 16x28x28 k3 3.54
    // ms against 5.51, 4.03, 3.95 and 3.87, 32x14x14 k3 3.37 against 5.16, 3.83, 3.98 and 4.08,
    // LeNet's 6x14x14 k5 566 us against 782, 682, 632 and 674.
    static constexpr index_t ob = std::is_base_of_v<xsimd::avx512f, Arch> ? 8 : 4;
    static constexpr index_t rb = 3;
    static_assert(rb <= direct_max_rb);
};

// One tile: OB output channels x RB vectors of flat positions from q0 (those at or past
// positions() are computed and dropped). xq points at xp + q0, wt at (o0, 0, 0, 0) of the
// weights, bias at o0, y at (o0, 0, 0). KW is the window's width, or 0 for g.kw at run time:
// a fixed width of 3 unrolls the taps, 16x28x28 k3 1.97 -> 1.85 ms; 5 gained nothing.
template <index_t OB, index_t RB, index_t KW>
struct conv_direct_tile {
    template <class Arch, class T>
    void operator()(Arch, const conv_direct_geometry& g, index_t plane, const T* xq, const T* wt, const T* bias, T* y,
                    index_t q0) const;
};

template <index_t OB, index_t RB, index_t KW>
template <class Arch, class T>
inline void conv_direct_tile<OB, RB, KW>::operator()(Arch, const conv_direct_geometry& g, index_t plane, const T* xq,
                                                     const T* wt, const T* bias, T* y, index_t q0) const {
    using batch = xsimd::batch<T, Arch>;
    constexpr index_t L = batch::size;
    const index_t kw = KW ? KW : g.kw, wp = g.wp(), ksize = g.c * g.kh * kw;
    batch acc[OB][RB];
#pragma GCC unroll 8
    for (index_t o = 0; o < OB; ++o)
#pragma GCC unroll 8
        for (index_t r = 0; r < RB; ++r) acc[o][r] = batch(bias[o]);
    for (index_t ch = 0; ch < g.c; ++ch)
        for (index_t ky = 0; ky < g.kh; ++ky) {
            const T* xrow = xq + ch * plane + ky * wp;          // RB vectors, then KW - 1 values
            const T* wk = wt + (ch * g.kh + ky) * kw;            // w[o0 + o, ch, ky, kx] = wk[o * ksize + kx]
#pragma GCC unroll 8
            for (index_t kx = 0; kx < kw; ++kx) {
                batch xv[RB];
#pragma GCC unroll 8
                for (index_t r = 0; r < RB; ++r) xv[r] = batch::load_unaligned(xrow + r * L + kx);
#pragma GCC unroll 8
                for (index_t o = 0; o < OB; ++o) {
                    const batch wv(wk[o * ksize + kx]);
#pragma GCC unroll 8
                    for (index_t r = 0; r < RB; ++r) acc[o][r] = xsimd::fma(wv, xv[r], acc[o][r]);
                }
            }
        }
    // Vector r holds q in [a, a + L): per output row it meets, the lanes inside the row go to
    // y[oy, q - oy WP], lane j at (y + a - oy (WP - OW)) + j.
    const index_t ow = g.ow(), s = g.oh() * ow, nq = g.positions();
    for (index_t r = 0; r < RB; ++r) {
        const index_t a = q0 + r * L;
        if (a >= nq) break;
        const index_t b = std::min(a + L, nq);
        for (index_t oy = a / wp; oy * wp < b; ++oy) {
            const index_t lo = std::max(a, oy * wp) - a, hi = std::min(b, oy * wp + ow) - a;
            if (lo >= hi) continue;                              // the vector starts in a row's gap
            T* base = y + (a - oy * (wp - ow));
#pragma GCC unroll 8
            for (index_t o = 0; o < OB; ++o) store_range<Arch>(acc[o][r], base + o * s, lo, hi);
        }
    }
}

template <class T, class Arch>
constexpr direct_sizes direct_sizes_of() {
    return {direct_blocking<T, Arch>::w, direct_blocking<T, Arch>::ob, direct_s2_blocking<T, Arch>::available};
}

// The direct kernel's sizes at the ISA that runs it: xp holds g.padded_size(lanes) values.
template <class T>
inline direct_sizes active_direct_sizes() {
    return active_sizes<&kernel_table<T>::direct>([](auto a) { return direct_sizes_of<T, decltype(a)>(); });
}

namespace detail {
// Copies one sample into its padded layout xp (C, plane). Rows are short (28 values for LeNet):
// zeroing the whole buffer, or a memmove per row, cost 6.5 % and 11 % of a batch-1 LeNet predict
// (callgrind, perf), so every value of a plane is written once, in vectors: the top rows, then
// each row's values and the gap after them, then the rows below and the tail.
template <class Arch, class T>
inline void conv_direct_pad(Arch, const conv_direct_geometry& g, index_t plane, const T* x, T* xp) {
    using batch = xsimd::batch<T, Arch>;
    constexpr index_t L = batch::size;
    const index_t wp = g.wp(), p = g.pad, body = (g.h + p) * wp + p;
    auto zero = [](T* d, index_t n) {
        index_t i = 0;
        for (; i + L <= n; i += L) batch(T(0)).store_unaligned(d + i);
        for (; i < n; ++i) d[i] = T(0);
    };
    for (index_t ch = 0; ch < g.c; ++ch) {
        T* d = xp + ch * plane;
        zero(d, p * wp + p);                                     // rows above, the first row's left gap
        for (index_t iy = 0; iy < g.h; ++iy) {
            const T* src = x + (ch * g.h + iy) * g.w;
            T* row = d + (iy + p) * wp + p;                      // W values, then WP - W zeros
            index_t ix = 0;
            for (; ix + L <= g.w; ix += L) batch::load_unaligned(src + ix).store_unaligned(row + ix);
            for (; ix < wp; ix += L)
                store_upto(load_first<Arch>(src + ix, std::clamp<index_t>(g.w - ix, 0, L - 1)), row + ix,
                           std::min(L, wp - ix));
        }
        zero(d + body, plane - body);                            // rows below, then what tiles read past them
    }
}

template <index_t OB, index_t KW, class Arch, class T>
inline void conv_direct_channels(const conv_direct_geometry& g, index_t plane, const T* xp, const T* wt,
                                 const T* bias, T* y) {
    using blk = direct_blocking<T, Arch>;
    constexpr index_t L = blk::w, rb = blk::rb;
    const index_t n = g.positions();
    for (index_t q = 0; q < n; q += rb * L) conv_direct_tile<OB, rb, KW>{}(Arch{}, g, plane, xp + q, wt, bias, y, q);
}

// The last n < OB + 1 output channels, in one block of n.
template <index_t OB, class Arch, class T>
inline void conv_direct_rest(index_t n, const conv_direct_geometry& g, index_t plane, const T* xp, const T* wt,
                             const T* bias, T* y) {
    if constexpr (OB >= 1) {
        if (n == OB) conv_direct_channels<OB, 0, Arch>(g, plane, xp, wt, bias, y);
        else conv_direct_rest<OB - 1, Arch>(n, g, plane, xp, wt, bias, y);
    }
}
}  // namespace detail

// y = conv(x, w) + b for one sample; xp is scratch of g.padded_size(direct_blocking<T, Arch>::w).
struct conv2d_direct {
    template <class Arch, class T>
    void operator()(Arch, const conv_direct_geometry& g, const T* x, const T* wt, const T* bias, T* y, T* xp) const;
};

template <class Arch, class T>
inline void conv2d_direct::operator()(Arch, const conv_direct_geometry& g, const T* x, const T* wt, const T* bias, T* y,
                                      T* xp) const {
    using blk = direct_blocking<T, Arch>;
    const index_t plane = g.plane(blk::w), ksize = g.c * g.kh * g.kw, s = g.oh() * g.ow();
    detail::conv_direct_pad(Arch{}, g, plane, x, xp);
    index_t o = 0;
    for (; o + blk::ob <= g.o; o += blk::ob) {
        if (g.kw == 3)
            detail::conv_direct_channels<blk::ob, 3, Arch>(g, plane, xp, wt + o * ksize, bias + o, y + o * s);
        else
            detail::conv_direct_channels<blk::ob, 0, Arch>(g, plane, xp, wt + o * ksize, bias + o, y + o * s);
    }
    if (o < g.o) detail::conv_direct_rest<blk::ob - 1, Arch>(g.o - o, g, plane, xp, wt + o * ksize, bias + o, y + o * s);
}

// y = conv(x, w) + b for one sample at the active ISA; xp: g.padded_size(active_direct_sizes<T>().w).
template <class T>
inline void conv2d_direct_forward(const conv_direct_geometry& g, const T* x, const T* wt, const T* bias, T* y, T* xp) {
    invoke_kernel<&kernel_table<T>::conv_direct>(conv2d_direct{}, g, x, wt, bias, y, xp);
}

// The plain-loop oracle, as conv2d_direct_forward's twin in tests.
template <class T>
inline void conv2d_direct_forward_ref(const conv_direct_geometry& g, const T* x, const T* wt, const T* bias, T* y) {
    const index_t oh = g.oh(), ow = g.ow();
    for (index_t o = 0; o < g.o; ++o)
        for (index_t oy = 0; oy < oh; ++oy)
            for (index_t ox = 0; ox < ow; ++ox) {
                T s = bias[o];
                for (index_t ch = 0; ch < g.c; ++ch)
                    for (index_t ky = 0; ky < g.kh; ++ky)
                        for (index_t kx = 0; kx < g.kw; ++kx) {
                            const index_t iy = oy + ky - g.pad, ix = ox + kx - g.pad;
                            if (iy >= 0 && iy < g.h && ix >= 0 && ix < g.w)
                                s += wt[((o * g.c + ch) * g.kh + ky) * g.kw + kx] * x[(ch * g.h + iy) * g.w + ix];
                        }
                y[(o * oh + oy) * ow + ox] = s;
            }
}

}  // namespace typenet::kernels::cpu
