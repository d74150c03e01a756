// kernels/cpu/conv_direct.hpp — 2-D convolution computed in place, without im2col: for stride 1,
// dilation 1 and one group, each output row segment is a sum of shifted input rows times a weight,
//   y[o, oy, ox:ox+w] += w[o, c, ky, kx] * xp[c, oy + ky, ox + kx : ox + kx + w]
// over (c, ky, kx), with xp the zero-padded input. A tile of OB output channels x RB output rows x
// one vector of columns stays in registers across the whole (c, ky, kx) reduction: RB loads and OB
// broadcasts feed OB*RB FMAs. No unrolled copy of the input is written, which for few channels
// (LeNet, a ResNet's stem) costs more than the arithmetic. Forward only: a training step keeps
// im2col's columns for the weight gradient anyway (conv.hpp).
//
//   x (C, H, W)   w (O, C, KH, KW)   b (O)   y (O, OH, OW)    one sample
//   xp (C, H + 2P, WP): the padded sample; WP covers every vector load of the last column tile
#pragma once
#include <algorithm>
#include <type_traits>

#include "typenet/kernels/cpu/common.hpp"
#include "typenet/kernels/cpu/conv_direct_s2.hpp"
#include "typenet/kernels/cpu/dispatch.hpp"

namespace typenet::kernels::cpu {

struct conv_direct_geometry {
    index_t c, h, w;          // input channels, height, width
    index_t o, kh, kw;        // output channels, kernel height, width
    index_t pad;
    constexpr index_t oh() const { return h + 2 * pad - kh + 1; }
    constexpr index_t ow() const { return w + 2 * pad - kw + 1; }
    constexpr index_t hp() const { return h + 2 * pad; }
    // Column tiles are whole vectors of `lanes`; the last one reads up to kw - 1 columns past it.
    constexpr index_t wp(index_t lanes) const {
        return std::max(w + 2 * pad, (ow() + lanes - 1) / lanes * lanes + kw - 1);
    }
    constexpr index_t padded_size(index_t lanes) const { return c * hp() * wp(lanes); }
};

template <class T, class Arch>
struct direct_blocking {
    static constexpr index_t w = xsimd::batch<T, Arch>::size;
    // OB x RB accumulators + RB input rows: 8 x 3 + 3 of AVX-512's 32 registers (against 4 x 4,
    // conv_bench, one thread: LeNet's first layer 205 -> 160 us, ResNet 32x14x14 k3 2.37 -> 2.17
    // ms forward, 4.56 -> 4.37 ms backward; the stem 266 -> 306 us); 2 x 4 + 4 of AVX2's 16.
    static constexpr index_t ob = std::is_base_of_v<xsimd::avx512f, Arch> ? 8 : 2;
    static constexpr index_t rb = std::is_base_of_v<xsimd::avx512f, Arch> ? 3 : 4;
};

// One tile: OB output channels x RB output rows (rows past `rows` repeat the last and are
// dropped) x one vector of `cols` <= w columns. xp points at (0, oy0, ox0) of the padded sample,
// wt at (o0, 0, 0, 0) of the weights, y at (o0, oy0, ox0).
template <index_t OB, index_t RB>
struct conv_direct_tile {
    template <class Arch, class T>
    void operator()(Arch, const conv_direct_geometry& g, index_t wp, const T* xp, const T* wt, const T* bias, T* y,
                    index_t rows, index_t cols) const;
};

template <index_t OB, index_t RB>
template <class Arch, class T>
inline void conv_direct_tile<OB, RB>::operator()(Arch, const conv_direct_geometry& g, index_t wp, const T* xp,
                                                 const T* wt, const T* bias, T* y, index_t rows, index_t cols) const {
    using batch = xsimd::batch<T, Arch>;
    const index_t plane = g.hp() * wp, ksize = g.c * g.kh * g.kw, s = g.oh() * g.ow();
    index_t row_off[RB];
#pragma GCC unroll 8
    for (index_t r = 0; r < RB; ++r) row_off[r] = std::min(r, rows - 1) * wp;
    batch acc[OB][RB];
#pragma GCC unroll 8
    for (index_t o = 0; o < OB; ++o)
#pragma GCC unroll 8
        for (index_t r = 0; r < RB; ++r) acc[o][r] = batch(bias[o]);
    for (index_t ch = 0; ch < g.c; ++ch)
        for (index_t ky = 0; ky < g.kh; ++ky) {
            const T* xrow = xp + ch * plane + ky * wp;           // (RB rows, w + KW - 1 columns)
            const T* wk = wt + (ch * g.kh + ky) * g.kw;          // w[o0 + o, ch, ky, kx] = wk[o * ksize + kx]
            for (index_t kx = 0; kx < g.kw; ++kx) {
                batch xv[RB];
#pragma GCC unroll 8
                for (index_t r = 0; r < RB; ++r) xv[r] = batch::load_unaligned(xrow + row_off[r] + kx);
#pragma GCC unroll 8
                for (index_t o = 0; o < OB; ++o) {
                    const batch wv(wk[o * ksize + kx]);
#pragma GCC unroll 8
                    for (index_t r = 0; r < RB; ++r) acc[o][r] = xsimd::fma(wv, xv[r], acc[o][r]);
                }
            }
        }
    const index_t ow = g.ow();
    for (index_t o = 0; o < OB; ++o)
        for (index_t r = 0; r < rows; ++r) {
            T* out = y + o * s + r * ow;
            store_upto(acc[o][r], out, cols);
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
// Copies one sample into its zero-padded layout xp (C, HP, WP). Rows are short (28 values for
// LeNet): zeroing the whole buffer, or a memmove per row, cost 6.5 % and 11 % of a batch-1 LeNet
// predict (callgrind, perf), so each row is written in vectors: zeros, then the row over them.
template <class Arch, class T>
inline void conv_direct_pad(Arch, const conv_direct_geometry& g, index_t wp, const T* x, T* xp) {
    using batch = xsimd::batch<T, Arch>;
    constexpr index_t w = batch::size;
    const index_t hp = g.hp(), p = g.pad;
    auto zero = [](T* d, index_t n) {
        index_t i = 0;
        for (; i + w <= n; i += w) batch(T(0)).store_unaligned(d + i);
        for (; i < n; ++i) d[i] = T(0);
    };
    for (index_t ch = 0; ch < g.c; ++ch) {
        T* plane = xp + ch * hp * wp;
        zero(plane, p * wp);                                              // rows above
        zero(plane + (p + g.h) * wp, (hp - p - g.h) * wp);                // rows below
        for (index_t iy = 0; iy < g.h; ++iy) {
            const T* src = x + (ch * g.h + iy) * g.w;
            T* dst = plane + (iy + p) * wp;
            zero(dst, wp);
            index_t ix = 0;
            for (; ix + w <= g.w; ix += w) batch::load_unaligned(src + ix).store_unaligned(dst + p + ix);
            for (; ix < g.w; ++ix) dst[p + ix] = src[ix];
        }
    }
}

template <index_t OB, class Arch, class T>
inline void conv_direct_channels(const conv_direct_geometry& g, index_t wp, const T* xp, const T* wt, const T* bias,
                                 T* y) {
    using blk = direct_blocking<T, Arch>;
    constexpr index_t w = blk::w, rb = blk::rb;
    const index_t oh = g.oh(), ow = g.ow();
    for (index_t oy = 0; oy < oh; oy += rb)
        for (index_t ox = 0; ox < ow; ox += w)
            conv_direct_tile<OB, rb>{}(Arch{}, g, wp, xp + oy * wp + ox, wt, bias, y + oy * ow + ox,
                                       std::min(rb, oh - oy), std::min(w, ow - ox));
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
    const index_t wp = g.wp(blk::w), ksize = g.c * g.kh * g.kw, s = g.oh() * g.ow();
    detail::conv_direct_pad(Arch{}, g, wp, x, xp);
    index_t o = 0;
    for (; o + blk::ob <= g.o; o += blk::ob)
        detail::conv_direct_channels<blk::ob, Arch>(g, wp, xp, wt + o * ksize, bias + o, y + o * s);
    static_assert(blk::ob <= 8);
    switch (g.o - o) {                                            // the channels left, in one block
    case 7: detail::conv_direct_channels<7, Arch>(g, wp, xp, wt + o * ksize, bias + o, y + o * s); break;
    case 6: detail::conv_direct_channels<6, Arch>(g, wp, xp, wt + o * ksize, bias + o, y + o * s); break;
    case 5: detail::conv_direct_channels<5, Arch>(g, wp, xp, wt + o * ksize, bias + o, y + o * s); break;
    case 4: detail::conv_direct_channels<4, Arch>(g, wp, xp, wt + o * ksize, bias + o, y + o * s); break;
    case 3: detail::conv_direct_channels<3, Arch>(g, wp, xp, wt + o * ksize, bias + o, y + o * s); break;
    case 2: detail::conv_direct_channels<2, Arch>(g, wp, xp, wt + o * ksize, bias + o, y + o * s); break;
    case 1: detail::conv_direct_channels<1, Arch>(g, wp, xp, wt + o * ksize, bias + o, y + o * s); break;
    default: break;
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
