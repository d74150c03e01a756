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

// y = log_softmax(x) per row; returns nothing, y may alias x.
template <class T>
inline void log_softmax_rows(index_t rows, index_t n, const T* x, T* y) {
    for (index_t r = 0; r < rows; ++r, x += n, y += n) {
        const T mx = *std::max_element(x, x + n);
        T s = 0;
        for (index_t j = 0; j < n; ++j) s += std::exp(x[j] - mx);
        const T lse = mx + std::log(s);
        for (index_t j = 0; j < n; ++j) y[j] = x[j] - lse;
    }
}

template <class T>
inline void softmax_rows(index_t rows, index_t n, const T* x, T* y) {
    for (index_t r = 0; r < rows; ++r, x += n, y += n) {
        const T mx = *std::max_element(x, x + n);
        T s = 0;
        for (index_t j = 0; j < n; ++j) s += (y[j] = std::exp(x[j] - mx));
        const T inv = T(1) / s;
        for (index_t j = 0; j < n; ++j) y[j] *= inv;
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
        for (index_t j = 0; j < n; ++j) dx[j] = dy[j] - std::exp(y[j]) * s;
    }
}

// ---- causal attention's rows (layers/attention.hpp) ----------------------------------------------------
// sp (T, T) holds the scores q_i . k_j; row i keeps columns j <= i. In place: P_ij =
// exp(a s_ij - lse_i) on and below the diagonal, 0 above, with a the scale 1/sqrt(dh). known: lse
// (every lse_stride-th value) is given (backward recomputes P from forward's); else it is computed.
struct causal_softmax_rows {
    template <class Arch, class T>
    void operator()(Arch, index_t steps, T a, T* sp, T* lse, index_t lse_stride, bool known) const;
};

// noipa here and below: kept out of a layer's constant propagation (the tail loops, as in gemm).
template <class Arch, class T>
[[gnu::noipa]] inline void causal_softmax_rows::operator()(Arch, index_t steps, T a, T* sp, T* lse, index_t lse_stride,
                                            bool known) const {
    using batch = xsimd::batch<T, Arch>;
    for (index_t i = 0; i < steps; ++i) {
        T* row = sp + i * steps;
        T& l = lse[i * lse_stride];
        if (!known) {
            T m = row[0];
            for (index_t j = 1; j <= i; ++j) m = row[j] > m ? row[j] : m;
            m *= a;
            map<T, Arch>(i + 1, row, row, [a, m](auto v) { return xsimd::exp(v * batch(a) - batch(m)); });
            T sum = 0;
            for (index_t j = 0; j <= i; ++j) sum += row[j];
            l = m + std::log(sum);
            const T inv = T(1) / sum;
            map<T, Arch>(i + 1, row, row, [inv](auto v) { return v * batch(inv); });
        } else {
            const T li = l;
            map<T, Arch>(i + 1, row, row, [a, li](auto v) { return xsimd::exp(v * batch(a) - batch(li)); });
        }
        for (index_t j = i + 1; j < steps; ++j) row[j] = T(0);
    }
}

template <class T>
inline void causal_softmax(index_t steps, T a, T* sp, T* lse, index_t lse_stride, bool known) {
    invoke_kernel<&kernel_table<T>::causal_softmax>(causal_softmax_rows{}, steps, a, sp, lse, lse_stride, known);
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
