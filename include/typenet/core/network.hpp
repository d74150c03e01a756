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

// A recurrent model's state between calls, B * carry_size scalars for B sequences: layer after
// layer, a (B, carry) block each (an LSTM's rows are h then c, H each), as torch's h_0 is
// (layers, B, H). `in` is what the first step starts from (null: zeros), `out` receives what the
// last step leaves (null: not kept). They may be the same buffer: truncated backpropagation
// through time carries the state of one window into the next so,
//   net.forward(b, t, x, mode::train, {h.data(), h.data()}).
template <class T> struct recurrent_state {
    const T* in = nullptr;
    T* out = nullptr;
};
// Their gradients in backward: `out` dL/d(final state) from whatever read it (a decoder started
// from an encoder's state; null: zero), `in` receives dL/d(initial state) (null: not wanted).
template <class T> struct recurrent_gradients {
    const T* out = nullptr;
    T* in = nullptr;
};

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
    // Recurrent state per sequence (0 without recurrent layers): see recurrent_state.
    static constexpr std::size_t carry_size = chain_t::carry_count;
    static constexpr bool sequential_input = is_sequence<In>;
    // The input and output of a batch, the chain's activations, caches and two gradient buffers,
    // per sample, or per step of a sequence (plus chain_t::ws_fixed scalars per batch).
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

    // Sizes the workspace for batches up to `batch` samples, or sequences of up to `steps` steps
    // (B * T rows); forward calls it, so this only moves the one allocation ahead of the first step.
    void reserve(index_t batch, index_t steps = 1) {
        const index_t rows = batch * steps;
        if (rows <= capacity_) return;
        const auto r = static_cast<std::size_t>(rows);
        in_.assign(r * In::size, T(0));
        out_.assign(r * output_shape::size, T(0));
        ws_.assign(r * chain_t::ws_per_sample + chain_t::ws_fixed, T(0));
        capacity_ = rows;
    }

    // x (B, in...) contiguous -> (B, out...), valid until the next forward. B >= 1. A sequence
    // model reads this as B sequences of one step.
    const T* forward(index_t batch, const T* x, mode m = mode::eval) { return forward(batch, 1, x, m); }

    // B sequences of T steps: x (B, T, in...) -> (B, T, out...), or (B, out...) after a layer that
    // ends the sequence (last_step); s carries recurrent state in and out (see recurrent_state).
    const T* forward(index_t batch, index_t steps, const T* x, mode m, recurrent_state<T> s = {}) {
        if (batch <= 0) throw std::invalid_argument("typenet: forward: batch size must be > 0, got " + std::to_string(batch));
        if (steps <= 0) throw std::invalid_argument("typenet: forward: steps must be > 0, got " + std::to_string(steps));
        if (steps > 1 && !sequential_input)
            throw std::invalid_argument("typenet: forward: steps = " + std::to_string(steps) + ", but the input " +
                                        In::str() + " is not a sequence; use sequence_input<...>");
        reserve(batch, steps);
        batch_ = batch;
        steps_ = steps;
        inferred_ = m == mode::infer;
        std::copy(x, x + rows_of<In>(batch, steps) * index_t(In::size), in_.data());
        chain_t::forward(layers_, batch, steps, m, params_.data(), state_.data(), in_.data(), out_.data(), ws_.data(),
                         &gen_, s.in, s.out);
        return out_.data();
    }

    // dy (B, out...) or (B, T, out...) of the last forward -> parameter gradients (+=) and, when dx
    // is given, dx (B, in...) = dL/dx; g the recurrent state's gradients (see recurrent_gradients).
    void backward(const T* dy, T* dx = nullptr, recurrent_gradients<T> g = {}) {
        if (batch_ == 0) throw std::logic_error("typenet: backward: call forward first");
        if (inferred_)
            throw std::logic_error("typenet: backward: the last forward ran in mode::infer, which keeps nothing for "
                                   "backward; run it in mode::eval or mode::train");
        chain_t::backward(layers_, batch_, steps_, params_.data(), state_.data(), in_.data(), out_.data(), dy, dx,
                          grads_.data(), ws_.data(), g.out, g.in);
    }

    // The xtensor face: x has shape (B, in...), or (B, T, in...) for a sequence input; the result
    // (B, out...) or (B, T, out...) views the workspace.
    template <class E>
        requires requires(const E& e) { e.data(); e.shape(); e.layout(); }
    auto forward(const E& x, mode m = mode::eval) {
        const auto [b, t] = check_batch("forward: x", x, In{}, 0);
        const T* y = forward(b, t, x.data(), m);
        return adapt_batch(y, b, t, output_shape{});
    }
    template <class E>
        requires requires(const E& e) { e.data(); e.shape(); e.layout(); }
    void backward(const E& dy) {
        const auto [b, t] = check_batch("backward: dy", dy, output_shape{}, is_sequence<output_shape> ? steps_ : 1);
        if (b != batch_)
            throw std::invalid_argument("typenet: backward: dy has batch " + std::to_string(b) +
                                        ", the last forward had " + std::to_string(batch_));
        (void)t;
        backward(dy.data());
    }

    index_t batch() const { return batch_; }
    index_t steps() const { return steps_; }

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
    // (B, T) of x against (B, S...) or, for a sequence, (B, T, S...); steps > 0 asks for that T.
    template <class E, template <std::size_t...> class Shape, std::size_t... S>
    static std::pair<index_t, index_t> check_batch(const char* what, const E& x, Shape<S...>, index_t steps) {
        constexpr bool sequence = is_sequence<Shape<S...>>;
        constexpr std::size_t lead = sequence ? 2 : 1;
        const auto& sh = x.shape();
        bool ok = sh.size() == sizeof...(S) + lead && x.layout() == xt::layout_type::row_major;
        if (ok) {
            std::size_t i = lead;
            ((ok = ok && sh[i++] == S), ...);
            ok = ok && sh[0] > 0 && (!sequence || (sh[1] > 0 && (steps == 0 || index_t(sh[1]) == steps)));
        }
        if (!ok) {
            std::string got = "(";
            for (std::size_t i = 0; i < sh.size(); ++i) got += (i ? ", " : "") + std::to_string(sh[i]);
            const std::string t = !sequence ? "" : steps > 0 ? ", " + std::to_string(steps) : ", T";
            throw std::invalid_argument(std::string("typenet: ") + what + " has shape " + got +
                                        "), the network needs (B" + t + ((", " + std::to_string(S)) + ... + "") +
                                        ") with B >= 1" + (sequence ? ", T >= 1" : "") + ", row-major");
        }
        return {index_t(sh[0]), sequence ? index_t(sh[1]) : 1};
    }
    template <template <std::size_t...> class Shape, std::size_t... S>
    static auto adapt_batch(const T* y, index_t b, index_t t, Shape<S...>) {
        const std::size_t n = std::size_t(b) * (S * ...);
        if constexpr (is_sequence<Shape<S...>>) {
            const std::array<std::size_t, sizeof...(S) + 2> sh{std::size_t(b), std::size_t(t), S...};
            return xt::adapt(static_cast<const T*>(y), n * std::size_t(t), xt::no_ownership(), sh);
        } else {
            const std::array<std::size_t, sizeof...(S) + 1> sh{std::size_t(b), S...};
            return xt::adapt(static_cast<const T*>(y), n, xt::no_ownership(), sh);   // by value: the adaptor must not hold a reference to y
        }
    }

    layers_tuple layers_{};
    aligned_vector<T> params_, grads_;         // (param_count) each
    aligned_vector<T> state_;                  // (state_count)
    aligned_vector<T> in_, out_;               // (B, in...), (B, out...)
    aligned_vector<T> ws_;                     // the chain's workspace
    index_t capacity_ = 0, batch_ = 0, steps_ = 1;   // capacity in rows (B * T)
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

// What fit and evaluate need of a model: batches forward and backward through host buffers. Every
// network is one; so is a network on a GPU (typenet::cuda::model), whose parameters stay there.
template <class N>
concept trainable = requires(N& n, const typename N::scalar* x, index_t b) {
    typename N::input_shape;
    typename N::output_shape;
    n.reserve(b, b);
    { n.forward(b, b, x, mode::train) } -> std::convertible_to<const typename N::scalar*>;
    n.backward(x);
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
