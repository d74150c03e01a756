// layers/attention.hpp — causal multi-head self-attention and the pre-norm transformer block made
// of it, over sequences seq<D> -> seq<D>.
//
//   causal_self_attention<Heads>     torch.nn.MultiheadAttention(D, Heads, batch_first=True) called
//                                    as mha(x, x, x, attn_mask=causal): step t attends to steps <= t
//   transformer_block<Heads, X = 4>  x + attn(ln1(x)), then + mlp(ln2(.)), mlp = dense<X D>, gelu,
//                                    dense<D>: GPT-2's block, written as a type from residual<>,
//                                    layer_norm, the attention and dense layers
//
// The attention keeps no T x T matrix: forward keeps each row's log-sum-exp and backward recomputes
// the probabilities from it (as FlashAttention does), so the cache grows with T, not T^2.
#pragma once
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "typenet/core/init.hpp"
#include "typenet/core/layer.hpp"
#include "typenet/kernels/cpu/elementwise.hpp"
#include "typenet/kernels/cpu/gemm.hpp"
#include "typenet/kernels/cpu/gemm_abt.hpp"
#include "typenet/kernels/cpu/lanes.hpp"
#include "typenet/layers/activation.hpp"
#include "typenet/layers/combinators.hpp"
#include "typenet/layers/dense.hpp"
#include "typenet/layers/norm.hpp"

namespace typenet {

namespace kernels::cpu {
// sum_i a[i] b[i]
template <class T, class Arch = arch>
inline T dot(index_t n, const T* a, const T* b) {
    using batch = xsimd::batch<T, Arch>;
    constexpr index_t w = batch::size;
    batch acc(T(0));
    index_t i = 0;
    for (; i + w <= n; i += w) acc = xsimd::fma(batch::load_unaligned(a + i), batch::load_unaligned(b + i), acc);
    T s = xsimd::hadd(acc);
    for (; i < n; ++i) s += a[i] * b[i];
    return s;
}
}  // namespace kernels::cpu

template <std::size_t Heads>
struct causal_self_attention {
    static_assert(Heads > 0, "typenet: causal_self_attention<Heads> needs Heads > 0");
    template <class In> static constexpr bool accepts = is_flat_sequence<In> && In::size % Heads == 0;
    template <class In> struct bound {
        static constexpr std::size_t D = In::size, dh = D / Heads;
        using input_shape = In;
        using output_shape = In;
        static constexpr std::size_t win = 0, bin = 3 * D * D, wout = bin + 3 * D, bout = wout + D * D;
        static constexpr std::size_t param_count = bout + D;
        // per row: q k v (3D), attended values (D), log-sum-exp and scratch per head, and for
        // backward d(attended) (D) and d(q k v) (3D)
        static constexpr std::size_t cache_per_sample = 8 * D + 2 * Heads;
        static std::string name() { return "causal_self_attention<" + std::to_string(Heads) + ">"; }
        static void tensors(tensor_list& t, const std::string& prefix, std::size_t p, std::size_t) {
            t.push_back({prefix + "in_proj_weight", {3 * D, D}, p + win});
            t.push_back({prefix + "in_proj_bias", {3 * D}, p + bin});
            t.push_back({prefix + "out_proj.weight", {D, D}, p + wout});
            t.push_back({prefix + "out_proj.bias", {D}, p + bout});
        }
        // torch's: in_proj xavier_uniform, out_proj as nn.Linear, both biases zero
        template <class T> void init(T* p, rng& g) const {
            init::xavier_uniform::weight(p + win, 3 * D * D, D, 3 * D, g);
            std::fill_n(p + bin, 3 * D, T(0));
            init::torch_default::weight(p + wout, D * D, D, D, g);
            std::fill_n(p + bout, D, T(0));
        }

        template <class T> struct slots {
            T *qkv, *att, *lse, *scratch, *datt, *dqkv;
            slots(T* c, index_t rows) {
                qkv = c;
                att = qkv + rows * index_t(3 * D);
                lse = att + rows * index_t(D);
                scratch = lse + rows * index_t(Heads);
                datt = scratch + rows * index_t(Heads);
                dqkv = datt + rows * index_t(D);
            }
        };
        static constexpr index_t d = index_t(D), d3 = 3 * index_t(D), hd = index_t(dh);
        template <class T> static T scale() { return T(1) / std::sqrt(T(dh)); }
        static int threads(index_t pairs, index_t steps) {
            return int(std::min<double>(kernels::cpu::max_threads(),
                                        double(pairs) * double(steps) * double(steps) * double(dh) / double(1 << 17) + 1));
        }

        template <class T> void forward(const fwd_args<T>& a) const {
            namespace k = kernels::cpu;
            const index_t rows = a.batch, steps = a.steps, batch = rows / steps;
            const slots<T> s(a.cache, rows);
            k::broadcast_rows(rows, d3, a.p + bin, s.qkv, d3);
            k::gemm_abt(rows, d3, d, a.x, d, a.p + win, d, T(1), s.qkv, d3);
            const index_t pairs = batch * index_t(Heads);
            k::parallel_for(threads(pairs, steps), pairs, [&](index_t bh) {
                const index_t b = bh / index_t(Heads), h = bh % index_t(Heads);
                T* sc = s.scratch + bh * steps;                              // this pair's row of scores
                for (index_t i = 0; i < steps; ++i) {
                    const index_t ri = b * steps + i;
                    const T* q = s.qkv + ri * d3 + h * hd;
                    T m = -std::numeric_limits<T>::infinity();
                    for (index_t j = 0; j <= i; ++j) {
                        sc[j] = k::dot(hd, q, s.qkv + (b * steps + j) * d3 + d + h * hd) * scale<T>();
                        m = std::max(m, sc[j]);
                    }
                    T sum = 0;
                    for (index_t j = 0; j <= i; ++j) sum += (sc[j] = std::exp(sc[j] - m));
                    T* o = s.att + ri * d + h * hd;
                    std::fill_n(o, hd, T(0));
                    for (index_t j = 0; j <= i; ++j) k::axpy(hd, sc[j] / sum, s.qkv + (b * steps + j) * d3 + 2 * d + h * hd, o);
                    s.lse[ri * index_t(Heads) + h] = m + std::log(sum);
                }
            });
            k::broadcast_rows(rows, d, a.p + bout, a.y, d);
            k::gemm_abt(rows, d, d, s.att, d, a.p + wout, d, T(1), a.y, d);
        }

        template <class T> void backward(const bwd_args<T>& a) const {
            namespace k = kernels::cpu;
            const index_t rows = a.batch, steps = a.steps, batch = rows / steps;
            const slots<T> s(a.cache, rows);
            T* dp = a.dp;
            k::gemm(rows, d, d, a.dy, d, 1, a.p + wout, d, 1, T(0), s.datt, d);        // d(att) = dy W_o
            k::gemm(d, d, rows, a.dy, 1, d, s.att, d, 1, T(1), dp + wout, d);          // dW_o += dy^T att
            k::add_column_sums(rows, d, a.dy, d, dp + bout);
            std::fill_n(s.dqkv, rows * d3, T(0));
            const index_t pairs = batch * index_t(Heads);
            k::parallel_for(threads(pairs, steps), pairs, [&](index_t bh) {
                const index_t b = bh / index_t(Heads), h = bh % index_t(Heads);
                for (index_t i = 0; i < steps; ++i) {
                    const index_t ri = b * steps + i;
                    const T* q = s.qkv + ri * d3 + h * hd;
                    const T* dout = s.datt + ri * d + h * hd;
                    const T di = k::dot(hd, dout, s.att + ri * d + h * hd);
                    const T lse = s.lse[ri * index_t(Heads) + h];
                    T* dq = s.dqkv + ri * d3 + h * hd;
                    for (index_t j = 0; j <= i; ++j) {
                        const index_t rj = b * steps + j;
                        const T* kj = s.qkv + rj * d3 + d + h * hd;
                        const T* vj = kj + d;
                        const T pij = std::exp(k::dot(hd, q, kj) * scale<T>() - lse);
                        const T ds = pij * (k::dot(hd, dout, vj) - di) * scale<T>();
                        T* dk = s.dqkv + rj * d3 + d + h * hd;
                        k::axpy(hd, ds, kj, dq);
                        k::axpy(hd, ds, q, dk);
                        k::axpy(hd, pij, dout, dk + d);
                    }
                }
            });
            k::gemm(d3, d, rows, s.dqkv, 1, d3, a.x, d, 1, T(1), dp + win, d);        // dW_in += dqkv^T x
            k::add_column_sums(rows, d3, s.dqkv, d3, dp + bin);
            if (a.dx) k::gemm(rows, d, d3, s.dqkv, d3, 1, a.p + win, d, 1, T(0), a.dx, d);
        }
    };
};

template <std::size_t I, std::size_t Heads, class In>
struct layer_check<I, causal_self_attention<Heads>, In> {
    static_assert(is_flat_sequence<In>, "typenet: causal_self_attention needs a sequence of flat steps seq<D>");
    static_assert(!is_flat_sequence<In> || In::size % Heads == 0,
                  "typenet: causal_self_attention<Heads> needs the width D to be a multiple of Heads");
    static constexpr bool ok = is_flat_sequence<In> && In::size % Heads == 0;
};

// GPT-2's pre-norm block, D the input's width.
template <std::size_t Heads, std::size_t Expand = 4>
struct transformer_block {
    template <std::size_t D>
    using body = sequential<residual<sequential<layer_norm<>, causal_self_attention<Heads>>>,
                            residual<sequential<layer_norm<>, dense<Expand * D>, gelu, dense<D>>>>;
    template <class In> static constexpr bool accepts = causal_self_attention<Heads>::template accepts<In>;
    template <class In> struct bound : body<In::size>::template bound<In> {
        static std::string name() {
            return "transformer_block<" + std::to_string(Heads) + ", " + std::to_string(Expand) + ">";
        }
    };
};

template <std::size_t I, std::size_t Heads, std::size_t Expand, class In>
struct layer_check<I, transformer_block<Heads, Expand>, In> : layer_check<I, causal_self_attention<Heads>, In> {};

}  // namespace typenet
