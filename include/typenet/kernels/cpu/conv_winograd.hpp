// kernels/cpu/conv_winograd.hpp — 3x3 convolutions at stride 1 by Winograd's minimal filtering
// F(2x2, 3x3) (Lavin and Gray, "Fast Algorithms for Convolutional Neural Networks", 2016):
// forward, input gradient and weight gradient. Included by conv.hpp, which chooses it
// (conv_winograd_wins) for conv2d_forward and conv2d_backward.
//
// Each 2x2 block of outputs ("tile") of channel o is
//   Y = A^T [ sum_c (G g_oc G^T) . (B^T d_c B) ] A        (. : elementwise, 4x4)
// with d_c the 4x4 input patch under it and g_oc the 3x3 kernel. Over all tiles t of a group of
// samples, the 16 elements xi of the 4x4 products are 16 independent matrix products,
//   M[xi] (O, T) = U[xi] (O, C) V[xi] (C, T),   U = G g G^T,  V = B^T d B,
// which multiply 16 * O*C*T times where the convolution multiplies 36 * O*C*T (2.25x fewer; at an
// odd output size the last tiles are half empty: 7x7 outputs are 16 tiles, 1.72x fewer). Gradients:
//   dM = A dY A^T,   dV[xi] = U[xi]^T dM[xi],   dd = B dV B^T (tiles overlap: summed),
//   dU[xi] = sum_t dM[xi] V[xi]^T,   dg = G^T dU G.
// The transforms read and write the planes themselves, one sample's channels at a time, and are
// separable: along rows (even and odd columns, unzipped) then along columns, vectorized over the
// tiles of a plane. (Through im2col of 4x4 windows at stride 2 and col2im of 2x2 blocks, rows of
// 4 values at 7x7, they took 43 % of a 64x7x7 layer's time, perf.) The transform matrices hold
// only 0, +-1 and 1/2, so the result differs from the direct sum by rounding alone (F(4x4, 3x3)
// has +-4 and +-5, and loses digits in fp32).
//
//   V (16*C, T)   rows xi*C + c;   M (16*O, T) rows xi*O + o   (T: a group's tiles, ld apart)
#pragma once
#include <algorithm>
#include <vector>

#include "typenet/kernels/cpu/common.hpp"
#include "typenet/kernels/cpu/conv.hpp"
#include "typenet/kernels/cpu/dispatch.hpp"
#include "typenet/kernels/cpu/elementwise.hpp"
#include "typenet/kernels/cpu/gemm.hpp"

namespace typenet::kernels::cpu {

// One plane's tiles: the input (H, W) at padding P, the output (OH, OW), and (TH, TW) tiles of
// 2x2 outputs, each reading the 4x4 input patch from row 2 ty - P, column 2 tx - P.
struct winograd_plane {
    index_t h, w, pad;
    index_t oh, ow;
    index_t th, tw;
    constexpr index_t tiles() const { return th * tw; }
    // The plane kernels' work buffer, in values.
    constexpr index_t work_size() const { return 64 * (th * tw + 3 * tw + 64); }
};

namespace detail {
// even[i] = src[2 i], odd[i] = src[2 i + 1] for i < n.
template <class Arch, class T>
inline void deinterleave(const T* src, index_t n, T* even, T* odd) {
    if constexpr (has_unzip<Arch, T>) {
        using batch = xsimd::batch<T, Arch>;
        constexpr index_t w = batch::size;
        for (index_t i = 0; i < n; i += w) {
            const index_t cnt = std::min(w, n - i);
            batch a0, a1, e, o;
            load_pair<Arch>(src + 2 * i, 2 * cnt, a0, a1);
            unzip<Arch>(a0, a1, e, o);
            store_upto(e, even + i, cnt);
            store_upto(o, odd + i, cnt);
        }
    } else {
        for (index_t i = 0; i < n; ++i) even[i] = src[2 * i], odd[i] = src[2 * i + 1];
    }
}

// Columns [c0, c0 + w) of a row of n values zero-padded by pad on the left (and on the right,
// as far as read): lanes [lo, hi) hold row[c - pad] and are at row + off + lane, the rest are 0.
struct padded_lanes {
    index_t off, lo, hi;
};
template <class Arch, class T>
inline padded_lanes padded_lanes_at(index_t n, index_t pad, index_t c0) {
    constexpr index_t w = xsimd::batch<T, Arch>::size;
    return {c0 - pad, std::clamp<index_t>(pad - c0, 0, w), std::clamp<index_t>(pad + n - c0, 0, w)};
}
// Those columns of the row; only the row is read.
template <class Arch, class T>
inline xsimd::batch<T, Arch> load_padded(const T* row, const padded_lanes& l) {
    if (l.lo >= l.hi) return xsimd::batch<T, Arch>(T(0));
    if (l.lo == 0 && l.hi == index_t(xsimd::batch<T, Arch>::size)) return xsimd::batch<T, Arch>::load_unaligned(row + l.off);
    return load_range<Arch>(row + l.off, l.lo, l.hi);
}
template <class Arch, class T>
inline xsimd::batch<T, Arch> load_padded(const T* row, index_t n, index_t pad, index_t c0) {
    return load_padded<Arch>(row, padded_lanes_at<Arch, T>(n, pad, c0));
}
// Lanes of v, columns [c0, c0 + w) of a padded row as load_padded's, to the row's n values.
template <class Arch, class T>
inline void store_padded(const xsimd::batch<T, Arch>& v, T* row, index_t n, index_t pad, index_t c0) {
    const padded_lanes l = padded_lanes_at<Arch, T>(n, pad, c0);
    if (l.lo >= l.hi) return;
    if (l.lo == 0 && l.hi == index_t(xsimd::batch<T, Arch>::size)) v.store_unaligned(row + l.off);
    else store_range(v, row + l.off, l.lo, l.hi);
}

// Runs the stages of a transform over channels 0..n-1, stage k of channel c after stage k - 1 of
// channel c + 1: stage(k, c, c % 2), the last argument the channel's buffer of two. Each load
// then reads stores of a channel earlier, retired by then: a load right after the masked stores
// that wrote its vector waits for them (the input adjoint's combination, at an offset of tw from
// the stores of its columns, took most of that kernel's time; the output's interleaving 14 % of a
// 64x7x7 forward).
template <index_t Stages, class Stage>
inline void staggered(index_t n, Stage stage) {
    for (index_t step = 0; step < n + Stages - 1; ++step)
        for (index_t k = 0; k < Stages; ++k)
            if (step - k >= 0 && step - k < n) stage(k, step - k, (step - k) % 2);
}

// dst[k] = even[k / 2] (k even) or odd[k / 2] (k odd) for k < n.
template <class Arch, class T>
inline void interleave(const T* even, const T* odd, T* dst, index_t n) {
    if constexpr (has_unzip<Arch, T>) {
        using batch = xsimd::batch<T, Arch>;
        constexpr index_t w = batch::size;
        for (index_t k = 0; k < n; k += 2 * w) {
            const index_t cnt = std::min(2 * w, n - k), pairs = (cnt + 1) / 2;
            batch a0, a1;
            zip<Arch>(load_upto<Arch>(even + k / 2, pairs), load_upto<Arch>(odd + k / 2, pairs), a0, a1);
            store_pair(a0, a1, dst + k, cnt);
        }
    } else {
        for (index_t i = 0; 2 * i < n; ++i) {
            dst[2 * i] = even[i];
            if (2 * i + 1 < n) dst[2 * i + 1] = odd[i];
        }
    }
}
}  // namespace detail

// V = B^T d B for every tile of `channels` planes of x (consecutive, H*W apart): element xi of
// channel c's tile t to v[c * ldc + xi * ldxi + t]. Separable: B along each padded row (its even
// and odd columns, H), then along the columns of H, whose rows are kept by parity so that the
// four rows under a row of tiles are contiguous over all tiles.
//   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]
struct winograd_input_kernel {
    template <class Arch, class T>
    void operator()(Arch, const winograd_plane& p, index_t channels, const T* x, T* v, index_t ldc, index_t ldxi,
                    T* work) const {
        using batch = xsimd::batch<T, Arch>;
        constexpr index_t w = batch::size;
        const index_t tw = p.tw, ts = p.tiles(), wp = 2 * tw + 2, hs = (p.th + 1) * tw + w;
        T* row = work;                                   // a padded row, wp
        T* ev = row + wp + 2 * w;                        // its even and odd columns, tw + 1
        T* od = ev + tw + 1 + w;
        // H_j, rows of parity q: hb + (2 j + q) hs, two channels' worth (staggered).
        T* hbuf = od + tw + 1 + w;
        // A row of tiles within one vector (up to 30 columns at AVX-512, 14 at AVX2): the lanes of
        // its four loads, the same for every row, are worked out once, and the rows of H are
        // stored whole, each over the garbage lanes of the one before (2 th + 2 rows of H_j then
        // fill (th + 1) tw + w values).
        detail::padded_lanes ld4[4] = {};                // columns from 0, w, 2 and w + 2
        for (index_t q = 0; q < 4; ++q) ld4[q] = detail::padded_lanes_at<Arch, T>(p.w, p.pad, (q % 2) * w + (q / 2) * 2);
        const auto load4 = [&](const T* xr, index_t q) { return detail::load_padded<Arch>(xr, ld4[q]); };
        const auto rows_of = [&](index_t c, T* hb) {
            const T* xc = x + c * p.h * p.w;
            if constexpr (has_unzip<Arch, T>) {
                if (tw < w) {
                    for (index_t pr = 0; pr < 2 * p.th + 2; ++pr) {
                        const index_t r = pr - p.pad;
                        T* h0 = hb + (pr % 2) * hs + (pr / 2) * tw;
                        if (r < 0 || r >= p.h) {
                            for (index_t j = 0; j < 4; ++j) batch(T(0)).store_unaligned(h0 + 2 * j * hs);
                            continue;
                        }
                        const T* xr = xc + r * p.w;
                        batch e0, o0, e1, o1;
                        unzip<Arch>(load4(xr, 0), load4(xr, 1), e0, o0);
                        unzip<Arch>(load4(xr, 2), load4(xr, 3), e1, o1);
                        (e0 - e1).store_unaligned(h0);
                        (o0 + e1).store_unaligned(h0 + 2 * hs);
                        (e1 - o0).store_unaligned(h0 + 4 * hs);
                        (o0 - o1).store_unaligned(h0 + 6 * hs);
                    }
                    return;
                }
            }
            for (index_t pr = 0; pr < 2 * p.th + 2; ++pr) {   // padded row pr
                const index_t r = pr - p.pad;
                T* h0 = hb + (pr % 2) * hs + (pr / 2) * tw;
                if (r < 0 || r >= p.h) {
                    for (index_t j = 0; j < 4; ++j) zero_row<Arch>(h0 + 2 * j * hs, tw);
                    continue;
                }
                if constexpr (has_unzip<Arch, T>) {      // straight from the image: no store to reload
                    const T* xr = xc + r * p.w;
                    for (index_t i = 0; i < tw; i += w) {
                        const index_t cnt = std::min(w, tw - i);
                        batch e0, o0, e1, o1;            // columns 2 tx, 2 tx + 1, 2 tx + 2, 2 tx + 3
                        unzip<Arch>(detail::load_padded<Arch>(xr, p.w, p.pad, 2 * i),
                                    detail::load_padded<Arch>(xr, p.w, p.pad, 2 * i + w), e0, o0);
                        unzip<Arch>(detail::load_padded<Arch>(xr, p.w, p.pad, 2 * i + 2),
                                    detail::load_padded<Arch>(xr, p.w, p.pad, 2 * i + 2 + w), e1, o1);
                        store_upto(e0 - e1, h0 + i, cnt);
                        store_upto(o0 + e1, h0 + 2 * hs + i, cnt);
                        store_upto(e1 - o0, h0 + 4 * hs + i, cnt);
                        store_upto(o0 - o1, h0 + 6 * hs + i, cnt);
                    }
                    continue;
                }
                zero_row<Arch>(row, wp);
                copy_row<Arch>(xc + r * p.w, row + p.pad, p.w);
                detail::deinterleave<Arch>(row, tw + 1, ev, od);
                for (index_t i = 0; i < tw; i += w) {    // columns 2 tx .. 2 tx + 3: ev[tx], od[tx], ev[tx + 1], od[tx + 1]
                    const index_t cnt = std::min(w, tw - i);
                    const batch e0 = load_upto<Arch>(ev + i, cnt), e1 = load_upto<Arch>(ev + i + 1, cnt);
                    const batch o0 = load_upto<Arch>(od + i, cnt), o1 = load_upto<Arch>(od + i + 1, cnt);
                    store_upto(e0 - e1, h0 + i, cnt);
                    store_upto(o0 + e1, h0 + 2 * hs + i, cnt);
                    store_upto(e1 - o0, h0 + 4 * hs + i, cnt);
                    store_upto(o0 - o1, h0 + 6 * hs + i, cnt);
                }
            }
        };
        const auto columns_of = [&](index_t c, const T* hb) {
            for (index_t j = 0; j < 4; ++j) {            // rows 2 ty + i of H_j: parity i % 2, from ty + i / 2
                const T* q0 = hb + 2 * j * hs;
                const T* q1 = q0 + hs;
                T* vc = v + c * ldc + j * ldxi;
                for (index_t t = 0; t < ts; t += w) {
                    const index_t cnt = std::min(w, ts - t);
                    const batch d0 = load_upto<Arch>(q0 + t, cnt), d1 = load_upto<Arch>(q1 + t, cnt);
                    const batch d2 = load_upto<Arch>(q0 + tw + t, cnt), d3 = load_upto<Arch>(q1 + tw + t, cnt);
                    store_upto(d0 - d2, vc + t, cnt);
                    store_upto(d1 + d2, vc + 4 * ldxi + t, cnt);
                    store_upto(d2 - d1, vc + 8 * ldxi + t, cnt);
                    store_upto(d1 - d3, vc + 12 * ldxi + t, cnt);
                }
            }
        };
        detail::staggered<2>(channels, [&](index_t stage, index_t c, index_t buf) {
            if (stage == 0) rows_of(c, hbuf + buf * 8 * hs);
            else columns_of(c, hbuf + buf * 8 * hs);
        });
    }
};

// Its adjoint: dx = the sum over tiles of B dV B^T, cropped to the plane; dx is overwritten.
//   B = [1 0 0 0; 0 1 -1 1; -1 1 1 0; 0 0 0 -1]
struct winograd_input_adjoint_kernel {
    template <class Arch, class T>
    void operator()(Arch, const winograd_plane& p, index_t channels, const T* dv, index_t ldc, index_t ldxi, T* dx,
                    T* work) const {
        using batch = xsimd::batch<T, Arch>;
        constexpr index_t w = batch::size;
        const index_t tw = p.tw, ts = p.tiles(), wp = 2 * tw + 2, half = (p.th + 1) * tw, hs = half + w;
        const index_t es = ts + 2 * tw + w, ss = tw + 1 + 2 * w;
        // Three stages per channel (staggered): the columns' transform B dV into E (two channels'
        // buffers, 4 j x 4 i rows of the tiles with tw zeros either side), E's rows combined into
        // dH by parity (two channels'), and the rows' transform from dH into dx.
        T* ebuf = work;
        T* hbuf = ebuf + 32 * es;
        T* pe = hbuf + 16 * hs;                          // one padded row's terms, ss each
        T* pu = pe + ss;
        T* sa = pu + ss;                                 // shifted by one column: sa[tx + 1]
        T* sb = sa + ss;
        T* de = sb + ss;
        T* dod = de + ss;
        T* row = dod + ss;                               // wp
        for (index_t i = 0; i < 32; ++i) {
            zero_row<Arch>(ebuf + i * es, tw);
            zero_row<Arch>(ebuf + i * es + tw + ts, tw);
        }
        const auto columns_of = [&](index_t c, T* eb) {  // E_j,i = (B dV)(i, j): eb + (4 j + i) es + tw
            for (index_t j = 0; j < 4; ++j) {
                const T* dc = dv + c * ldc + j * ldxi;
                T* ej = eb + 4 * j * es + tw;
                for (index_t t = 0; t < ts; t += w) {
                    const index_t cnt = std::min(w, ts - t);
                    const batch d0 = load_upto<Arch>(dc + t, cnt), d1 = load_upto<Arch>(dc + 4 * ldxi + t, cnt);
                    const batch d2 = load_upto<Arch>(dc + 8 * ldxi + t, cnt), d3 = load_upto<Arch>(dc + 12 * ldxi + t, cnt);
                    store_upto(d0, ej + t, cnt);
                    store_upto(d1 - d2 + d3, ej + es + t, cnt);
                    store_upto(d1 + d2 - d0, ej + 2 * es + t, cnt);
                    store_upto(batch(T(0)) - d3, ej + 3 * es + t, cnt);
                }
            }
        };
        const auto combine = [&](const T* eb, T* hb) {
            for (index_t j = 0; j < 4; ++j)
                for (index_t q = 0; q < 2; ++q) {        // row 2 k + q of dH_j: from tile row k (i = q) and k - 1 (i = q + 2)
                    const T* e0 = eb + (4 * j + q) * es + tw;
                    const T* e2 = eb + (4 * j + q + 2) * es;
                    for (index_t m = 0; m < half; m += w) {
                        const index_t cnt = std::min(w, half - m);
                        store_upto(load_upto<Arch>(e0 + m, cnt) + load_upto<Arch>(e2 + m, cnt), hb + (2 * j + q) * hs + m, cnt);
                    }
                }
        };
        const auto rows_of = [&](index_t c, const T* hb) {
            T* dxc = dx + c * p.h * p.w;
            for (index_t pr = 0; pr < 2 * p.th + 2; ++pr) {
                const index_t r = pr - p.pad;
                if (r < 0 || r >= p.h) continue;
                const T* h0 = hb + (pr % 2) * hs + (pr / 2) * tw;
                if constexpr (has_unzip<Arch, T>) {      // straight from dH, terms of tile m - 1 by an offset load
                    T* dxr = dxc + r * p.w;
                    for (index_t m0 = 0; m0 <= tw; m0 += w) {
                        const index_t hi = std::min(w, tw - m0), plo = m0 == 0 ? 1 : 0, phi = std::min(w, tw + 1 - m0);
                        batch g[4], q[4];
                        for (index_t j = 0; j < 4; ++j) {
                            g[j] = hi > 0 ? load_range<Arch>(h0 + 2 * j * hs + m0, 0, hi) : batch(T(0));
                            q[j] = load_range<Arch>(h0 + 2 * j * hs + m0 - 1, plo, phi);
                        }
                        batch a0, a1;
                        zip<Arch>(g[0] + q[1] + q[2] - q[0], g[1] - g[2] + g[3] - q[3], a0, a1);
                        detail::store_padded(a0, dxr, p.w, p.pad, 2 * m0);
                        detail::store_padded(a1, dxr, p.w, p.pad, 2 * m0 + w);
                    }
                    continue;
                }
                // Columns 2 m (de) and 2 m + 1 (dod), m <= tw: tile tx = m gives de += dh0, dod += dh1 - dh2 + dh3;
                // tile tx = m - 1 gives de += dh1 + dh2 - dh0, dod -= dh3.
                sa[0] = sb[0] = T(0);
                for (index_t i = 0; i < tw; i += w) {
                    const index_t cnt = std::min(w, tw - i);
                    const batch g0 = load_upto<Arch>(h0 + i, cnt), g1 = load_upto<Arch>(h0 + 2 * hs + i, cnt);
                    const batch g2 = load_upto<Arch>(h0 + 4 * hs + i, cnt), g3 = load_upto<Arch>(h0 + 6 * hs + i, cnt);
                    store_upto(g0, pe + i, cnt);
                    store_upto(g1 - g2 + g3, pu + i, cnt);
                    store_upto(g1 + g2 - g0, sa + 1 + i, cnt);
                    store_upto(batch(T(0)) - g3, sb + 1 + i, cnt);
                }
                pe[tw] = pu[tw] = T(0);
                for (index_t m = 0; m <= tw; m += w) {
                    const index_t cnt = std::min(w, tw + 1 - m);
                    store_upto(load_upto<Arch>(pe + m, cnt) + load_upto<Arch>(sa + m, cnt), de + m, cnt);
                    store_upto(load_upto<Arch>(pu + m, cnt) + load_upto<Arch>(sb + m, cnt), dod + m, cnt);
                }
                detail::interleave<Arch>(de, dod, row, wp);
                copy_row<Arch>(row + p.pad, dxc + r * p.w, p.w);
            }
        };
        detail::staggered<3>(channels, [&](index_t stage, index_t c, index_t buf) {
            if (stage == 0) columns_of(c, ebuf + buf * 16 * es);
            else if (stage == 1) combine(ebuf + buf * 16 * es, hbuf + buf * 8 * hs);
            else rows_of(c, hbuf + buf * 8 * hs);
        });
    }
};

// Y = A^T M A + bias (bias may be null) for every tile of `channels` output planes: element xi of
// channel o's tile t at m[o * ldc + xi * ldxi + t], the planes of y consecutive (OH*OW apart).
//   A^T = [1 1 1 0; 0 1 -1 -1]
struct winograd_output_kernel {
    template <class Arch, class T>
    void operator()(Arch, const winograd_plane& p, index_t channels, const T* m, index_t ldc, index_t ldxi,
                    const T* bias, T* y, T* work) const {
        using batch = xsimd::batch<T, Arch>;
        constexpr index_t w = batch::size;
        const index_t tw = p.tw, ts = p.tiles(), ys = ts + w;
        T* ybuf = work;                                  // Y(a, b) over the tiles: yb + (2 a + b) ys, two channels' (staggered)
        const auto tiles_of = [&](index_t c, T* yb) {
            const batch bv(bias ? bias[c] : T(0));
            const T* mc = m + c * ldc;
            for (index_t t = 0; t < ts; t += w) {
                const index_t cnt = std::min(w, ts - t);
                batch d[16];
#pragma GCC unroll 16
                for (index_t k = 0; k < 16; ++k) d[k] = load_upto<Arch>(mc + k * ldxi + t, cnt);
                batch u[8];
#pragma GCC unroll 4
                for (index_t j = 0; j < 4; ++j) {        // u = A^T M
                    u[j] = d[j] + d[4 + j] + d[8 + j];
                    u[4 + j] = d[4 + j] - d[8 + j] - d[12 + j];
                }
#pragma GCC unroll 2
                for (index_t a = 0; a < 2; ++a) {        // Y = u A
                    store_upto(u[4 * a] + u[4 * a + 1] + u[4 * a + 2] + bv, yb + 2 * a * ys + t, cnt);
                    store_upto(u[4 * a + 1] - u[4 * a + 2] - u[4 * a + 3] + bv, yb + (2 * a + 1) * ys + t, cnt);
                }
            }
        };
        const auto rows_of = [&](index_t c, const T* yb) {
            T* yc = y + c * p.oh * p.ow;
            for (index_t ty = 0; ty < p.th; ++ty)
                for (index_t a = 0; a < 2 && 2 * ty + a < p.oh; ++a)
                    detail::interleave<Arch>(yb + 2 * a * ys + ty * tw, yb + (2 * a + 1) * ys + ty * tw,
                                             yc + (2 * ty + a) * p.ow, p.ow);
        };
        detail::staggered<2>(channels, [&](index_t stage, index_t c, index_t buf) {
            if (stage == 0) tiles_of(c, ybuf + buf * 4 * ys);
            else rows_of(c, ybuf + buf * 4 * ys);
        });
    }
};

// Its adjoint, dM = A dY A^T, from `channels` planes of dy (OH*OW apart) to dm as the forward
// kernel's m.
//   A = [1 0; 1 1; 1 -1; 0 -1]
struct winograd_output_adjoint_kernel {
    template <class Arch, class T>
    void operator()(Arch, const winograd_plane& p, index_t channels, const T* dy, T* dm, index_t ldc, index_t ldxi,
                    T* work) const {
        using batch = xsimd::batch<T, Arch>;
        constexpr index_t w = batch::size;
        const index_t tw = p.tw, ts = p.tiles(), ys = ts + w;
        T* dbuf = work;                                  // dY(a, b) over the tiles: db + (2 a + b) ys, two channels' (staggered)
        T* row = dbuf + 8 * ys;                          // one row of dy, 2 tw
        const auto rows_of = [&](index_t c, T* db) {
            const T* dyc = dy + c * p.oh * p.ow;
            for (index_t ty = 0; ty < p.th; ++ty)
                for (index_t a = 0; a < 2; ++a) {
                    T* e = db + 2 * a * ys + ty * tw;
                    T* o = e + ys;
                    if (2 * ty + a >= p.oh) {
                        zero_row<Arch>(e, tw);
                        zero_row<Arch>(o, tw);
                        continue;
                    }
                    if constexpr (has_unzip<Arch, T>) {  // straight from dy
                        const T* yr = dyc + (2 * ty + a) * p.ow;
                        for (index_t i = 0; i < tw; i += w) {
                            const index_t cnt = std::min(w, tw - i);
                            batch ev, od;
                            unzip<Arch>(detail::load_padded<Arch>(yr, p.ow, 0, 2 * i),
                                        detail::load_padded<Arch>(yr, p.ow, 0, 2 * i + w), ev, od);
                            store_upto(ev, e + i, cnt);
                            store_upto(od, o + i, cnt);
                        }
                        continue;
                    }
                    zero_row<Arch>(row, 2 * tw);
                    copy_row<Arch>(dyc + (2 * ty + a) * p.ow, row, p.ow);
                    detail::deinterleave<Arch>(row, tw, e, o);
                }
        };
        const auto columns_of = [&](index_t c, const T* db) {
            T* mc = dm + c * ldc;
            for (index_t t = 0; t < ts; t += w) {
                const index_t cnt = std::min(w, ts - t);
                batch d[4];
#pragma GCC unroll 4
                for (index_t k = 0; k < 4; ++k) d[k] = load_upto<Arch>(db + k * ys + t, cnt);
                batch u[8];                              // u (2 x 4) = dY A^T
#pragma GCC unroll 2
                for (index_t a = 0; a < 2; ++a) {
                    u[4 * a + 0] = d[2 * a];
                    u[4 * a + 1] = d[2 * a] + d[2 * a + 1];
                    u[4 * a + 2] = d[2 * a] - d[2 * a + 1];
                    u[4 * a + 3] = batch(T(0)) - d[2 * a + 1];
                }
#pragma GCC unroll 4
                for (index_t j = 0; j < 4; ++j) {        // dM = A u
                    store_upto(u[j], mc + j * ldxi + t, cnt);
                    store_upto(u[j] + u[4 + j], mc + (4 + j) * ldxi + t, cnt);
                    store_upto(u[j] - u[4 + j], mc + (8 + j) * ldxi + t, cnt);
                    store_upto(batch(T(0)) - u[4 + j], mc + (12 + j) * ldxi + t, cnt);
                }
            }
        };
        detail::staggered<2>(channels, [&](index_t stage, index_t c, index_t buf) {
            if (stage == 0) rows_of(c, dbuf + buf * 4 * ys);
            else columns_of(c, dbuf + buf * 4 * ys);
        });
    }
};

// ---- the convolution ----------------------------------------------------------------------------

namespace detail {
inline winograd_plane winograd_plane_of(const conv2d_geometry& g) {
    return {g.h, g.w, g.pad, g.oh(), g.ow(), (g.oh() + 1) / 2, (g.ow() + 1) / 2};
}

// Samples per group, as conv_group_size: the products' N (the group's tiles) fills the GEMM's
// column panels best, up to 16 samples, at least 8 groups for the threads, and a thread's
// buffers (backward: V and dV of 16 C rows, dM of 16 O) within 1 MB.
template <class T>
inline index_t winograd_group_size(const conv2d_geometry& g, index_t batch) {
    const index_t tiles = winograd_plane_of(g).tiles();
    return best_group_size<T>(tiles, (32 * g.c + 16 * g.o) * tiles, batch);
}

// A row stride for n tiles: whole cache lines.
template <class T>
constexpr index_t winograd_ld(index_t n) {
    constexpr index_t line = 64 / index_t(sizeof(T));
    return (n + line - 1) / line * line;
}

// The stride of the 16 matrices (rows, n tiles) of V, M and their gradients: a cache line more than
// their size, so that the 16 elements of a tile do not fall in one set of L1 (at 64 channels of 64
// tiles the matrices are 16 KB apart, and the transforms' stores to them took 23 % of a 64x7x7
// layer's time, perf).
template <class T>
constexpr index_t winograd_block(index_t rows, index_t ld) {
    return rows * ld + 64 / index_t(sizeof(T));
}

// U[xi] = (G g G^T)[xi] for every kernel g (o, c): u (16, O, C), and ut (16, C, O) where not null.
//   G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1]
// Kernels in blocks of 16, each block's 16 matrices written as rows of 16: written kernel by kernel,
// the 16 elements of one kernel fell 16*O*C values apart, in one set of L1 (15 % of a 64x7x7
// layer's forward, perf).
template <class T>
inline void winograd_weights(index_t o, index_t c, const T* w, T* u, T* ut) {
    constexpr index_t kb = 16;
    const index_t kernels = o * c;
    for (index_t k0 = 0; k0 < kernels; k0 += kb) {
        const index_t n = std::min(kb, kernels - k0);
        T e[16][kb];
        for (index_t kk = 0; kk < n; ++kk) {
            const T* k = w + (k0 + kk) * 9;
            T t[4][3];
            for (index_t j = 0; j < 3; ++j) {                // t = G g
                t[0][j] = k[j];
                t[1][j] = (k[j] + k[3 + j] + k[6 + j]) / 2;
                t[2][j] = (k[j] - k[3 + j] + k[6 + j]) / 2;
                t[3][j] = k[6 + j];
            }
            for (index_t i = 0; i < 4; ++i) {                // e = t G^T
                e[4 * i + 0][kk] = t[i][0];
                e[4 * i + 1][kk] = (t[i][0] + t[i][1] + t[i][2]) / 2;
                e[4 * i + 2][kk] = (t[i][0] - t[i][1] + t[i][2]) / 2;
                e[4 * i + 3][kk] = t[i][2];
            }
        }
        for (index_t xi = 0; xi < 16; ++xi) std::copy_n(e[xi], n, u + xi * kernels + k0);
    }
    if (!ut) return;
    for (index_t xi = 0; xi < 16; ++xi)                      // ut[xi] = u[xi]^T, in blocks of 16 x 16
        for (index_t o0 = 0; o0 < o; o0 += kb)
            for (index_t c0 = 0; c0 < c; c0 += kb)
                for (index_t ch = c0; ch < std::min(c, c0 + kb); ++ch)
                    for (index_t oc = o0; oc < std::min(o, o0 + kb); ++oc)
                        ut[(xi * c + ch) * o + oc] = u[(xi * o + oc) * c + ch];
}

// dw (O, C, 3, 3) += G^T dU G from du (16, O, C), 16 kernels at a time (as winograd_weights).
template <class T>
inline void winograd_weights_adjoint(index_t o, index_t c, const T* du, T* dw) {
    constexpr index_t kb = 16;
    const index_t kernels = o * c;
    for (index_t k0 = 0; k0 < kernels; k0 += kb) {
        const index_t n = std::min(kb, kernels - k0);
        T d[16][kb];
        for (index_t xi = 0; xi < 16; ++xi) std::copy_n(du + xi * kernels + k0, n, d[xi]);
        for (index_t kk = 0; kk < n; ++kk) {
            T t[3][4];
            for (index_t j = 0; j < 4; ++j) {                // t = G^T dU
                t[0][j] = d[j][kk] + (d[4 + j][kk] + d[8 + j][kk]) / 2;
                t[1][j] = (d[4 + j][kk] - d[8 + j][kk]) / 2;
                t[2][j] = (d[4 + j][kk] + d[8 + j][kk]) / 2 + d[12 + j][kk];
            }
            T* k = dw + (k0 + kk) * 9;
            for (index_t i = 0; i < 3; ++i) {                // dg = t G
                k[3 * i + 0] += t[i][0] + (t[i][1] + t[i][2]) / 2;
                k[3 * i + 1] += (t[i][1] - t[i][2]) / 2;
                k[3 * i + 2] += (t[i][1] + t[i][2]) / 2 + t[i][3];
            }
        }
    }
}

}  // namespace detail

// Where F(2x2, 3x3) applies: 3x3 windows at stride 1, dilation 1, one group. Where it wins: with
// 32 channels or more in and out, and a batch over which the weights' transform is spread
// (conv_bench, batch 64, one thread, medians of 5, forward / backward in ms, against the direct
// kernel or im2col + GEMM): ResNet 64x7x7 1.43-1.52 / 3.05-3.25 against 2.24 / 4.53, 32x14x14
// 1.83-1.86 / 3.63-3.73 against 2.17 / 4.41. At 16x28x28 it is even, 2.17 / 5.95 against 2.37 /
// 5.66: its products (K = 16) run far from peak, and dU's B^T (V^T, 16 columns) costs about as
// much to pack as it is used. Wider layers, batch 63, one thread, forward / backward in ms against
// im2col + GEMM (backward: 9 calls of 7 samples, which keep the old path): 128x7x7 4.9 / 11.7
// against 8.0 / 21.5, 256x7x7 37.3 / 66.4 against 34.4 / 96.3, 32x28x28 6.4 / 15.3 against 8.9 /
// 17.6, 64x14x14 6.6 / 10.8 against 7.7 / 15.9. Not measured past 256 channels, where each
// thread's dU (16*O*C values) grows large: not taken there.
template <class T>
inline bool conv_winograd_wins(const conv2d_geometry& g, index_t batch) {
    return g.kh == 3 && g.kw == 3 && g.stride == 1 && g.dilation == 1 && g.groups == 1 && g.c >= 32 && g.o >= 32 &&
           g.c <= 256 && g.o <= 256 && batch >= 8;
}

// y = conv(x, w) + b by F(2x2, 3x3) (g: conv_winograd_wins's shapes, any padding).
template <class T>
inline void conv2d_forward_winograd(const conv2d_geometry& g, index_t batch, const T* x, const T* w, const T* bias,
                                    T* y) {
    const winograd_plane pl = detail::winograd_plane_of(g);
    const index_t s = g.oh() * g.ow(), ts = pl.tiles();
    const index_t nb = detail::winograd_group_size<T>(g, batch), groups = (batch + nb - 1) / nb;
    const index_t ldmax = detail::winograd_ld<T>(nb * ts);
    static thread_local std::vector<T> weights;                  // U (16, O, C)
    weights.resize(std::size_t(16 * g.o * g.c));
    detail::winograd_weights(g.o, g.c, w, weights.data(), static_cast<T*>(nullptr));
    const T* u = weights.data();
    const int threads = std::min<int>(int(groups), detail::conv_threads(batch, 2.0 * double(g.o * g.c * 9 * s)));
    parallel_for(threads, groups, [&](index_t gi) {
        const detail::conv_group grp = detail::conv_group_at(gi, nb, batch);
        const index_t n = grp.n * ts, ld = detail::winograd_ld<T>(n);
        const index_t bc = detail::winograd_block<T>(g.c, ld), bo = detail::winograd_block<T>(g.o, ld);
        T* v = detail::conv_columns().get<T>(std::size_t(16 * (detail::winograd_block<T>(g.c, ldmax) +
                                                               detail::winograd_block<T>(g.o, ldmax))));
        T* m = v + 16 * bc;
        T* work = detail::conv_work().get<T>(std::size_t(pl.work_size()));
        for (index_t i = 0; i < grp.n; ++i)                      // V (16, C, n)
            invoke_kernel<&kernel_table<T>::winograd_input>(winograd_input_kernel{}, pl, g.c,
                                                            x + (grp.b0 + i) * g.c * g.h * g.w, v + i * ts, ld,
                                                            bc, work);
        for (index_t xi = 0; xi < 16; ++xi)                      // M[xi] (O, n) = U[xi] (O, C) V[xi] (C, n)
            gemm_single_thread<T>(g.o, n, g.c, u + xi * g.o * g.c, g.c, 1, v + xi * bc, ld, 1, T(0),
                                  m + xi * bo, ld);
        for (index_t i = 0; i < grp.n; ++i)
            invoke_kernel<&kernel_table<T>::winograd_output>(winograd_output_kernel{}, pl, g.o,
                                                             static_cast<const T*>(m + i * ts), ld, bo, bias,
                                                             y + (grp.b0 + i) * g.o * s, work);
    });
}

// dw += the weight gradient, db += sum dy, and (when dx is given) dx = the input gradient, by
// F(2x2, 3x3); x is forward's input, transformed again here.
template <class T>
inline void conv2d_backward_winograd(const conv2d_geometry& g, index_t batch, const T* x, const T* w, const T* dy,
                                     T* dx, T* dw, T* db) {
    const winograd_plane pl = detail::winograd_plane_of(g);
    const index_t s = g.oh() * g.ow(), ts = pl.tiles(), nu = 16 * g.o * g.c;
    const index_t nb = detail::winograd_group_size<T>(g, batch), groups = (batch + nb - 1) / nb;
    const index_t ldmax = detail::winograd_ld<T>(nb * ts);
    static thread_local std::vector<T> weights;                  // U (16, O, C), unused; U^T (16, C, O)
    if (dx) {
        weights.resize(std::size_t(2 * nu));
        detail::winograd_weights(g.o, g.c, w, weights.data() + nu, weights.data());
    }
    const T* ut = weights.data();
    const int threads = std::min<int>(int(groups), detail::conv_threads(batch, 4.0 * double(g.o * g.c * 9 * s)));
    detail::for_samples_accumulate<T>(
        groups, threads, nu + g.o, 0,
        [&](index_t gi, T* acc, T*) {                            // acc: dU (16, O, C), db (O)
            const detail::conv_group grp = detail::conv_group_at(gi, nb, batch);
            const index_t n = grp.n * ts, ld = detail::winograd_ld<T>(n);
            const index_t bc = detail::winograd_block<T>(g.c, ld), bo = detail::winograd_block<T>(g.o, ld);
            T* v = detail::conv_columns().get<T>(std::size_t(16 * (2 * detail::winograd_block<T>(g.c, ldmax) +
                                                                   detail::winograd_block<T>(g.o, ldmax))));
            T* dv = v + 16 * bc;
            T* dm = dv + 16 * bc;
            T* work = detail::conv_work().get<T>(std::size_t(pl.work_size()));
            for (index_t i = 0; i < grp.n; ++i) {
                const index_t b = grp.b0 + i;
                add_row_sums(g.o, s, dy + b * g.o * s, s, acc + nu);
                invoke_kernel<&kernel_table<T>::winograd_output_adjoint>(winograd_output_adjoint_kernel{}, pl, g.o,
                                                                         dy + b * g.o * s, dm + i * ts, ld, bo,
                                                                         work);
                invoke_kernel<&kernel_table<T>::winograd_input>(winograd_input_kernel{}, pl, g.c,
                                                                x + b * g.c * g.h * g.w, v + i * ts, ld, bc,
                                                                work);
            }
            for (index_t xi = 0; xi < 16; ++xi)                  // dU[xi] (O, C) += dM[xi] (O, n) V[xi]^T
                gemm_single_thread<T>(g.o, g.c, n, dm + xi * bo, ld, 1, v + xi * bc, 1, ld, T(1),
                                      acc + xi * g.o * g.c, g.c);
            if (!dx) return;
            for (index_t xi = 0; xi < 16; ++xi)                  // dV[xi] (C, n) = U[xi]^T (C, O) dM[xi] (O, n)
                gemm_single_thread<T>(g.c, n, g.o, ut + xi * g.c * g.o, g.o, 1, dm + xi * bo, ld, 1, T(0),
                                      dv + xi * bc, ld);
            for (index_t i = 0; i < grp.n; ++i)
                invoke_kernel<&kernel_table<T>::winograd_input_adjoint>(winograd_input_adjoint_kernel{}, pl, g.c,
                                                                        static_cast<const T*>(dv + i * ts), ld,
                                                                        bc, dx + (grp.b0 + i) * g.c * g.h * g.w,
                                                                        work);
        },
        [&](const T* acc) {
            detail::winograd_weights_adjoint(g.o, g.c, acc, dw);
            for (index_t o = 0; o < g.o; ++o) db[o] += acc[nu + o];
        });
}

}  // namespace typenet::kernels::cpu
