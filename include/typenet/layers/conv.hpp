// layers/conv.hpp — conv2d<Out, K, options...>: torch.nn.Conv2d on (C, H, W) samples, as
// im2col + GEMM (kernels/cpu/conv.hpp). Options: padding<P>, stride<S>, dilation<D>, groups<G>.
// w (Out, C/G, K, K) then b (Out), contiguous in the network's parameter buffer.
#pragma once
#include <string>

#include "typenet/core/init.hpp"
#include "typenet/core/layer.hpp"
#include "typenet/kernels/cpu/conv.hpp"

namespace typenet {

// conv2d's options, in any order: conv2d<16, 3, padding<1>, stride<2>>.
template <std::size_t P> struct padding { static constexpr std::size_t value = P; };
template <std::size_t S> struct stride { static constexpr std::size_t value = S; };
template <std::size_t D> struct dilation { static constexpr std::size_t value = D; };
template <std::size_t G> struct groups { static constexpr std::size_t value = G; };
// conv_transpose2d only (layers/conv_transpose.hpp): extra rows and columns at the bottom and right.
template <std::size_t P> struct output_padding { static constexpr std::size_t value = P; };

namespace detail {
template <template <std::size_t> class Opt, class T> inline constexpr bool is_option = false;
template <template <std::size_t> class Opt, std::size_t V> inline constexpr bool is_option<Opt, Opt<V>> = true;
template <template <std::size_t> class Opt, class T> inline constexpr std::size_t option_value = 0;
template <template <std::size_t> class Opt, std::size_t V> inline constexpr std::size_t option_value<Opt, Opt<V>> = V;
// The value of option Opt among Opts, or Default when absent.
template <template <std::size_t> class Opt, std::size_t Default, class... Opts>
inline constexpr std::size_t option_or = ((is_option<Opt, Opts> ? option_value<Opt, Opts> : 0) + ... + 0) +
                                         ((is_option<Opt, Opts> || ...) ? 0 : Default);
template <class O>
inline constexpr bool is_conv_option = is_option<padding, O> || is_option<stride, O> || is_option<dilation, O> ||
                                       is_option<groups, O>;
}  // namespace detail

// Named conditions on the input shape (STYLE rule 6: g++ prints the shape when one is false).
// The last two hold vacuously for a shape that is not (C, H, W): is_chw reports that one.
template <class S> inline constexpr bool is_chw = false;
template <std::size_t C, std::size_t H, std::size_t W> inline constexpr bool is_chw<shape<C, H, W>> = true;
template <class S, std::size_t G> inline constexpr bool channels_divide_by_groups = true;
template <std::size_t C, std::size_t H, std::size_t W, std::size_t G>
inline constexpr bool channels_divide_by_groups<shape<C, H, W>, G> = C % G == 0;
// The dilated kernel, D (K - 1) + 1, fits in the padded input, H + 2P.
template <class S, std::size_t K, std::size_t P, std::size_t D> inline constexpr bool kernel_fits = true;
template <std::size_t C, std::size_t H, std::size_t W, std::size_t K, std::size_t P, std::size_t D>
inline constexpr bool kernel_fits<shape<C, H, W>, K, P, D> = D * (K - 1) + 1 <= H + 2 * P && D * (K - 1) + 1 <= W + 2 * P;

template <std::size_t Out, std::size_t K, class... Options>
struct conv2d {
    static_assert(!(detail::is_option<output_padding, Options> || ...),
                  "typenet: conv2d takes no output_padding<P>; remove it, or use conv_transpose2d");
    static_assert(((detail::is_conv_option<Options> || detail::is_option<output_padding, Options>) && ...),
                  "typenet: conv2d's options are padding<P>, stride<S>, dilation<D> and groups<G>");
    static constexpr std::size_t pad = detail::option_or<padding, 0, Options...>;
    static constexpr std::size_t str = detail::option_or<stride, 1, Options...>;
    static constexpr std::size_t dil = detail::option_or<dilation, 1, Options...>;
    static constexpr std::size_t grp = detail::option_or<groups, 1, Options...>;
    static_assert(Out > 0 && K > 0, "typenet: conv2d<Out, K> needs Out > 0 and K > 0");
    static_assert(str > 0 && dil > 0 && grp > 0, "typenet: conv2d needs stride, dilation and groups > 0");
    static_assert(Out % grp == 0, "typenet: conv2d needs output channels divisible by groups");

    template <class In>
    static constexpr bool accepts = is_chw<In> && channels_divide_by_groups<In, grp> && kernel_fits<In, K, pad, dil>;
    template <class In> struct bound;
};

template <std::size_t Out, std::size_t K, class... Options>
template <std::size_t C, std::size_t H, std::size_t W>
struct conv2d<Out, K, Options...>::bound<shape<C, H, W>> {
    static constexpr kernels::cpu::conv2d_geometry geom{index_t(C), index_t(H), index_t(W), index_t(Out),
                                                        index_t(K), index_t(K), index_t(str), index_t(pad),
                                                        index_t(dil), index_t(grp)};
    static constexpr std::size_t oh = std::size_t(geom.oh()), ow = std::size_t(geom.ow());
    static constexpr std::size_t fan_in = C / grp * K * K;
    using input_shape = shape<C, H, W>;
    using output_shape = shape<Out, oh, ow>;
    static constexpr std::size_t param_count = Out * fan_in + Out;      // w (Out, C/G, K, K), b (Out)
    static std::string name() {
        std::string s = "conv2d<" + std::to_string(Out) + ", " + std::to_string(K);
        if (pad) s += ", padding " + std::to_string(pad);
        if (str != 1) s += ", stride " + std::to_string(str);
        if (dil != 1) s += ", dilation " + std::to_string(dil);
        if (grp != 1) s += ", groups " + std::to_string(grp);
        return s + ">";
    }
    static void tensors(tensor_list& t, const std::string& prefix, std::size_t p, std::size_t) {
        t.push_back({prefix + "weight", {Out, C / grp, K, K}, p});
        t.push_back({prefix + "bias", {Out}, p + Out * fan_in});
    }

    template <class T> void init(T* p, rng& g) const {
        init::torch_default::weight(p, Out * fan_in, fan_in, Out / grp * K * K, g);
        init::bias(p + Out * fan_in, Out, fan_in, g);
    }
    template <class T> void forward(const fwd_args<T>& a) const {
        kernels::cpu::conv2d_forward(geom, a.batch, a.x, a.p, a.p + Out * fan_in, a.y);   // nothing kept: backward unrolls x
    }
    template <class T> void backward(const bwd_args<T>& a) const {
        kernels::cpu::conv2d_backward(geom, a.batch, a.x, a.p, a.dy, a.dx, a.dp, a.dp + Out * fan_in);
    }
};

template <std::size_t I, std::size_t Out, std::size_t K, class... Options, class In>
struct layer_check<I, conv2d<Out, K, Options...>, In> {
    using L = conv2d<Out, K, Options...>;
    // conv2d works on one image per sample: channels, height, width.
    static_assert(is_chw<In>, "typenet: conv2d needs a (C, H, W) input; check the layers before it");
    static_assert(channels_divide_by_groups<In, L::grp>,
                  "typenet: conv2d needs input channels divisible by groups; change groups<G> or the layer before it");
    static_assert(kernel_fits<In, K, L::pad, L::dil>,
                  "typenet: conv2d's kernel is larger than its padded input; use a smaller kernel or more padding");
    static constexpr bool ok = L::template accepts<In>;
};

}  // namespace typenet
