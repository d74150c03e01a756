// layers/norm.hpp — batch_norm<Momentum, Eps> (torch.nn.BatchNorm2d on (C, H, W), BatchNorm1d on
// (N)) and layer_norm<Eps> (torch.nn.LayerNorm over the last axis). Parameters gamma then beta,
// as torch's weight then bias; batch_norm's running mean and variance are network state.
#pragma once
#include <algorithm>
#include <string>

#include "typenet/core/layer.hpp"
#include "typenet/kernels/cpu/norm.hpp"
#include "typenet/layers/conv.hpp"

namespace typenet {

namespace detail {
// Channels and positions per channel of a (C, H, W) or (N) sample.
template <class S> struct channels_of { static constexpr std::size_t c = 0, s = 0; };
template <std::size_t C, std::size_t H, std::size_t W> struct channels_of<shape<C, H, W>> {
    static constexpr std::size_t c = C, s = H * W;
};
template <std::size_t N> struct channels_of<shape<N>> { static constexpr std::size_t c = N, s = 1; };
}  // namespace detail

template <class S> inline constexpr bool is_chw_or_flat = is_chw<S> || is_flat<S>;

// Mode in training: batch statistics, running statistics updated; in evaluation: running ones.
template <double Momentum = 0.1, double Eps = 1e-5>
struct batch_norm {
    static_assert(Momentum >= 0.0 && Momentum <= 1.0, "typenet: batch_norm needs Momentum in [0, 1]");
    static_assert(Eps > 0.0, "typenet: batch_norm needs Eps > 0");
    template <class In> static constexpr bool accepts = is_chw_or_flat<In>;
    template <class In> struct bound {
        static constexpr std::size_t c = detail::channels_of<In>::c, s = detail::channels_of<In>::s;
        using input_shape = In;
        using output_shape = In;
        static constexpr std::size_t param_count = 2 * c;         // gamma (C), beta (C)
        // running mean (C), running variance (C), training batches seen (torch's num_batches_tracked;
        // counted exactly up to 2^24 in float)
        static constexpr std::size_t state_count = 2 * c + 1;
        // xhat, for the CUDA backend's kernels (cuda.hpp); the CPU's recompute it from x and leave
        // this unused.
        static constexpr std::size_t cache_per_sample = In::size;
        static constexpr std::size_t cache_fixed = 2 * c + 1;     // batch mean (C), invstd (C), training flag
        static std::string name() { return "batch_norm"; }
        static void tensors(tensor_list& t, const std::string& prefix, std::size_t p, std::size_t s) {
            t.push_back({prefix + "weight", {c}, p});
            t.push_back({prefix + "bias", {c}, p + c});
            t.push_back({prefix + "running_mean", {c}, s, buffer::state});
            t.push_back({prefix + "running_var", {c}, s + c, buffer::state});
            t.push_back({prefix + "num_batches_tracked", {}, s + 2 * c, buffer::state, true});
        }

        template <class T> void init(T* p, rng&) const {
            std::fill(p, p + c, T(1));
            std::fill(p + c, p + 2 * c, T(0));
        }
        template <class T> void init_state(T* st) const {
            std::fill(st, st + c, T(0));
            std::fill(st + c, st + 2 * c, T(1));
            st[2 * c] = T(0);
        }
        template <class T> void forward(const fwd_args<T>& a) const {
            T* fixed = a.cache + a.batch * index_t(In::size);      // mean (C), invstd (C), flag
            const bool training = a.m == mode::train;
            if (a.m == mode::infer) {                              // no backward follows: y only
                kernels::cpu::batch_norm_forward_infer(a.batch, index_t(c), index_t(s), T(Eps), a.x, a.p, a.p + c,
                                                       a.state, a.state + c, a.y);
                return;
            }
            if (training) {
                a.state[2 * c] += T(1);
                kernels::cpu::batch_norm_forward_train(a.batch, index_t(c), index_t(s), T(Eps), T(Momentum), a.x, a.p,
                                                       a.p + c, a.y, fixed, fixed + c, a.state, a.state + c);
            } else {
                kernels::cpu::batch_norm_forward_eval(a.batch, index_t(c), index_t(s), T(Eps), a.x, a.p, a.p + c,
                                                      a.state, a.state + c, a.y, fixed, fixed + c);
            }
            fixed[2 * c] = training ? T(1) : T(0);
        }
        template <class T> void backward(const bwd_args<T>& a) const {
            const T* fixed = a.cache + a.batch * index_t(In::size);
            kernels::cpu::batch_norm_backward(a.batch, index_t(c), index_t(s), fixed[2 * c] != T(0), a.x, fixed, a.p,
                                              fixed + c, a.dy, a.dx, a.dp, a.dp + c);
        }
    };
};

template <std::size_t I, double M, double E, class In>
struct layer_check<I, batch_norm<M, E>, In> {
    static_assert(is_chw_or_flat<In>, "typenet: batch_norm needs a (C, H, W) or a flat input; flatten or reshape first");
    static constexpr bool ok = is_chw_or_flat<In>;
};

// Normalises each sample's last axis (torch.nn.LayerNorm(last extent)), with per-feature gamma, beta.
template <double Eps = 1e-5>
struct layer_norm {
    static_assert(Eps > 0.0, "typenet: layer_norm needs Eps > 0");
    template <class In> static constexpr bool accepts = is_nonempty<In>;
    template <class In> struct bound {
        static constexpr std::size_t n = last_extent<In>, rows = In::size / n;
        using input_shape = In;
        using output_shape = In;
        static constexpr std::size_t param_count = 2 * n;               // gamma (n), beta (n)
        static constexpr std::size_t cache_per_sample = 2 * rows;       // mean, invstd per row
        static std::string name() { return "layer_norm"; }
        static void tensors(tensor_list& t, const std::string& prefix, std::size_t p, std::size_t) {
            t.push_back({prefix + "weight", {n}, p});
            t.push_back({prefix + "bias", {n}, p + n});
        }
        template <class T> void init(T* p, rng&) const {
            std::fill(p, p + n, T(1));
            std::fill(p + n, p + 2 * n, T(0));
        }
        template <class T> void forward(const fwd_args<T>& a) const {
            kernels::cpu::layer_norm_forward(a.batch * index_t(rows), index_t(n), T(Eps), a.x, a.p, a.p + n, a.cache,
                                             a.y, a.cache + a.batch * index_t(rows));
        }
        template <class T> void backward(const bwd_args<T>& a) const {
            kernels::cpu::layer_norm_backward(a.batch * index_t(rows), index_t(n), a.x, a.cache, a.p,
                                              a.cache + a.batch * index_t(rows), a.dy, a.dx, a.dp, a.dp + n);
        }
    };
};

}  // namespace typenet
