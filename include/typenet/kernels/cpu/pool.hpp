// kernels/cpu/pool.hpp — 2-D max and average pooling over planes (B*C of them), torch.nn's
// MaxPool2d / AvgPool2d without padding; ties in a max window go to the first, as torch's do.
//   x (P, H, W) -> y (P, OH, OW), OH = (H - KH) / S + 1, OW = (W - KW) / S + 1
#pragma once
#include <algorithm>

#include "typenet/kernels/cpu/common.hpp"

namespace typenet::kernels::cpu {

struct pool2d_geometry {
    index_t h, w, kh, kw, stride;
    constexpr index_t oh() const { return (h - kh) / stride + 1; }
    constexpr index_t ow() const { return (w - kw) / stride + 1; }
};

// The running maximum m after seeing v: the first maximum wins a tie, a NaN wins over numbers.
template <class T> inline bool max_pool_takes(T v, T m) { return v > m || (v != v && m == m); }

// 2x2 windows at stride 2 (LeNet's, most CNNs'): the four values of a window compared unrolled,
// in the general loop's order. The general loop's runtime window bounds cost about 4 cycles per
// output here (perf, batch-1 LeNet).
template <class T>
inline void max_pool2d_2x2_forward(const pool2d_geometry& g, index_t planes, const T* x, T* y, T* arg) {
    const index_t oh = g.oh(), ow = g.ow(), w = g.w;
    for (index_t p = 0; p < planes; ++p, x += g.h * w, y += oh * ow)
        for (index_t oy = 0; oy < oh; ++oy) {
            const T* r0 = x + 2 * oy * w;
            const T* r1 = r0 + w;
            T* yr = y + oy * ow;
            T* ar = arg ? arg + (p * oh + oy) * ow : nullptr;
            for (index_t ox = 0; ox < ow; ++ox) {
                T m = r0[2 * ox];
                index_t at = 0;
                if (max_pool_takes(r0[2 * ox + 1], m)) { m = r0[2 * ox + 1]; at = 1; }
                if (max_pool_takes(r1[2 * ox], m)) { m = r1[2 * ox]; at = w; }
                if (max_pool_takes(r1[2 * ox + 1], m)) { m = r1[2 * ox + 1]; at = w + 1; }
                yr[ox] = m;
                if (ar) ar[ox] = T(at);
            }
        }
}

// y = the window's maximum; arg = where it is, as the offset ky * W + kx within the window (exact
// in T), so backward scatters without searching again; arg may be null (mode::infer: nothing is
// kept). The first maximum wins a tie and a NaN wins over numbers, as in torch.
template <class T>
inline void max_pool2d_forward(const pool2d_geometry& g, index_t planes, const T* x, T* y, T* arg) {
    if (g.kh == 2 && g.kw == 2 && g.stride == 2) {
        max_pool2d_2x2_forward(g, planes, x, y, arg);
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
