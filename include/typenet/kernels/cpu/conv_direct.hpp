// kernels/cpu/conv_direct.hpp — 2-D convolution computed in place, without im2col, for stride 1,
// dilation 1 and one group. The padded sample is laid out with one gap of zeros between rows, which
// is both a row's right padding and the next row's left padding, so that with a row stride of WP
// every output is a sum of one flat input sequence shifted by a constant per tap:
//   yq[o, q] += w[o, c, ky, kx] * xp[c, q + ky WP + kx],   q = oy WP + ox,
// over (c, ky, kx). A vector of outputs is any 16 (AVX-512) consecutive q, across row ends: the
// WP - OW positions past each row's end are computed and dropped when stored. A tile of OB output
// channels x RB vectors stays in registers across the whole (c, ky, kx) reduction: RB loads and
// OB broadcasts feed OB*RB FMAs. No unrolled copy of the input is written, which for few channels
// (LeNet, a ResNet's stem) costs more than the arithmetic. conv.hpp runs dx as this convolution of
// dy; the same layout gives dw (conv2d_direct_dw, below).
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
        return off_4k((n + 15) / 16 * 16);
    }
    // n values moved 32 on where they are within 32 of a multiple of 1024 (4 KB of floats).
    static constexpr index_t off_4k(index_t n) { return n % 1024 < 32 || n % 1024 > 1024 - 32 ? n + 32 : n; }
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
// dst[0, n) = src[0, n) and dst[n, end) = 0 (n <= end), in vectors; nothing at or past src + n is read.
template <class Arch, class T>
inline void copy_then_zero(const T* src, index_t n, T* dst, index_t end) {
    using batch = xsimd::batch<T, Arch>;
    constexpr index_t L = batch::size;
    index_t i = 0;
    for (; i + L <= n; i += L) batch::load_unaligned(src + i).store_unaligned(dst + i);
    for (; i < end; i += L)
        store_upto(load_first<Arch>(src + i, std::clamp<index_t>(n - i, 0, L - 1)), dst + i, std::min(L, end - i));
}

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
        for (index_t iy = 0; iy < g.h; ++iy)                     // W values, then WP - W zeros
            copy_then_zero<Arch>(x + (ch * g.h + iy) * g.w, g.w, d + (iy + p) * wp + p, wp);
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

// ---- weight gradient over the same layout ------------------------------------------------------
// dw[o, c, ky, kx] += sum_q dyf[o, q] xp[c, q + ky WP + kx]: dy laid out as the flat positions
// (dyf, zeros past each row's end and past the last output) against the same shifted sequences of
// xp as forward, so nothing is unrolled (im2col wrote C*KH*KW rows of S per sample, and its stores
// into L2 cost more than the products' arithmetic). A tile holds OB output channels x RY window
// rows x KW taps of one input channel in registers over all of a sample's positions, then adds
// them to vector accumulators (dwv: L lanes per weight), whose lanes the caller sums once at the
// end of the batch (direct_dw_fold). For 3- and 5-wide windows.
template <class T, class Arch>
struct direct_dw_blocking {
    // OB output channels x KW taps of one window row: OB*KW accumulators + KW x vectors + one dy
    // vector. AVX-512 8 x 3 = 24 and 4 x 5 = 20 of 32 registers; 16-register ISAs 3 x 3 and 2 x 5.
    // Each x vector (an unaligned load, which splits a cache line) feeds OB products: with 3 x 3
    // taps of 3 channels (9 x loads for 27 products) the ResNet's 16x28x28 backward took 6.2-6.6 ms
    // against 5.7-6.2 by im2col and the GEMM. At AVX2, 3 x 3 and 4 x 3 measured the same.
    static constexpr bool wide = std::is_base_of_v<xsimd::avx512f, Arch>;
    static constexpr index_t ob3 = wide ? 8 : 3, ob5 = wide ? 4 : 2;
};

inline constexpr bool direct_dw_fits(const conv_direct_geometry& g) { return g.kw == 3 || g.kw == 5; }

// dyf's plane per output channel: whole vectors over the positions, off 4 KB multiples as plane().
inline constexpr index_t direct_dw_dy_plane(const conv_direct_geometry& g, index_t lanes) {
    return conv_direct_geometry::off_4k((g.positions() + lanes - 1) / lanes * lanes);
}
// Scratch of one sample for conv2d_direct_dw: xp, then dyf.
inline constexpr index_t direct_dw_scratch(const conv_direct_geometry& g, index_t lanes) {
    return g.padded_size(lanes) + g.o * direct_dw_dy_plane(g, lanes);
}

namespace detail {
// Output channels o0 + [0, OB) (past O: repeats of the last, dropped) x the KW taps of window row
// ky of input channel ch, over all of a sample's positions; then added to dwv.
template <index_t OB, index_t KW, class Arch, class T>
inline void conv_direct_dw_tile(const conv_direct_geometry& g, index_t plane, index_t dplane, const T* xp,
                                const T* dyf, index_t o0, index_t ky, index_t ch, T* dwv) {
    using batch = xsimd::batch<T, Arch>;
    constexpr index_t L = batch::size;
    const index_t nv = (g.positions() + L - 1) / L, kk = g.kh * KW;
    const T* dyo[OB];
#pragma GCC unroll 8
    for (index_t o = 0; o < OB; ++o) dyo[o] = dyf + std::min(o0 + o, g.o - 1) * dplane;
    const T* xr = xp + ch * plane + ky * g.wp();
    batch acc[OB][KW];
#pragma GCC unroll 8
    for (index_t o = 0; o < OB; ++o)
#pragma GCC unroll 8
        for (index_t kx = 0; kx < KW; ++kx) acc[o][kx] = batch(T(0));
    for (index_t v = 0; v < nv; ++v) {
        const index_t q = v * L;
        batch xv[KW];
#pragma GCC unroll 8
        for (index_t kx = 0; kx < KW; ++kx) xv[kx] = batch::load_unaligned(xr + q + kx);
#pragma GCC unroll 8
        for (index_t o = 0; o < OB; ++o) {
            batch d = batch::load_aligned(dyo[o] + q);
            in_register(d);
#pragma GCC unroll 8
            for (index_t kx = 0; kx < KW; ++kx) acc[o][kx] = xsimd::fma(d, xv[kx], acc[o][kx]);
        }
    }
    for (index_t o = 0; o < OB && o0 + o < g.o; ++o) {
        T* out = dwv + (((o0 + o) * g.c + ch) * kk + ky * KW) * L;
#pragma GCC unroll 8
        for (index_t kx = 0; kx < KW; ++kx)
            (batch::load_aligned(out + kx * L) + acc[o][kx]).store_aligned(out + kx * L);
    }
}

template <index_t OB, index_t KW, class Arch, class T>
inline void conv_direct_dw_all(const conv_direct_geometry& g, index_t plane, index_t dplane, const T* xp, const T* dyf,
                               T* dwv) {
    for (index_t ch = 0; ch < g.c; ++ch)
        for (index_t ky = 0; ky < g.kh; ++ky)
            for (index_t o0 = 0; o0 < g.o; o0 += OB)
                conv_direct_dw_tile<OB, KW, Arch>(g, plane, dplane, xp, dyf, o0, ky, ch, dwv);
}
}  // namespace detail

// dwv (O, C, KH, KW, L) += the weight gradient of one sample's y = conv(x, w) given dy (O, OH, OW),
// in L partial sums per weight (L: direct_blocking<T, Arch>::w; direct_dw_fold adds them into dw);
// scratch: direct_dw_scratch(g, L). Windows 3 or 5 wide (direct_dw_fits). dwv and scratch are
// aligned to the vector.
struct conv2d_direct_dw {
    template <class Arch, class T>
    void operator()(Arch, const conv_direct_geometry& g, const T* x, const T* dy, T* dwv, T* scratch) const;
};

template <class Arch, class T>
inline void conv2d_direct_dw::operator()(Arch, const conv_direct_geometry& g, const T* x, const T* dy, T* dwv,
                                         T* scratch) const {
    using batch = xsimd::batch<T, Arch>;
    using blk = direct_dw_blocking<T, Arch>;
    constexpr index_t L = batch::size;
    const index_t plane = g.plane(L), dplane = direct_dw_dy_plane(g, L), wp = g.wp(), ow = g.ow(), oh = g.oh();
    T* xp = scratch;
    T* dyf = scratch + g.padded_size(L);
    detail::conv_direct_pad(Arch{}, g, plane, x, xp);
    for (index_t o = 0; o < g.o; ++o)                            // dy's rows at stride WP, zeros between
        for (index_t oy = 0; oy < oh; ++oy)                      // (after the last row: to the plane's end)
            detail::copy_then_zero<Arch>(dy + (o * oh + oy) * ow, ow, dyf + o * dplane + oy * wp,
                                         oy + 1 < oh ? wp : dplane - oy * wp);
    if (g.kw == 3) detail::conv_direct_dw_all<blk::ob3, 3, Arch>(g, plane, dplane, xp, dyf, dwv);
    else if (g.kw == 5) detail::conv_direct_dw_all<blk::ob5, 5, Arch>(g, plane, dplane, xp, dyf, dwv);
}

// dwv += the weight gradient of one sample at the active ISA, L = active_direct_sizes<T>().w partial
// sums per weight; scratch: direct_dw_scratch(g, L). Both 64-byte aligned.
template <class T>
inline void conv2d_direct_dw_add(const conv_direct_geometry& g, const T* x, const T* dy, T* dwv, T* scratch) {
    invoke_kernel<&kernel_table<T>::conv_direct_dw>(conv2d_direct_dw{}, g, x, dy, dwv, scratch);
}

// dw[i] += the sum of dwv's lanes [i L, i L + L) for n weights.
template <class T>
inline void direct_dw_fold(index_t n, index_t lanes, const T* dwv, T* dw) {
    for (index_t i = 0; i < n; ++i) {
        T sum = T(0);
        for (index_t j = 0; j < lanes; ++j) sum += dwv[i * lanes + j];
        dw[i] += sum;
    }
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
