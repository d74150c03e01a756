// kernels/cpu/conv.hpp — 2-D convolution as im2col + GEMM, torch.nn.Conv2d's semantics
// (cross-correlation, zero padding, stride, dilation, groups), forward and both gradients; and its
// adjoint, torch.nn.ConvTranspose2d (conv_transpose2d_*, at the end).
// Samples are independent: threads take whole samples, each running single-threaded GEMMs.
//
//   x (B, C, H, W)   w (O, C/G, KH, KW)   b (O)   y (B, O, OH, OW)
//   col (B, C*KH*KW, OH*OW): the unrolled input, kept from forward for the weight gradient
#pragma once
#include <algorithm>
#include <cstring>
#include <vector>

#include "typenet/kernels/cpu/conv_direct.hpp"
#include "typenet/kernels/cpu/gemm.hpp"
#include "typenet/kernels/cpu/gemm_abt.hpp"

namespace typenet::kernels::cpu {

struct conv2d_geometry {
    index_t c, h, w;          // input channels, height, width
    index_t o, kh, kw;        // output channels, kernel height, width
    index_t stride, pad, dilation, groups;
    constexpr index_t oh() const { return (h + 2 * pad - dilation * (kh - 1) - 1) / stride + 1; }
    constexpr index_t ow() const { return (w + 2 * pad - dilation * (kw - 1) - 1) / stride + 1; }
    constexpr index_t col_rows() const { return c * kh * kw; }           // C*KH*KW
    constexpr index_t col_size() const { return col_rows() * oh() * ow(); }
};

namespace detail {
// The output columns [lo, hi) whose input column ox*stride - pad + off (off = kx*dilation) lies in
// [0, w): the rest read the zero padding. Hoisting this out of the row loops leaves the inner loops
// without a test per element (a contiguous copy at stride 1).
struct valid_span {
    index_t lo, hi;
};
inline valid_span valid_columns(index_t ow, index_t w, index_t stride, index_t pad, index_t off) {
    const index_t first = pad - off;                          // ox*stride >= first
    const index_t last = w - 1 + pad - off;                   // ox*stride <= last
    index_t lo = first <= 0 ? 0 : (first + stride - 1) / stride;
    index_t hi = last < 0 ? 0 : last / stride + 1;
    lo = std::min(lo, ow);
    hi = std::clamp(hi, lo, ow);
    return {lo, hi};
}

// im2col / col2im_add for an output extent given explicitly: conv_transpose2d's adjoint convolution
// has OH = H even where output padding would make the formula round up (output_padding >= stride).
template <class T>
inline void im2col_sized(const conv2d_geometry& g, index_t oh, index_t ow, const T* x, T* col) {
    for (index_t ch = 0; ch < g.c; ++ch)
        for (index_t ky = 0; ky < g.kh; ++ky)
            for (index_t kx = 0; kx < g.kw; ++kx) {
                T* row = col + ((ch * g.kh + ky) * g.kw + kx) * oh * ow;   // (OH, OW)
                const index_t off = kx * g.dilation - g.pad;               // ix = ox*stride + off
                const valid_span v = valid_columns(ow, g.w, g.stride, g.pad, kx * g.dilation);
                if (g.stride == 1 && ow == g.w && v.hi > v.lo) {
                    // 'Same' width at stride 1: the row is the image shifted by a constant, one copy
                    // of all its valid rows; then the columns that wrapped into the neighbouring
                    // image row are zeroed. Short per-row copies cost more in calls than in bytes.
                    const valid_span r = valid_columns(oh, g.h, 1, g.pad, ky * g.dilation);
                    std::fill(row, row + r.lo * ow, T(0));
                    if (r.hi > r.lo) {
                        const T* in = x + ch * g.h * g.w + (ky * g.dilation - g.pad) * g.w + off;
                        std::copy(in + r.lo * ow + v.lo, in + (r.hi - 1) * ow + v.hi, row + r.lo * ow + v.lo);
                        for (index_t oy = r.lo; oy < r.hi; ++oy) {
                            T* out = row + oy * ow;
                            for (index_t ox = 0; ox < v.lo; ++ox) out[ox] = T(0);
                            for (index_t ox = v.hi; ox < ow; ++ox) out[ox] = T(0);
                        }
                    }
                    std::fill(row + std::max(r.hi, r.lo) * ow, row + oh * ow, T(0));
                    continue;
                }
                for (index_t oy = 0; oy < oh; ++oy) {
                    const index_t iy = oy * g.stride - g.pad + ky * g.dilation;
                    T* out = row + oy * ow;
                    if (iy < 0 || iy >= g.h) { std::fill(out, out + ow, T(0)); continue; }
                    const T* in = x + (ch * g.h + iy) * g.w + off;
                    std::fill(out, out + v.lo, T(0));
                    if (g.stride == 1) std::copy(in + v.lo, in + v.hi, out + v.lo);
                    else for (index_t ox = v.lo; ox < v.hi; ++ox) out[ox] = in[ox * g.stride];
                    std::fill(out + v.hi, out + ow, T(0));
                }
            }
}

template <class T>
inline void col2im_add_sized(const conv2d_geometry& g, index_t oh, index_t ow, const T* dcol, T* dx) {
    for (index_t ch = 0; ch < g.c; ++ch)
        for (index_t ky = 0; ky < g.kh; ++ky)
            for (index_t kx = 0; kx < g.kw; ++kx) {
                const T* row = dcol + ((ch * g.kh + ky) * g.kw + kx) * oh * ow;
                const index_t off = kx * g.dilation - g.pad;
                const valid_span v = valid_columns(ow, g.w, g.stride, g.pad, kx * g.dilation);
                for (index_t oy = 0; oy < oh; ++oy) {
                    const index_t iy = oy * g.stride - g.pad + ky * g.dilation;
                    if (iy < 0 || iy >= g.h) continue;
                    T* in = dx + (ch * g.h + iy) * g.w + off;
                    const T* src = row + oy * ow;
                    if (g.stride == 1)
                        for (index_t ox = v.lo; ox < v.hi; ++ox) in[ox] += src[ox];
                    else
                        for (index_t ox = v.lo; ox < v.hi; ++ox) in[ox * g.stride] += src[ox];
                }
            }
}
}  // namespace detail

// One sample: col (C*KH*KW, OH*OW) from x (C, H, W); zero where the window leaves the image.
template <class T>
inline void im2col(const conv2d_geometry& g, const T* x, T* col) {
    detail::im2col_sized(g, g.oh(), g.ow(), x, col);
}

// One sample: dx (C, H, W) += col2im(dcol); the adjoint of im2col.
template <class T>
inline void col2im_add(const conv2d_geometry& g, const T* dcol, T* dx) {
    detail::col2im_add_sized(g, g.oh(), g.ow(), dcol, dx);
}

namespace detail {
inline int conv_threads(index_t batch, double flops_per_sample) {
    const double total = flops_per_sample * double(batch);
    return int(std::max<double>(1, std::min<double>({double(max_threads()), double(batch), total / double(1 << 18)})));
}

// Runs body(b, acc, scratch) for every sample b, threads taking whole samples; acc is the thread's
// own zeroed accumulator (n_acc) and scratch its own buffer (n_scratch). Then finish(acc) is called
// for each thread's accumulator in thread order, so sums are the same from run to run.
template <class T, class Body, class Finish>
inline void for_samples_accumulate(index_t batch, int threads, index_t n_acc, index_t n_scratch, Body body,
                                   Finish finish) {
    const index_t per_thread = n_acc + n_scratch;
    static thread_local std::vector<T> partial;
    partial.assign(std::size_t(threads) * std::size_t(per_thread), T(0));
    T* part = partial.data();
    run_threads(threads, [&](index_t t, index_t nt) {           // contiguous runs of samples
        T* acc = part + t * per_thread;
        for (index_t b = batch * t / nt; b < batch * (t + 1) / nt; ++b) body(b, acc, acc + n_acc);
    });
    for (int t = 0; t < threads; ++t) finish(static_cast<const T*>(part + t * per_thread));
}
}  // namespace detail

// y = conv(x, w) + b; col receives the unrolled input of every sample.
template <class T>
inline void conv2d_forward(const conv2d_geometry& g, index_t batch, const T* x, const T* w, const T* bias, T* y,
                           T* col) {
    const index_t s = g.oh() * g.ow(), og = g.o / g.groups, kg = g.col_rows() / g.groups;
    const int threads = detail::conv_threads(batch, 2.0 * double(g.o * kg * s));
    parallel_for(threads, batch, [&](index_t b) {
        T* cb = col + b * g.col_size();                          // (C*KH*KW, OH*OW)
        T* yb = y + b * g.o * s;                                 // (O, OH*OW)
        im2col(g, x + b * g.c * g.h * g.w, cb);
        for (index_t gr = 0; gr < g.groups; ++gr)                // y_g (O/G, S) = w_g (O/G, K_g) col_g (K_g, S) + b_g
            gemm_single_thread<T>(og, s, kg, w + gr * og * kg, kg, 1, cb + gr * kg * s, s, 1, T(0),
                                  yb + gr * og * s, s, bias_epilogue<T>{.row = bias + gr * og});
    });
}

// The direct kernel (conv_direct.hpp) applies at stride 1, dilation 1, one group, and wins over
// im2col + GEMM where an output row fills at least half a vector (conv_bench, batch 1: LeNet's
// layers 6.3 -> 4.2 and 15.4 -> 7.6 us, ResNet 32x14x14 59 -> 44 us; at 7x7 it loses).
template <class T>
inline bool conv_direct_wins(const conv2d_geometry& g) {
    return g.stride == 1 && g.dilation == 1 && g.groups == 1 && 2 * g.ow() >= active_direct_sizes<T>().w;
}

// y = conv(x, w) + b with nothing kept for backward (mode::infer): the direct kernel where it wins,
// else conv2d_forward with col as its scratch. Threads take whole samples.
template <class T>
inline void conv2d_forward_infer(const conv2d_geometry& g, index_t batch, const T* x, const T* w, const T* bias, T* y,
                                 T* col) {
    if (!conv_direct_wins<T>(g)) {
        conv2d_forward(g, batch, x, w, bias, y, col);
        return;
    }
    const conv_direct_geometry d{g.c, g.h, g.w, g.o, g.kh, g.kw, g.pad};
    const index_t s = g.oh() * g.ow();
    const int threads = detail::conv_threads(batch, 2.0 * double(g.o * g.col_rows() * s));
    parallel_for(threads, batch, [&](index_t b) {
        static thread_local scratch padded;                     // grow-only: one allocation per thread
        T* xp = padded.get<T>(std::size_t(d.padded_size(active_direct_sizes<T>().w)));
        conv2d_direct_forward(d, x + b * g.c * g.h * g.w, w, bias, y + b * g.o * s, xp);
    });
}

// dx of a stride-1 convolution is itself a convolution: dy (O, OH, OW) correlated with the kernel
// flipped in space and transposed in channels, w' (C, O, KH, KW), at padding KH - 1 - P, gives
// (C, H, W). Where the direct kernel applies to that convolution, it replaces dcol = w^T dy (a GEMM
// with K = O/G, which writes C*KH*KW*OH*OW values) and col2im's scatter.
inline conv_direct_geometry conv_dx_geometry(const conv2d_geometry& g) {
    return {g.o, g.oh(), g.ow(), g.c, g.kh, g.kw, g.kh - 1 - g.pad};   // square padding: KH == KW here
}
// Measured (conv_bench, batch 64, one thread, CPU time): ResNet 16x28x28 k3 backward 8.3 -> 6.4 ms,
// 32x14x14 k3 8.4 -> 6.5 ms, LeNet c2 1.77 -> 1.63 ms; with one input channel (a stem, whose dx
// a network never asks for) the blocks of output channels are empty and it loses, 1.08 -> 1.39 ms.
template <class T>
inline bool conv_dx_direct_wins(const conv2d_geometry& g) {
    const direct_sizes d = active_direct_sizes<T>();
    return g.stride == 1 && g.dilation == 1 && g.groups == 1 && g.kh == g.kw && g.pad <= g.kh - 1 && g.c >= d.ob &&
           2 * g.w >= d.w;
}

// dw += sum_b dy_b col_b^T, db += sum dy, and (when dx is given) dx = col2im(w^T dy), or the
// direct convolution above.
// col is only read, so backward may run again after the same forward (gradients accumulate).
template <class T>
inline void conv2d_backward(const conv2d_geometry& g, index_t batch, const T* w, const T* dy, const T* col, T* dx,
                            T* dw, T* db) {
    const index_t s = g.oh() * g.ow(), og = g.o / g.groups, kg = g.col_rows() / g.groups;
    const index_t wsize = g.o * kg;
    const int threads = detail::conv_threads(batch, 4.0 * double(g.o * kg * s));
    const bool direct_dx = dx && conv_dx_direct_wins<T>(g);
    const conv_direct_geometry gx = conv_dx_geometry(g);
    static thread_local std::vector<T> flipped;                  // w' (C, O, KH, KW), then zeros (C) for a bias
    if (direct_dx) {
        const index_t kk = g.kh * g.kw;
        flipped.assign(std::size_t(g.c * g.o * kk + g.c), T(0));
        for (index_t o = 0; o < g.o; ++o)
            for (index_t ch = 0; ch < g.c; ++ch)
                for (index_t k = 0; k < kk; ++k) flipped[std::size_t((ch * g.o + o) * kk + kk - 1 - k)] = w[(o * g.c + ch) * kk + k];
    }
    const T* wflip = flipped.data();
    const index_t n_scratch = !dx ? 0 : direct_dx ? gx.padded_size(active_direct_sizes<T>().w) : g.col_size();
    // Each thread sums its samples' dw and db privately, with its own scratch: the column gradient
    // dcol, or the padded dy of the direct kernel.
    detail::for_samples_accumulate<T>(
        batch, threads, wsize + g.o, n_scratch,
        [&](index_t b, T* acc, T* dcol) {                        // acc: dw (O, K_g), db (O); dcol (C*KH*KW, S)
            T* my_dw = acc;
            T* my_db = acc + wsize;
            const T* dyb = dy + b * g.o * s;                     // (O, S)
            const T* cb = col + b * g.col_size();                // (C*KH*KW, S)
            for (index_t o = 0; o < g.o; ++o)
                for (index_t i = 0; i < s; ++i) my_db[o] += dyb[o * s + i];
            for (index_t gr = 0; gr < g.groups; ++gr) {          // dw_g (O/G, K_g) += dy_g (O/G, S) col_g^T (S, K_g)
                if (s >= active_abt_sizes<T>().min_k)           // long rows: dot products, no transposition
                    gemm_abt_single_thread<T>(og, kg, s, dyb + gr * og * s, s, cb + gr * kg * s, s, T(1), my_dw + gr * og * kg, kg);
                else
                    gemm_single_thread<T>(og, kg, s, dyb + gr * og * s, s, 1, cb + gr * kg * s, 1, s, T(1),
                                          my_dw + gr * og * kg, kg);
            }
            if (!dx) return;
            T* dxb = dx + b * g.c * g.h * g.w;                   // (C, H, W)
            if (direct_dx) {
                conv2d_direct_forward(gx, dyb, wflip, wflip + g.c * g.o * g.kh * g.kw, dxb, dcol);
                return;
            }
            for (index_t gr = 0; gr < g.groups; ++gr)            // dcol_g (K_g, S) = w_g^T (K_g, O/G) dy_g (O/G, S)
                gemm_single_thread<T>(kg, s, og, w + gr * og * kg, 1, kg, dyb + gr * og * s, s, 1, T(0),
                                      dcol + gr * kg * s, s);
            std::fill(dxb, dxb + g.c * g.h * g.w, T(0));
            col2im_add(g, dcol, dxb);
        },
        [&](const T* acc) {
            for (index_t i = 0; i < wsize; ++i) dw[i] += acc[i];
            for (index_t o = 0; o < g.o; ++o) db[o] += acc[wsize + o];
        });
}

// ---- transposed convolution ------------------------------------------------------------------------
// torch.nn.ConvTranspose2d: the adjoint of conv2d with the roles of input and output swapped.
//
//   x (B, C, H, W)   w (C, O/G, KH, KW)   b (O)   y (B, O, OH, OW)
//   OH = (H - 1) S - 2P + D (KH - 1) + OP + 1   (OP: output padding, added at the bottom and right)
//   col (B, O*KH*KW, H*W): scratch, the columns that col2im scatters into y (and im2col of dy)
//
// With a = adjoint() — conv2d from (O, OH, OW) to (C, H, W), same kernel, stride, padding,
// dilation and groups — forward is a's backward-data pass (y = col2im_a(w^T x)), and backward's dx
// is a's forward (dx = w im2col_a(dy)).
struct conv_transpose2d_geometry {
    index_t c, h, w;          // input channels, height, width
    index_t o, kh, kw;        // output channels, kernel height, width
    index_t stride, pad, output_pad, dilation, groups;
    constexpr index_t oh() const { return (h - 1) * stride - 2 * pad + dilation * (kh - 1) + output_pad + 1; }
    constexpr index_t ow() const { return (w - 1) * stride - 2 * pad + dilation * (kw - 1) + output_pad + 1; }
    constexpr index_t col_rows() const { return o * kh * kw; }           // O*KH*KW
    constexpr index_t col_size() const { return col_rows() * h * w; }
    constexpr conv2d_geometry adjoint() const { return {o, oh(), ow(), c, kh, kw, stride, pad, dilation, groups}; }
};

// y = conv_transpose(x, w) + b; col is scratch of B * col_size().
template <class T>
inline void conv_transpose2d_forward(const conv_transpose2d_geometry& g, index_t batch, const T* x, const T* w,
                                     const T* bias, T* y, T* col) {
    const conv2d_geometry a = g.adjoint();
    const index_t s = g.h * g.w, so = g.oh() * g.ow(), cg = g.c / g.groups, kg = g.col_rows() / g.groups;
    const int threads = detail::conv_threads(batch, 2.0 * double(g.c * kg * s));
    parallel_for(threads, batch, [&](index_t b) {
        T* cb = col + b * g.col_size();                          // (O*KH*KW, H*W)
        const T* xb = x + b * g.c * s;                           // (C, H*W)
        T* yb = y + b * g.o * so;                                // (O, OH*OW)
        for (index_t gr = 0; gr < g.groups; ++gr)                // col_g (K_g, S) = w_g^T (K_g, C/G) x_g (C/G, S)
            gemm_single_thread<T>(kg, s, cg, w + gr * cg * kg, 1, kg, xb + gr * cg * s, s, 1, T(0),
                                  cb + gr * kg * s, s);
        for (index_t o = 0; o < g.o; ++o) std::fill(yb + o * so, yb + (o + 1) * so, bias[o]);
        detail::col2im_add_sized(a, g.h, g.w, cb, yb);
    });
}

// dw += sum_b x_b im2col(dy_b)^T, db += sum dy, and (when dx is given) dx = w im2col(dy).
// col is scratch (B * col_size()), as in forward; x is the forward input.
template <class T>
inline void conv_transpose2d_backward(const conv_transpose2d_geometry& g, index_t batch, const T* x, const T* w,
                                      const T* dy, T* col, T* dx, T* dw, T* db) {
    const conv2d_geometry a = g.adjoint();
    const index_t s = g.h * g.w, so = g.oh() * g.ow(), cg = g.c / g.groups, kg = g.col_rows() / g.groups;
    const index_t wsize = g.c * kg;
    const int threads = detail::conv_threads(batch, 4.0 * double(g.c * kg * s));
    detail::for_samples_accumulate<T>(
        batch, threads, wsize + g.o, 0,
        [&](index_t b, T* acc, T*) {                             // acc: dw (C, K_g), db (O)
            T* my_dw = acc;
            T* my_db = acc + wsize;
            const T* dyb = dy + b * g.o * so;                    // (O, OH*OW)
            const T* xb = x + b * g.c * s;                       // (C, S)
            T* cb = col + b * g.col_size();                      // (O*KH*KW, S)
            for (index_t o = 0; o < g.o; ++o)
                for (index_t i = 0; i < so; ++i) my_db[o] += dyb[o * so + i];
            detail::im2col_sized(a, g.h, g.w, dyb, cb);
            for (index_t gr = 0; gr < g.groups; ++gr)            // dw_g (C/G, K_g) += x_g (C/G, S) col_g^T (S, K_g)
                gemm_single_thread<T>(cg, kg, s, xb + gr * cg * s, s, 1, cb + gr * kg * s, 1, s, T(1),
                                      my_dw + gr * cg * kg, kg);
            if (!dx) return;
            for (index_t gr = 0; gr < g.groups; ++gr)            // dx_g (C/G, S) = w_g (C/G, K_g) col_g (K_g, S)
                gemm_single_thread<T>(cg, s, kg, w + gr * cg * kg, kg, 1, cb + gr * kg * s, s, 1, T(0),
                                      dx + b * g.c * s + gr * cg * s, s);
        },
        [&](const T* acc) {
            for (index_t i = 0; i < wsize; ++i) dw[i] += acc[i];
            for (index_t o = 0; o < g.o; ++o) db[o] += acc[wsize + o];
        });
}

}  // namespace typenet::kernels::cpu
