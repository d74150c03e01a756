// core/shape.hpp — per-sample shapes as types: shape<C, H, W>. The batch axis is never part of one.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

namespace typenet {

using index_t = std::ptrdiff_t;   // every runtime size and stride (STYLE rule 8)

template <std::size_t... E>
struct shape {
    static constexpr std::size_t rank = sizeof...(E);
    static constexpr std::size_t size = (std::size_t{1} * ... * E);   // elements per sample
    static constexpr std::array<std::size_t, rank> extents{E...};
    static std::string str() {                                        // "(16, 5, 5)"
        std::string s = "(";
        std::size_t i = 0;
        ((s += (i++ ? ", " : "") + std::to_string(E)), ...);
        return s + ")";
    }
};

// A sequence of T steps, each of shape<E...>: seq<64> is T vectors of 64 features. T is a runtime
// length, like the batch; a batch of B sequences is B * T rows of `size` scalars, batch-first
// ((B, T, E...), torch's batch_first=True), so a per-step layer runs on the rows unchanged.
template <std::size_t... E>
struct seq {
    using step = shape<E...>;
    static constexpr std::size_t rank = sizeof...(E);
    static constexpr std::size_t size = (std::size_t{1} * ... * E);   // elements per step
    static constexpr std::array<std::size_t, rank> extents{E...};
    static std::string str() {                                        // "(T, 64)"
        std::string s = "(T";
        ((s += ", " + std::to_string(E)), ...);
        return s + ")";
    }
};

// The output of a layer that rejected its input: layers after it are not checked again, so a
// mis-wired model reports one error, at the first layer that is wrong.
struct invalid_shape {
    static constexpr std::size_t rank = 0, size = 0;
};

template <class S> inline constexpr bool is_shape = false;
template <std::size_t... E> inline constexpr bool is_shape<shape<E...>> = true;

// A shape a layer can be bound to: rank >= 1, every extent > 0.
template <class S> inline constexpr bool is_valid_shape = false;
template <std::size_t... E> inline constexpr bool is_valid_shape<shape<E...>> = sizeof...(E) > 0 && ((E > 0) && ...);
template <std::size_t... E> inline constexpr bool is_valid_shape<seq<E...>> = sizeof...(E) > 0 && ((E > 0) && ...);

template <class S> inline constexpr bool is_sequence = false;
template <std::size_t... E> inline constexpr bool is_sequence<seq<E...>> = true;
template <class S> inline constexpr bool is_flat_sequence = false;               // seq<N>
template <std::size_t N> inline constexpr bool is_flat_sequence<seq<N>> = true;

// Named conditions, so g++ prints the shape when a check fails (STYLE rule 6).
template <class S> inline constexpr bool is_flat = false;
template <std::size_t N> inline constexpr bool is_flat<shape<N>> = true;

template <class S> inline constexpr bool is_nonempty = false;
template <std::size_t... E> inline constexpr bool is_nonempty<shape<E...>> = sizeof...(E) > 0 && ((E > 0) && ...);
template <std::size_t... E> inline constexpr bool is_nonempty<seq<E...>> = sizeof...(E) > 0 && ((E > 0) && ...);

template <class S> inline constexpr std::size_t last_extent = 0;       // features of the last axis
template <std::size_t... E>
inline constexpr std::size_t last_extent<shape<E...>> = std::array<std::size_t, sizeof...(E)>{E...}[sizeof...(E) - 1];
template <std::size_t... E>
inline constexpr std::size_t last_extent<seq<E...>> = std::array<std::size_t, sizeof...(E)>{E...}[sizeof...(E) - 1];

// Rows a batch of B sequences of T steps (or of B samples) occupies: B * T for a sequence.
template <class S> constexpr index_t rows_of(index_t batch, index_t steps) {
    return is_sequence<S> ? batch * steps : batch;
}
// Its inverse: the sequences (or samples) in `rows` rows of a tensor of shape S.
template <class S> constexpr index_t sequences_of(index_t rows, index_t steps) {
    return is_sequence<S> ? rows / steps : rows;
}

// The model's input: input<1, 28, 28> is a 1-channel 28x28 image, input<784> a flat vector.
template <std::size_t... E>
struct input {
    static_assert(sizeof...(E) > 0, "typenet: input needs at least one extent, e.g. input<784>");
    static_assert(((E > 0) && ...), "typenet: input needs every extent > 0");
    using shape = typenet::shape<E...>;
};

// A sequence model's input: sequence_input<8> is T steps of 8 features; `tokens` is T token ids
// (one scalar each, an integer in [0, vocabulary), as embedding<> reads them).
template <std::size_t... E>
struct sequence_input {
    static_assert(sizeof...(E) > 0, "typenet: sequence_input needs at least one extent, e.g. sequence_input<8>");
    static_assert(((E > 0) && ...), "typenet: sequence_input needs every extent > 0");
    using shape = typenet::seq<E...>;
};
using tokens = sequence_input<1>;

}  // namespace typenet
