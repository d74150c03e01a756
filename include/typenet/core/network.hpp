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
#include <boost/hana/append.hpp>
#include <boost/hana/back.hpp>
#include <boost/hana/fold_left.hpp>
#include <boost/hana/tuple.hpp>
#include <boost/hana/type.hpp>
#include <cstddef>
#include <span>
#include <sstream>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>
#include <xtensor/xadapt.hpp>
#include <xtensor/xtensor.hpp>

#include "typenet/core/aligned.hpp"
#include "typenet/core/layer.hpp"

namespace typenet {

namespace detail {
namespace hana = boost::hana;

// (In_0, In_1, ..., In_n): In_0 the input, In_{i+1} = output_of<L_i, In_i>; invalid_shape past an error.
template <class In, class... L>
constexpr auto shape_chain() {
    return hana::fold_left(hana::tuple_t<L...>, hana::make_tuple(hana::type_c<In>), [](auto acc, auto l) {
        using prev = typename decltype(+hana::back(acc))::type;
        using layer = typename decltype(l)::type;
        return hana::append(acc, hana::type_c<typename output_of<layer, prev>::type>);
    });
}
// The chain as a plain list, so a diagnostic's "required from" line reads
// all_checks<shapes<shape<1, 28, 28>, invalid_shape, ...>, ...> rather than Hana's internals.
template <class... S> struct shapes {};
template <class... S> shapes<typename S::type...> as_shapes(hana::tuple<S...>);
template <std::size_t I, class Chain> struct shape_at_impl;
template <std::size_t I, class... S> struct shape_at_impl<I, shapes<S...>> {
    using type = std::tuple_element_t<I, std::tuple<S...>>;
};
template <std::size_t I, class Chain>
using shape_at = typename shape_at_impl<I, Chain>::type;

// A layer after a failed one is not checked: its input is already known to be wrong.
struct skipped_check { static constexpr bool ok = true; };
template <std::size_t I, class L, class In>
using check_or_skip = std::conditional_t<is_valid_shape<In>, layer_check<I, L, In>, skipped_check>;

template <class Chain, class Seq, class... L> struct all_checks;
template <class Chain, std::size_t... I, class... L>
struct all_checks<Chain, std::index_sequence<I...>, L...> {
    static constexpr bool ok = (check_or_skip<I, L, shape_at<I, Chain>>::ok && ...);
};

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
    static constexpr std::size_t n_layers = sizeof...(Bound);
    using layers_tuple = std::tuple<Bound...>;
    template <std::size_t I> using layer_t = std::tuple_element_t<I, layers_tuple>;

    static constexpr std::array<std::size_t, n_layers> param_sizes{param_count_of<Bound>()...};
    static constexpr std::array<std::size_t, n_layers> cache_sizes{cache_per_sample_of<Bound>()...};
    // activation i: 0 the input, i + 1 the output of layer i (per-sample sizes)
    static constexpr std::array<std::size_t, n_layers + 1> act_sizes{In::size, Bound::output_shape::size...};

    template <std::size_t N>
    static constexpr std::array<std::size_t, N + 1> prefix(const std::array<std::size_t, N>& a) {
        std::array<std::size_t, N + 1> o{};
        for (std::size_t i = 0; i < N; ++i) o[i + 1] = o[i] + a[i];
        return o;
    }
    static constexpr auto param_offsets = prefix(param_sizes);
    static constexpr auto cache_offsets = prefix(cache_sizes);
    static constexpr auto act_offsets = prefix(act_sizes);
    static constexpr std::size_t max_act = *std::max_element(act_sizes.begin(), act_sizes.end());

public:
    using scalar = T;
    using input_shape = In;
    using output_shape = typename layer_t<n_layers - 1>::output_shape;
    static constexpr std::size_t depth = n_layers;
    static constexpr std::size_t param_count = param_offsets[n_layers];
    // Activations kept for backward, layer caches, and two gradient buffers, per sample.
    static constexpr std::size_t workspace_per_sample =
        act_offsets[n_layers + 1] + cache_offsets[n_layers] + 2 * max_act;

    explicit network_body(seed s = seed{0}) : params_(param_count), grads_(param_count) { init(s); }

    // Draws every parameter again from the seed, layer by layer in order; gradients to zero.
    void init(seed s) {
        rng g(s);
        init_layers(g, std::index_sequence_for<Bound...>{});
        gen_.reseed(seed{s.value ^ 0x5eed5eed5eed5eedull});
        zero_grad();
    }

    std::span<T> parameters() { return {params_.data(), param_count}; }
    std::span<const T> parameters() const { return {params_.data(), param_count}; }
    std::span<T> gradients() { return {grads_.data(), param_count}; }
    std::span<const T> gradients() const { return {grads_.data(), param_count}; }
    template <std::size_t I> std::span<T> layer_parameters() { return parameters().subspan(param_offsets[I], param_sizes[I]); }
    template <std::size_t I> std::span<T> layer_gradients() { return gradients().subspan(param_offsets[I], param_sizes[I]); }
    void zero_grad() { std::fill(grads_.begin(), grads_.end(), T(0)); }
    rng& generator() { return gen_; }

    // Sizes the workspace for batches up to `batch`; forward calls it, so this only moves the one
    // allocation ahead of the first step.
    void reserve(index_t batch) {
        if (batch <= capacity_) return;
        const auto b = static_cast<std::size_t>(batch);
        acts_.assign(b * act_offsets[n_layers + 1], T(0));
        caches_.assign(b * cache_offsets[n_layers], T(0));
        grad_bufs_.assign(2 * b * max_act, T(0));
        capacity_ = batch;
    }

    // x (B, in...) contiguous -> (B, out...), valid until the next forward. B >= 1.
    const T* forward(index_t batch, const T* x, mode m = mode::eval) {
        if (batch <= 0) throw std::invalid_argument("typenet: forward: batch size must be > 0, got " + std::to_string(batch));
        reserve(batch);
        batch_ = batch;
        std::copy(x, x + batch * index_t(In::size), act(0));
        forward_layers(m, std::index_sequence_for<Bound...>{});
        return act(n_layers);
    }

    // dy (B, out...) of the last forward -> parameter gradients (+=) and, when dx is given,
    // dx (B, in...) = dL/dx.
    void backward(const T* dy, T* dx = nullptr) {
        if (batch_ == 0) throw std::logic_error("typenet: backward: call forward first");
        backward_layer<n_layers - 1>(dy, dx);
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

    // One line per layer: index, layer, input -> output shape, parameters.
    static std::string summary() {
        std::ostringstream os;
        os << "input " << In::str() << "\n";
        summarize(os, std::index_sequence_for<Bound...>{});
        os << "parameters: " << param_count << "\n";
        return os.str();
    }

private:
    T* act(std::size_t i) { return acts_.data() + batch_ * index_t(act_offsets[i]); }
    T* cache(std::size_t i) { return caches_.data() + batch_ * index_t(cache_offsets[i]); }

    template <std::size_t... I> void init_layers(rng& g, std::index_sequence<I...>) {
        (std::get<I>(layers_).init(params_.data() + param_offsets[I], g), ...);
    }
    template <std::size_t... I> void forward_layers(mode m, std::index_sequence<I...>) {
        (std::get<I>(layers_).forward(fwd_args<T>{batch_, m, params_.data() + param_offsets[I], act(I),
                                                  act(I + 1), cache(I), &gen_}),
         ...);
    }
    template <std::size_t I> void backward_layer(const T* dy, T* dx_user) {
        T* dx = I == 0 ? dx_user : grad_bufs_.data() + (I % 2) * batch_ * index_t(max_act);
        std::get<I>(layers_).backward(bwd_args<T>{batch_, params_.data() + param_offsets[I], act(I), act(I + 1),
                                                  dy, dx, grads_.data() + param_offsets[I], cache(I)});
        if constexpr (I > 0) backward_layer<I - 1>(dx, dx_user);
    }
    template <std::size_t... I> static void summarize(std::ostream& os, std::index_sequence<I...>) {
        ((os << I << "  " << layer_t<I>::name() << "  " << layer_t<I>::input_shape::str() << " -> "
             << layer_t<I>::output_shape::str() << "  params " << param_sizes[I] << "\n"),
         ...);
    }

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
    aligned_vector<T> acts_, caches_, grad_bufs_;
    index_t capacity_ = 0, batch_ = 0;
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

}  // namespace typenet
