// kernels/cpu/softmax.hpp — row-wise softmax and log-softmax over (rows, n), max-subtracted so
// large logits do not overflow.
#pragma once
#include <algorithm>
#include <cmath>

#include "typenet/kernels/cpu/common.hpp"
#include "typenet/kernels/cpu/dispatch.hpp"
#include "typenet/kernels/cpu/elementwise.hpp"
#include "typenet/kernels/cpu/reduce.hpp"

namespace typenet::kernels::cpu {

// ---- vectorized row pieces ------------------------------------------------------------------------
namespace detail {
// Lanes 0, 1, ..., w - 1 of a batch: a lane mask "lane < n" for the ragged end of a row.
template <class T, class Arch>
inline xsimd::batch<T, Arch> lane_numbers() {
    alignas(64) static constexpr T lanes[64] = {0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15,
                                                16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31,
                                                32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47,
                                                48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63};
    static_assert(xsimd::batch<T, Arch>::size <= 64);
    return xsimd::batch<T, Arch>::load_aligned(lanes);
}

// max of x[0], ..., x[n - 1], n >= 1: whole vectors, the last one overlapping (max is idempotent).
template <class T, class Arch>
inline T row_max(index_t n, const T* x) {
    using batch = xsimd::batch<T, Arch>;
    constexpr index_t w = batch::size;
    if (n < w) {
        T m = x[0];
        for (index_t j = 1; j < n; ++j) m = x[j] > m ? x[j] : m;
        return m;
    }
    batch vm = batch::load_unaligned(x);
    index_t j = w;
    for (; j + w <= n; j += w) vm = xsimd::max(vm, batch::load_unaligned(x + j));
    if (j < n) vm = xsimd::max(vm, batch::load_unaligned(x + n - w));
#if defined(__AVX512F__)
    if constexpr (std::is_base_of_v<xsimd::avx512f, Arch> && std::is_same_v<T, float>) return _mm512_reduce_max_ps(vm);
#endif
    alignas(64) T lanes[w];
    vm.store_aligned(lanes);
    T m = lanes[0];
    for (index_t l = 1; l < w; ++l) m = lanes[l] > m ? lanes[l] : m;
    return m;
}

// The sum of exp(a x[j] - b) for j < n, in registers; with Store, each exp also to y[j] (y may
// be x), in the same pass.
template <class T, class Arch, bool Store>
inline T exp_affine_sum(index_t n, const T* x, T* y, T a, T b) {
    using batch = xsimd::batch<T, Arch>;
    constexpr index_t w = batch::size;
    const batch va(a), vb(b);
    batch s(T(0));
    index_t j = 0;
    for (; j + w <= n; j += w) {
        const batch e = xsimd::exp(xsimd::fms(batch::load_unaligned(x + j), va, vb));
        if constexpr (Store) e.store_unaligned(y + j);
        s += e;
    }
    if (j < n) {
        const index_t rest = n - j;
        const batch e = xsimd::select(lane_numbers<T, Arch>() < batch(T(rest)),
                                      xsimd::exp(xsimd::fms(load_range<Arch>(x + j, 0, rest), va, vb)), batch(T(0)));
        if constexpr (Store) store_range(e, y + j, 0, rest);
        s += e;
    }
    return xsimd::hadd(s);
}
}  // namespace detail

// ---- rows of logits: log-sum-exp, softmax, log-softmax ------------------------------------------------
// lse[r] = log sum_j exp(x[r, j]) for rows of n >= 1 values, ld apart; max-subtracted.
struct log_sum_exp_rows_kernel {
    template <class Arch, class T> void operator()(Arch, index_t rows, index_t n, const T* x, index_t ld, T* lse) const;
};
template <class Arch, class T>
[[gnu::noipa]] inline void log_sum_exp_rows_kernel::operator()(Arch, index_t rows, index_t n, const T* x, index_t ld,
                                                               T* lse) const {
    for (index_t r = 0; r < rows; ++r, x += ld) {
        const T m = detail::row_max<T, Arch>(n, x);
        // Every logit -inf: -inf; a +inf among them: +inf (torch.logsumexp's). A NaN reaches the sum.
        lse[r] = std::isinf(m) ? m : m + std::log(detail::exp_affine_sum<T, Arch, false>(n, x, nullptr, T(1), m));
    }
}

// y[j] = a exp(x[j] - b) + c (y may be x).
struct exp_affine_kernel {
    template <class Arch, class T> void operator()(Arch, index_t n, const T* x, T a, T b, T c, T* y) const;
};
template <class Arch, class T>
inline void exp_affine_kernel::operator()(Arch, index_t n, const T* x, T a, T b, T c, T* y) const {
    using batch = xsimd::batch<T, Arch>;
    map<T, Arch>(n, x, y, [a, b, c](auto v) { return xsimd::fma(batch(a), xsimd::exp(v - batch(b)), batch(c)); });
}

template <class T>
inline void log_sum_exp_rows(index_t rows, index_t n, const T* x, index_t ld, T* lse) {
    invoke_kernel<&kernel_table<T>::log_sum_exp_rows>(log_sum_exp_rows_kernel{}, rows, n, x, ld, lse);
}
template <class T>
inline void exp_affine(index_t n, const T* x, T a, T b, T c, T* y) {
    invoke_kernel<&kernel_table<T>::exp_affine>(exp_affine_kernel{}, n, x, a, b, c, y);
}

// y = log_softmax(x) per row; y may alias x.
template <class T>
inline void log_softmax_rows(index_t rows, index_t n, const T* x, T* y) {
    for (index_t r = 0; r < rows; ++r, x += n, y += n) {
        T lse;
        log_sum_exp_rows(1, n, x, n, &lse);
        for (index_t j = 0; j < n; ++j) y[j] = x[j] - lse;
    }
}

// y = softmax(x) per row = exp(x - lse); y may alias x.
template <class T>
inline void softmax_rows(index_t rows, index_t n, const T* x, T* y) {
    for (index_t r = 0; r < rows; ++r, x += n, y += n) {
        T lse;
        log_sum_exp_rows(1, n, x, n, &lse);
        exp_affine(n, x, T(1), lse, T(0), y);
    }
}

// dx = y (dy - <dy, y>) per row, y = softmax(x)
template <class T>
inline void softmax_rows_backward(index_t rows, index_t n, const T* y, const T* dy, T* dx) {
    for (index_t r = 0; r < rows; ++r, y += n, dy += n, dx += n) {
        T dot = 0;
        for (index_t j = 0; j < n; ++j) dot += dy[j] * y[j];
        for (index_t j = 0; j < n; ++j) dx[j] = y[j] * (dy[j] - dot);
    }
}

// dx = dy - softmax(x) sum(dy) per row, with softmax(x) = exp(y), y = log_softmax(x)
template <class T>
inline void log_softmax_rows_backward(index_t rows, index_t n, const T* y, const T* dy, T* dx) {
    for (index_t r = 0; r < rows; ++r, y += n, dy += n, dx += n) {
        T s = 0;
        for (index_t j = 0; j < n; ++j) s += dy[j];
        exp_affine(n, y, -s, T(0), T(0), dx);
        for (index_t j = 0; j < n; ++j) dx[j] += dy[j];
    }
}

// ---- causal attention's rows (layers/attention.hpp) ----------------------------------------------------
// Rows [i0, i1) of a causal score matrix: row i at sp + (i - i0) ld holds the scores q_i . k_j and
// keeps columns j <= i. In place: P_ij = exp(a s_ij - lse_i) on and below the diagonal, 0 above up
// to the end of row i's block of `block` rows (the column extent the attention's row-block GEMMs
// read; the rest of the row, up to `steps`, is neither written nor read), with a the scale
// 1/sqrt(dh). known: lse_i (at lse[i * lse_stride]) is given (backward recomputes P from
// forward's); else it is computed.
struct causal_softmax_rows {
    template <class Arch, class T>
    void operator()(Arch, index_t i0, index_t i1, index_t steps, index_t block, T a, T* sp, index_t ld, T* lse,
                    index_t lse_stride, bool known) const;
};

// noipa here and below: kept out of a layer's constant propagation (the tail loops, as in gemm).
template <class Arch, class T>
[[gnu::noipa]] inline void causal_softmax_rows::operator()(Arch, index_t i0, index_t i1, index_t steps, index_t block,
                                                           T a, T* sp, index_t ld, T* lse, index_t lse_stride,
                                                           bool known) const {
    using batch = xsimd::batch<T, Arch>;
    auto zero_tail = [&](index_t i, T* row) {
        const index_t end = std::min(steps, (i / block + 1) * block);
        for (index_t j = i + 1; j < end; ++j) row[j] = T(0);
    };
    if (known) {
        for (index_t i = i0; i < i1; ++i) {
            T* row = sp + (i - i0) * ld;
            detail::exp_affine_sum<T, Arch, true>(i + 1, row, row, a, lse[i * lse_stride]);
            zero_tail(i, row);
        }
        return;
    }
    // Each step for up to R rows before the next: a row's steps depend on each other (max, then the
    // exps and their sum, then log and 1 / sum), each ending in a horizontal reduction or a scalar
    // log whose latency, row by row, was most of the time (8.2 us for 128 rows of up to 128; 6.3
    // phase by phase).
    constexpr index_t R = 32;
    T m[R], sum[R];
    for (index_t r0 = i0; r0 < i1; r0 += R) {
        const index_t r1 = std::min(i1, r0 + R);
        for (index_t i = r0; i < r1; ++i) m[i - r0] = a * detail::row_max<T, Arch>(i + 1, sp + (i - i0) * ld);   // a > 0
        for (index_t i = r0; i < r1; ++i) {
            T* row = sp + (i - i0) * ld;
            sum[i - r0] = detail::exp_affine_sum<T, Arch, true>(i + 1, row, row, a, m[i - r0]);
        }
        for (index_t i = r0; i < r1; ++i) {
            T* row = sp + (i - i0) * ld;
            lse[i * lse_stride] = m[i - r0] + std::log(sum[i - r0]);
            const T inv = T(1) / sum[i - r0];
            map<T, Arch>(i + 1, row, row, [inv](auto v) { return v * batch(inv); });
            zero_tail(i, row);
        }
    }
}

template <class T>
inline void causal_softmax(index_t i0, index_t i1, index_t steps, index_t block, T a, T* sp, index_t ld, T* lse,
                           index_t lse_stride, bool known) {
    invoke_kernel<&kernel_table<T>::causal_softmax>(causal_softmax_rows{}, i0, i1, steps, block, a, sp, ld, lse,
                                                    lse_stride, known);
}

// Rows [i0, i1) of dS = a P (dP - rowsum(dO o O)), columns [0, i1): ds (row stride steps) holds dP
// and receives dS; dout and out (row stride ld) are the head's dO and O of one sequence.
struct attention_score_grad_rows {
    template <class Arch, class T>
    void operator()(Arch, index_t i0, index_t i1, index_t hd, T a, const T* dout, const T* out, index_t ld, const T* p,
                    T* ds, index_t steps) const;
};

template <class Arch, class T>
[[gnu::noipa]] inline void attention_score_grad_rows::operator()(Arch, index_t i0, index_t i1, index_t hd, T a, const T* dout,
                                                  const T* out, index_t ld, const T* p, T* ds, index_t steps) const {
    using batch = xsimd::batch<T, Arch>;
    for (index_t i = i0; i < i1; ++i) {
        const T di = dot<T, Arch>(hd, dout + i * ld, out + i * ld);
        T* dsr = ds + i * steps;
        map2<T, Arch>(i1, p + i * steps, dsr, dsr, [di, a](auto pv, auto g) { return pv * (g - batch(di)) * batch(a); });
    }
}

template <class T>
inline void attention_score_grad(index_t i0, index_t i1, index_t hd, T a, const T* dout, const T* out, index_t ld,
                                 const T* p, T* ds, index_t steps) {
    invoke_kernel<&kernel_table<T>::attention_score_grad>(attention_score_grad_rows{}, i0, i1, hd, a, dout, out, ld, p,
                                                          ds, steps);
}

}  // namespace typenet::kernels::cpu
