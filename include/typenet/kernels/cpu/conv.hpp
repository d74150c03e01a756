// kernels/cpu/conv.hpp — 2-D convolution as im2col + GEMM, torch.nn.Conv2d's semantics
// (cross-correlation, zero padding, stride, dilation, groups), forward and both gradients; and its
// adjoint, torch.nn.ConvTranspose2d (conv_transpose2d_*, at the end).
// Threads take whole groups of samples, each running single-threaded GEMMs over the group's columns.
//
//   x (B, C, H, W)   w (O, C/G, KH, KW)   b (O)   y (B, O, OH, OW)
//   col (C*KH*KW, n*OH*OW): the unrolled input of a group of n samples, in a thread's scratch
#pragma once
#include <algorithm>
#include <cstring>
#include <type_traits>
#include <vector>

#include "typenet/kernels/cpu/conv_direct.hpp"
#include "typenet/kernels/cpu/conv_direct_s2.hpp"
#include "typenet/kernels/cpu/conv_geometry.hpp"
#include "typenet/kernels/cpu/elementwise.hpp"
#include "typenet/kernels/cpu/gemm.hpp"
#include "typenet/kernels/cpu/gemm_abt.hpp"

namespace typenet::kernels::cpu {

namespace detail {
// dst[i] = src[2 i] for i < n (stride-2 convolutions): in vectors, pairs of vectors unzipped, where
// the ISA has the shuffle. src[2 n - 1] is not read: it may lie past the image.
template <class Arch, class T>
inline void copy_even(const T* src, T* dst, index_t n) {
    if constexpr (has_unzip<Arch, T>) {
        using batch = xsimd::batch<T, Arch>;
        constexpr index_t w = batch::size;
        for (index_t i = 0; i < n; i += w) {
            const index_t cnt = std::min(w, n - i);
            batch a0, a1, even, odd;
            load_pair<Arch>(src + 2 * i, 2 * cnt - 1, a0, a1);
            unzip<Arch>(a0, a1, even, odd);
            store_upto(even, dst + i, cnt);
        }
    } else {
        for (index_t i = 0; i < n; ++i) dst[i] = src[2 * i];
    }
}

// Lanes [lo, hi) of (p[0], p[S], p[2 S], ...) for S = 1 or 2 (2 only where has_unzip), zeros
// elsewhere: one row of im2col within a vector. Only the lanes' values are read.
template <index_t S, class Arch, class T>
inline xsimd::batch<T, Arch> load_strided_range(const T* p, index_t lo, index_t hi) {
    static_assert(S == 1 || (S == 2 && has_unzip<Arch, T>));
    using batch = xsimd::batch<T, Arch>;
    if constexpr (S == 2) {
        constexpr index_t w = batch::size;
        const index_t first = 2 * lo, last = std::max(first, 2 * hi - 1);   // p[2 (hi - 1)] the last read
        batch even, odd;
        unzip<Arch>(load_range<Arch>(p, std::min(first, w), std::min(last, w)),
                    load_range<Arch>(p + w, std::clamp<index_t>(first - w, 0, w), std::clamp<index_t>(last - w, 0, w)),
                    even, odd);
        return even;
    } else {
        return load_range<Arch>(p, lo, hi);
    }
}
}  // namespace detail

namespace detail {
// im2col at stride 2 where an output row fits one vector and an input row two (the ResNet's
// 16x28x28 and 32x14x14 downsampling, 14 and 7 columns at AVX-512). Each input row is loaded once;
// every row of columns it feeds (KW of them for each ky whose window reaches it) is then one
// permute of that pair: output column ox of tap kx is input column 2 ox + kx D - P. The path below
// loads the input pair again for each row of columns (two masked loads and an unzip). im2col of a
// batch of 64 at AVX-512, one thread: 16x28x28 363-365 -> 306-310 us, 32x14x14 299-339 -> 239-251.
// What is left is the stores (113 KB a sample at 16x28x28, into L2): the backward pass's weight
// gradient is what still unrolls these layers; their forward is conv_direct_s2.hpp's.
// Rows of each (ky, kx) are written in increasing oy, so a whole-vector store's spill past a row is
// overwritten by the next; the last row is stored masked.
template <class Arch, class T>
inline void im2col_stride2_rows(const conv2d_geometry& g, index_t oh, index_t ow, const T* x, T* col, index_t ld) {
    using batch = xsimd::batch<T, Arch>;
    constexpr index_t w = batch::size;
    const index_t taps = g.kw;
    pair_lanes<Arch> pick[direct_s2_max_kw];
    stride2_picks(g, ow, 1, pick);
    const bool spill_ok = w <= 2 * ow;                                     // a store's spill stays in the next row
    auto put_all = [&](T* row, index_t oy, auto&& value) {                 // row (ky, 0) at row, then + kx ld
        T* out = row + oy * ow;
        if (spill_ok && oy + 1 < oh)
            for (index_t kx = 0; kx < taps; ++kx) value(kx).store_unaligned(out + kx * ld);
        else
            for (index_t kx = 0; kx < taps; ++kx) store_upto(batch(value(kx)), out + kx * ld, ow);
    };
    const auto zeros = [](index_t) { return batch(T(0)); };
    valid_span inside[direct_s2_max_kh];                                   // per ky: the rows oy in the image
    for (index_t ky = 0; ky < g.kh; ++ky) inside[ky] = valid_columns(Arch{}, oh, g.h, 2, g.pad, ky * g.dilation);
    for (index_t ch = 0; ch < g.c; ++ch) {
        T* rows = col + ch * g.kh * taps * ld;                             // row (ky, kx) at + (ky KW + kx) ld
        const T* xc = x + ch * g.h * g.w;
        // Output rows whose window row lies above the image: zeros, before the rows below them.
        for (index_t ky = 0; ky < g.kh; ++ky)
            for (index_t oy = 0; oy < inside[ky].lo; ++oy) put_all(rows + ky * taps * ld, oy, zeros);
        for (index_t iy = 0; iy < g.h; ++iy) {
            batch a0, a1;
            bool loaded = false;                                            // rows no window uses are not read
            for (index_t ky = 0; ky < g.kh; ++ky) {
                const index_t t = iy + g.pad - ky * g.dilation;             // 2 oy
                if (t < 0 || t % 2 != 0 || t / 2 >= oh) continue;
                if (!loaded) load_pair<Arch>(xc + iy * g.w, g.w, a0, a1), loaded = true;
                put_all(rows + ky * taps * ld, t / 2, [&](index_t kx) { return pick[kx](a0, a1); });
            }
        }
        for (index_t ky = 0; ky < g.kh; ++ky)                              // and below the image
            for (index_t oy = std::max(inside[ky].hi, inside[ky].lo); oy < oh; ++oy)
                put_all(rows + ky * taps * ld, oy, zeros);
    }
}
}  // namespace detail

// im2col of one sample for an output extent given explicitly (conv_transpose2d's adjoint
// convolution has OH = H even where output padding would make the formula round up): row r of the
// columns, (OH, OW), at col + r * ld, so samples can sit side by side in one matrix (conv2d_forward).
struct im2col_kernel {
    template <class Arch, class T>
    void operator()(Arch, const conv2d_geometry& g, index_t oh, index_t ow, const T* x, T* col, index_t ld) const;
};

template <class Arch, class T>
inline void im2col_kernel::operator()(Arch, const conv2d_geometry& g, index_t oh, index_t ow, const T* x, T* col,
                                      index_t ld) const {
    using batch = xsimd::batch<T, Arch>;
    constexpr index_t w = batch::size;
    if constexpr (has_lane_permute<Arch, T>) {
        // (A 1x1 window reads each input row for one row of columns: nothing to share, and the
        // path below is faster there, 32x14x14 -> 7x7: 49 against 77 us a batch of 64.)
        if (g.stride == 2 && ow <= w && g.w <= 2 * w && g.kh * g.kw > 1 && g.kw <= direct_s2_max_kw &&
            g.kh <= direct_s2_max_kh) {
            detail::im2col_stride2_rows<Arch>(g, oh, ow, x, col, ld);
            return;
        }
    }
    for (index_t ch = 0; ch < g.c; ++ch)
        for (index_t ky = 0; ky < g.kh; ++ky)
            for (index_t kx = 0; kx < g.kw; ++kx) {
                T* row = col + ((ch * g.kh + ky) * g.kw + kx) * ld;         // (OH, OW)
                const index_t off = kx * g.dilation - g.pad;                // ix = ox*stride + off
                const detail::valid_span v = detail::valid_columns(Arch{}, ow, g.w, g.stride, g.pad, kx * g.dilation);
                // A row within one vector (LeNet's second layer: 10 columns, a ResNet's last stage:
                // 7): one masked load of its valid columns per row (at stride 2 a pair, unzipped to
                // its even values), zeros around them, and a whole-vector store where the next row
                // overwrites the spill. The stride is a constant of each instance.
                auto one_vector_rows = [&](auto stride) {
                    constexpr index_t S = decltype(stride)::value;
                    const T* in = x + ch * g.h * g.w + off;
                    for (index_t oy = 0; oy < oh; ++oy) {
                        const index_t iy = oy * S - g.pad + ky * g.dilation;
                        T* out = row + oy * ow;
                        const batch vals = iy < 0 || iy >= g.h
                                               ? batch(T(0))
                                               : detail::load_strided_range<S, Arch>(in + iy * g.w, v.lo, v.hi);
                        if (oy + 1 < oh && w <= 2 * ow) vals.store_unaligned(out);
                        else store_upto(vals, out, ow);
                    }
                };
                if (ow <= w && g.stride == 1) {
                    one_vector_rows(std::integral_constant<index_t, 1>{});
                    continue;
                }
                if constexpr (has_unzip<Arch, T>) {
                    if (ow <= w && g.stride == 2) {
                        one_vector_rows(std::integral_constant<index_t, 2>{});
                        continue;
                    }
                }
                if (g.stride == 1 && ow == g.w && v.hi > v.lo) {
                    // 'Same' width at stride 1: the row is the image shifted by a constant, one copy
                    // of all its valid rows; then the columns that wrapped into the neighbouring
                    // image row are zeroed.
                    const detail::valid_span r = detail::valid_columns(Arch{}, oh, g.h, 1, g.pad, ky * g.dilation);
                    zero_row<Arch>(row, r.lo * ow);
                    if (r.hi > r.lo) {
                        const T* in = x + ch * g.h * g.w + (ky * g.dilation - g.pad) * g.w + off;
                        copy_row<Arch>(in + r.lo * ow + v.lo, row + r.lo * ow + v.lo,
                                       (r.hi - 1 - r.lo) * ow + v.hi - v.lo);
                        if (v.lo > 0 || v.hi < ow)
                            for (index_t oy = r.lo; oy < r.hi; ++oy) {
                                zero_row<Arch>(row + oy * ow, v.lo);
                                zero_row<Arch>(row + oy * ow + v.hi, ow - v.hi);
                            }
                    }
                    const index_t below = std::max(r.hi, r.lo) * ow;
                    zero_row<Arch>(row + below, oh * ow - below);
                    continue;
                }
                for (index_t oy = 0; oy < oh; ++oy) {
                    const index_t iy = oy * g.stride - g.pad + ky * g.dilation;
                    T* out = row + oy * ow;
                    if (iy < 0 || iy >= g.h) { zero_row<Arch>(out, ow); continue; }
                    const T* in = x + (ch * g.h + iy) * g.w + off;
                    zero_row<Arch>(out, v.lo);
                    if (g.stride == 1) copy_row<Arch>(in + v.lo, out + v.lo, v.hi - v.lo);
                    else if (g.stride == 2) detail::copy_even<Arch>(in + 2 * v.lo, out + v.lo, v.hi - v.lo);
                    else for (index_t ox = v.lo; ox < v.hi; ++ox) out[ox] = in[ox * g.stride];
                    zero_row<Arch>(out + v.hi, ow - v.hi);
                }
            }
}

// One sample: dx (C, H, W) += col2im(dcol), the adjoint of im2col_kernel (rows of dcol ld apart).
struct col2im_add_kernel {
    template <class Arch, class T>
    void operator()(Arch, const conv2d_geometry& g, index_t oh, index_t ow, const T* dcol, index_t ld, T* dx) const;
};

template <class Arch, class T>
inline void col2im_add_kernel::operator()(Arch, const conv2d_geometry& g, index_t oh, index_t ow, const T* dcol,
                                          index_t ld, T* dx) const {
    using batch = xsimd::batch<T, Arch>;
    constexpr index_t w = batch::size;
    if (g.stride == 1) {
        // Gathered: each vector of dx sums its KH*KW shifted column rows in registers and is
        // stored once. Scattered, the rows' masked adds into dx overlapped each other's stores at
        // a one-column shift (store forwarding fails): half of LeNet's second layer backward.
        // dx[ch, iy, ix] += sum dcol[(ch, ky, kx), oy = iy + P - ky D, ox = ix + P - kx D].
        for (index_t ch = 0; ch < g.c; ++ch)
            for (index_t iy = 0; iy < g.h; ++iy)
                for (index_t ix0 = 0; ix0 < g.w; ix0 += w) {
                    const index_t lanes = std::min(w, g.w - ix0);
                    T* out = dx + (ch * g.h + iy) * g.w + ix0;
                    // Two sums (even and odd kx): one would be a chain of KH*KW dependent additions.
                    batch even = load_upto<Arch>(out, lanes);
                    batch odd(T(0));
                    for (index_t ky = 0; ky < g.kh; ++ky) {
                        const index_t oy = iy + g.pad - ky * g.dilation;
                        if (oy < 0 || oy >= oh) continue;
                        const T* rows = dcol + (ch * g.kh + ky) * g.kw * ld + oy * ow;
                        auto term = [&](index_t kx) {
                            const index_t shift = ix0 + g.pad - kx * g.dilation;      // ox of lane 0
                            const index_t lo = std::clamp<index_t>(-shift, 0, lanes);
                            const index_t hi = std::clamp<index_t>(ow - shift, lo, lanes);
                            return load_range<Arch>(rows + kx * ld + shift, lo, hi);
                        };
                        index_t kx = 0;
                        for (; kx + 2 <= g.kw; kx += 2) {
                            even += term(kx);
                            odd += term(kx + 1);
                        }
                        if (kx < g.kw) even += term(kx);
                    }
                    store_upto(batch(even + odd), out, lanes);
                }
        return;
    }
    constexpr index_t max_kw = 16;                       // stride 2: windows up to 16 wide (else the loop below)
    if constexpr (has_unzip<Arch, T>) {
        if (g.stride == 2 && g.kw <= max_kw) {
            // Gathered per phase: dx's even columns 2j take the kx with P - kx D even, at
            // ox = j + (P - kx D) / 2; its odd columns the others, at ox = j + (P - kx D + 1) / 2;
            // the rows likewise by ky. Each phase is a sum of shifted column rows, as at stride 1;
            // the two are zipped into dx's row and added once. Each kx's phase, shift and valid
            // lanes depend on the column block j0 alone: worked out once per block, not per row
            // (conv_bench, 1 thread, backward: ResNet 32x14x14 -> 64 k3 s2 2,795 -> 2,466-2,573 us,
            // 16x28x28 -> 32 k3 s2 2,965-3,099 -> 2,738-2,790).
            for (index_t j0 = 0; 2 * j0 < g.w; j0 += w) {
                index_t shift[max_kw], lo[max_kw], hi[max_kw];
                bool to_odd[max_kw];
                for (index_t kx = 0; kx < g.kw; ++kx) {
                    const index_t t = g.pad - kx * g.dilation;                     // 2 ox = ix + t
                    to_odd[kx] = t % 2 != 0;                                       // t odd: odd columns
                    shift[kx] = j0 + (t + to_odd[kx]) / 2;                         // ox of lane 0
                    lo[kx] = std::clamp<index_t>(-shift[kx], 0, w);
                    hi[kx] = std::clamp<index_t>(ow - shift[kx], lo[kx], w);
                }
                const index_t n = std::min(2 * w, g.w - 2 * j0);
                for (index_t ch = 0; ch < g.c; ++ch)
                    for (index_t iy = 0; iy < g.h; ++iy) {
                        T* out = dx + (ch * g.h + iy) * g.w + 2 * j0;
                        batch even(T(0)), odd(T(0));
                        for (index_t ky = 0; ky < g.kh; ++ky) {
                            const index_t oy2 = iy + g.pad - ky * g.dilation;
                            if (oy2 < 0 || oy2 % 2 != 0 || oy2 / 2 >= oh) continue;
                            const T* rows = dcol + (ch * g.kh + ky) * g.kw * ld + oy2 / 2 * ow;
                            for (index_t kx = 0; kx < g.kw; ++kx) {
                                const batch v = load_range<Arch>(rows + kx * ld + shift[kx], lo[kx], hi[kx]);
                                if (to_odd[kx]) odd += v; else even += v;
                            }
                        }
                        batch a0, a1, d0, d1;
                        zip<Arch>(even, odd, a0, a1);
                        load_pair<Arch>(out, n, d0, d1);
                        store_pair<Arch>(d0 + a0, d1 + a1, out, n);
                    }
            }
            return;
        }
    }
    for (index_t ch = 0; ch < g.c; ++ch)
        for (index_t ky = 0; ky < g.kh; ++ky)
            for (index_t kx = 0; kx < g.kw; ++kx) {
                const T* row = dcol + ((ch * g.kh + ky) * g.kw + kx) * ld;
                const index_t off = kx * g.dilation - g.pad;
                const detail::valid_span v = detail::valid_columns(Arch{}, ow, g.w, g.stride, g.pad, kx * g.dilation);
                for (index_t oy = 0; oy < oh; ++oy) {
                    const index_t iy = oy * g.stride - g.pad + ky * g.dilation;
                    if (iy < 0 || iy >= g.h) continue;
                    T* in = dx + (ch * g.h + iy) * g.w + off;
                    const T* src = row + oy * ow;
                    if (g.stride == 1)
                        add_row<Arch>(src + v.lo, in + v.lo, v.hi - v.lo);
                    else
                        for (index_t ox = v.lo; ox < v.hi; ++ox) in[ox * g.stride] += src[ox];
                }
            }
}

namespace detail {
template <class T>
inline void im2col_sized(const conv2d_geometry& g, index_t oh, index_t ow, const T* x, T* col, index_t ld) {
    invoke_kernel<&kernel_table<T>::im2col>(im2col_kernel{}, g, oh, ow, x, col, ld);
}
template <class T>
inline void col2im_add_sized(const conv2d_geometry& g, index_t oh, index_t ow, const T* dcol, index_t ld, T* dx) {
    invoke_kernel<&kernel_table<T>::col2im_add>(col2im_add_kernel{}, g, oh, ow, dcol, ld, dx);
}
}  // namespace detail

// One sample: col (C*KH*KW, OH*OW) from x (C, H, W); zero where the window leaves the image.
template <class T>
inline void im2col(const conv2d_geometry& g, const T* x, T* col) {
    detail::im2col_sized(g, g.oh(), g.ow(), x, col, g.oh() * g.ow());
}

// One sample: dx (C, H, W) += col2im(dcol); the adjoint of im2col.
template <class T>
inline void col2im_add(const conv2d_geometry& g, const T* dcol, T* dx) {
    detail::col2im_add_sized(g, g.oh(), g.ow(), dcol, g.oh() * g.ow(), dx);
}

namespace detail {
inline int conv_threads(index_t batch, double flops_per_sample) {
    const double total = flops_per_sample * double(batch);
    return int(std::max<double>(1, std::min<double>({double(max_threads()), double(batch), total / double(1 << 18)})));
}

// Runs body(b, acc, scratch) for every item b in [0, n) (a sample, or a group of samples), threads
// taking contiguous runs of items; acc is the thread's own zeroed accumulator (n_acc) and scratch
// its own buffer (n_scratch, not zeroed). Then finish(acc) is called for each thread's accumulator
// in thread order, so sums are the same from run to run.
template <class T, class Body, class Finish>
inline void for_samples_accumulate(index_t n, int threads, index_t n_acc, index_t n_scratch, Body body,
                                   Finish finish) {
    const index_t per_thread = n_acc + n_scratch;
    static thread_local std::vector<T> partial;
    if (partial.size() < std::size_t(threads * per_thread)) partial.resize(std::size_t(threads * per_thread));
    T* part = partial.data();
    for (int t = 0; t < threads; ++t) std::fill(part + t * per_thread, part + t * per_thread + n_acc, T(0));
    run_threads(threads, [&](index_t t, index_t nt) {
        T* acc = part + t * per_thread;
        for (index_t b = n * t / nt; b < n * (t + 1) / nt; ++b) body(b, acc, acc + n_acc);
    });
    for (int t = 0; t < threads; ++t) finish(static_cast<const T*>(part + t * per_thread));
}
}  // namespace detail

namespace detail {
// Of the sample counts n up to 16 whose buffers (values_per_sample each) stay within 2^18 values
// and which leave at least 8 groups to the threads, the one whose n*cols columns fill the GEMM's
// panels best (the largest of equals).
template <class T>
inline index_t best_group_size(index_t cols, index_t values_per_sample, index_t batch) {
    const index_t nr = active_gemm_sizes<T>().nr;
    const index_t most = std::max<index_t>(
        1, std::min<index_t>({16, (index_t(1) << 18) / std::max<index_t>(1, values_per_sample), (batch + 7) / 8}));
    index_t best = 1;
    double best_fill = 0;
    for (index_t n = 1; n <= most; ++n) {
        const double fill = double(n * cols) / double((n * cols + nr - 1) / nr * nr);
        if (fill >= best_fill) best = n, best_fill = fill;
    }
    return best;
}

// Samples per product. One sample's products are short and ragged: LeNet's second layer is 16 x 100
// x 150 (N = 100: three full 32-column tiles and one of 4), a ResNet's last stage 64 x 49 x 576.
// Laid side by side in the columns of one matrix, n samples make one product of N = n*S. Up to 16
// samples, within 1 MB of columns (C*KH*KW x n*S, in a thread's L2 scratch), leaving at least 8
// groups to the threads, n is the count whose N fills the GEMM's column panels best (the largest
// of equals): at S = 49, 7 samples fill 343 of 352 columns, 8 only 392 of 416.
template <class T>
inline index_t conv_group_size(const conv2d_geometry& g, index_t batch) {
    const index_t s = g.oh() * g.ow();
    // With few terms per output (a 1x1 convolution of 32 channels), copying the group's outputs
    // and gradients to and from their samples costs more than the ragged tiles (conv_bench).
    if (g.col_rows() / g.groups < 64) return 1;
    return best_group_size<T>(s, g.col_rows() * s, batch);
}

// Group gi: the samples [b0, b0 + n).
struct conv_group {
    index_t b0, n;
};
inline conv_group conv_group_at(index_t gi, index_t nb, index_t batch) {
    return {gi * nb, std::min(nb, batch - gi * nb)};
}

// The columns of a group's samples, side by side: (C*KH*KW, n*S), row r of sample i at
// col + r * n*S + i*S.
template <class T>
inline void im2col_group(const conv2d_geometry& g, conv_group grp, const T* x, T* col) {
    const index_t s = g.oh() * g.ow();
    for (index_t i = 0; i < grp.n; ++i)
        im2col_sized(g, g.oh(), g.ow(), x + (grp.b0 + i) * g.c * g.h * g.w, col + i * s, grp.n * s);
}

inline scratch& conv_columns() { static thread_local scratch s; return s; }
inline scratch& conv_work() { static thread_local scratch s; return s; }
}  // namespace detail

// y = conv(x, w) + b by im2col + GEMM. The columns of a group of samples are written into a
// thread's scratch, where the product reads them from L2, and not kept: backward unrolls x again.
// Written for the whole batch and kept, they went to memory and back (LeNet's second layer: 3.8
// MB a batch of 64, and two thirds of its forward time in im2col's stores, perf), and a ResNet
// kept tens of MB.
template <class T>
inline void conv2d_forward_columns(const conv2d_geometry& g, index_t batch, const T* x, const T* w, const T* bias,
                                   T* y) {
    const index_t s = g.oh() * g.ow(), og = g.o / g.groups, kg = g.col_rows() / g.groups;
    const index_t nb = detail::conv_group_size<T>(g, batch), groups = (batch + nb - 1) / nb;
    const int threads = std::min<int>(int(groups), detail::conv_threads(batch, 2.0 * double(g.o * kg * s)));
    parallel_for(threads, groups, [&](index_t gi) {
        const detail::conv_group grp = detail::conv_group_at(gi, nb, batch);
        const index_t ld = grp.n * s;
        T* cg = detail::conv_columns().get<T>(std::size_t(g.col_rows() * nb * s));   // (C*KH*KW, n*S)
        detail::im2col_group(g, grp, x, cg);
        // One sample: straight into y. Several: into yg (O, n*S), then each sample's rows to y.
        T* yg = grp.n == 1 ? y + grp.b0 * g.o * s : detail::conv_work().get<T>(std::size_t(g.o * nb * s));
        for (index_t gr = 0; gr < g.groups; ++gr)                // y_g (O/G, n*S) = w_g (O/G, K_g) col_g (K_g, n*S) + b_g
            gemm_single_thread<T>(og, ld, kg, w + gr * og * kg, kg, 1, cg + gr * kg * ld, ld, 1, T(0), yg + gr * og * ld,
                                  ld, bias_epilogue<T>{.row = bias + gr * og});
        if (grp.n == 1) return;
        for (index_t i = 0; i < grp.n; ++i)
            for (index_t o = 0; o < g.o; ++o)
                std::copy_n(yg + o * ld + i * s, s, y + ((grp.b0 + i) * g.o + o) * s);
    });
}

// F(2x2, 3x3) for 3x3 windows at stride 1: conv_winograd.hpp, included at the end.
template <class T>
inline bool conv_winograd_wins(const conv2d_geometry& g, index_t batch);
template <class T>
inline void conv2d_forward_winograd(const conv2d_geometry& g, index_t batch, const T* x, const T* w, const T* bias, T* y);
template <class T>
inline void conv2d_backward_winograd(const conv2d_geometry& g, index_t batch, const T* x, const T* w, const T* dy,
                                     T* dx, T* dw, T* db);

// The direct kernel's geometry of a stride-1 convolution (its stride, dilation and groups aside).
inline conv_direct_geometry conv_direct_geometry_of(const conv2d_geometry& g) {
    return {g.c, g.h, g.w, g.o, g.kh, g.kw, g.pad};
}

// The direct kernel (conv_direct.hpp) applies at stride 1, dilation 1, one group, and wins over
// im2col + GEMM where an output row fills at least half a vector (conv_bench, batch 1: LeNet's
// layers 6.3 -> 4.2 and 15.4 -> 7.6 us, ResNet 32x14x14 59 -> 44 us; at 7x7 it loses).
template <class T>
inline bool conv_direct_wins(const conv2d_geometry& g) {
    return g.stride == 1 && g.dilation == 1 && g.groups == 1 && 2 * g.ow() >= active_direct_sizes<T>().w;
}

// The stride-2 direct kernel (conv_direct_s2.hpp) where the active ISA has it and an output row
// fits one vector. conv_bench, batch 64, one thread, forward, against im2col + GEMM: ResNet
// 16x28x28 -> 32 k3 s2 1,158-1,300 -> 999-1,077 us, 32x14x14 -> 64 k3 s2 1,166-1,259 -> 1,064-1,160,
// 16x28x28 -> 32 k1 s2 284-307 -> 250-262. At batch 1 the weights' packing is not amortised:
// 18.2 -> 16.2 us and 20.4 -> 22.0 us for the two 3x3 layers.
template <class T>
inline bool conv_direct_s2_wins(const conv2d_geometry& g) {
    const direct_sizes d = active_direct_sizes<T>();
    return d.s2 && direct_s2_fits<T>(g, d.w);
}

template <class T>
inline void conv2d_forward_direct_s2(const conv2d_geometry& g, index_t batch, const T* x, const T* w, const T* bias,
                                     T* y) {
    const index_t s = g.oh() * g.ow();
    const int threads = detail::conv_threads(batch, 2.0 * double(g.o * g.col_rows() * s));
    run_threads(threads, [&](index_t t, index_t nt) {            // a run of samples each, weights packed once
        const index_t b0 = batch * t / nt, b1 = batch * (t + 1) / nt;
        T* wp = detail::conv_work().get<T>(std::size_t(direct_s2_packed_size(g)));
        invoke_kernel<&kernel_table<T>::conv_direct_s2>(conv2d_direct_s2{}, g, b1 - b0, x + b0 * g.c * g.h * g.w, w, bias,
                                                        y + b0 * g.o * s, wp);
    });
}

// y = conv(x, w) + b: the direct kernel where it wins, else im2col + GEMM (conv2d_forward_columns).
// Nothing is kept for backward, in any mode. Measured (conv_bench, batch 64, one thread, against
// the grouped im2col + GEMM): LeNet's layers 225 vs 410 and 450 vs 430-500 us, ResNet's 16x28x28
// k3 3.2 vs 3.6 ms, 32x14x14 k3 2.6-3.0 vs 3.5 ms.
template <class T>
inline void conv2d_forward(const conv2d_geometry& g, index_t batch, const T* x, const T* w, const T* bias, T* y) {
    if (conv_winograd_wins<T>(g, batch)) {
        conv2d_forward_winograd(g, batch, x, w, bias, y);
        return;
    }
    if (conv_direct_s2_wins<T>(g)) {
        conv2d_forward_direct_s2(g, batch, x, w, bias, y);
        return;
    }
    if (!conv_direct_wins<T>(g)) {
        conv2d_forward_columns(g, batch, x, w, bias, y);
        return;
    }
    const conv_direct_geometry d = conv_direct_geometry_of(g);
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
// Measured (conv_bench, batch 64, one thread, CPU time, against the per-sample GEMM and scattered
// col2im of the time): ResNet 16x28x28 k3 backward 8.3 -> 6.4 ms, 32x14x14 k3 8.4 -> 6.5 ms; with
// one input channel (a stem, whose dx a network never asks for) the blocks of output channels are
// empty and it loses, 1.08 -> 1.39 ms. The direct kernel computes dx over the whole padded dy, so
// where the input is much larger than the output it mostly multiplies padding: LeNet c2 (14 x 14
// from 10 x 10) goes to the batched GEMM and gathered col2im, 1.31 -> 1.17 ms.
template <class T>
inline bool conv_dx_direct_wins(const conv2d_geometry& g) {
    const direct_sizes d = active_direct_sizes<T>();
    return g.stride == 1 && g.dilation == 1 && g.groups == 1 && g.kh == g.kw && g.pad <= g.kh - 1 && g.c >= d.ob &&
           2 * g.w >= d.w && 4 * g.h * g.w <= 5 * g.oh() * g.ow();
}

// dw of a stride-1 convolution by conv_direct.hpp's flat layout (conv2d_direct_dw), in place of
// im2col and dy col^T, where the window is 3 or 5 wide and a sample has 400 outputs or more.
// conv_bench, batch 64, one thread, backward, three alternating runs against im2col + GEMM (us):
// ResNet 16x28x28 k3 4,029-4,400 against 4,837-5,269, LeNet c1 670-719 against 1,032-1,285, the
// stem 646-691 against 627-706; with LeNet c2's 10x10 outputs (a tile's loop of 9 vectors) it
// lost, 1,215-1,522 against 1,081-1,278.
template <class T>
inline bool conv_dw_direct_wins(const conv2d_geometry& g) {
    return g.stride == 1 && g.dilation == 1 && g.groups == 1 && direct_dw_fits(conv_direct_geometry_of(g)) &&
           g.oh() * g.ow() >= 400;
}

// dx of a stride-2 convolution by conv_direct_s2.hpp's phase kernel, where the active ISA has it,
// in place of dcol = w^T dy and col2im. conv_bench, batch 64, one thread, backward (dx, dw, db):
// ResNet 16x28x28 -> 32 k3 s2 2,678-2,776 -> 2,322-2,402 us, 32x14x14 -> 64 k3 s2 2,365-2,494 ->
// 2,201-2,277, the 1x1 stride-2 layers 904-925 -> 697-741 and 670-711 -> 415-453.
template <class T>
inline bool conv_dx_direct_s2_wins(const conv2d_geometry& g) {
    const direct_sizes d = active_direct_sizes<T>();
    return d.s2 && direct_s2_dx_fits<T>(g, d.w);
}

// dw += sum_b dy_b col_b^T, db += sum dy, and (when dx is given) dx = col2im(w^T dy), or the
// direct convolution above (stride 1) or conv_direct_s2.hpp's (stride 2); x is forward's input,
// unrolled again here. A group of samples
// (conv_group_size) makes one product of each: dy's rows gathered side by side as the columns
// are, dw += dy_g col_g^T with K = n*S, then dcol_g = w^T dy_g over the columns.
template <class T>
inline void conv2d_backward(const conv2d_geometry& g, index_t batch, const T* x, const T* w, const T* dy, T* dx, T* dw,
                            T* db) {
    if (conv_winograd_wins<T>(g, batch)) {
        conv2d_backward_winograd(g, batch, x, w, dy, dx, dw, db);
        return;
    }
    const index_t s = g.oh() * g.ow(), og = g.o / g.groups, kg = g.col_rows() / g.groups;
    const index_t wsize = g.o * kg;
    const index_t nb = detail::conv_group_size<T>(g, batch), groups = (batch + nb - 1) / nb;
    const int threads = std::min<int>(int(groups), detail::conv_threads(batch, 4.0 * double(g.o * kg * s)));
    const bool direct_dw = conv_dw_direct_wins<T>(g);
    const bool direct_dx = dx && conv_dx_direct_wins<T>(g);
    const bool direct_dx_s2 = dx && !direct_dx && conv_dx_direct_s2_wins<T>(g);
    static thread_local std::vector<T> dx_packed;                // w for conv_direct_s2_dx, packed once a call
    if (direct_dx_s2) {
        dx_packed.resize(std::size_t(direct_s2_dx_packed_size(g)));
        direct_s2_dx_pack(g, w, dx_packed.data());
    }
    const T* wp_dx = dx_packed.data();
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
    // Each thread's scratch after its dw and db: dy of a group side by side (O, nb*S), then the
    // padded dy of the direct kernel. The columns (and then their gradient) are in conv_columns.
    const index_t n_dy = nb > 1 ? g.o * nb * s : 0;
    const index_t n_pad = direct_dx ? gx.padded_size(active_direct_sizes<T>().w) : 0;
    const conv_direct_geometry gd = conv_direct_geometry_of(g);
    const index_t lanes = active_direct_sizes<T>().w;
    // The direct dw's scratch and its partial sums (after db), each with room to align to 64 bytes.
    const index_t n_dw = direct_dw ? direct_dw_scratch(gd, lanes) + 64 : 0;
    const index_t n_dwv = direct_dw ? wsize * lanes + 64 : 0;
    // dw by its transpose where a group's output channels fill the GEMM's column panels: col_g is
    // then A, read in place, and only dy_g^T (O/G x n*S) is transposed into panels, where
    // dy_g col_g^T would transpose all of col_g (C*KH*KW x n*S), and the dot products of
    // gemm_abt stream col_g from L2 for every four rows of dy (ResNet 32x14x14 k3: 61 GFLOP/s).
    // The thread's accumulator then holds dw_g^T, transposed once at the end.
    const bool transposed_dw = !direct_dw && og >= active_gemm_sizes<T>().nr && kg >= og;   // and dy_g^T the smaller
    // The columns and dy's group side by side: for dw by a GEMM, or for dx by dcol and col2im.
    const bool by_columns = !direct_dw || (dx && !direct_dx && !direct_dx_s2);
    detail::for_samples_accumulate<T>(
        groups, threads, wsize + g.o + n_dwv, n_dy + n_pad + n_dw,
        [&](index_t gi, T* acc, T* work) {   // acc: dw (O, K_g) or per group dw_g^T, db (O), the direct dw's sums
            const detail::conv_group grp = detail::conv_group_at(gi, nb, batch);
            const index_t ld = grp.n * s;
            T* my_dw = acc;
            T* my_db = acc + wsize;
            T* cg = by_columns ? detail::conv_columns().get<T>(std::size_t(g.col_rows() * nb * s))   // (C*KH*KW, n*S)
                               : nullptr;
            if (direct_dw)                                       // no columns: dw from x's padded layout
                for (index_t i = 0; i < grp.n; ++i) {
                    const index_t b = grp.b0 + i;
                    conv2d_direct_dw_add(gd, x + b * g.c * g.h * g.w, dy + b * g.o * s, align64(my_db + g.o),
                                         align64(work + n_dy + n_pad));
                }
            else
                detail::im2col_group(g, grp, x, cg);
            const T* dyg = dy + grp.b0 * g.o * s;                // (O, n*S)
            if (grp.n > 1 && by_columns) {
                for (index_t i = 0; i < grp.n; ++i)
                    for (index_t o = 0; o < g.o; ++o) std::copy_n(dyg + (i * g.o + o) * s, s, work + o * ld + i * s);
                dyg = work;
            }
            if (dyg == work)                                     // the group side by side, (O, n*S)
                add_row_sums(g.o, ld, dyg, ld, my_db);
            else                                                 // in place: the samples' (O, S) one after another
                for (index_t i = 0; i < grp.n; ++i) add_row_sums(g.o, s, dyg + i * g.o * s, s, my_db);
            for (index_t gr = 0; gr < g.groups && !direct_dw; ++gr) {   // dw_g (O/G, K_g) += dy_g (O/G, n*S) col_g^T
                if (transposed_dw) {                             // dw_g^T (K_g, O/G) += col_g dy_g^T
                    gemm_single_thread<T>(kg, og, ld, cg + gr * kg * ld, ld, 1, dyg + gr * og * ld, 1, ld, T(1),
                                          my_dw + gr * og * kg, og);
                } else if (ld >= active_abt_sizes<T>().min_k) {  // long rows: dot products, no transposition
                    gemm_abt_single_thread<T>(og, kg, ld, dyg + gr * og * ld, ld, cg + gr * kg * ld, ld, T(1),
                                              my_dw + gr * og * kg, kg);
                } else {
                    gemm_single_thread<T>(og, kg, ld, dyg + gr * og * ld, ld, 1, cg + gr * kg * ld, 1, ld, T(1),
                                          my_dw + gr * og * kg, kg);
                }
            }
            if (!dx) return;
            if (direct_dx) {
                for (index_t i = 0; i < grp.n; ++i) {
                    const index_t b = grp.b0 + i;
                    conv2d_direct_forward(gx, dy + b * g.o * s, wflip, wflip + g.c * g.o * g.kh * g.kw,
                                          dx + b * g.c * g.h * g.w, work + n_dy);
                }
                return;
            }
            if (direct_dx_s2) {
                invoke_kernel<&kernel_table<T>::conv_direct_s2_dx>(conv2d_direct_s2_dx{}, g, grp.n,
                                                                   dy + grp.b0 * g.o * s, wp_dx,
                                                                   dx + grp.b0 * g.c * g.h * g.w);
                return;
            }
            T* dcol = cg;                                        // the columns are spent: their gradient in place
            for (index_t gr = 0; gr < g.groups; ++gr)            // dcol_g (K_g, n*S) = w_g^T (K_g, O/G) dy_g (O/G, n*S)
                gemm_single_thread<T>(kg, ld, og, w + gr * og * kg, 1, kg, dyg + gr * og * ld, ld, 1, T(0),
                                      dcol + gr * kg * ld, ld);
            for (index_t i = 0; i < grp.n; ++i) {
                T* dxb = dx + (grp.b0 + i) * g.c * g.h * g.w;    // (C, H, W)
                std::fill(dxb, dxb + g.c * g.h * g.w, T(0));
                detail::col2im_add_sized(g, g.oh(), g.ow(), dcol + i * s, ld, dxb);
            }
        },
        [&](const T* acc) {
            if (direct_dw) direct_dw_fold(wsize, lanes, align64(acc + wsize + g.o), dw);
            if (transposed_dw)
                for (index_t gr = 0; gr < g.groups; ++gr)
                    for (index_t o = 0; o < og; ++o)
                        for (index_t k = 0; k < kg; ++k) dw[(gr * og + o) * kg + k] += acc[gr * og * kg + k * og + o];
            else
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
        detail::col2im_add_sized(a, g.h, g.w, cb, s, yb);
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
            add_row_sums(g.o, so, dyb, so, my_db);
            detail::im2col_sized(a, g.h, g.w, dyb, cb, s);
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

#include "typenet/kernels/cpu/conv_winograd.hpp"
