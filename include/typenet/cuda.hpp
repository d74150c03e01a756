// typenet/cuda.hpp — the CUDA backend: the same network type trained and run on an NVIDIA GPU.
//
//   lenet host{seed{1}};                              // the model, as on the CPU
//   cuda::model<lenet> gpu{host};                     // its parameters and state copied to GPU 0
//   cuda::adam opt{gpu, {.lr = 1e-3}};                // optimizer state on the device too
//   fit(gpu, opt, loss::cross_entropy{}, data.train, {.epochs = 10, .batch = 256});
//   gpu.copy_to(host);                                // back, to save, export or run on the CPU
//
// cuda::model<Net> keeps Net's parameters, gradients, running statistics and the workspace of a
// batch in device memory, allocated once per batch capacity, laid out exactly as on the host: the
// same offsets, so weights move in one copy each way and the files are the same. Layers run on the
// device through kernels/cuda/api.hpp: cuBLAS for dense layers, cuDNN for convolutions (im2col and
// cuBLAS where the library was built without it), our own kernels for the rest.
//
// forward(batch, x) takes host input and returns host output (what fit, evaluate and the losses
// read); forward_device / backward_device take and return device pointers, for data kept there.
// fp32 only. The program links the typenet_cuda library (CMake: typenet_enable_cuda(target)); this
// header itself names no CUDA type, so it compiles with g++ alone.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

#include "typenet/kernels/cuda/api.hpp"
#include "typenet/typenet.hpp"

namespace typenet::cuda {

namespace k = kernels::cuda;
using kernels::cuda::cuda_error;

// GPUs this process can use (0 without a GPU or a driver; never throws), and why there are none.
inline int device_count() noexcept { return k::device_count(); }
inline bool available() noexcept { return device_count() > 0; }
inline std::string unavailable_reason() { return k::unavailable_reason(); }

// One GPU, with its stream and library handles. Models on the same device may share one.
class device {
public:
    explicit device(int ordinal = 0) : ctx_(k::create_context(ordinal), &k::destroy_context) {}
    k::context& context() const { return *ctx_; }
    std::string name() const { return k::device_name(*ctx_); }
    void synchronize() const { k::synchronize(*ctx_); }
    const std::shared_ptr<k::context>& handle() const { return ctx_; }

private:
    std::shared_ptr<k::context> ctx_;
};

// n values of T in device memory, freed with it (the device stays alive while a buffer holds it).
template <class T>
class device_buffer {
public:
    device_buffer() = default;
    device_buffer(const device& d, std::size_t n) : ctx_(d.handle()), n_(n) {
        if (n) p_.reset(static_cast<T*>(k::allocate(*ctx_, n * sizeof(T))));
    }
    T* data() const { return p_.get(); }
    std::size_t size() const { return n_; }
    void upload(const T* host, std::size_t n, std::size_t at = 0) {
        check(n, at, "upload");
        if (n) k::upload(*ctx_, p_.get() + at, host, n * sizeof(T));
    }
    void download(T* host, std::size_t n, std::size_t at = 0) const {
        check(n, at, "download");
        if (n) k::download(*ctx_, host, p_.get() + at, n * sizeof(T));
    }
    void zero() {
        if (n_) k::zero(*ctx_, p_.get(), n_ * sizeof(T));
    }

private:
    struct release { void operator()(T* p) const noexcept { k::release(p); } };
    void check(std::size_t n, std::size_t at, const char* what) const {
        if (at > n_ || n > n_ - at)
            throw std::out_of_range(std::string("typenet: cuda: ") + what + " of " + std::to_string(n) + " values at " +
                                    std::to_string(at) + " into a device buffer of " + std::to_string(n_));
    }
    std::shared_ptr<k::context> ctx_;
    std::size_t n_ = 0;
    std::unique_ptr<T, release> p_;   // declared last: freed before the context it came from
};

namespace detail {

// What every layer on the device is given besides its arguments: the device, the mode of the
// forward (backward gets the forward's), and a seed for the draws of this step (dropout).
struct step_info {
    k::context* ctx;
    mode m;
    std::uint64_t seed;
    const float* ws;        // the workspace's start: a layer's cache offset tells the layers apart
};

// device_layer<L, In>: layer L (unbound) on input shape In, on the device. Each supported layer
// family specializes it below; the primary names what is missing, once, at the user's model.
template <class L> inline constexpr bool no_device_layer = false;
template <class L, class In>
struct device_layer {
    static_assert(no_device_layer<L>,
                  "typenet: cuda: a layer of this model has no CUDA implementation yet (supported: dense, conv2d, "
                  "conv_transpose2d, relu, sigmoid, tanh, gelu, leaky_relu, softmax, log_softmax, max_pool2d, avg_pool2d, "
                  "global_avg_pool, flatten, identity, dropout, batch_norm, layer_norm, sequential, residual, "
                  "embedding, positional_embedding, last_step, rnn, lstm, gru, bidirectional, causal_self_attention, "
                  "transformer_block)");
    static void forward(const step_info&, const fwd_args<float>&) {}
    static void backward(const step_info&, const bwd_args<float>&) {}
};

// Runs chain layer I (unbound: the I-th of L...) on the device.
template <class... L>
struct device_run {
    step_info s;
    template <std::size_t I, class B, class A> void forward(const B&, const A& a) const {
        device_layer<std::tuple_element_t<I, std::tuple<L...>>, typename B::input_shape>::forward(s, a);
    }
    template <std::size_t I, class B, class A> void backward(const B&, const A& a) const {
        device_layer<std::tuple_element_t<I, std::tuple<L...>>, typename B::input_shape>::backward(s, a);
    }
};

inline std::uint64_t mix(std::uint64_t a, std::uint64_t b) {
    std::uint64_t z = a ^ (b + 0x9e3779b97f4a7c15ull + (a << 6) + (a >> 2));
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

// ---- layers --------------------------------------------------------------------------------------
// y (R, Out) = x (R, In) w^T + b; R rows (B, or B T on a sequence).
template <std::size_t Out, class Init, class In>
struct device_layer<dense<Out, Init>, In> {
    static constexpr index_t in = index_t(last_extent<In>), out = index_t(Out);
    static void forward(const step_info& s, const fwd_args<float>& a) {
        k::fill_rows(*s.ctx, a.batch, out, a.p + out * in, a.y);
        k::gemm(*s.ctx, false, true, a.batch, out, in, 1.0f, a.x, in, a.p, in, 1.0f, a.y, out);
    }
    static void backward(const step_info& s, const bwd_args<float>& a) {
        if (a.dx) k::gemm(*s.ctx, false, false, a.batch, in, out, 1.0f, a.dy, out, a.p, in, 0.0f, a.dx, in);
        k::gemm(*s.ctx, true, false, out, in, a.batch, 1.0f, a.dy, out, a.x, in, 1.0f, a.dp, in);
        k::add_column_sums(*s.ctx, a.batch, out, a.dy, a.dp + out * in);
    }
};

template <std::size_t Out, std::size_t K, class... O, std::size_t C, std::size_t H, std::size_t W>
struct device_layer<conv2d<Out, K, O...>, shape<C, H, W>> {
    using L = conv2d<Out, K, O...>;
    static constexpr k::conv_shape g{index_t(C), index_t(H), index_t(W), index_t(Out), index_t(K),
                                     index_t(L::str),  index_t(L::pad), index_t(L::dil), index_t(L::grp)};
    static constexpr index_t weights = index_t(Out * C / L::grp * K * K);
    static void forward(const step_info& s, const fwd_args<float>& a) {
        k::conv2d_forward(*s.ctx, g, a.batch, a.x, a.p, a.p + weights, a.y);
    }
    static void backward(const step_info& s, const bwd_args<float>& a) {
        k::conv2d_backward(*s.ctx, g, a.batch, a.x, a.p, a.dy, a.dx, a.dp, a.dp + weights);
    }
};

// Given to the kernels as its adjoint convolution: the one from this layer's output to its input.
template <std::size_t Out, std::size_t K, class... O, std::size_t C, std::size_t H, std::size_t W>
struct device_layer<conv_transpose2d<Out, K, O...>, shape<C, H, W>> {
    using L = conv_transpose2d<Out, K, O...>;
    using B = typename L::template bound<shape<C, H, W>>;
    static constexpr k::conv_shape g{index_t(Out), index_t(B::oh), index_t(B::ow), index_t(C), index_t(K),
                                     index_t(L::str), index_t(L::pad), index_t(L::dil), index_t(L::grp)};
    static constexpr index_t weights = index_t(C * B::per_input);
    // The adjoint convolution's output is (H, W) unless output padding reaches a stride (allowed
    // when it is below the dilation): then the kernels, which assume it, would read past x.
    static_assert(g.oh() == index_t(H) && g.ow() == index_t(W),
                  "typenet: cuda: conv_transpose2d with output_padding >= stride (below the dilation) has no device "
                  "form yet; use an output padding below the stride, or train this model on the CPU");
    static void forward(const step_info& s, const fwd_args<float>& a) {
        k::conv_transpose2d_forward(*s.ctx, g, a.batch, a.x, a.p, a.p + weights, a.y);
    }
    static void backward(const step_info& s, const bwd_args<float>& a) {
        k::conv_transpose2d_backward(*s.ctx, g, a.batch, a.x, a.p, a.dy, a.dx, a.dp, a.dp + weights);
    }
};

template <class Op> struct activation_of;
template <> struct activation_of<ops::relu> { static constexpr auto f = k::activation::relu; static constexpr float slope = 0; };
template <> struct activation_of<ops::sigmoid> { static constexpr auto f = k::activation::sigmoid; static constexpr float slope = 0; };
template <> struct activation_of<ops::tanh> { static constexpr auto f = k::activation::tanh; static constexpr float slope = 0; };
template <> struct activation_of<ops::gelu> { static constexpr auto f = k::activation::gelu; static constexpr float slope = 0; };
template <double S> struct activation_of<ops::leaky_relu<S>> {
    static constexpr auto f = k::activation::leaky_relu;
    static constexpr float slope = float(S);
};
template <class Op, class In>
struct device_layer<pointwise<Op>, In> {
    using A = activation_of<Op>;
    static void forward(const step_info& s, const fwd_args<float>& a) {
        k::activation_forward(*s.ctx, A::f, A::slope, a.batch * index_t(In::size), a.x, a.y);
    }
    static void backward(const step_info& s, const bwd_args<float>& a) {
        if (a.dx) k::activation_backward(*s.ctx, A::f, A::slope, a.batch * index_t(In::size), a.x, a.y, a.dy, a.dx);
    }
};
// relu, tanh, ... are named types deriving from pointwise<ops::...>: the same on the device.
template <class In> struct device_layer<relu, In> : device_layer<pointwise<ops::relu>, In> {};
template <class In> struct device_layer<sigmoid, In> : device_layer<pointwise<ops::sigmoid>, In> {};
template <class In> struct device_layer<typenet::tanh, In> : device_layer<pointwise<ops::tanh>, In> {};
template <class In> struct device_layer<gelu, In> : device_layer<pointwise<ops::gelu>, In> {};
template <double S, class In> struct device_layer<leaky_relu<S>, In> : device_layer<pointwise<ops::leaky_relu<S>>, In> {};

template <bool Log, class In>
struct device_layer<softmax_over_last<Log>, In> {
    static constexpr index_t cols = index_t(last_extent<In>);
    static index_t rows(index_t batch) { return batch * index_t(In::size) / cols; }
    static void forward(const step_info& s, const fwd_args<float>& a) {
        k::softmax_rows(*s.ctx, Log, rows(a.batch), cols, a.x, a.y);
    }
    static void backward(const step_info& s, const bwd_args<float>& a) {
        if (a.dx) k::softmax_rows_backward(*s.ctx, Log, rows(a.batch), cols, a.y, a.dy, a.dx);
    }
};
template <class In> struct device_layer<softmax, In> : device_layer<softmax_over_last<false>, In> {};
template <class In> struct device_layer<log_softmax, In> : device_layer<softmax_over_last<true>, In> {};

template <bool Max, std::size_t K, std::size_t S, std::size_t C, std::size_t H, std::size_t W>
struct device_layer<pool2d<Max, K, S>, shape<C, H, W>> {
    static constexpr k::pool_shape g{index_t(H), index_t(W), index_t(K), index_t(K), index_t(S)};
    static void forward(const step_info& s, const fwd_args<float>& a) {
        if constexpr (Max) k::max_pool_forward(*s.ctx, g, a.batch * index_t(C), a.x, a.y, a.m == mode::infer ? nullptr : a.cache);
        else k::avg_pool_forward(*s.ctx, g, a.batch * index_t(C), a.x, a.y);
    }
    static void backward(const step_info& s, const bwd_args<float>& a) {
        if (!a.dx) return;
        if constexpr (Max) k::max_pool_backward(*s.ctx, g, a.batch * index_t(C), a.cache, a.dy, a.dx);
        else k::avg_pool_backward(*s.ctx, g, a.batch * index_t(C), a.dy, a.dx);
    }
};
template <std::size_t K, std::size_t S, class In> struct device_layer<max_pool2d<K, S>, In> : device_layer<pool2d<true, K, S>, In> {};
template <std::size_t K, std::size_t S, class In> struct device_layer<avg_pool2d<K, S>, In> : device_layer<pool2d<false, K, S>, In> {};

template <std::size_t C, std::size_t H, std::size_t W>
struct device_layer<global_avg_pool, shape<C, H, W>> {
    static constexpr k::pool_shape g{index_t(H), index_t(W), index_t(H), index_t(W), 1};
    static void forward(const step_info& s, const fwd_args<float>& a) {
        k::avg_pool_forward(*s.ctx, g, a.batch * index_t(C), a.x, a.y);
    }
    static void backward(const step_info& s, const bwd_args<float>& a) {
        if (a.dx) k::avg_pool_backward(*s.ctx, g, a.batch * index_t(C), a.dy, a.dx);
    }
};

// flatten and identity: the same values.
template <class In>
struct device_copy {
    static void forward(const step_info& s, const fwd_args<float>& a) {
        k::copy(*s.ctx, a.y, a.x, std::size_t(a.batch) * In::size * sizeof(float));
    }
    static void backward(const step_info& s, const bwd_args<float>& a) {
        if (a.dx) k::copy(*s.ctx, a.dx, a.dy, std::size_t(a.batch) * In::size * sizeof(float));
    }
};
template <class In> struct device_layer<flatten, In> : device_copy<In> {};
template <class In> struct device_layer<identity, In> : device_copy<In> {};

// In training the mask is drawn on the device; otherwise y = x and the mask is 1 (backward then
// passes dy through, as on the host).
template <double P, class In>
struct device_layer<dropout<P>, In> {
    static void forward(const step_info& s, const fwd_args<float>& a) {
        const index_t n = a.batch * index_t(In::size);
        if (s.m == mode::train && P > 0.0)
            k::dropout_forward(*s.ctx, n, float(P), mix(s.seed, std::uint64_t(a.cache - s.ws)), a.x, a.y, a.cache);
        else if (s.m != mode::infer)   // p = 0 (eval, or dropout<0> in training): every mask value 1, y = x
            k::dropout_forward(*s.ctx, n, 0.0f, 0, a.x, a.y, a.cache);
        else
            k::copy(*s.ctx, a.y, a.x, std::size_t(n) * sizeof(float));
    }
    static void backward(const step_info& s, const bwd_args<float>& a) {
        if (a.dx) k::multiply(*s.ctx, a.batch * index_t(In::size), a.dy, a.cache, a.dx);
    }
};

template <double M, double E, class In>
struct device_layer<batch_norm<M, E>, In> {
    using B = typename batch_norm<M, E>::template bound<In>;
    static constexpr index_t c = index_t(B::c), sp = index_t(B::s);
    static void forward(const step_info& s, const fwd_args<float>& a) {
        float* xhat = a.cache;
        float* fixed = a.cache + a.batch * index_t(In::size);   // mean (C), invstd (C), (flag: the host's)
        if (s.m == mode::train) {
            k::increment(*s.ctx, a.state + 2 * c);
            k::batch_norm_train(*s.ctx, a.batch, c, sp, float(E), float(M), a.x, a.p, a.p + c, xhat, a.y, fixed,
                                fixed + c, a.state, a.state + c);
        } else {
            k::batch_norm_eval(*s.ctx, a.batch, c, sp, float(E), a.x, a.p, a.p + c, a.state, a.state + c,
                               s.m == mode::infer ? nullptr : xhat, a.y, fixed + c);
        }
    }
    static void backward(const step_info& s, const bwd_args<float>& a) {
        const float* fixed = a.cache + a.batch * index_t(In::size);
        k::batch_norm_backward(*s.ctx, a.batch, c, sp, s.m == mode::train, a.cache, a.p, fixed + c, a.dy, a.dx, a.dp,
                               a.dp + c);
    }
};

template <class... L, class In>
struct device_layer<sequential<L...>, In> {
    using chain_t = typename typenet::detail::bind_list<In, L...>::chain_t;
    static void forward(const step_info& s, const fwd_args<float>& a) {
        chain_t::forward(typename chain_t::layers{}, sequences_of<In>(a.batch, a.steps), a.steps, a.m, a.p, a.state, a.x,
                         a.y, a.cache, a.gen, a.carry_in, a.carry_out, device_run<L...>{s});
    }
    static void backward(const step_info& s, const bwd_args<float>& a) {
        chain_t::backward(typename chain_t::layers{}, sequences_of<In>(a.batch, a.steps), a.steps, a.p, a.state, a.x,
                          a.y, a.dy, a.dx, a.dp, a.cache, a.dcarry_out, a.dcarry_in, device_run<L...>{s});
    }
};

// y = body(x) + shortcut(x), in the host layer's cache layout (residual::bound::parts).
template <class Body, class Shortcut, class In>
struct device_layer<residual<Body, Shortcut>, In> {
    using R = typename residual<Body, Shortcut>::template bound<In>;
    using parts = typename R::template parts<float>;
    using body = device_layer<Body, In>;
    using skip = device_layer<Shortcut, In>;
    static constexpr index_t out = index_t(R::out), in = index_t(R::in);
    static_assert(R::carry_per_sample == 0, "typenet: cuda: recurrent layers inside residual are not supported yet");
    static void forward(const step_info& s, const fwd_args<float>& a) {
        const parts c(a.cache, a.batch);
        body::forward(s, fwd_args<float>{a.batch, a.m, a.p, a.x, c.body_y, c.body, a.gen, a.state, a.steps, nullptr,
                                         nullptr});
        if constexpr (R::skip_is_identity) {
            k::add(*s.ctx, a.batch * out, c.body_y, a.x, a.y);
        } else {
            skip::forward(s, fwd_args<float>{a.batch, a.m, a.p + R::body_params, a.x, c.skip_y, c.skip, a.gen,
                                             a.state + R::body_state, a.steps, nullptr, nullptr});
            k::add(*s.ctx, a.batch * out, c.body_y, c.skip_y, a.y);
        }
    }
    static void backward(const step_info& s, const bwd_args<float>& a) {
        const parts c(a.cache, a.batch);
        body::backward(s, bwd_args<float>{a.batch, a.p, a.x, c.body_y, a.dy, a.dx, a.dp, c.body, a.state, a.steps,
                                          nullptr, nullptr});
        if constexpr (R::skip_is_identity) {
            if (a.dx) k::axpy(*s.ctx, a.batch * in, 1.0f, a.dy, a.dx);
        } else {
            float* dxs = a.dx ? c.skip_dx : nullptr;
            skip::backward(s, bwd_args<float>{a.batch, a.p + R::body_params, a.x, c.skip_y, a.dy, dxs,
                                              a.dp + R::body_params, c.skip, a.state + R::body_state, a.steps,
                                              nullptr, nullptr});
            if (a.dx) k::axpy(*s.ctx, a.batch * in, 1.0f, dxs, a.dx);
        }
    }
};

// ---- sequence layers ----------------------------------------------------------------------------
template <std::size_t V, std::size_t D>
struct device_layer<embedding<V, D>, seq<1>> {
    static void forward(const step_info& s, const fwd_args<float>& a) {
        k::embedding_forward(*s.ctx, a.batch, index_t(V), index_t(D), a.x, a.p, a.y);
    }
    static void backward(const step_info& s, const bwd_args<float>& a) {
        k::embedding_backward(*s.ctx, a.batch, index_t(V), index_t(D), a.x, a.dy, a.dp);
        if (a.dx) k::zero(*s.ctx, a.dx, std::size_t(a.batch) * sizeof(float));   // ids have no gradient
    }
};

template <std::size_t C, class In>
struct device_layer<positional_embedding<C>, In> {
    static constexpr index_t d = index_t(In::size);
    static void forward(const step_info& s, const fwd_args<float>& a) {
        positional_embedding<C>::template bound<In>::check_steps(a.steps);
        k::positional_forward(*s.ctx, a.batch, a.steps, d, a.x, a.p, a.y);
    }
    static void backward(const step_info& s, const bwd_args<float>& a) {
        k::positional_backward(*s.ctx, a.batch, a.steps, d, a.dy, a.dp);
        if (a.dx) k::copy(*s.ctx, a.dx, a.dy, std::size_t(a.batch * d) * sizeof(float));
    }
};

template <std::size_t... E>
struct device_layer<last_step, seq<E...>> {
    static constexpr index_t n = index_t((std::size_t{1} * ... * E));
    static void forward(const step_info& s, const fwd_args<float>& a) {
        k::copy_rows(*s.ctx, a.batch / a.steps, n, a.x + (a.steps - 1) * n, a.steps * n, a.y, n);
    }
    static void backward(const step_info& s, const bwd_args<float>& a) {
        if (!a.dx) return;
        k::zero(*s.ctx, a.dx, std::size_t(a.batch * n) * sizeof(float));
        k::copy_rows(*s.ctx, a.batch / a.steps, n, a.dy, n, a.dx + (a.steps - 1) * n, a.steps * n);
    }
};

template <double E, class In>
struct device_layer<layer_norm<E>, In> {
    using B = typename layer_norm<E>::template bound<In>;
    static constexpr index_t n = index_t(B::n);
    static void forward(const step_info& s, const fwd_args<float>& a) {
        k::layer_norm_forward(*s.ctx, a.batch * index_t(B::rows), n, float(E), a.x, a.p, a.p + n, a.cache, a.y,
                              a.cache + a.batch * index_t(B::rows));
    }
    static void backward(const step_info& s, const bwd_args<float>& a) {
        k::layer_norm_backward(*s.ctx, a.batch * index_t(B::rows), n, a.x, a.cache, a.p,
                               a.cache + a.batch * index_t(B::rows), a.dy, a.dx, a.dp, a.dp + n);
    }
};

// The host layer's algorithm and cache layout (layers/recurrent.hpp): the input projection as one
// GEMM over all B T rows, then per step h W_hh^T on the step's B rows (strided) and the cell.
template <std::size_t H, std::size_t D>
struct device_layer<lstm<H>, seq<D>> {
    using B = typename lstm<H>::template bound<seq<D>>;
    static constexpr index_t g = index_t(B::G), h = index_t(H), d = index_t(D);
    static void forward(const step_info& s, const fwd_args<float>& a) {
        k::context& c = *s.ctx;
        const index_t rows = a.batch, steps = a.steps, batch = rows / steps;
        const typename B::template slots<float> sl(a.cache, rows);
        const float* p = a.p;
        k::fill_rows_sum(c, rows, g, p + B::bih, p + B::bhh, sl.gates);
        k::gemm(c, false, true, rows, g, d, 1.0f, a.x, d, p + B::wih, d, 1.0f, sl.gates, g);   // += x W_ih^T
        for (index_t t = 0; t < steps; ++t) {
            const float* h_prev = t > 0 ? a.y + (t - 1) * h : a.carry_in;
            const float* c_prev = t > 0 ? sl.c + (t - 1) * h : a.carry_in ? a.carry_in + h : nullptr;
            const index_t ld = t > 0 ? steps * h : 2 * h;
            k::copy_rows(c, batch, h, h_prev, ld, sl.hp + t * h, steps * h);
            k::copy_rows(c, batch, h, c_prev, ld, sl.cp + t * h, steps * h);
            if (t > 0 || a.carry_in)   // += h_prev W_hh^T
                k::gemm(c, false, true, batch, g, h, 1.0f, sl.hp + t * h, steps * h, p + B::whh, h, 1.0f,
                        sl.gates + t * g, steps * g);
            k::lstm_step(c, batch, h, sl.gates + t * g, steps * g, sl.cp + t * h, sl.c + t * h, a.y + t * h, steps * h);
        }
        if (a.carry_out) {
            k::copy_rows(c, batch, h, a.y + (steps - 1) * h, steps * h, a.carry_out, 2 * h);
            k::copy_rows(c, batch, h, sl.c + (steps - 1) * h, steps * h, a.carry_out + h, 2 * h);
        }
    }
    static void backward(const step_info& s, const bwd_args<float>& a) {
        k::context& c = *s.ctx;
        const index_t rows = a.batch, steps = a.steps, batch = rows / steps;
        const typename B::template slots<float> sl(a.cache, rows);
        k::copy_rows(c, batch, h, a.dcarry_out, 2 * h, sl.dh, h);
        k::copy_rows(c, batch, h, a.dcarry_out ? a.dcarry_out + h : nullptr, 2 * h, sl.dc, h);
        for (index_t t = steps - 1; t >= 0; --t) {
            k::lstm_step_backward(c, batch, h, sl.gates + t * g, steps * g, sl.c + t * h, sl.cp + t * h, a.dy + t * h,
                                  steps * h, sl.dh, sl.dc);
            if (t > 0 || a.dcarry_in)   // dh_prev = dG_t W_hh
                k::gemm(c, false, false, batch, h, g, 1.0f, sl.gates + t * g, steps * g, a.p + B::whh, h, 0.0f, sl.dh, h);
        }
        if (a.dcarry_in) {
            k::copy_rows(c, batch, h, sl.dh, h, a.dcarry_in, 2 * h);
            k::copy_rows(c, batch, h, sl.dc, h, a.dcarry_in + h, 2 * h);
        }
        float* dp = a.dp;
        k::gemm(c, true, false, g, d, rows, 1.0f, sl.gates, g, a.x, d, 1.0f, dp + B::wih, d);    // dW_ih += dG^T x
        k::gemm(c, true, false, g, h, rows, 1.0f, sl.gates, g, sl.hp, h, 1.0f, dp + B::whh, h);  // dW_hh += dG^T h_prev
        k::add_column_sums(c, rows, g, sl.gates, dp + B::bih);
        k::add_column_sums(c, rows, g, sl.gates, dp + B::bhh);
        if (a.dx) k::gemm(c, false, false, rows, d, g, 1.0f, sl.gates, g, a.p + B::wih, d, 0.0f, a.dx, d);   // dG W_ih
    }
};

template <std::size_t H, std::size_t D>
struct device_layer<gru<H>, seq<D>> {
    using B = typename gru<H>::template bound<seq<D>>;
    static constexpr index_t g = index_t(B::G), h = index_t(H), d = index_t(D);
    static void forward(const step_info& s, const fwd_args<float>& a) {
        k::context& c = *s.ctx;
        const index_t rows = a.batch, steps = a.steps, batch = rows / steps;
        const typename B::template slots<float> sl(a.cache, rows);
        const float* p = a.p;
        k::fill_rows(c, rows, g, p + B::bih, sl.gates);
        k::gemm(c, false, true, rows, g, d, 1.0f, a.x, d, p + B::wih, d, 1.0f, sl.gates, g);     // x W_ih^T + b_ih
        for (index_t t = 0; t < steps; ++t) {
            k::copy_rows(c, batch, h, t > 0 ? a.y + (t - 1) * h : a.carry_in, t > 0 ? steps * h : h, sl.hp + t * h,
                         steps * h);
            k::fill_rows(c, batch, g, p + B::bhh, sl.scratch);                                     // gh = b_hh
            if (t > 0 || a.carry_in)                                                                // + h W_hh^T
                k::gemm(c, false, true, batch, g, h, 1.0f, sl.hp + t * h, steps * h, p + B::whh, h, 1.0f, sl.scratch, g);
            k::gru_step(c, batch, h, sl.gates + t * g, steps * g, sl.scratch, sl.hp + t * h, sl.hn + t * h, a.y + t * h,
                        steps * h);
        }
        if (a.carry_out) k::copy_rows(c, batch, h, a.y + (steps - 1) * h, steps * h, a.carry_out, h);
    }
    static void backward(const step_info& s, const bwd_args<float>& a) {
        k::context& c = *s.ctx;
        const index_t rows = a.batch, steps = a.steps, batch = rows / steps;
        const typename B::template slots<float> sl(a.cache, rows);
        float* dhr = sl.scratch;                                                                   // (B, H)
        k::copy_rows(c, batch, h, a.dcarry_out, h, dhr, h);
        for (index_t t = steps - 1; t >= 0; --t) {
            k::gru_step_backward(c, batch, h, sl.gates + t * g, steps * g, sl.hn + t * h, sl.hp + t * h, a.dy + t * h,
                                 steps * h, dhr);
            if (t > 0 || a.dcarry_in) {   // dh_prev += (dr, dz) W_hh[r, z] + d(hn) W_hn
                k::gemm(c, false, false, batch, h, 2 * h, 1.0f, sl.gates + t * g, steps * g, a.p + B::whh, h, 1.0f, dhr, h);
                k::gemm(c, false, false, batch, h, h, 1.0f, sl.hn + t * h, steps * h, a.p + B::whh + 2 * h * h, h, 1.0f,
                        dhr, h);
            }
        }
        if (a.dcarry_in) k::copy(c, a.dcarry_in, dhr, std::size_t(batch * h) * sizeof(float));
        float* dp = a.dp;
        k::gemm(c, true, false, g, d, rows, 1.0f, sl.gates, g, a.x, d, 1.0f, dp + B::wih, d);
        k::gemm(c, true, false, 2 * h, h, rows, 1.0f, sl.gates, g, sl.hp, h, 1.0f, dp + B::whh, h);
        k::gemm(c, true, false, h, h, rows, 1.0f, sl.hn, h, sl.hp, h, 1.0f, dp + B::whh + 2 * h * h, h);
        k::add_column_sums(c, rows, g, sl.gates, dp + B::bih);
        k::add_column_sums(c, rows, 2 * h, sl.gates, g, dp + B::bhh);
        k::add_column_sums(c, rows, h, sl.hn, dp + B::bhh + 2 * h);
        if (a.dx) k::gemm(c, false, false, rows, d, g, 1.0f, sl.gates, g, a.p + B::wih, d, 0.0f, a.dx, d);
    }
};

template <std::size_t H, std::size_t D>
struct device_layer<rnn<H>, seq<D>> {
    using B = typename rnn<H>::template bound<seq<D>>;
    static constexpr index_t h = index_t(H), d = index_t(D);
    static void forward(const step_info& s, const fwd_args<float>& a) {
        k::context& c = *s.ctx;
        const index_t rows = a.batch, steps = a.steps, batch = rows / steps;
        float* hp = a.cache + B::cache_fixed;
        const float* p = a.p;
        k::fill_rows_sum(c, rows, h, p + B::bih, p + B::bhh, a.y);
        k::gemm(c, false, true, rows, h, d, 1.0f, a.x, d, p + B::wih, d, 1.0f, a.y, h);
        for (index_t t = 0; t < steps; ++t) {
            k::copy_rows(c, batch, h, t > 0 ? a.y + (t - 1) * h : a.carry_in, t > 0 ? steps * h : h, hp + t * h, steps * h);
            if (t > 0 || a.carry_in)
                k::gemm(c, false, true, batch, h, h, 1.0f, hp + t * h, steps * h, p + B::whh, h, 1.0f, a.y + t * h, steps * h);
            k::rnn_step(c, batch, h, a.y + t * h, steps * h);
        }
        if (a.carry_out) k::copy_rows(c, batch, h, a.y + (steps - 1) * h, steps * h, a.carry_out, h);
    }
    static void backward(const step_info& s, const bwd_args<float>& a) {
        k::context& c = *s.ctx;
        const index_t rows = a.batch, steps = a.steps, batch = rows / steps;
        float* hp = a.cache + B::cache_fixed;
        float* dg = hp + rows * h;
        float* dhr = dg + rows * h;
        k::copy_rows(c, batch, h, a.dcarry_out, h, dhr, h);
        for (index_t t = steps - 1; t >= 0; --t) {
            k::rnn_step_backward(c, batch, h, a.y + t * h, a.dy + t * h, steps * h, dhr, dg + t * h);
            if (t > 0 || a.dcarry_in)
                k::gemm(c, false, false, batch, h, h, 1.0f, dg + t * h, steps * h, a.p + B::whh, h, 0.0f, dhr, h);
        }
        if (a.dcarry_in) k::copy(c, a.dcarry_in, dhr, std::size_t(batch * h) * sizeof(float));
        float* dp = a.dp;
        k::gemm(c, true, false, h, d, rows, 1.0f, dg, h, a.x, d, 1.0f, dp + B::wih, d);
        k::gemm(c, true, false, h, h, rows, 1.0f, dg, h, hp, h, 1.0f, dp + B::whh, h);
        k::add_column_sums(c, rows, h, dg, dp + B::bih);
        k::add_column_sums(c, rows, h, dg, dp + B::bhh);
        if (a.dx) k::gemm(c, false, false, rows, d, h, 1.0f, dg, h, a.p + B::wih, d, 0.0f, a.dx, d);
    }
};

// Both directions, in the host layer's cache layout (bidirectional::bound::slots).
template <class L, class In>
struct device_layer<bidirectional<L>, In> {
    using B = typename bidirectional<L>::template bound<In>;
    using inner = device_layer<L, In>;
    static constexpr index_t h = index_t(B::H), d = index_t(B::D), params = index_t(B::inner_params);
    template <class P> static P second(P c, index_t rows, index_t steps) {
        return c ? c + rows / steps * index_t(B::inner_carry) : nullptr;
    }
    static void forward(const step_info& s, const fwd_args<float>& a) {
        k::context& c = *s.ctx;
        const index_t rows = a.batch, steps = a.steps;
        const typename B::template slots<float> sl(a.cache, rows);
        inner::forward(s, fwd_args<float>{rows, a.m, a.p, a.x, sl.yf, sl.fwd, a.gen, a.state, steps, a.carry_in,
                                          a.carry_out});
        k::reverse_steps(c, rows, steps, d, a.x, d, sl.xr, d, false);
        inner::forward(s, fwd_args<float>{rows, a.m, a.p + params, sl.xr, sl.yr, sl.bwd, a.gen, a.state, steps,
                                          second(a.carry_in, rows, steps), second(a.carry_out, rows, steps)});
        k::copy_rows(c, rows, h, sl.yf, h, a.y, 2 * h);                     // y = (forward, backward) per step
        k::reverse_steps(c, rows, steps, h, sl.yr, h, a.y + h, 2 * h, false);
    }
    static void backward(const step_info& s, const bwd_args<float>& a) {
        k::context& c = *s.ctx;
        const index_t rows = a.batch, steps = a.steps;
        const typename B::template slots<float> sl(a.cache, rows);
        k::copy_rows(c, rows, h, a.dy, 2 * h, sl.dyf, h);
        k::reverse_steps(c, rows, steps, h, a.dy + h, 2 * h, sl.dyr, h, false);
        inner::backward(s, bwd_args<float>{rows, a.p, a.x, sl.yf, sl.dyf, a.dx, a.dp, sl.fwd, a.state, steps,
                                           a.dcarry_out, a.dcarry_in});
        inner::backward(s, bwd_args<float>{rows, a.p + params, sl.xr, sl.yr, sl.dyr, a.dx ? sl.dxr : nullptr,
                                           a.dp + params, sl.bwd, a.state, steps, second(a.dcarry_out, rows, steps),
                                           second(a.dcarry_in, rows, steps)});
        if (a.dx) k::reverse_steps(c, rows, steps, d, sl.dxr, d, a.dx, d, true);   // dx += the reversed pass's
    }
};

// The host layer's cache layout (slots: q k v, attended values, log-sum-exp, their gradients).
template <std::size_t Heads, class In>
struct device_layer<causal_self_attention<Heads>, In> {
    using B = typename causal_self_attention<Heads>::template bound<In>;
    static constexpr index_t d = index_t(B::D), d3 = 3 * d, heads = index_t(Heads);
    static void forward(const step_info& s, const fwd_args<float>& a) {
        k::context& c = *s.ctx;
        const index_t rows = a.batch, steps = a.steps;
        const typename B::template slots<float> sl(a.cache, rows);
        k::fill_rows(c, rows, d3, a.p + B::bin, sl.qkv);
        k::gemm(c, false, true, rows, d3, d, 1.0f, a.x, d, a.p + B::win, d, 1.0f, sl.qkv, d3);        // x W_in^T + b_in
        k::attention_forward(c, rows / steps, steps, heads, d, sl.qkv, sl.att, sl.lse);
        k::fill_rows(c, rows, d, a.p + B::bout, a.y);
        k::gemm(c, false, true, rows, d, d, 1.0f, sl.att, d, a.p + B::wout, d, 1.0f, a.y, d);         // att W_o^T + b_o
    }
    static void backward(const step_info& s, const bwd_args<float>& a) {
        k::context& c = *s.ctx;
        const index_t rows = a.batch, steps = a.steps;
        const typename B::template slots<float> sl(a.cache, rows);
        float* dp = a.dp;
        k::gemm(c, false, false, rows, d, d, 1.0f, a.dy, d, a.p + B::wout, d, 0.0f, sl.datt, d);      // d(att) = dy W_o
        k::gemm(c, true, false, d, d, rows, 1.0f, a.dy, d, sl.att, d, 1.0f, dp + B::wout, d);         // dW_o += dy^T att
        k::add_column_sums(c, rows, d, a.dy, dp + B::bout);
        k::attention_backward(c, rows / steps, steps, heads, d, sl.qkv, sl.att, sl.lse, sl.datt, sl.dqkv);
        k::gemm(c, true, false, d3, d, rows, 1.0f, sl.dqkv, d3, a.x, d, 1.0f, dp + B::win, d);        // dW_in += dqkv^T x
        k::add_column_sums(c, rows, d3, sl.dqkv, dp + B::bin);
        if (a.dx) k::gemm(c, false, false, rows, d, d3, 1.0f, sl.dqkv, d3, a.p + B::win, d, 0.0f, a.dx, d);
    }
};
// GPT-2's block is a type made of the layers above (layers/attention.hpp): so is its device form.
template <std::size_t Heads, std::size_t X, class In>
struct device_layer<transformer_block<Heads, X>, In>
    : device_layer<typename transformer_block<Heads, X>::template body<In::size>, In> {};

// A token model's ids are checked on the host before they go to the device, with the CPU's message.
template <class... L> struct first_layer { using type = void; };
template <class L0, class... L> struct first_layer<L0, L...> { using type = L0; };
template <class L> struct token_check {
    static void run(index_t, index_t, const float*) {}
};
template <std::size_t V, std::size_t D> struct token_check<embedding<V, D>> {
    static void run(index_t rows, index_t steps, const float* x) {
        using B = typename embedding<V, D>::template bound<seq<1>>;
        const fwd_args<float> a{rows, mode::eval, nullptr, x, nullptr, nullptr, nullptr, nullptr, steps, nullptr, nullptr};
        for (index_t r = 0; r < rows; ++r) (void)B::id(a, r);
    }
};

template <class Net> struct model_traits;
template <class T, class Input, class... Layers>
struct model_traits<basic_network<T, Input, Layers...>> {
    using in = typename Input::shape;
    using chain_t = typename typenet::detail::bind_list<in, Layers...>::chain_t;
    using run = device_run<Layers...>;
    using tokens = token_check<typename first_layer<Layers...>::type>;
};

}  // namespace detail

// Net (a network<...> type) on a GPU. Construct it from a host model of the same type; copy_to
// and copy_from move parameters and running statistics between them.
template <class Net>
class model {
    using traits = detail::model_traits<Net>;
    using chain_t = typename traits::chain_t;

public:
    using network_type = Net;
    using scalar = typename Net::scalar;
    using input_shape = typename Net::input_shape;
    using output_shape = typename Net::output_shape;
    static_assert(std::is_same_v<scalar, float>, "typenet: cuda: the CUDA backend trains float networks (network<...>)");
    static constexpr std::size_t param_count = Net::param_count;
    static constexpr std::size_t state_count = Net::state_count;
    static constexpr std::size_t carry_size = Net::carry_size;
    static constexpr bool sequential_input = Net::sequential_input;

    // The host model's parameters and state copied to GPU `ordinal`; gradients zero.
    explicit model(const Net& host, int ordinal = 0) : model(host, device(ordinal)) {}
    model(const Net& host, const device& d)
        : dev_(d), params_(d, param_count), grads_(d, param_count), state_(d, state_count) {
        copy_from(host);
        zero_grad();
    }

    const device& on() const { return dev_; }
    k::context& context() const { return dev_.context(); }

    void copy_from(const Net& host) {
        params_.upload(host.parameters().data(), param_count);
        if constexpr (state_count > 0) state_.upload(host.state().data(), state_count);
    }
    void copy_to(Net& host) const {
        params_.download(host.parameters().data(), param_count);
        if constexpr (state_count > 0) state_.download(host.state().data(), state_count);
    }
    // The gradients as they stand, into a host buffer of param_count values.
    void gradients_to(std::span<scalar> out) const {
        if (out.size() != param_count)
            throw std::invalid_argument("typenet: cuda: gradients_to needs " + std::to_string(param_count) +
                                        " values, got " + std::to_string(out.size()));
        grads_.download(out.data(), param_count);
    }
    void zero_grad() { grads_.zero(); }

    scalar* device_parameters() { return params_.data(); }
    scalar* device_gradients() { return grads_.data(); }
    scalar* device_state() { return state_.data(); }

    // Sizes the device workspace for up to `batch` samples (of `steps` steps); forward calls it.
    // Memory is allocated only when a call needs more than the last.
    void reserve(index_t batch, index_t steps = 1) {
        const index_t rows = batch * steps;
        if (rows > capacity_) {
            const auto r = std::size_t(rows);
            ws_ = device_buffer<scalar>();   // the old workspace goes before the new one comes
            in_ = device_buffer<scalar>(dev_, r * input_shape::size);
            out_ = device_buffer<scalar>(dev_, r * output_shape::size);
            dy_ = device_buffer<scalar>(dev_, r * output_shape::size);
            dx_ = device_buffer<scalar>(dev_, r * input_shape::size);
            ws_ = device_buffer<scalar>(dev_, r * chain_t::ws_per_sample + chain_t::ws_fixed);
            host_out_.assign(r * output_shape::size, scalar(0));
            capacity_ = rows;
        }
        if (carry_size > 0 && batch > sequences_) {   // (B, carry_size) for B sequences
            carry_in_ = device_buffer<scalar>(dev_, std::size_t(batch) * carry_size);
            carry_out_ = device_buffer<scalar>(dev_, std::size_t(batch) * carry_size);
            sequences_ = batch;
        }
    }

    // x (B, in...) on the host -> (B, out...) on the host, valid until the next forward.
    const scalar* forward(index_t batch, const scalar* x, mode m = mode::eval) { return forward(batch, 1, x, m); }
    // B sequences of T steps; s carries recurrent state in and out through host buffers of
    // (B, carry_size), as the host network's forward (they may be the same buffer).
    const scalar* forward(index_t batch, index_t steps, const scalar* x, mode m, recurrent_state<scalar> s = {}) {
        if (batch > 0 && steps > 0) traits::tokens::run(rows_of<input_shape>(batch, steps), steps, x);   // before any state changes
        start(batch, steps, m);
        const index_t rows = rows_of<input_shape>(batch, steps);
        in_.upload(x, std::size_t(rows) * input_shape::size);
        const std::size_t nc = std::size_t(batch) * carry_size;
        if (s.in) carry_in_.upload(s.in, nc);
        run_forward(s.in ? carry_in_.data() : nullptr, s.out ? carry_out_.data() : nullptr);
        if (s.out) carry_out_.download(s.out, nc);
        const std::size_t n = std::size_t(rows_of<output_shape>(batch, steps)) * output_shape::size;
        out_.download(host_out_.data(), n);
        return host_out_.data();
    }
    // x on the device -> the output on the device (valid until the next forward); nothing copied
    // to the host. Token ids are not checked here (one out of range is clamped on the device).
    const scalar* forward_device(index_t batch, index_t steps, const scalar* x_device, mode m) {
        start(batch, steps, m);
        k::copy(context(), in_.data(), x_device, std::size_t(rows_of<input_shape>(batch, steps)) * input_shape::size *
                                                     sizeof(scalar));
        run_forward(nullptr, nullptr);
        return out_.data();
    }

    // dy (B, out...) on the host -> gradients (+=) on the device; dx (B, in...) to the host if
    // asked; g the recurrent state's gradients through host buffers, as the host network's.
    void backward(const scalar* dy, scalar* dx = nullptr, recurrent_gradients<scalar> g = {}) {
        require_forward();
        k::make_current(context());
        dy_.upload(dy, std::size_t(rows_of<output_shape>(batch_, steps_)) * output_shape::size);
        const std::size_t nc = std::size_t(batch_) * carry_size;
        if (g.out) carry_out_.upload(g.out, nc);
        run_backward(dy_.data(), dx ? dx_.data() : nullptr, g.out ? carry_out_.data() : nullptr,
                     g.in ? carry_in_.data() : nullptr);
        if (dx) dx_.download(dx, std::size_t(rows_of<input_shape>(batch_, steps_)) * input_shape::size);
        if (g.in) carry_in_.download(g.in, nc);
    }
    // The same with device pointers (dx_device may be null).
    void backward_device(const scalar* dy_device, scalar* dx_device = nullptr) {
        require_forward();
        k::make_current(context());
        run_backward(dy_device, dx_device, nullptr, nullptr);
    }

    index_t batch() const { return batch_; }
    index_t steps() const { return steps_; }
    void synchronize() const { dev_.synchronize(); }

private:
    void start(index_t batch, index_t steps, mode m) {
        k::make_current(context());
        if (batch <= 0) throw std::invalid_argument("typenet: cuda: forward: batch size must be > 0, got " + std::to_string(batch));
        if (steps <= 0) throw std::invalid_argument("typenet: cuda: forward: steps must be > 0, got " + std::to_string(steps));
        if (steps > 1 && !is_sequence<input_shape>)
            throw std::invalid_argument("typenet: cuda: forward: steps = " + std::to_string(steps) + ", but the input " +
                                        input_shape::str() + " is not a sequence");
        reserve(batch, steps);
        batch_ = batch;
        steps_ = steps;
        mode_ = m;
        ++forwards_;
    }
    void require_forward() const {
        if (batch_ == 0) throw std::logic_error("typenet: cuda: backward: call forward first");
        if (mode_ == mode::infer)
            throw std::logic_error("typenet: cuda: backward: the last forward ran in mode::infer, which keeps nothing "
                                   "for backward; run it in mode::eval or mode::train");
    }
    typename traits::run runner() const {
        return typename traits::run{detail::step_info{&context(), mode_, detail::mix(0x7e9e7c0dull, forwards_), ws_.data()}};
    }
    void run_forward(const scalar* cin, scalar* cout) {
        chain_t::forward(layers_, batch_, steps_, mode_, params_.data(), state_.data(), in_.data(), out_.data(),
                         ws_.data(), static_cast<rng*>(nullptr), cin, cout, runner());
    }
    void run_backward(const scalar* dy, scalar* dx, const scalar* dcout, scalar* dcin) {
        chain_t::backward(layers_, batch_, steps_, params_.data(), state_.data(), in_.data(), out_.data(), dy, dx,
                          grads_.data(), ws_.data(), dcout, dcin, runner());
    }

    device dev_;
    typename chain_t::layers layers_{};
    device_buffer<scalar> params_, grads_, state_;
    device_buffer<scalar> in_, out_, dy_, dx_, ws_;
    device_buffer<scalar> carry_in_, carry_out_;   // (B, carry_size): the state, then its gradient
    aligned_vector<scalar> host_out_;
    index_t capacity_ = 0, sequences_ = 0, batch_ = 0, steps_ = 1;
    mode mode_ = mode::eval;
    std::uint64_t forwards_ = 0;
};

// torch.nn.utils.clip_grad_norm_ on the device model's gradients (optim::clip_grad_norm's rule):
// returns the norm before clipping.
template <class Net>
double clip_grad_norm(model<Net>& m, double max_norm) {
    if (!(max_norm >= 0.0))
        throw std::invalid_argument("typenet: clip_grad_norm: max_norm must be >= 0, got " + std::to_string(max_norm));
    k::make_current(m.context());
    const double total = std::sqrt(k::sum_of_squares(m.context(), index_t(Net::param_count), m.device_gradients()));
    const double scale = max_norm / (total + 1e-6);
    if (!(scale >= 1.0)) k::scale(m.context(), index_t(Net::param_count), float(scale), m.device_gradients());
    return total;
}

// ---- optimizers: torch.optim's, their state in device memory --------------------------------------
namespace detail {
// What the device optimizers share: the model, the options (checked as the CPU optimizers check
// them), the step count, and optim::optimizer's interface.
template <class Net, class Options>
class device_optimizer {
public:
    using options = Options;
    void zero_grad() { m_.zero_grad(); }
    double lr() const { return o_.lr; }
    void set_lr(double lr) { o_.lr = lr; }
    long steps() const { return steps_; }

protected:
    device_optimizer(model<Net>& m, Options o) : m_(m), o_(o) { optim::detail::check(o); }
    // A state buffer of n values (0: none), zeros.
    device_buffer<float> state(std::size_t n) const {
        device_buffer<float> b(m_.on(), n);
        b.zero();
        return b;
    }
    model<Net>& m_;
    Options o_;
    long steps_ = 0;
};
}  // namespace detail

template <class Net>
class sgd : public detail::device_optimizer<Net, optim::sgd_options> {
public:
    sgd(model<Net>& m, optim::sgd_options o = {})
        : detail::device_optimizer<Net, optim::sgd_options>(m, o),
          buf_(this->state(o.momentum != 0.0 ? Net::param_count : 0)) {}
    void step() {
        const auto& o = this->o_;
        k::make_current(this->m_.context());
        k::sgd_update(this->m_.context(), index_t(Net::param_count), float(o.lr), float(o.momentum), float(o.dampening),
                      float(o.weight_decay), o.nesterov, this->steps_ == 0, this->m_.device_parameters(),
                      this->m_.device_gradients(), buf_.data());
        ++this->steps_;
    }

private:
    device_buffer<float> buf_;
};
template <class Net> sgd(model<Net>&, optim::sgd_options) -> sgd<Net>;
template <class Net> sgd(model<Net>&) -> sgd<Net>;

template <class Net, bool Decoupled>
class adam_family
    : public detail::device_optimizer<Net, std::conditional_t<Decoupled, optim::adamw_options, optim::adam_options>> {
    using base = detail::device_optimizer<Net, std::conditional_t<Decoupled, optim::adamw_options, optim::adam_options>>;

public:
    adam_family(model<Net>& m, typename base::options o)
        : base(m, o), first_(this->state(Net::param_count)), second_(this->state(Net::param_count)) {}
    void step() {
        const auto& o = this->o_;
        ++this->steps_;
        k::make_current(this->m_.context());
        k::adam_update(this->m_.context(), index_t(Net::param_count), float(o.lr), float(o.beta1), float(o.beta2),
                       float(o.eps), float(o.weight_decay), Decoupled, this->steps_, this->m_.device_parameters(),
                       this->m_.device_gradients(), first_.data(), second_.data());
    }

private:
    device_buffer<float> first_, second_;
};
template <class Net> class adam : public adam_family<Net, false> {
public:
    adam(model<Net>& m, optim::adam_options o = {}) : adam_family<Net, false>(m, o) {}
};
template <class Net> class adamw : public adam_family<Net, true> {
public:
    adamw(model<Net>& m, optim::adamw_options o = {}) : adam_family<Net, true>(m, o) {}
};
template <class Net> adam(model<Net>&, optim::adam_options) -> adam<Net>;
template <class Net> adam(model<Net>&) -> adam<Net>;
template <class Net> adamw(model<Net>&, optim::adamw_options) -> adamw<Net>;
template <class Net> adamw(model<Net>&) -> adamw<Net>;

template <class Net>
class rmsprop : public detail::device_optimizer<Net, optim::rmsprop_options> {
public:
    rmsprop(model<Net>& m, optim::rmsprop_options o = {})
        : detail::device_optimizer<Net, optim::rmsprop_options>(m, o), square_avg_(this->state(Net::param_count)),
          grad_avg_(this->state(o.centered ? Net::param_count : 0)),
          buf_(this->state(o.momentum > 0.0 ? Net::param_count : 0)) {}
    void step() {
        const auto& o = this->o_;
        k::make_current(this->m_.context());
        k::rmsprop_update(this->m_.context(), index_t(Net::param_count), float(o.lr), float(o.alpha), float(o.eps),
                          float(o.weight_decay), float(o.momentum), o.centered, this->m_.device_parameters(),
                          this->m_.device_gradients(), square_avg_.data(), grad_avg_.data(), buf_.data());
        ++this->steps_;
    }

private:
    device_buffer<float> square_avg_, grad_avg_, buf_;
};
template <class Net> rmsprop(model<Net>&, optim::rmsprop_options) -> rmsprop<Net>;
template <class Net> rmsprop(model<Net>&) -> rmsprop<Net>;

}  // namespace typenet::cuda
