// layers/conv_transpose.hpp — conv_transpose2d<Out, K, options...>: torch.nn.ConvTranspose2d on
// (C, H, W) samples, the adjoint of conv2d, as GEMM + col2im (kernels/cpu/conv.hpp). Options, in
// any order: padding<P>, stride<S>, output_padding<P>, dilation<D>, groups<G> (layers/conv.hpp).
// w (C, Out/G, K, K) then b (Out), contiguous in the network's parameter buffer.
//   OH = (H - 1) S - 2P + D (K - 1) + output_padding + 1
#pragma once
#include <string>

#include "typenet/core/init.hpp"
#include "typenet/core/layer.hpp"
#include "typenet/kernels/cpu/conv.hpp"
#include "typenet/layers/conv.hpp"

namespace typenet {

namespace detail {
template <class O>
inline constexpr bool is_conv_transpose_option = is_conv_option<O> || is_option<output_padding, O>;
}  // namespace detail

// Named conditions (STYLE rule 6: g++ prints the arguments when one is false).
// torch's rule: the extra rows fall inside one stride or one dilation step.
template <std::size_t OP, std::size_t S, std::size_t D>
inline constexpr bool output_padding_below_stride_or_dilation = OP < S || OP < D;
// (H - 1) S - 2P + D (K - 1) + OP + 1 >= 1 in both directions; vacuous for a shape not (C, H, W).
template <class In, std::size_t K, std::size_t S, std::size_t P, std::size_t D, std::size_t OP>
inline constexpr bool transposed_output_nonempty = true;
template <std::size_t C, std::size_t H, std::size_t W, std::size_t K, std::size_t S, std::size_t P, std::size_t D,
          std::size_t OP>
inline constexpr bool transposed_output_nonempty<shape<C, H, W>, K, S, P, D, OP> =
    (H - 1) * S + D * (K - 1) + OP + 1 > 2 * P && (W - 1) * S + D * (K - 1) + OP + 1 > 2 * P;

template <std::size_t Out, std::size_t K, class... Options>
struct conv_transpose2d {
    static_assert((detail::is_conv_transpose_option<Options> && ...),
                  "typenet: conv_transpose2d's options are padding<P>, stride<S>, output_padding<P>, dilation<D> "
                  "and groups<G>");
    static constexpr std::size_t pad = detail::option_or<padding, 0, Options...>;
    static constexpr std::size_t str = detail::option_or<stride, 1, Options...>;
    static constexpr std::size_t opad = detail::option_or<output_padding, 0, Options...>;
    static constexpr std::size_t dil = detail::option_or<dilation, 1, Options...>;
    static constexpr std::size_t grp = detail::option_or<groups, 1, Options...>;
    static_assert(Out > 0 && K > 0, "typenet: conv_transpose2d<Out, K> needs Out > 0 and K > 0");
    static_assert(str > 0 && dil > 0 && grp > 0, "typenet: conv_transpose2d needs stride, dilation and groups > 0");
    static_assert(Out % grp == 0, "typenet: conv_transpose2d needs output channels divisible by groups");

    template <class In>
    static constexpr bool accepts = output_padding_below_stride_or_dilation<opad, str, dil> && is_chw<In> &&
                                    channels_divide_by_groups<In, grp> &&
                                    transposed_output_nonempty<In, K, str, pad, dil, opad>;
    template <class In> struct bound;
};

template <std::size_t Out, std::size_t K, class... Options>
template <std::size_t C, std::size_t H, std::size_t W>
struct conv_transpose2d<Out, K, Options...>::bound<shape<C, H, W>> {
    static constexpr kernels::cpu::conv_transpose2d_geometry geom{
        index_t(C),   index_t(H),   index_t(W),    index_t(Out), index_t(K),  index_t(K),
        index_t(str), index_t(pad), index_t(opad), index_t(dil), index_t(grp)};
    static constexpr std::size_t oh = std::size_t(geom.oh()), ow = std::size_t(geom.ow());
    static constexpr std::size_t per_input = Out / grp * K * K;            // torch's fan_in: w.size(1) K K
    using input_shape = shape<C, H, W>;
    using output_shape = shape<Out, oh, ow>;
    static constexpr std::size_t param_count = C * per_input + Out;        // w (C, Out/G, K, K), b (Out)
    static constexpr std::size_t cache_per_sample = Out * K * K * H * W;   // columns (Out*K*K, H*W), scratch
    static std::string name() {
        std::string s = "conv_transpose2d<" + std::to_string(Out) + ", " + std::to_string(K);
        if (pad) s += ", padding " + std::to_string(pad);
        if (str != 1) s += ", stride " + std::to_string(str);
        if (opad) s += ", output_padding " + std::to_string(opad);
        if (dil != 1) s += ", dilation " + std::to_string(dil);
        if (grp != 1) s += ", groups " + std::to_string(grp);
        return s + ">";
    }
    static void tensors(tensor_list& t, const std::string& prefix, std::size_t p, std::size_t) {
        t.push_back({prefix + "weight", {C, Out / grp, K, K}, p});
        t.push_back({prefix + "bias", {Out}, p + C * per_input});
    }

    template <class T> void init(T* p, rng& g) const {
        init::torch_default::weight(p, C * per_input, per_input, C / grp * K * K, g);
        init::bias(p + C * per_input, Out, per_input, g);
    }
    template <class T> void forward(const fwd_args<T>& a) const {
        kernels::cpu::conv_transpose2d_forward(geom, a.batch, a.x, a.p, a.p + C * per_input, a.y, a.cache);
    }
    template <class T> void backward(const bwd_args<T>& a) const {
        kernels::cpu::conv_transpose2d_backward(geom, a.batch, a.x, a.p, a.dy, a.cache, a.dx, a.dp,
                                                a.dp + C * per_input);
    }
};

template <std::size_t I, std::size_t Out, std::size_t K, class... Options, class In>
struct layer_check<I, conv_transpose2d<Out, K, Options...>, In> {
    using L = conv_transpose2d<Out, K, Options...>;
    static_assert(output_padding_below_stride_or_dilation<L::opad, L::str, L::dil>,
                  "typenet: conv_transpose2d needs output_padding smaller than stride or dilation; lower "
                  "output_padding<P> or raise stride<S>");
    // Like conv2d, one image per sample: channels, height, width.
    static_assert(is_chw<In>, "typenet: conv_transpose2d needs a (C, H, W) input; check the layers before it");
    static_assert(channels_divide_by_groups<In, L::grp>,
                  "typenet: conv_transpose2d needs input channels divisible by groups; change groups<G> or the "
                  "layer before it");
    static_assert(transposed_output_nonempty<In, K, L::str, L::pad, L::dil, L::opad>,
                  "typenet: conv_transpose2d needs an output of at least 1x1; use less padding or a larger kernel");
    static constexpr bool ok = L::template accepts<In>;
};

}  // namespace typenet
