// kernels/cpu/softmax.hpp — row-wise softmax and log-softmax over (rows, n), max-subtracted so
// large logits do not overflow.
#pragma once
#include <algorithm>
#include <cmath>

#include "typenet/kernels/cpu/common.hpp"

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

}  // namespace typenet::kernels::cpu
