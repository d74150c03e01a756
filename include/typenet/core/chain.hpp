// core/chain.hpp — binding a layer list (the shape chain and its checks) and running the bound
// list in sequence over memory it is given: the engine of network<> and of the sequential<> and
// residual<> combinators. A chain owns nothing; its sizes and offsets are compile-time constants.
//
// Workspace for a batch of B sequences of T steps (ws_per_sample * B * T + ws_fixed scalars; T = 1
// without sequences), in rows R = B * T; a layer whose tensor is not a sequence uses B of them:
//   internal activations  outputs of layers 0 .. n-2             (R, sum of their sizes)
//   caches                each layer's cache                      (R * per-sample + fixed)
//   gradient buffers      two, ping-pong, of the widest internal  (2, R, widest)
// Recurrent state (carry) is the caller's: (B, carry_count), layer i's at B * carry_offsets[i].
#pragma once
#include <algorithm>
#include <boost/hana/append.hpp>
#include <boost/hana/back.hpp>
#include <boost/hana/fold_left.hpp>
#include <boost/hana/tuple.hpp>
#include <boost/hana/type.hpp>
#include <array>
#include <cstddef>
#include <ostream>
#include <string>
#include <type_traits>
#include <tuple>
#include <utility>

#include "typenet/core/layer.hpp"

namespace typenet::detail {
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


template <std::size_t N>
constexpr std::array<std::size_t, N + 1> prefix_sums(const std::array<std::size_t, N>& a) {
    std::array<std::size_t, N + 1> o{};
    for (std::size_t i = 0; i < N; ++i) o[i + 1] = o[i] + a[i];
    return o;
}

// Runs a bound layer on the host: its own forward and backward.
struct host_run {
    template <std::size_t I, class L, class A> void forward(const L& layer, const A& a) const { layer.forward(a); }
    template <std::size_t I, class L, class A> void backward(const L& layer, const A& a) const { layer.backward(a); }
};

template <class In, class... Bound>
struct chain {
    static constexpr std::size_t n = sizeof...(Bound);
    static_assert(n > 0);
    using layers = std::tuple<Bound...>;
    template <std::size_t I> using layer_t = std::tuple_element_t<I, layers>;
    using input_shape = In;
    using output_shape = typename layer_t<n - 1>::output_shape;

    static constexpr std::array<std::size_t, n> param_sizes{param_count_of<Bound>()...};
    static constexpr std::array<std::size_t, n> state_sizes{state_count_of<Bound>()...};
    static constexpr std::array<std::size_t, n> cache_sizes{cache_per_sample_of<Bound>()...};
    static constexpr std::array<std::size_t, n> cache_fixed{cache_fixed_of<Bound>()...};
    static constexpr std::array<std::size_t, n> carry_sizes{carry_per_sample_of<Bound>()...};
    static constexpr std::array<std::size_t, n> out_sizes{Bound::output_shape::size...};
    static constexpr std::array<std::size_t, n> internal_sizes = [] {   // the last output is the caller's
        auto a = out_sizes;
        a[n - 1] = 0;
        return a;
    }();
    static constexpr auto param_offsets = prefix_sums(param_sizes);
    static constexpr auto state_offsets = prefix_sums(state_sizes);
    static constexpr auto cache_offsets = prefix_sums(cache_sizes);
    static constexpr auto cache_fixed_offsets = prefix_sums(cache_fixed);
    static constexpr auto act_offsets = prefix_sums(internal_sizes);
    static constexpr auto carry_offsets = prefix_sums(carry_sizes);
    static constexpr std::size_t carry_count = carry_offsets[n];
    static constexpr std::size_t widest = *std::max_element(internal_sizes.begin(), internal_sizes.end());

    static constexpr std::size_t param_count = param_offsets[n];
    static constexpr std::size_t state_count = state_offsets[n];
    static constexpr std::size_t ws_per_sample = act_offsets[n] + cache_offsets[n] + 2 * widest;
    static constexpr std::size_t ws_fixed = cache_fixed_offsets[n];

    template <class T>
    static void init(const layers& ls, T* p, rng& g) {
        init_params(ls, p, g, std::index_sequence_for<Bound...>{});
    }
    template <class T>
    static void init_state(const layers& ls, T* st) {
        init_states(ls, st, std::index_sequence_for<Bound...>{});
    }

    // b sequences of t steps (or b samples, t = 1): x (rows, In) -> y (rows, Out); ws as laid out
    // above; cin (b, carry_count) the initial recurrent state (null: zeros), cout the final (null:
    // not kept; may be cin).
    // run: who executes layer I, run.template forward<I>(layer, fwd_args) (host_run: the layer
    // itself; the CUDA backend passes its own, over device memory laid out the same way).
    template <class T, class Run = host_run>
    static void forward(const layers& ls, index_t b, index_t t, mode m, const T* p, T* st, const T* x, T* y, T* ws,
                        rng* gen, const T* cin = nullptr, T* cout = nullptr, const Run& run = {}) {
        forward_each(ls, b, t, m, p, st, x, y, ws, gen, cin, cout, run, std::index_sequence_for<Bound...>{});
    }

    // dy (rows, Out) -> dp += ..., dx (rows, In) when not null; x, y, ws as forward left them;
    // dcout dL/d(final state) (null: zero), dcin dL/d(initial state) written when not null.
    template <class T, class Run = host_run>
    static void backward(const layers& ls, index_t b, index_t t, const T* p, const T* st, const T* x, const T* y,
                         const T* dy, T* dx, T* dp, T* ws, const T* dcout = nullptr, T* dcin = nullptr,
                         const Run& run = {}) {
        backward_from<n - 1>(ls, b, t, p, st, x, y, dy, dx, dp, ws, dcout, dcin, run);
    }

    // The named tensors of every layer, layer I's under "<prefix>I." (torch.nn.Sequential's names);
    // p and s offset the parameter and state buffers.
    static void tensors(tensor_list& t, const std::string& prefix, std::size_t p, std::size_t s) {
        tensors_each(t, prefix, p, s, std::index_sequence_for<Bound...>{});
    }

    // One line per layer: "<prefix>I  name  in -> out  params N".
    static void summarize(std::ostream& os, const std::string& prefix) {
        summarize_each(os, prefix, std::index_sequence_for<Bound...>{});
    }

private:
    template <class T> static T* act(T* ws, index_t b, std::size_t i) { return ws + b * index_t(act_offsets[i]); }
    template <class T> static T* cache(T* ws, index_t b, std::size_t i) {
        return ws + b * index_t(act_offsets[n] + cache_offsets[i]) + index_t(cache_fixed_offsets[i]);
    }
    template <class T> static T* grad_buf(T* ws, index_t b, std::size_t k) {
        return ws + b * index_t(act_offsets[n] + cache_offsets[n]) + index_t(cache_fixed_offsets[n]) +
               index_t(k) * b * index_t(widest);
    }

    template <class T, std::size_t... I>
    static void init_params(const layers& ls, T* p, rng& g, std::index_sequence<I...>) {
        (std::get<I>(ls).init(p + param_offsets[I], g), ...);
    }
    template <class T, std::size_t... I>
    static void init_states(const layers& ls, T* st, std::index_sequence<I...>) {
        auto one = [&](auto i) {
            constexpr std::size_t k = decltype(i)::value;
            if constexpr (state_sizes[k] > 0) std::get<k>(ls).init_state(st + state_offsets[k]);
        };
        (one(std::integral_constant<std::size_t, I>{}), ...);
    }
    template <std::size_t I, class T> static const T* input_of(const T* x, T* ws, index_t r) {
        if constexpr (I == 0) return x; else return act(ws, r, I - 1);
    }
    template <std::size_t I, class T> static T* output_of(T* y, T* ws, index_t r) {
        if constexpr (I == n - 1) return y; else return act(ws, r, I);
    }
    template <std::size_t I, class P> static P carry_of(P c, index_t b) {
        if constexpr (carry_sizes[I] == 0) return nullptr;
        else return c ? c + b * index_t(carry_offsets[I]) : nullptr;
    }
    template <std::size_t I> static index_t rows_in(index_t b, index_t t) {
        return rows_of<typename layer_t<I>::input_shape>(b, t);
    }
    template <class T, class Run, std::size_t... I>
    static void forward_each(const layers& ls, index_t b, index_t t, mode m, const T* p, T* st, const T* x, T* y,
                             T* ws, rng* gen, const T* cin, T* cout, const Run& run, std::index_sequence<I...>) {
        const index_t r = b * t;
        (run.template forward<I>(std::get<I>(ls), fwd_args<T>{rows_in<I>(b, t), m, p + param_offsets[I], input_of<I>(x, ws, r),
                                             output_of<I>(y, ws, r), cache(ws, r, I), gen, st + state_offsets[I], t,
                                             carry_of<I>(cin, b), carry_of<I>(cout, b)}),
         ...);
    }
    template <std::size_t I, class T, class Run>
    static void backward_from(const layers& ls, index_t b, index_t t, const T* p, const T* st, const T* x, const T* y,
                              const T* dy, T* dx_user, T* dp, T* ws, const T* dcout, T* dcin, const Run& run) {
        const index_t r = b * t;
        T* dx = I == 0 ? dx_user : grad_buf(ws, r, I % 2);
        run.template backward<I>(std::get<I>(ls), bwd_args<T>{rows_in<I>(b, t), p + param_offsets[I], input_of<I>(x, ws, r),
                                             output_of<I>(const_cast<T*>(y), ws, r), dy, dx, dp + param_offsets[I],
                                             cache(ws, r, I), st + state_offsets[I], t, carry_of<I>(dcout, b),
                                             carry_of<I>(dcin, b)});
        if constexpr (I > 0) backward_from<I - 1>(ls, b, t, p, st, x, y, dx, dx_user, dp, ws, dcout, dcin, run);
    }
    template <std::size_t... I>
    static void tensors_each(tensor_list& t, const std::string& prefix, std::size_t p, std::size_t s,
                             std::index_sequence<I...>) {
        auto one = [&](auto i) {
            constexpr std::size_t k = decltype(i)::value;
            using L = layer_t<k>;
            if constexpr (param_sizes[k] > 0 || state_sizes[k] > 0) {
                static_assert(names_tensors<L>, "typenet: a layer with parameters or state must name its tensors "
                                                "(static void tensors(tensor_list&, prefix, p, s)) to be saved");
                L::tensors(t, prefix + std::to_string(k) + ".", p + param_offsets[k], s + state_offsets[k]);
            }
        };
        (one(std::integral_constant<std::size_t, I>{}), ...);
    }
    template <std::size_t... I>
    static void summarize_each(std::ostream& os, const std::string& prefix, std::index_sequence<I...>) {
        ((os << prefix << I << "  " << layer_t<I>::name() << "  " << layer_t<I>::input_shape::str() << " -> "
             << layer_t<I>::output_shape::str() << "  params " << param_sizes[I] << "\n"),
         ...);
    }
};

}  // namespace typenet::detail
