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

template <class T>
inline void max_pool2d_forward(const pool2d_geometry& g, index_t planes, const T* x, T* y) {
    const index_t oh = g.oh(), ow = g.ow();
    for (index_t p = 0; p < planes; ++p, x += g.h * g.w, y += oh * ow)
        for (index_t oy = 0; oy < oh; ++oy)
            for (index_t ox = 0; ox < ow; ++ox) {
                const T* win = x + oy * g.stride * g.w + ox * g.stride;
                T m = win[0];
                for (index_t ky = 0; ky < g.kh; ++ky)
                    for (index_t kx = 0; kx < g.kw; ++kx) m = std::max(m, win[ky * g.w + kx]);
                y[oy * ow + ox] = m;
            }
}

// dx = 0, then each dy goes to the first position of its window that holds the maximum.
template <class T>
inline void max_pool2d_backward(const pool2d_geometry& g, index_t planes, const T* x, const T* y, const T* dy, T* dx) {
    const index_t oh = g.oh(), ow = g.ow();
    std::fill(dx, dx + planes * g.h * g.w, T(0));
    for (index_t p = 0; p < planes; ++p, x += g.h * g.w, dx += g.h * g.w, y += oh * ow, dy += oh * ow)
        for (index_t oy = 0; oy < oh; ++oy)
            for (index_t ox = 0; ox < ow; ++ox) {
                const index_t base = oy * g.stride * g.w + ox * g.stride;
                const T m = y[oy * ow + ox];
                index_t at = base;
                for (index_t ky = g.kh - 1; ky >= 0; --ky)          // scanned backwards: the first match wins
                    for (index_t kx = g.kw - 1; kx >= 0; --kx)
                        if (x[base + ky * g.w + kx] == m) at = base + ky * g.w + kx;
                dx[at] += dy[oy * ow + ox];
            }
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
