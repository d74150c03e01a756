// layers/combinators.hpp — layers made of layers, so a block and a network of blocks stay types:
//   sequential<L...>            L... in order (a block; nests)
//   residual<Body, Shortcut>    y = Body(x) + Shortcut(x); Shortcut defaults to identity, and is a
//                               projection (e.g. conv2d<C, 1, stride<2>>) when the shapes differ
//   identity                    y = x
#pragma once
#include <algorithm>
#include <string>
#include <type_traits>

#include "typenet/core/chain.hpp"
#include "typenet/core/layer.hpp"
#include "typenet/kernels/cpu/elementwise.hpp"

namespace typenet {

namespace detail {
// L... bound in sequence from In: the shapes, whether every layer accepted, and the chain.
template <class In, class... L>
struct bind_list {
    using shapes_t = decltype(as_shapes(shape_chain<In, L...>()));
    using output = shape_at<sizeof...(L), shapes_t>;
    static constexpr bool valid = is_valid_shape<In> && is_valid_shape<output>;
    template <std::size_t... I>
    static auto make(std::index_sequence<I...>) -> chain<In, typename L::template bound<shape_at<I, shapes_t>>...>;
    using chain_t = decltype(make(std::index_sequence_for<L...>{}));
};
}  // namespace detail

template <class... L>
struct sequential {
    static_assert(sizeof...(L) > 0, "typenet: sequential needs at least one layer");
    template <class In> static constexpr bool accepts = detail::bind_list<In, L...>::valid;
    template <class In> struct bound {
        using chain_t = typename detail::bind_list<In, L...>::chain_t;
        using input_shape = In;
        using output_shape = typename chain_t::output_shape;
        static constexpr std::size_t param_count = chain_t::param_count;
        static constexpr std::size_t state_count = chain_t::state_count;
        static constexpr std::size_t cache_per_sample = chain_t::ws_per_sample;
        static constexpr std::size_t cache_fixed = chain_t::ws_fixed;
        static constexpr std::size_t carry_per_sample = chain_t::carry_count;
        static std::string name() {
            std::string s = "sequential<";
            std::size_t i = 0;
            ((s += (i++ ? ", " : "") + L::template bound<typename chain_t::template layer_t<0>::input_shape>::name()), ...);
            return s + ">";
        }
        static void tensors(tensor_list& t, const std::string& prefix, std::size_t p, std::size_t s) {
            chain_t::tensors(t, prefix, p, s);
        }
        template <class T> void init(T* p, rng& g) const { chain_t::init(layers_, p, g); }
        template <class T> void init_state(T* st) const { chain_t::init_state(layers_, st); }
        template <class T> void forward(const fwd_args<T>& a) const {
            chain_t::forward(layers_, sequences_of<In>(a.batch, a.steps), a.steps, a.m, a.p, a.state, a.x, a.y, a.cache, a.gen,
                             a.carry_in, a.carry_out);
        }
        template <class T> void backward(const bwd_args<T>& a) const {
            chain_t::backward(layers_, sequences_of<In>(a.batch, a.steps), a.steps, a.p, a.state, a.x, a.y, a.dy, a.dx, a.dp,
                              a.cache, a.dcarry_out, a.dcarry_in);
        }
        typename chain_t::layers layers_{};
    };
};

// The layers inside a sequential are checked like a network's, with their inner positions.
template <std::size_t I, class... L, class In>
struct layer_check<I, sequential<L...>, In> {
    using list = detail::bind_list<In, L...>;
    static constexpr bool ok =
        detail::all_checks<typename list::shapes_t, std::index_sequence_for<L...>, L...>::ok && list::valid;
};

struct identity {
    template <class In> static constexpr bool accepts = is_nonempty<In>;
    template <class In> struct bound : no_params {
        using input_shape = In;
        using output_shape = In;
        static std::string name() { return "identity"; }
        template <class T> void forward(const fwd_args<T>& a) const {
            std::copy(a.x, a.x + a.batch * index_t(In::size), a.y);
        }
        template <class T> void backward(const bwd_args<T>& a) const {
            if (a.dx) std::copy(a.dy, a.dy + a.batch * index_t(In::size), a.dx);
        }
    };
};

template <class A, class B> inline constexpr bool output_shapes_match = std::is_same_v<A, B>;

template <class Body, class Shortcut = identity>
struct residual {
    template <class In>
    static constexpr bool accepts = Body::template accepts<In> && Shortcut::template accepts<In> &&
                                    output_shapes_match<typename output_of<Body, In>::type,
                                                        typename output_of<Shortcut, In>::type>;
    template <class In> struct bound {
        using body_t = typename Body::template bound<In>;
        using shortcut_t = typename Shortcut::template bound<In>;
        static constexpr bool skip_is_identity = std::is_same_v<Shortcut, identity>;
        static constexpr std::size_t out = body_t::output_shape::size, in = In::size;
        static constexpr std::size_t body_params = param_count_of<body_t>(), body_state = state_count_of<body_t>();
        using input_shape = In;
        using output_shape = typename body_t::output_shape;
        static constexpr std::size_t param_count = body_params + param_count_of<shortcut_t>();
        static constexpr std::size_t state_count = body_state + state_count_of<shortcut_t>();
        // body cache, shortcut cache, body output (B, Out); with a projection also its output and dx
        static constexpr std::size_t cache_per_sample = cache_per_sample_of<body_t>() + cache_per_sample_of<shortcut_t>() +
                                                        out + (skip_is_identity ? 0 : out + in);
        static constexpr std::size_t cache_fixed = cache_fixed_of<body_t>() + cache_fixed_of<shortcut_t>();
        static constexpr std::size_t body_carry = carry_per_sample_of<body_t>();
        static constexpr std::size_t carry_per_sample = body_carry + carry_per_sample_of<shortcut_t>();
        static std::string name() { return "residual<" + body_t::name() + ", " + shortcut_t::name() + ">"; }

        // torch's names for a block with attributes `body` and `shortcut` ("4.body.0.weight").
        static void tensors(tensor_list& t, const std::string& prefix, std::size_t p, std::size_t s) {
            if constexpr (param_count_of<body_t>() > 0 || body_state > 0) {
                static_assert(names_tensors<body_t>, "typenet: residual's body must name its tensors to be saved");
                body_t::tensors(t, prefix + "body.", p, s);
            }
            if constexpr (param_count_of<shortcut_t>() > 0 || state_count_of<shortcut_t>() > 0) {
                static_assert(names_tensors<shortcut_t>, "typenet: residual's shortcut must name its tensors to be saved");
                shortcut_t::tensors(t, prefix + "shortcut.", p + body_params, s + body_state);
            }
        }
        template <class T> void init(T* p, rng& g) const {
            body_.init(p, g);
            shortcut_.init(p + body_params, g);
        }
        template <class T> void init_state(T* st) const {
            if constexpr (state_count_of<body_t>() > 0) body_.init_state(st);
            if constexpr (state_count_of<shortcut_t>() > 0) shortcut_.init_state(st + body_state);
        }
        template <class T> void forward(const fwd_args<T>& a) const {
            const parts<T> c(a.cache, a.batch);
            const index_t n = a.batch * index_t(out);
            body_.forward(fwd_args<T>{a.batch, a.m, a.p, a.x, c.body_y, c.body, a.gen, a.state, a.steps, a.carry_in,
                                      a.carry_out});
            if constexpr (skip_is_identity) {
                kernels::cpu::add(n, c.body_y, a.x, a.y);
            } else {
                shortcut_.forward(fwd_args<T>{a.batch, a.m, a.p + body_params, a.x, c.skip_y, c.skip, a.gen,
                                              a.state + body_state, a.steps, shift(a.carry_in, a.batch, a.steps),
                                              shift(a.carry_out, a.batch, a.steps)});
                kernels::cpu::add(n, c.body_y, c.skip_y, a.y);
            }
        }
        template <class T> void backward(const bwd_args<T>& a) const {
            const parts<T> c(a.cache, a.batch);
            body_.backward(bwd_args<T>{a.batch, a.p, a.x, c.body_y, a.dy, a.dx, a.dp, c.body, a.state, a.steps,
                                       a.dcarry_out, a.dcarry_in});
            if constexpr (skip_is_identity) {
                if (a.dx) kernels::cpu::axpy(a.batch * index_t(in), T(1), a.dy, a.dx);
            } else {
                T* dxs = a.dx ? c.skip_dx : nullptr;
                shortcut_.backward(bwd_args<T>{a.batch, a.p + body_params, a.x, c.skip_y, a.dy, dxs, a.dp + body_params,
                                               c.skip, a.state + body_state, a.steps,
                                               shift(a.dcarry_out, a.batch, a.steps),
                                               shift(a.dcarry_in, a.batch, a.steps)});
                if (a.dx) kernels::cpu::axpy(a.batch * index_t(in), T(1), dxs, a.dx);
            }
        }

        // The shortcut's recurrent state follows the body's, per sequence.
        template <class P> static P shift(P c, index_t rows, index_t steps) {
            return c && carry_per_sample_of<shortcut_t>() > 0 ? c + sequences_of<In>(rows, steps) * index_t(body_carry)
                                                              : nullptr;
        }
        // The cache region for a batch of b, cut into its parts (also the CUDA backend's layout).
        template <class T> struct parts {
            T *body, *skip, *body_y, *skip_y, *skip_dx;
            parts(T* c, index_t b) {
                body = c;
                skip = body + b * index_t(cache_per_sample_of<body_t>()) + index_t(cache_fixed_of<body_t>());
                body_y = skip + b * index_t(cache_per_sample_of<shortcut_t>()) + index_t(cache_fixed_of<shortcut_t>());
                skip_y = body_y + b * index_t(out);
                skip_dx = skip_y + b * index_t(out);
            }
        };
    private:
        body_t body_{};
        shortcut_t shortcut_{};
    };
};

template <std::size_t I, class Body, class Shortcut, class In>
struct layer_check<I, residual<Body, Shortcut>, In> {
    static constexpr bool body_ok = layer_check<I, Body, In>::ok;
    static constexpr bool shortcut_ok = layer_check<I, Shortcut, In>::ok;
    using body_out = typename output_of<Body, In>::type;
    using shortcut_out = typename output_of<Shortcut, In>::type;
    // x + f(x) adds two tensors: the body must keep the shape, or the shortcut must project to it.
    static_assert(!(body_ok && shortcut_ok) || output_shapes_match<body_out, shortcut_out>,
                  "typenet: residual needs the body's output shape to equal the shortcut's; give it a projection "
                  "shortcut, e.g. residual<sequential<...>, conv2d<C, 1, stride<S>>>");
    static constexpr bool ok = body_ok && shortcut_ok && output_shapes_match<body_out, shortcut_out>;
};

}  // namespace typenet
