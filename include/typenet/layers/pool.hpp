// layers/pool.hpp — max_pool2d<K, S>, avg_pool2d<K, S> (torch.nn.MaxPool2d / AvgPool2d, no
// padding; S defaults to K) and global_avg_pool ((C, H, W) -> (C)). No parameters.
#pragma once
#include <string>

#include "typenet/core/layer.hpp"
#include "typenet/kernels/cpu/pool.hpp"
#include "typenet/layers/conv.hpp"

namespace typenet {

// The window fits and its steps tile the input exactly: (H - K) % S == 0, likewise W. (Vacuous for
// a shape that is not (C, H, W): is_chw reports that one.) torch would drop the ragged edge;
// here it is a compile error, since a silently ignored border is rarely what a model means.
template <class S, std::size_t K, std::size_t St> inline constexpr bool pool_divides = true;
template <std::size_t C, std::size_t H, std::size_t W, std::size_t K, std::size_t St>
inline constexpr bool pool_divides<shape<C, H, W>, K, St> = K <= H && K <= W && (H - K) % St == 0 && (W - K) % St == 0;

template <bool Max, std::size_t K, std::size_t S>
struct pool2d {
    static_assert(K > 0 && S > 0, "typenet: pooling needs a window and a stride > 0");
    template <class In> static constexpr bool accepts = is_chw<In> && pool_divides<In, K, S>;
    template <class In> struct bound;
    template <std::size_t C, std::size_t H, std::size_t W>
    struct bound<shape<C, H, W>> : no_params {
        static constexpr kernels::cpu::pool2d_geometry geom{index_t(H), index_t(W), index_t(K), index_t(K), index_t(S)};
        using input_shape = shape<C, H, W>;
        using output_shape = shape<C, std::size_t(geom.oh()), std::size_t(geom.ow())>;
        // max: where each maximum was, (C, OH, OW) window offsets, so backward need not search.
        static constexpr std::size_t cache_per_sample = Max ? output_shape::size : 0;
        static std::string name() {
            return std::string(Max ? "max_pool2d<" : "avg_pool2d<") + std::to_string(K) +
                   (S != K ? ", " + std::to_string(S) : std::string()) + ">";
        }
        template <class T> void forward(const fwd_args<T>& a) const {
            if constexpr (Max) kernels::cpu::max_pool2d_forward(geom, a.batch * index_t(C), a.x, a.y, a.m == mode::infer ? nullptr : a.cache);
            else kernels::cpu::avg_pool2d_forward(geom, a.batch * index_t(C), a.x, a.y);
        }
        template <class T> void backward(const bwd_args<T>& a) const {
            if (!a.dx) return;
            if constexpr (Max) kernels::cpu::max_pool2d_backward(geom, a.batch * index_t(C), a.cache, a.dy, a.dx);
            else kernels::cpu::avg_pool2d_backward(geom, a.batch * index_t(C), a.dy, a.dx);
        }
    };
};

template <std::size_t K, std::size_t S = K> struct max_pool2d : pool2d<true, K, S> {};
template <std::size_t K, std::size_t S = K> struct avg_pool2d : pool2d<false, K, S> {};

template <std::size_t I, bool Max, std::size_t K, std::size_t S, class In>
struct pool_check {
    static_assert(!Max || is_chw<In>, "typenet: max_pool2d needs a (C, H, W) input; check the layers before it");
    static_assert(Max || is_chw<In>, "typenet: avg_pool2d needs a (C, H, W) input; check the layers before it");
    static_assert(!Max || pool_divides<In, K, S>,
                  "typenet: max_pool2d needs windows that tile the input, (H - K) and (W - K) divisible by the "
                  "stride; change K or S, or pad the layer before it");
    static_assert(Max || pool_divides<In, K, S>,
                  "typenet: avg_pool2d needs windows that tile the input, (H - K) and (W - K) divisible by the "
                  "stride; change K or S, or pad the layer before it");
    static constexpr bool ok = pool2d<Max, K, S>::template accepts<In>;
};
template <std::size_t I, std::size_t K, std::size_t S, class In>
struct layer_check<I, max_pool2d<K, S>, In> : pool_check<I, true, K, S, In> {};
template <std::size_t I, std::size_t K, std::size_t S, class In>
struct layer_check<I, avg_pool2d<K, S>, In> : pool_check<I, false, K, S, In> {};

// Mean over each channel's plane: (C, H, W) -> (C).
struct global_avg_pool {
    template <class In> static constexpr bool accepts = is_chw<In>;
    template <class In> struct bound;
    template <std::size_t C, std::size_t H, std::size_t W>
    struct bound<shape<C, H, W>> : no_params {
        using input_shape = shape<C, H, W>;
        using output_shape = shape<C>;
        static std::string name() { return "global_avg_pool"; }
        template <class T> void forward(const fwd_args<T>& a) const {
            kernels::cpu::avg_pool2d_forward(kernels::cpu::pool2d_geometry{index_t(H), index_t(W), index_t(H), index_t(W), 1},
                                             a.batch * index_t(C), a.x, a.y);
        }
        template <class T> void backward(const bwd_args<T>& a) const {
            if (a.dx)
                kernels::cpu::avg_pool2d_backward(kernels::cpu::pool2d_geometry{index_t(H), index_t(W), index_t(H), index_t(W), 1},
                                                  a.batch * index_t(C), a.dy, a.dx);
        }
    };
};

template <std::size_t I, class In>
struct layer_check<I, global_avg_pool, In> {
    static_assert(is_chw<In>, "typenet: global_avg_pool needs a (C, H, W) input; check the layers before it");
    static constexpr bool ok = is_chw<In>;
};

}  // namespace typenet
