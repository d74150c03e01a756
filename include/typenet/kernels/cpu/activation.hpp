// kernels/cpu/activation.hpp — pointwise activations, forward and backward, over contiguous arrays.
// Backward reads whichever of x (input) or y (output) gives the derivative most cheaply.
// Each activation is a struct of two formulas over a batch (or scalar) type; pointwise_forward<F>
// and pointwise_backward<F> run them over arrays at an Arch, and the entry points below dispatch.
#pragma once
#include <numbers>
#include <type_traits>

#include "typenet/kernels/cpu/dispatch.hpp"
#include "typenet/kernels/cpu/elementwise.hpp"

namespace typenet::kernels::cpu {

// y = max(x, 0);  dx = dy * [y > 0]
struct relu_fn {
    template <class B, class T> static B forward(B x, T) { return xsimd::max(x, B(T(0))); }
    template <class B, class T> static B backward(B y, B g, T) { return xsimd::select(y > B(T(0)), g, B(T(0))); }
};

// y = x > 0 ? x : slope x;  dx = dy * (x > 0 ? 1 : slope)   (torch.nn.LeakyReLU)
struct leaky_relu_fn {
    template <class B, class T> static B forward(B x, T slope) { return xsimd::select(x > B(T(0)), x, B(slope) * x); }
    template <class B, class T> static B backward(B x, B g, T slope) { return xsimd::select(x > B(T(0)), g, B(slope) * g); }
};

// y = 1 / (1 + e^-x);  dx = dy y (1 - y)
struct sigmoid_fn {
    template <class B, class T> static B forward(B x, T) { return B(T(1)) / (B(T(1)) + xsimd::exp(-x)); }
    template <class B, class T> static B backward(B y, B g, T) { return g * y * (B(T(1)) - y); }
};

// y = tanh x;  dx = dy (1 - y^2)
struct tanh_fn {
    template <class B, class T> static B forward(B x, T) { return xsimd::tanh(x); }
    template <class B, class T> static B backward(B y, B g, T) { return g * (B(T(1)) - y * y); }
};

// Exact GELU, torch.nn.GELU(approximate='none'): y = x Phi(x) = x/2 (1 + erf(x/sqrt 2));
// dx = dy (Phi(x) + x phi(x)), phi the standard normal density.
// In float, Phi comes from erfc(|z|) = t P(t) e^(-z^2), t = 1 / (1 + p |z|), z = x / sqrt 2
// (Abramowitz & Stegun 7.1.26, |error| <= 1.5e-7: float's own rounding near 1, and the formula
// torch's vectorized CPU erf uses). It costs one division and one exp, and e^(-z^2) = e^(-x^2/2)
// is the density's factor too, so backward pays no second exp. xsimd::erf evaluates two
// polynomials, a division and an exp and selects: GELU forward and backward were 6-7 % of a
// char-GPT training step (perf). Negative x takes Phi(x) = erfc(|z|) / 2 directly, without the
// cancellation of 1 + erf(z). In double, xsimd::erf and xsimd::exp, to double's precision.
struct gelu_fn {
    template <class B> struct normal { B cdf, pdf; };
    template <class B, class T> static normal<B> phi(B x) {
        if constexpr (std::is_same_v<T, float>) {
            const B z = xsimd::abs(x) * B(float(std::numbers::sqrt2 / 2));
            const B t = B(1.0f) / xsimd::fma(B(0.3275911f), z, B(1.0f));
            B poly = xsimd::fma(t, B(1.061405429f), B(-1.453152027f));
            poly = xsimd::fma(t, poly, B(1.421413741f));
            poly = xsimd::fma(t, poly, B(-0.284496736f));
            poly = xsimd::fma(t, poly, B(0.254829592f));
            const B e = xsimd::exp(-(z * z));
            const B tail = B(0.5f) * t * poly * e;                       // Phi(-|x|)
            return {xsimd::select(x < B(0.0f), tail, B(1.0f) - tail), e * B(float(std::numbers::inv_sqrtpi / std::numbers::sqrt2))};
        } else {
            return {B(T(0.5)) * (B(T(1)) + xsimd::erf(x * B(T(std::numbers::sqrt2 / 2)))),
                    xsimd::exp(B(T(-0.5)) * x * x) * B(T(std::numbers::inv_sqrtpi / std::numbers::sqrt2))};
        }
    }
    template <class B, class T> static B forward(B x, T) {
        if constexpr (std::is_same_v<T, float>) return x * phi<B, T>(x).cdf;
        else return B(T(0.5)) * x * (B(T(1)) + xsimd::erf(x * B(T(std::numbers::sqrt2 / 2))));
    }
    template <class B, class T> static B backward(B x, B g, T) {
        const normal<B> n = phi<B, T>(x);
        return g * xsimd::fma(x, n.pdf, n.cdf);
    }
};

// y = F(x) with F's parameter a (the slope of leaky_relu; ignored by the others).
template <class F>
struct pointwise_forward {
    template <class Arch, class T> void operator()(Arch, index_t n, T a, const T* x, T* y) const;
};
template <class F>
template <class Arch, class T>
inline void pointwise_forward<F>::operator()(Arch, index_t n, T a, const T* x, T* y) const {
    map<T, Arch>(n, x, y, [a](auto v) { return F::forward(v, a); });
}

// dx = F'(v) dy, v the input or output that F's backward reads.
template <class F>
struct pointwise_backward {
    template <class Arch, class T> void operator()(Arch, index_t n, T a, const T* v, const T* dy, T* dx) const;
};
template <class F>
template <class Arch, class T>
inline void pointwise_backward<F>::operator()(Arch, index_t n, T a, const T* v, const T* dy, T* dx) const {
    map2<T, Arch>(n, v, dy, dx, [a](auto u, auto g) { return F::backward(u, g, a); });
}

// The entry points: table entry M (a pointwise_forward<F> or pointwise_backward<F>) over [0, n),
// one slice per thread where n is large enough (split_elementwise).
template <auto M, class F, class T>
inline void run_pointwise_forward(index_t n, T a, const T* x, T* y) {
    split_elementwise<T>(n, [&](index_t i, index_t m) {
        invoke_kernel<M>(pointwise_forward<F>{}, m, a, x + i, y + i);
    });
}
template <auto M, class F, class T>
inline void run_pointwise_backward(index_t n, T a, const T* v, const T* dy, T* dx) {
    split_elementwise<T>(n, [&](index_t i, index_t m) {
        invoke_kernel<M>(pointwise_backward<F>{}, m, a, v + i, dy + i, dx + i);
    });
}

template <class T> inline void relu_forward(index_t n, const T* x, T* y) {
    run_pointwise_forward<&kernel_table<T>::relu_forward, relu_fn>(n, T(0), x, y);
}
template <class T> inline void relu_backward(index_t n, const T* y, const T* dy, T* dx) {
    run_pointwise_backward<&kernel_table<T>::relu_backward, relu_fn>(n, T(0), y, dy, dx);
}
template <class T> inline void leaky_relu_forward(index_t n, T slope, const T* x, T* y) {
    run_pointwise_forward<&kernel_table<T>::leaky_relu_forward, leaky_relu_fn>(n, slope, x, y);
}
template <class T> inline void leaky_relu_backward(index_t n, T slope, const T* x, const T* dy, T* dx) {
    run_pointwise_backward<&kernel_table<T>::leaky_relu_backward, leaky_relu_fn>(n, slope, x, dy, dx);
}
template <class T> inline void sigmoid_forward(index_t n, const T* x, T* y) {
    run_pointwise_forward<&kernel_table<T>::sigmoid_forward, sigmoid_fn>(n, T(0), x, y);
}
template <class T> inline void sigmoid_backward(index_t n, const T* y, const T* dy, T* dx) {
    run_pointwise_backward<&kernel_table<T>::sigmoid_backward, sigmoid_fn>(n, T(0), y, dy, dx);
}
template <class T> inline void tanh_forward(index_t n, const T* x, T* y) {
    run_pointwise_forward<&kernel_table<T>::tanh_forward, tanh_fn>(n, T(0), x, y);
}
template <class T> inline void tanh_backward(index_t n, const T* y, const T* dy, T* dx) {
    run_pointwise_backward<&kernel_table<T>::tanh_backward, tanh_fn>(n, T(0), y, dy, dx);
}
template <class T> inline void gelu_forward(index_t n, const T* x, T* y) {
    run_pointwise_forward<&kernel_table<T>::gelu_forward, gelu_fn>(n, T(0), x, y);
}
template <class T> inline void gelu_backward(index_t n, const T* x, const T* dy, T* dx) {
    run_pointwise_backward<&kernel_table<T>::gelu_backward, gelu_fn>(n, T(0), x, dy, dx);
}

}  // namespace typenet::kernels::cpu
