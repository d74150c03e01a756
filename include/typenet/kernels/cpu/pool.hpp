// kernels/cpu/pool.hpp — 2-D max and average pooling over planes (B*C of them), torch.nn's
// MaxPool2d / AvgPool2d without padding; ties in a max window go to the first, as torch's do.
//   x (P, H, W) -> y (P, OH, OW), OH = (H - KH) / S + 1, OW = (W - KW) / S + 1
#pragma once
#include <algorithm>

#include "typenet/kernels/cpu/common.hpp"
#include "typenet/kernels/cpu/dispatch.hpp"

namespace typenet::kernels::cpu {

struct pool2d_geometry {
    index_t h, w, kh, kw, stride;
    constexpr index_t oh() const { return (h - kh) / stride + 1; }
    constexpr index_t ow() const { return (w - kw) / stride + 1; }
};

// The running maximum m after seeing v: the first maximum wins a tie, a NaN wins over numbers.
template <class T> inline bool max_pool_takes(T v, T m) { return v > m || (v != v && m == m); }

// 2x2 windows at stride 2 (LeNet's, most CNNs'), over planes (H, W) -> (H/2, W/2). Vectors of w
// outputs: two rows of 2w inputs unzipped into the window's four values, compared in the general
// loop's order (first maximum wins, NaN wins). Scalar, they cost 10 % of a LeNet training step
// (perf); the general loop's runtime window bounds cost 4 more cycles per output.
struct max_pool_2x2_forward_kernel {
    template <class Arch, class T>
    void operator()(Arch, index_t planes, index_t h, index_t w, const T* x, T* y, T* arg) const;
};

template <class Arch, class T>
inline void max_pool_2x2_forward_kernel::operator()(Arch, index_t planes, index_t h, index_t w, const T* x, T* y,
                                                    T* arg) const {
    const index_t oh = h / 2, ow = w / 2;
    for (index_t p = 0; p < planes; ++p, x += h * w, y += oh * ow)
        for (index_t oy = 0; oy < oh; ++oy) {
            const T* r0 = x + 2 * oy * w;
            const T* r1 = r0 + w;
            T* yr = y + oy * ow;
            T* ar = arg ? arg + (p * oh + oy) * ow : nullptr;
            index_t ox = 0;
            if constexpr (has_unzip<Arch, T>) {
                using batch = xsimd::batch<T, Arch>;
                constexpr index_t lanes = batch::size;
                for (; ox < ow; ox += lanes) {
                    const index_t n = std::min(lanes, ow - ox);
                    batch a0, a1, b0, b1, v00, v01, v10, v11;
                    load_pair<Arch>(r0 + 2 * ox, 2 * n, a0, a1);
                    load_pair<Arch>(r1 + 2 * ox, 2 * n, b0, b1);
                    unzip<Arch>(a0, a1, v00, v01);
                    unzip<Arch>(b0, b1, v10, v11);
                    batch m = v00, at(T(0));
                    auto see = [&](batch v, T offset) {
                        const auto takes = (v > m) | (xsimd::isnan(v) & (m == m));   // v != v is ordered: false
                        m = xsimd::select(takes, v, m);
                        at = xsimd::select(takes, batch(offset), at);
                    };
                    see(v01, T(1));
                    see(v10, T(w));
                    see(v11, T(w + 1));
                    store_upto(m, yr + ox, n);
                    if (ar) store_upto(at, ar + ox, n);
                }
            }
            // max_pool_takes, as a lambda: a function of the Arch only (dispatch.hpp).
            auto takes = [](T v, T m) { return v > m || (v != v && m == m); };
            for (; ox < ow; ++ox) {
                T m = r0[2 * ox];
                index_t at = 0;
                if (takes(r0[2 * ox + 1], m)) { m = r0[2 * ox + 1]; at = 1; }
                if (takes(r1[2 * ox], m)) { m = r1[2 * ox]; at = w; }
                if (takes(r1[2 * ox + 1], m)) { m = r1[2 * ox + 1]; at = w + 1; }
                yr[ox] = m;
                if (ar) ar[ox] = T(at);
            }
        }
}

// dx of 2x2 windows at stride 2: the windows do not overlap, so each value of dx is its window's dy
// where forward chose it and zero elsewhere, written once (no zero fill and scattered adds).
struct max_pool_2x2_backward_kernel {
    template <class Arch, class T>
    void operator()(Arch, index_t planes, index_t h, index_t w, const T* arg, const T* dy, T* dx) const;
};

template <class Arch, class T>
inline void max_pool_2x2_backward_kernel::operator()(Arch, index_t planes, index_t h, index_t w, const T* arg,
                                                     const T* dy, T* dx) const {
    const index_t oh = h / 2, ow = w / 2;
    for (index_t p = 0; p < planes; ++p, dx += h * w, arg += oh * ow, dy += oh * ow) {
        for (index_t oy = 0; oy < oh; ++oy) {
            T* d0 = dx + 2 * oy * w;
            T* d1 = d0 + w;
            const T* ar = arg + oy * ow;
            const T* dr = dy + oy * ow;
            index_t ox = 0;
            if constexpr (has_unzip<Arch, T>) {
                using batch = xsimd::batch<T, Arch>;
                constexpr index_t lanes = batch::size;
                for (; ox < ow; ox += lanes) {
                    const index_t n = std::min(lanes, ow - ox);
                    const batch a = load_upto<Arch>(ar + ox, n), d = load_upto<Arch>(dr + ox, n);
                    const batch zero(T(0));
                    batch a0, a1;
                    zip<Arch>(xsimd::select(a == batch(T(0)), d, zero), xsimd::select(a == batch(T(1)), d, zero), a0, a1);
                    store_pair<Arch>(a0, a1, d0 + 2 * ox, 2 * n);
                    zip<Arch>(xsimd::select(a == batch(T(w)), d, zero), xsimd::select(a == batch(T(w + 1)), d, zero), a0, a1);
                    store_pair<Arch>(a0, a1, d1 + 2 * ox, 2 * n);
                }
            }
            for (; ox < ow; ++ox) {
                const index_t at = index_t(ar[ox]);
                d0[2 * ox] = at == 0 ? dr[ox] : T(0);
                d0[2 * ox + 1] = at == 1 ? dr[ox] : T(0);
                d1[2 * ox] = at == w ? dr[ox] : T(0);
                d1[2 * ox + 1] = at == w + 1 ? dr[ox] : T(0);
            }
            for (index_t ix = 2 * ow; ix < w; ++ix) d0[ix] = d1[ix] = T(0);   // an odd width's last column
        }
        for (index_t i = 2 * oh * w; i < h * w; ++i) dx[i] = T(0);          // an odd height's last row
    }
}

// y = the window's maximum; arg = where it is, as the offset ky * W + kx within the window (exact
// in T), so backward scatters without searching again; arg may be null (mode::infer: nothing is
// kept). The first maximum wins a tie and a NaN wins over numbers, as in torch.
template <class T>
inline void max_pool2d_forward(const pool2d_geometry& g, index_t planes, const T* x, T* y, T* arg) {
    if (g.kh == 2 && g.kw == 2 && g.stride == 2) {
        invoke_kernel<&kernel_table<T>::max_pool_2x2_forward>(max_pool_2x2_forward_kernel{}, planes, g.h, g.w, x, y, arg);
        return;
    }
    const index_t oh = g.oh(), ow = g.ow();
    for (index_t p = 0; p < planes; ++p, x += g.h * g.w, y += oh * ow, arg += arg ? oh * ow : 0)
        for (index_t oy = 0; oy < oh; ++oy)
            for (index_t ox = 0; ox < ow; ++ox) {
                const T* win = x + oy * g.stride * g.w + ox * g.stride;
                T m = win[0];
                index_t at = 0;
                for (index_t ky = 0; ky < g.kh; ++ky)
                    for (index_t kx = 0; kx < g.kw; ++kx) {
                        const T v = win[ky * g.w + kx];
                        if (max_pool_takes(v, m)) { m = v; at = ky * g.w + kx; }
                    }
                y[oy * ow + ox] = m;
                if (arg) arg[oy * ow + ox] = T(at);
            }
}

// dx = 0, then each dy goes to the position forward chose.
template <class T>
inline void max_pool2d_backward(const pool2d_geometry& g, index_t planes, const T* arg, const T* dy, T* dx) {
    if (g.kh == 2 && g.kw == 2 && g.stride == 2) {
        invoke_kernel<&kernel_table<T>::max_pool_2x2_backward>(max_pool_2x2_backward_kernel{}, planes, g.h, g.w, arg, dy,
                                                               dx);
        return;
    }
    const index_t oh = g.oh(), ow = g.ow();
    std::fill(dx, dx + planes * g.h * g.w, T(0));
    for (index_t p = 0; p < planes; ++p, dx += g.h * g.w, arg += oh * ow, dy += oh * ow)
        for (index_t oy = 0; oy < oh; ++oy)
            for (index_t ox = 0; ox < ow; ++ox)
                dx[oy * g.stride * g.w + ox * g.stride + index_t(arg[oy * ow + ox])] += dy[oy * ow + ox];
}

template <class T>
inline void avg_pool2d_forward(const pool2d_geometry& g, index_t planes, const T* x, T* y) {
    const index_t oh = g.oh(), ow = g.ow();
    const T inv = T(1) / T(g.kh * g.kw);
    for (index_t p = 0; p < planes; ++p, x += g.h * g.w, y += oh * ow)
        for (index_t oy = 0; oy < oh; ++oy)
            for (index_t ox = 0; ox < ow; ++ox) {
                const T* win = x + oy * g.stride * g.w + ox * g.stride;
                T s = 0;
                for (index_t ky = 0; ky < g.kh; ++ky)
                    for (index_t kx = 0; kx < g.kw; ++kx) s += win[ky * g.w + kx];
                y[oy * ow + ox] = s * inv;
            }
}

template <class T>
inline void avg_pool2d_backward(const pool2d_geometry& g, index_t planes, const T* dy, T* dx) {
    const index_t oh = g.oh(), ow = g.ow();
    const T inv = T(1) / T(g.kh * g.kw);
    std::fill(dx, dx + planes * g.h * g.w, T(0));
    for (index_t p = 0; p < planes; ++p, dx += g.h * g.w, dy += oh * ow)
        for (index_t oy = 0; oy < oh; ++oy)
            for (index_t ox = 0; ox < ow; ++ox) {
                T* win = dx + oy * g.stride * g.w + ox * g.stride;
                const T d = dy[oy * ow + ox] * inv;
                for (index_t ky = 0; ky < g.kh; ++ky)
                    for (index_t kx = 0; kx < g.kw; ++kx) win[ky * g.w + kx] += d;
            }
}

}  // namespace typenet::kernels::cpu
