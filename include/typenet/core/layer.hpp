// core/layer.hpp — the contract every layer keeps, written once.
//
// An unbound layer (dense<120>) holds hyper-parameters. `L::accepts<In>` says whether it takes a
// per-sample input shape; `L::bound<In>` is the layer bound to that shape:
//   output_shape                      shape of one output sample
//   param_count                       trainable scalars (0 when absent), a slice of the network's
//                                     one parameter buffer; the layer's order within it is fixed
//   cache_per_sample, cache_fixed     scratch kept from forward to backward: rows * per_sample +
//                                     fixed scalars (0 when absent)
//   carry_per_sample                  a recurrent layer's state between calls, per sequence (an
//                                     LSTM's h and c): read at the first step from carry_in,
//                                     written after the last to carry_out (0 when absent)
//   state_count                       non-trainable scalars kept across steps and saved with the
//                                     model (batch norm's running statistics; 0 when absent)
//   init(p, gen)                      fills its parameters from the seeded generator
//   init_state(s)                     sets its state to the initial values (when state_count > 0)
//   forward(fwd_args)                 y = f(x)
//   tensors(list, prefix, p, s)       appends its named tensors (when param_count or state_count > 0):
//                                     torch's names and shapes, offsets into the network's buffers
//   backward(bwd_args)                requires: forward ran on the same x in the same pass.
//                                     ensures:  dx = dL/dx  (written, =; skipped when dx is null)
//                                               dp += dL/dp (accumulated into the gradient twin)
// `layer_check<I, L, In>` holds the readable compile errors for layer I (STYLE rule 6).
#pragma once
#include <cstddef>
#include <string>
#include <type_traits>
#include <vector>

#include "typenet/core/random.hpp"
#include "typenet/core/shape.hpp"

namespace typenet {

// Training and evaluation differ for dropout and batch norm: always explicit, never global state.
// infer is eval that no backward will follow (predict, evaluate): a layer may then skip what it
// keeps only for backward (max pooling's choices, batch norm's normalized input).
enum class mode { eval, train, infer };

// Rows: `batch` counts the rows of the layer's input, B samples, or B * T for a sequence input
// (seq<...>, B sequences of T = steps steps, batch-first). A per-step layer (dense, layer_norm, an
// activation) thus runs on a sequence unchanged; a recurrent layer reads B = batch / steps.
// The cache holds at least batch * cache_per_sample + cache_fixed scalars.
template <class T>
struct fwd_args {
    index_t batch;          // rows of x: B, or B * T
    mode m;
    const T* p;             // (param_count) this layer's parameters
    const T* x;             // (rows, in...)
    T* y;                   // (rows of the output, out...)
    T* cache;               // (rows * cache_per_sample + cache_fixed)
    rng* gen;               // for layers that draw at train time (dropout)
    T* state;               // (state_count) running statistics; updated in mode::train
    index_t steps;          // T, 1 for a network without sequences
    const T* carry_in;      // (B, carry_per_sample) the initial recurrent state; null: zeros
    T* carry_out;           // (B, carry_per_sample) the final state, written; null: not kept
};

template <class T>
struct bwd_args {
    index_t batch;          // rows of x, as forward had them
    const T* p;             // (param_count)
    const T* x;             // (rows, in...)  the forward input
    const T* y;             // (rows, out...) the forward output
    const T* dy;            // (rows, out...)
    T* dx;                  // (rows, in...)  written; null when the input needs no gradient
    T* dp;                  // (param_count) accumulated
    T* cache;               // as forward left it
    const T* state;         // (state_count)
    index_t steps;          // T
    const T* dcarry_out;    // (B, carry_per_sample) dL/d(final state); null: zero
    T* dcarry_in;           // (B, carry_per_sample) dL/d(initial state), written; null: not wanted
};

// ---- compile-time checks --------------------------------------------------------------------------
// Layers whose only condition is `accepts` need no specialization; the others specialize it to
// say what is wrong and how to fix it. Only instantiated for a valid input shape.
template <std::size_t I, class Layer, class In>
struct layer_check {
    static_assert(Layer::template accepts<In>, "typenet: this layer does not accept its input shape");
    static constexpr bool ok = Layer::template accepts<In>;
};

// ---- optional members, with defaults --------------------------------------------------------------
template <class B> constexpr std::size_t param_count_of() {
    if constexpr (requires { B::param_count; }) return B::param_count; else return 0;
}
template <class B> constexpr std::size_t cache_per_sample_of() {
    if constexpr (requires { B::cache_per_sample; }) return B::cache_per_sample; else return 0;
}
template <class B> constexpr std::size_t cache_fixed_of() {
    if constexpr (requires { B::cache_fixed; }) return B::cache_fixed; else return 0;
}
template <class B> constexpr std::size_t carry_per_sample_of() {
    if constexpr (requires { B::carry_per_sample; }) return B::carry_per_sample; else return 0;
}
template <class B> constexpr std::size_t state_count_of() {
    if constexpr (requires { B::state_count; }) return B::state_count; else return 0;
}

// A layer bound to In, when it accepts In; the fold of network<> never names a rejected binding.
template <class Layer, class In>
concept binds_to = is_valid_shape<In> && Layer::template accepts<In>;

template <class Layer, class In>
struct output_of { using type = invalid_shape; };
template <class Layer, class In> requires binds_to<Layer, In>
struct output_of<Layer, In> { using type = typename Layer::template bound<In>::output_shape; };

// What a bound layer must provide (checked where the network uses it).
template <class B, class T>
concept bound_layer = requires(const B& b, const fwd_args<T>& f, const bwd_args<T>& g, T* p, rng& r) {
    typename B::output_shape;
    { B::name() } -> std::convertible_to<std::string>;
    b.forward(f);
    b.backward(g);
};

// ---- tensors by name -------------------------------------------------------------------------------
// A layer's parameters and state as files hold them: the names and shapes torch.nn gives the same
// module ("weight" (Out, In), "bias" (Out)), where they lie in the network's parameter or state
// buffer. Composite layers prefix their parts' names as nn.Sequential does ("4.0.weight").
enum class buffer { parameters, state };
struct tensor_desc {
    std::string name;                   // "3.weight"
    std::vector<std::size_t> shape;     // torch's; {} for a scalar
    std::size_t offset = 0;             // into the parameter or state buffer
    typenet::buffer buffer = buffer::parameters;
    bool integer = false;               // an integer in files (batch norm's num_batches_tracked)
    std::size_t size() const {
        std::size_t n = 1;
        for (auto d : shape) n *= d;
        return n;
    }
};
using tensor_list = std::vector<tensor_desc>;

template <class B> inline constexpr bool names_tensors =
    requires(tensor_list& t, const std::string& s) { B::tensors(t, s, std::size_t{}, std::size_t{}); };

// Parameter-free layers inherit this: no init, no parameters.
struct no_params {
    template <class T> void init(T*, rng&) const {}
};

}  // namespace typenet
