// layers/activation.hpp — pointwise activations (any input shape) and softmax / log_softmax over
// the last axis. Output shape = input shape; no parameters.
#pragma once
#include <string>

#include "typenet/core/layer.hpp"
#include "typenet/kernels/cpu/activation.hpp"
#include "typenet/kernels/cpu/softmax.hpp"

namespace typenet {

namespace detail {
template <class In>
struct same_shape : no_params {
    using input_shape = In;
    using output_shape = In;
    static constexpr index_t n(index_t batch) { return batch * index_t(In::size); }
};
}  // namespace detail

// A pointwise layer around a kernel pair: Op::forward(n, x, y), Op::backward(n, x, y, dy, dx).
template <class Op>
struct pointwise {
    template <class In> static constexpr bool accepts = is_nonempty<In>;
    template <class In> struct bound : detail::same_shape<In> {
        static std::string name() { return Op::name(); }
        template <class T> void forward(const fwd_args<T>& a) const { Op::forward(this->n(a.batch), a.x, a.y); }
        template <class T> void backward(const bwd_args<T>& a) const {
            if (a.dx) Op::backward(this->n(a.batch), a.x, a.y, a.dy, a.dx);
        }
    };
};

namespace ops {
namespace k = kernels::cpu;
struct relu {                                          // max(x, 0)
    static std::string name() { return "relu"; }
    template <class T> static void forward(index_t n, const T* x, T* y) { k::relu_forward(n, x, y); }
    template <class T> static void backward(index_t n, const T*, const T* y, const T* dy, T* dx) {
        k::relu_backward(n, y, dy, dx);
    }
};
struct sigmoid {                                       // 1 / (1 + e^-x)
    static std::string name() { return "sigmoid"; }
    template <class T> static void forward(index_t n, const T* x, T* y) { k::sigmoid_forward(n, x, y); }
    template <class T> static void backward(index_t n, const T*, const T* y, const T* dy, T* dx) {
        k::sigmoid_backward(n, y, dy, dx);
    }
};
struct tanh {                                          // tanh x
    static std::string name() { return "tanh"; }
    template <class T> static void forward(index_t n, const T* x, T* y) { k::tanh_forward(n, x, y); }
    template <class T> static void backward(index_t n, const T*, const T* y, const T* dy, T* dx) {
        k::tanh_backward(n, y, dy, dx);
    }
};
struct gelu {                                          // x Phi(x), exact (erf): torch's default
    static std::string name() { return "gelu"; }
    template <class T> static void forward(index_t n, const T* x, T* y) { k::gelu_forward(n, x, y); }
    template <class T> static void backward(index_t n, const T* x, const T*, const T* dy, T* dx) {
        k::gelu_backward(n, x, dy, dx);
    }
};
template <double Slope>
struct leaky_relu {                                    // x > 0 ? x : Slope x
    static std::string name() { return "leaky_relu<" + std::to_string(Slope) + ">"; }
    template <class T> static void forward(index_t n, const T* x, T* y) { k::leaky_relu_forward(n, T(Slope), x, y); }
    template <class T> static void backward(index_t n, const T* x, const T*, const T* dy, T* dx) {
        k::leaky_relu_backward(n, T(Slope), x, dy, dx);
    }
};
}  // namespace ops

// Named types rather than aliases, so diagnostics and summaries say 'relu'.
struct relu : pointwise<ops::relu> {};
struct sigmoid : pointwise<ops::sigmoid> {};
struct tanh : pointwise<ops::tanh> {};
struct gelu : pointwise<ops::gelu> {};
// torch.nn.LeakyReLU; the slope is part of the type: leaky_relu<> is 0.01, leaky_relu<0.2>.
// A double, not a float: 0.2f is 0.2000000030, which a double network would carry into every value.
template <double Slope = 0.01>
struct leaky_relu : pointwise<ops::leaky_relu<Slope>> {
    static_assert(Slope >= 0.0, "typenet: leaky_relu<Slope> needs Slope >= 0");
};

// softmax / log_softmax over the last axis (torch dim = -1); rows = everything before it.
template <bool Log>
struct softmax_over_last {
    template <class In> static constexpr bool accepts = is_nonempty<In>;
    template <class In> struct bound : detail::same_shape<In> {
        static constexpr index_t cols = index_t(last_extent<In>);
        static constexpr index_t rows(index_t batch) { return batch * index_t(In::size) / cols; }
        static std::string name() { return Log ? "log_softmax" : "softmax"; }
        template <class T> void forward(const fwd_args<T>& a) const {
            if constexpr (Log) kernels::cpu::log_softmax_rows(rows(a.batch), cols, a.x, a.y);
            else kernels::cpu::softmax_rows(rows(a.batch), cols, a.x, a.y);
        }
        template <class T> void backward(const bwd_args<T>& a) const {
            if (!a.dx) return;
            if constexpr (Log) kernels::cpu::log_softmax_rows_backward(rows(a.batch), cols, a.y, a.dy, a.dx);
            else kernels::cpu::softmax_rows_backward(rows(a.batch), cols, a.y, a.dy, a.dx);
        }
    };
};
struct softmax : softmax_over_last<false> {};
struct log_softmax : softmax_over_last<true> {};

}  // namespace typenet
