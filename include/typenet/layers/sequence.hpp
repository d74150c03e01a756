// layers/sequence.hpp — layers that begin, shape and end sequences:
//   embedding<V, D>             tokens (seq<1>, ids in [0, V)) -> seq<D>   torch.nn.Embedding
//   positional_embedding<C>     seq<D> -> seq<D>: adds a learned vector per position, for up to C steps
//   last_step                   seq<E...> -> shape<E...>: the final step of each sequence
#pragma once
#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "typenet/core/layer.hpp"
#include "typenet/kernels/cpu/elementwise.hpp"

namespace typenet {

// Token ids arrive as the network's scalars (exact integers up to 2^24 in float); an id that is not
// an integer in [0, V) is an error naming the sequence and step, never a read out of bounds.
template <std::size_t V, std::size_t D>
struct embedding {
    static_assert(V > 0 && D > 0, "typenet: embedding<V, D> needs a vocabulary V > 0 and a width D > 0");
    template <class In> static constexpr bool accepts = std::is_same_v<In, seq<1>>;
    template <class In> struct bound {
        using input_shape = In;
        using output_shape = seq<D>;
        static constexpr std::size_t param_count = V * D;               // weight (V, D)
        static std::string name() { return "embedding<" + std::to_string(V) + ", " + std::to_string(D) + ">"; }
        static void tensors(tensor_list& t, const std::string& prefix, std::size_t p, std::size_t) {
            t.push_back({prefix + "weight", {V, D}, p});
        }
        template <class T> void init(T* p, rng& g) const {              // N(0, 1), torch's
            for (std::size_t i = 0; i < param_count; ++i) p[i] = T(g.normal());
        }
        template <class T> static std::size_t id(const fwd_args<T>& a, index_t r) {
            const T v = a.x[r];
            if (!(v >= T(0) && v < T(V) && v == std::floor(v)))
                throw std::out_of_range("typenet: embedding: token id " + std::to_string(double(v)) + " of sequence " +
                                        std::to_string(r / a.steps) + ", step " + std::to_string(r % a.steps) +
                                        " is outside the vocabulary [0, " + std::to_string(V) + ")");
            return std::size_t(v);
        }
        template <class T> void forward(const fwd_args<T>& a) const {
            for (index_t r = 0; r < a.batch; ++r) std::copy_n(a.p + id(a, r) * D, D, a.y + r * index_t(D));
        }
        template <class T> void backward(const bwd_args<T>& a) const {
            for (index_t r = 0; r < a.batch; ++r)
                kernels::cpu::axpy(index_t(D), T(1), a.dy + r * index_t(D), a.dp + std::size_t(a.x[r]) * D);
            if (a.dx) std::fill_n(a.dx, a.batch, T(0));             // ids have no gradient
        }
    };
};

// y[b, t] = x[b, t] + P[t]; P (C, D) drawn from N(0, 0.02^2) (GPT-2's). A sequence longer than C
// steps is an error: the model has learned no position past its context.
template <std::size_t C>
struct positional_embedding {
    static_assert(C > 0, "typenet: positional_embedding<C> needs a context C > 0");
    template <class In> static constexpr bool accepts = is_flat_sequence<In>;
    template <class In> struct bound {
        static constexpr std::size_t D = In::size;
        using input_shape = In;
        using output_shape = In;
        static constexpr std::size_t param_count = C * D;
        static std::string name() { return "positional_embedding<" + std::to_string(C) + ">"; }
        static void tensors(tensor_list& t, const std::string& prefix, std::size_t p, std::size_t) {
            t.push_back({prefix + "weight", {C, D}, p});
        }
        template <class T> void init(T* p, rng& g) const {
            for (std::size_t i = 0; i < param_count; ++i) p[i] = T(0.02 * g.normal());
        }
        // A sequence longer than the context has no positions learned for its last steps.
        static void check_steps(index_t steps) {
            if (steps > index_t(C))
                throw std::invalid_argument("typenet: positional_embedding: a sequence of " + std::to_string(steps) +
                                            " steps is longer than the model's context of " + std::to_string(C));
        }
        template <class T> void forward(const fwd_args<T>& a) const {
            check_steps(a.steps);
            for (index_t r = 0; r < a.batch; ++r)
                kernels::cpu::add(index_t(D), a.x + r * index_t(D), a.p + (r % a.steps) * index_t(D), a.y + r * index_t(D));
        }
        template <class T> void backward(const bwd_args<T>& a) const {
            for (index_t r = 0; r < a.batch; ++r)
                kernels::cpu::axpy(index_t(D), T(1), a.dy + r * index_t(D), a.dp + (r % a.steps) * index_t(D));
            if (a.dx) std::copy_n(a.dy, a.batch * index_t(D), a.dx);
        }
    };
};

// The last step of every sequence: (B, T, E...) -> (B, E...), for a classifier or an encoder.
struct last_step {
    template <class In> static constexpr bool accepts = is_sequence<In>;
    template <class In> struct bound;
};
template <std::size_t... E>
struct last_step::bound<seq<E...>> : no_params {
    static constexpr index_t n = index_t((std::size_t{1} * ... * E));
    using input_shape = seq<E...>;
    using output_shape = shape<E...>;
    static std::string name() { return "last_step"; }
    template <class T> void forward(const fwd_args<T>& a) const {
        const index_t batch = a.batch / a.steps;
        for (index_t b = 0; b < batch; ++b) std::copy_n(a.x + (b * a.steps + a.steps - 1) * n, n, a.y + b * n);
    }
    template <class T> void backward(const bwd_args<T>& a) const {
        if (!a.dx) return;
        std::fill_n(a.dx, a.batch * n, T(0));
        const index_t batch = a.batch / a.steps;
        for (index_t b = 0; b < batch; ++b) std::copy_n(a.dy + b * n, n, a.dx + (b * a.steps + a.steps - 1) * n);
    }
};

template <std::size_t I, std::size_t V, std::size_t D, class In>
struct layer_check<I, embedding<V, D>, In> {
    static_assert(std::is_same_v<In, seq<1>>, "typenet: embedding needs token ids, one per step: start the network "
                                              "with input 'tokens' (sequence_input<1>)");
    static constexpr bool ok = std::is_same_v<In, seq<1>>;
};
template <std::size_t I, std::size_t C, class In>
struct layer_check<I, positional_embedding<C>, In> {
    static_assert(is_flat_sequence<In>, "typenet: positional_embedding needs a sequence of flat steps seq<D>");
    static constexpr bool ok = is_flat_sequence<In>;
};
template <std::size_t I, class In>
struct layer_check<I, last_step, In> {
    static_assert(is_sequence<In>, "typenet: last_step needs a sequence (seq<...>); its input is not one");
    static constexpr bool ok = is_sequence<In>;
};

}  // namespace typenet
