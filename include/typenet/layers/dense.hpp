// layers/dense.hpp — fully connected: y = x w^T + b, torch.nn.Linear's layout. B = batch.
// w (Out, In) then b (Out), contiguous in the network's parameter buffer.
#pragma once
#include <string>

#include "typenet/core/init.hpp"
#include "typenet/core/layer.hpp"
#include "typenet/kernels/cpu/elementwise.hpp"
#include "typenet/kernels/cpu/gemm.hpp"
#include "typenet/kernels/cpu/gemm_abt.hpp"

namespace typenet {

template <std::size_t Out, init::initializer Init = init::torch_default>
struct dense {
    static_assert(Out > 0, "typenet: dense<Out> needs Out > 0");
    template <class In> static constexpr bool accepts = is_flat<In> || is_flat_sequence<In>;
    template <class In> struct bound;                               // defined for flat inputs only
};

template <std::size_t Out, init::initializer Init>
template <std::size_t In>
struct dense<Out, Init>::bound<shape<In>> {
    using input_shape = shape<In>;
    using output_shape = shape<Out>;
    static constexpr std::size_t param_count = Out * In + Out;   // w (Out, In), b (Out)
    static std::string name() { return "dense<" + std::to_string(Out) + ">"; }
    static void tensors(tensor_list& t, const std::string& prefix, std::size_t p, std::size_t) {
        t.push_back({prefix + "weight", {Out, In}, p});
        t.push_back({prefix + "bias", {Out}, p + Out * In});
    }

    template <class T> void init(T* p, rng& g) const {
        Init::weight(p, Out * In, In, Out, g);
        init::bias(p + Out * In, Out, In, g);
    }

    template <class T> void forward(const fwd_args<T>& a) const {
        namespace k = kernels::cpu;
        const index_t n = a.batch, in = In, out = Out;
        const T* w = a.p;                                   // (Out, In)
        const T* b = a.p + Out * In;                        // (Out)
        // y (B, Out) = x (B, In) w^T + b, the bias added as the GEMM stores y (one pass over y)
        k::gemm_abt(n, out, in, a.x, in, w, in, T(0), a.y, out, k::bias_epilogue<T>{.col = b});
    }

    template <class T> void backward(const bwd_args<T>& a) const {
        namespace k = kernels::cpu;
        const index_t n = a.batch, in = In, out = Out;
        const T* w = a.p;                                   // (Out, In)
        T* dw = a.dp;                                       // (Out, In)
        T* db = a.dp + Out * In;                            // (Out)
        if (a.dx) k::gemm(n, in, out, a.dy, out, 1, w, in, 1, T(0), a.dx, in);   // dx (B, In) = dy w
        k::gemm(out, in, n, a.dy, 1, out, a.x, in, 1, T(1), dw, in,               // dw += dy^T (Out, B) x,
                k::bias_epilogue<T>{.a_row_sums = db});                           // db += sum_B dy in its packing
    }
};

// On a sequence, dense applies to every step: (B, T, In) -> (B, T, Out), one GEMM over B * T rows.
template <std::size_t Out, init::initializer Init>
template <std::size_t In>
struct dense<Out, Init>::bound<seq<In>> : dense<Out, Init>::bound<shape<In>> {
    using input_shape = seq<In>;
    using output_shape = seq<Out>;
};

// dense is a matrix product over one axis: a feature map must be flattened first.
template <std::size_t I, std::size_t Out, class Init, class In>
struct layer_check<I, dense<Out, Init>, In> {
    static constexpr bool ok = is_flat<In> || is_flat_sequence<In>;
    static_assert(ok, "typenet: dense needs a flat input; put 'flatten' before it (a sequence seq<N> of "
                      "flat steps is taken step by step)");
};

}  // namespace typenet
