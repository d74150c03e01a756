// core/network.hpp — network<input<...>, Layers...>: the model as one type.
//
// Binding is a Hana fold over the layer list: layer i is bound to the output shape of layer i-1.
// The checks of all layers are then expanded at once (no recursion), so a mis-wired model reports
// one error at the first wrong layer, with a three-line "required from" chain at any depth.
// All parameters live in one aligned buffer (and gradients in its twin); the workspace holds every
// activation of a batch and is sized from the types, allocated once per batch capacity.
#pragma once
#include <algorithm>
#include <array>
#include <concepts>
#include <cstddef>
#include <iterator>
#include <span>
#include <sstream>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <xtensor/xadapt.hpp>
#include <xtensor/xtensor.hpp>

#include "typenet/core/aligned.hpp"
#include "typenet/core/chain.hpp"
#include "typenet/core/layer.hpp"

namespace typenet {

namespace detail {
// Stands in for the network's body when a check failed, so that the failed static_assert is the
// only error the user reads (the model cannot be used anyway).
struct ill_formed_network {
    template <class... A> explicit ill_formed_network(A&&...) {}
};

template <class T, class In, class... Bound> class network_body;
}  // namespace detail

template <class T, class Input, class... Layers>
class basic_network;

template <class T, class Input, class... Layers>
struct network_traits {
    static_assert(sizeof...(Layers) > 0, "typenet: network needs at least one layer after input<...>");
    using chain = decltype(detail::as_shapes(detail::shape_chain<typename Input::shape, Layers...>()));
    static constexpr bool well_formed =
        sizeof...(Layers) > 0 && is_valid_shape<typename Input::shape> &&
        detail::all_checks<chain, std::index_sequence_for<Layers...>, Layers...>::ok;
    template <std::size_t... I>
    static auto body(std::index_sequence<I...>)
        -> detail::network_body<T, typename Input::shape,
                                typename Layers::template bound<detail::shape_at<I, chain>>...>;
    using base = std::conditional_t<well_formed,
                                    decltype(body(std::index_sequence_for<Layers...>{})),
                                    detail::ill_formed_network>;
};

// network<input<1, 28, 28>, flatten, dense<10>>: float parameters. basic_network<double, ...> for
// double precision (gradient checks).
template <class T, class Input, class... Layers>
class basic_network : public network_traits<T, Input, Layers...>::base {
    using base = typename network_traits<T, Input, Layers...>::base;
public:
    using base::base;
    static constexpr bool well_formed = network_traits<T, Input, Layers...>::well_formed;
};

template <class Input, class... Layers>
using network = basic_network<float, Input, Layers...>;

namespace detail {

template <class T, class In, class... Bound>
class network_body {
    static_assert(std::is_floating_point_v<T>, "typenet: network parameters must be float or double");
    using chain_t = chain<In, Bound...>;
    using layers_tuple = typename chain_t::layers;

public:
    using scalar = T;
    using input_shape = In;
    using output_shape = typename chain_t::output_shape;
    static constexpr std::size_t depth = sizeof...(Bound);
    static constexpr std::size_t param_count = chain_t::param_count;
    static constexpr std::size_t state_count = chain_t::state_count;   // running statistics
    // The input and output of a batch, the chain's activations, caches and two gradient buffers,
    // per sample (plus chain_t::ws_fixed scalars per batch).
    static constexpr std::size_t workspace_per_sample = In::size + output_shape::size + chain_t::ws_per_sample;

    explicit network_body(seed s = seed{0}) : params_(param_count), grads_(param_count), state_(state_count) { init(s); }

    // Draws every parameter again from the seed, layer by layer in order; state to its initial
    // values; gradients to zero.
    void init(seed s) {
        rng g(s);
        chain_t::init(layers_, params_.data(), g);
        chain_t::init_state(layers_, state_.data());
        gen_.reseed(seed{s.value ^ 0x5eed5eed5eed5eedull});
        zero_grad();
    }

    std::span<T> parameters() { return {params_.data(), param_count}; }
    std::span<const T> parameters() const { return {params_.data(), param_count}; }
    std::span<T> gradients() { return {grads_.data(), param_count}; }
    std::span<const T> gradients() const { return {grads_.data(), param_count}; }
    template <std::size_t I> std::span<T> layer_parameters() {
        return parameters().subspan(chain_t::param_offsets[I], chain_t::param_sizes[I]);
    }
    template <std::size_t I> std::span<T> layer_gradients() {
        return gradients().subspan(chain_t::param_offsets[I], chain_t::param_sizes[I]);
    }
    void zero_grad() { std::fill(grads_.begin(), grads_.end(), T(0)); }
    // Non-trainable values kept across steps (batch norm's running mean and variance).
    std::span<T> state() { return {state_.data(), state_count}; }
    std::span<const T> state() const { return {state_.data(), state_count}; }
    template <std::size_t I> std::span<T> layer_state() {
        return state().subspan(chain_t::state_offsets[I], chain_t::state_sizes[I]);
    }
    rng& generator() { return gen_; }

    // Sizes the workspace for batches up to `batch`; forward calls it, so this only moves the one
    // allocation ahead of the first step.
    void reserve(index_t batch) {
        if (batch <= capacity_) return;
        const auto b = static_cast<std::size_t>(batch);
        in_.assign(b * In::size, T(0));
        out_.assign(b * output_shape::size, T(0));
        ws_.assign(b * chain_t::ws_per_sample + chain_t::ws_fixed, T(0));
        capacity_ = batch;
    }

    // x (B, in...) contiguous -> (B, out...), valid until the next forward. B >= 1.
    const T* forward(index_t batch, const T* x, mode m = mode::eval) {
        if (batch <= 0) throw std::invalid_argument("typenet: forward: batch size must be > 0, got " + std::to_string(batch));
        reserve(batch);
        batch_ = batch;
        inferred_ = m == mode::infer;
        std::copy(x, x + batch * index_t(In::size), in_.data());
        chain_t::forward(layers_, batch, m, params_.data(), state_.data(), in_.data(), out_.data(), ws_.data(), &gen_);
        return out_.data();
    }

    // dy (B, out...) of the last forward -> parameter gradients (+=) and, when dx is given,
    // dx (B, in...) = dL/dx.
    void backward(const T* dy, T* dx = nullptr) {
        if (batch_ == 0) throw std::logic_error("typenet: backward: call forward first");
        if (inferred_)
            throw std::logic_error("typenet: backward: the last forward ran in mode::infer, which keeps nothing for "
                                   "backward; run it in mode::eval or mode::train");
        chain_t::backward(layers_, batch_, params_.data(), state_.data(), in_.data(), out_.data(), dy, dx,
                          grads_.data(), ws_.data());
    }

    // The xtensor face: x has shape (B, in...), the result (B, out...) views the workspace.
    template <class E>
        requires requires(const E& e) { e.data(); e.shape(); e.layout(); }
    auto forward(const E& x, mode m = mode::eval) {
        const index_t b = check_batch("forward: x", x, In{});
        const T* y = forward(b, x.data(), m);
        return adapt_batch(y, b, output_shape{});
    }
    template <class E>
        requires requires(const E& e) { e.data(); e.shape(); e.layout(); }
    void backward(const E& dy) {
        const index_t b = check_batch("backward: dy", dy, output_shape{});
        if (b != batch_)
            throw std::invalid_argument("typenet: backward: dy has batch " + std::to_string(b) +
                                        ", the last forward had " + std::to_string(batch_));
        backward(dy.data());
    }

    index_t batch() const { return batch_; }

    // Every parameter and state tensor with torch.nn.Sequential's name ("0.weight", "4.body.0.bias"),
    // torch's shape and its offset in parameters() or state(); in buffer order.
    static tensor_list tensors() {
        tensor_list t;
        chain_t::tensors(t, "", 0, 0);
        return t;
    }

    // One line per layer: index, layer, input -> output shape, parameters.
    static std::string summary() {
        std::ostringstream os;
        os << "input " << In::str() << "\n";
        chain_t::summarize(os, "");
        os << "parameters: " << param_count << "\n";
        return os.str();
    }

private:
    template <class E, std::size_t... S>
    static index_t check_batch(const char* what, const E& x, shape<S...>) {
        const auto& sh = x.shape();
        bool ok = sh.size() == sizeof...(S) + 1 && x.layout() == xt::layout_type::row_major;
        if (ok) {
            std::size_t i = 1;
            ((ok = ok && sh[i++] == S), ...);
        }
        if (!ok || sh[0] == 0) {
            std::string got = "(";
            for (std::size_t i = 0; i < sh.size(); ++i) got += (i ? ", " : "") + std::to_string(sh[i]);
            throw std::invalid_argument(std::string("typenet: ") + what + " has shape " + got +
                                        "), the network needs (B" + ((", " + std::to_string(S)) + ... + "") +
                                        ") with B >= 1, row-major");
        }
        return index_t(sh[0]);
    }
    template <std::size_t... S>
    static auto adapt_batch(const T* y, index_t b, shape<S...>) {
        const std::array<std::size_t, sizeof...(S) + 1> sh{std::size_t(b), S...};
        return xt::adapt(static_cast<const T*>(y), std::size_t(b) * (S * ...), xt::no_ownership(), sh);   // by value: the adaptor must not hold a reference to y
    }

    layers_tuple layers_{};
    aligned_vector<T> params_, grads_;         // (param_count) each
    aligned_vector<T> state_;                  // (state_count)
    aligned_vector<T> in_, out_;               // (B, in...), (B, out...)
    aligned_vector<T> ws_;                     // the chain's workspace
    index_t capacity_ = 0, batch_ = 0;
    bool inferred_ = false;                    // the last forward ran in mode::infer
    rng gen_;
};

}  // namespace detail

template <class N>
concept model = requires(N& n) {
    typename N::scalar;
    typename N::input_shape;
    typename N::output_shape;
    N::param_count;
    n.parameters();
    n.gradients();
};

namespace detail {
template <class R> constexpr std::size_t static_extent() {
    using V = std::remove_cvref_t<R>;
    if constexpr (requires { std::tuple_size<V>::value; }) return std::tuple_size<V>::value;   // std::array
    else if constexpr (requires { V::extent; }) return V::extent;                              // std::span
    else return std::dynamic_extent;
}
}  // namespace detail

// One sample in, its output out: the forward at batch 1 in mode::infer (eval: dropout off, batch
// norm on its running statistics; and nothing kept for a backward). x is any contiguous range of
// the model's scalar, e.g. a std::array, a std::span or a std::vector; a fixed-size one of the
// wrong size is a compile error, another a runtime error naming both sizes. The result views the network's workspace until the next
// forward. After the first call (or net.reserve(1)) nothing is allocated, and the kernels run on
// the calling thread alone: one sample is too little work to split.
//   std::array<float, 784> image = ...;
//   auto logits = predict(model, image);                  // std::span<const float, 10>
template <model Net, class R>
    requires requires(const R& r) {
        { std::data(r) } -> std::convertible_to<const typename Net::scalar*>;
        std::size(r);
    }
std::span<const typename Net::scalar, Net::output_shape::size> predict(Net& net, const R& x) {
    constexpr std::size_t n = Net::input_shape::size, e = detail::static_extent<R>();
    static_assert(e == std::dynamic_extent || e == n,
                  "typenet: predict needs one sample of the network's input size (input_shape::size values)");
    if constexpr (e == std::dynamic_extent) {
        if (std::size(x) != n)
            throw std::invalid_argument("typenet: predict: the sample has " + std::to_string(std::size(x)) +
                                        " values, the network's input " + Net::input_shape::str() + " needs " +
                                        std::to_string(n));
    }
    const auto* y = net.forward(1, std::data(x), mode::infer);
    return std::span<const typename Net::scalar, Net::output_shape::size>(y, Net::output_shape::size);
}

}  // namespace typenet
