// kernels/cpu/activation.hpp — pointwise activations, forward and backward, over contiguous arrays.
// Backward reads whichever of x (input) or y (output) gives the derivative most cheaply.
#pragma once
#include <numbers>

#include "typenet/kernels/cpu/elementwise.hpp"

namespace typenet::kernels::cpu {

// y = max(x, 0);  dx = dy * [y > 0]
template <class T> inline void relu_forward(index_t n, const T* x, T* y) {
    map(n, x, y, [](auto v) { return xsimd::max(v, decltype(v)(T(0))); });
}
template <class T> inline void relu_backward(index_t n, const T* y, const T* dy, T* dx) {
    map2(n, y, dy, dx, [](auto yv, auto g) { return xsimd::select(yv > decltype(yv)(T(0)), g, decltype(g)(T(0))); });
}

// y = x > 0 ? x : slope x;  dx = dy * (x > 0 ? 1 : slope)   (torch.nn.LeakyReLU)
template <class T> inline void leaky_relu_forward(index_t n, T slope, const T* x, T* y) {
    map(n, x, y, [slope](auto v) { using B = decltype(v); return xsimd::select(v > B(T(0)), v, B(slope) * v); });
}
template <class T> inline void leaky_relu_backward(index_t n, T slope, const T* x, const T* dy, T* dx) {
    map2(n, x, dy, dx, [slope](auto v, auto g) { using B = decltype(v); return xsimd::select(v > B(T(0)), g, B(slope) * g); });
}

// y = 1 / (1 + e^-x);  dx = dy y (1 - y)
template <class T> inline void sigmoid_forward(index_t n, const T* x, T* y) {
    map(n, x, y, [](auto v) { using B = decltype(v); return B(T(1)) / (B(T(1)) + xsimd::exp(-v)); });
}
template <class T> inline void sigmoid_backward(index_t n, const T* y, const T* dy, T* dx) {
    map2(n, y, dy, dx, [](auto yv, auto g) { using B = decltype(yv); return g * yv * (B(T(1)) - yv); });
}

// y = tanh x;  dx = dy (1 - y^2)
template <class T> inline void tanh_forward(index_t n, const T* x, T* y) {
    map(n, x, y, [](auto v) { return xsimd::tanh(v); });
}
template <class T> inline void tanh_backward(index_t n, const T* y, const T* dy, T* dx) {
    map2(n, y, dy, dx, [](auto yv, auto g) { using B = decltype(yv); return g * (B(T(1)) - yv * yv); });
}

// Exact GELU, torch.nn.GELU(approximate='none'): y = x Phi(x) = x/2 (1 + erf(x/sqrt 2));
// dx = dy (Phi(x) + x phi(x)), phi the standard normal density.
template <class T> inline void gelu_forward(index_t n, const T* x, T* y) {
    map(n, x, y, [](auto v) {
        using B = decltype(v);
        return B(T(0.5)) * v * (B(T(1)) + xsimd::erf(v * B(T(std::numbers::sqrt2 / 2))));
    });
}
template <class T> inline void gelu_backward(index_t n, const T* x, const T* dy, T* dx) {
    map2(n, x, dy, dx, [](auto v, auto g) {
        using B = decltype(v);
        const B cdf = B(T(0.5)) * (B(T(1)) + xsimd::erf(v * B(T(std::numbers::sqrt2 / 2))));
        const B pdf = xsimd::exp(B(T(-0.5)) * v * v) * B(T(std::numbers::inv_sqrtpi / std::numbers::sqrt2));
        return g * (cdf + v * pdf);
    });
}

}  // namespace typenet::kernels::cpu
