// layers/attention.hpp — causal multi-head self-attention and the pre-norm transformer block made
// of it, over sequences seq<D> -> seq<D>.
//
//   causal_self_attention<Heads>     torch.nn.MultiheadAttention(D, Heads, batch_first=True) called
//                                    as mha(x, x, x, attn_mask=causal): step t attends to steps <= t
//   transformer_block<Heads, X = 4>  x + attn(ln1(x)), then + mlp(ln2(.)), mlp = dense<X D>, gelu,
//                                    dense<D>: GPT-2's block, written as a type from residual<>,
//                                    layer_norm, the attention and dense layers
//
// The attention keeps no T x T matrix between forward and backward: forward keeps each row's
// log-sum-exp and backward recomputes the probabilities from it (as FlashAttention does), so the
// cache grows with T, not T^2. Each (sequence, head) pair runs as GEMMs on a per-thread (T, T)
// scratch: S = Q K^T, P = causal softmax, O = P V (and backward's four products).
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
#include "typenet/kernels/cpu/reduce.hpp"
#include "typenet/kernels/cpu/softmax.hpp"
#include "typenet/layers/activation.hpp"
#include "typenet/layers/combinators.hpp"
#include "typenet/layers/dense.hpp"
#include "typenet/layers/norm.hpp"

namespace typenet {

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
        // per row: q k v (3D), attended values (D), log-sum-exp per head, and for backward
        // d(attended) (D) and d(q k v) (3D)
        static constexpr std::size_t cache_per_sample = 8 * D + Heads;
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
            T *qkv, *att, *lse, *datt, *dqkv;
            slots(T* c, index_t rows) {
                qkv = c;
                att = qkv + rows * index_t(3 * D);
                lse = att + rows * index_t(D);
                datt = lse + rows * index_t(Heads);
                dqkv = datt + rows * index_t(D);
            }
        };
        static constexpr index_t d = index_t(D), d3 = 3 * index_t(D), hd = index_t(dh);
        template <class T> static T scale() { return T(1) / std::sqrt(T(dh)); }
        // One (sequence, head) pair per task: the pairs' columns of q k v and of the outputs are
        // disjoint, so the threads share nothing but the weights.
        static int threads(index_t pairs, index_t steps) {
            return int(std::min<double>({double(kernels::cpu::max_threads()), double(pairs),
                                         double(pairs) * double(steps) * double(steps) * double(dh) / double(1 << 17) + 1}));
        }
        // (T, T) scores of one pair, per thread; grows once, then no allocation.
        template <class T> static T* scores(index_t steps, int which) {
            static thread_local kernels::cpu::scratch s[2];
            return s[which].template get<T>(std::size_t(steps * steps));
        }
        // K^T or V^T (hd, T) of one pair in GEMM panels, per thread: packed once for the pair's row
        // blocks, which read its leading columns (packing them per block gathered 2.5 times as many).
        template <class T> static T* packed_t(index_t steps, const T* src, int which) {
            static thread_local kernels::cpu::scratch s[2];
            T* bp = s[which].template get<T>(std::size_t(kernels::cpu::packed_b_size<T>(hd, steps)));
            kernels::cpu::pack_b(hd, steps, src, 1, d3, bp);
            return bp;
        }
        // S = Q K^T on and below the diagonal, in row blocks: block [i0, i1) needs keys [0, i1), kt
        // from packed_t; its rows go to out, steps apart.
        static constexpr index_t block = 32;
        template <class T>
        static void block_scores(index_t i0, index_t i1, index_t steps, const T* q, const T* kt, T* out) {
            kernels::cpu::gemm_packed_b_single_thread(i1 - i0, steps, hd, q + i0 * d3, d3, index_t(1), kt, T(0), out,
                                                      steps, i1);
        }
        template <class T> static void causal_scores(index_t steps, const T* q, const T* kt, T* p) {
            for (index_t i0 = 0; i0 < steps; i0 += block)
                block_scores(i0, std::min(steps, i0 + block), steps, q, kt, p + i0 * steps);
        }
        // P = causal softmax of the scaled scores S = Q K^T, row by row, from each row's
        // log-sum-exp (backward) or computing it (forward, lse written).
        template <class T> static void probabilities(index_t steps, T* sp, T* lse, index_t lse_stride, bool known) {
            kernels::cpu::causal_softmax(index_t(0), steps, steps, block, scale<T>(), sp, steps, lse, lse_stride, known);
        }

        template <class T> void forward(const fwd_args<T>& a) const {
            namespace k = kernels::cpu;
            const index_t rows = a.batch, steps = a.steps, batch = rows / steps;
            const slots<T> s(a.cache, rows);
            k::gemm_abt(rows, d3, d, a.x, d, a.p + win, d, T(0), s.qkv, d3, k::bias_epilogue<T>{.col = a.p + bin});
            const index_t pairs = batch * index_t(Heads);
            k::parallel_for(threads(pairs, steps), pairs, [&](index_t bh) {
                const index_t b = bh / index_t(Heads), h = bh % index_t(Heads);
                const T* q = s.qkv + b * steps * d3 + h * hd;
                const T *kk = q + d, *v = q + 2 * d;
                // Row block by row block, S, P and O = P V in turn: the block's scores (block x T)
                // stay in L1 from the product that writes them to the one that reads them.
                T* p = scores<T>(steps, 0);
                T* lse = s.lse + b * steps * index_t(Heads) + h;
                T* o = s.att + b * steps * d + h * hd;
                const T* kt = packed_t(steps, kk, 0);
                for (index_t i0 = 0; i0 < steps; i0 += block) {
                    const index_t i1 = std::min(steps, i0 + block);
                    block_scores(i0, i1, steps, q, kt, p);                                                  // S = Q K^T
                    k::causal_softmax(i0, i1, steps, block, scale<T>(), p, steps, lse, index_t(Heads), false);
                    k::gemm_single_thread(i1 - i0, hd, i1, p, steps, 1, v, d3, 1, T(0), o + i0 * d, d);     // O = P V
                }
            });
            k::gemm_abt(rows, d, d, s.att, d, a.p + wout, d, T(0), a.y, d, k::bias_epilogue<T>{.col = a.p + bout});
        }

        template <class T> void backward(const bwd_args<T>& a) const {
            namespace k = kernels::cpu;
            const index_t rows = a.batch, steps = a.steps, batch = rows / steps;
            const slots<T> s(a.cache, rows);
            T* dp = a.dp;
            k::gemm(rows, d, d, a.dy, d, 1, a.p + wout, d, 1, T(0), s.datt, d);        // d(att) = dy W_o
            k::gemm(d, d, rows, a.dy, 1, d, s.att, d, 1, T(1), dp + wout, d,           // dW_o += dy^T att,
                    k::bias_epilogue<T>{.a_row_sums = dp + bout});                     // db_o += sum dy
            const index_t pairs = batch * index_t(Heads);
            k::parallel_for(threads(pairs, steps), pairs, [&](index_t bh) {
                const index_t b = bh / index_t(Heads), h = bh % index_t(Heads);
                const index_t first = b * steps;
                const T* q = s.qkv + first * d3 + h * hd;
                const T *kk = q + d, *v = q + 2 * d;
                const T* dout = s.datt + first * d + h * hd;
                const T* out = s.att + first * d + h * hd;
                T* dq = s.dqkv + first * d3 + h * hd;
                T *dk = dq + d, *dv = dq + 2 * d;
                T* p = scores<T>(steps, 0);
                T* ds = scores<T>(steps, 1);
                causal_scores(steps, q, packed_t(steps, kk, 0), p);
                probabilities(steps, p, s.lse + first * index_t(Heads) + h, index_t(Heads), true);
                const T* vt = packed_t(steps, v, 1);
                const T sc = scale<T>();
                // Row block [i0, i1) reads columns [0, i1): the blocks above the diagonal are
                // zeros of P and dS, never computed nor read.
                for (index_t i0 = 0; i0 < steps; i0 += block) {
                    const index_t i1 = std::min(steps, i0 + block), rb = i1 - i0;
                    k::gemm_packed_b_single_thread(rb, steps, hd, dout + i0 * d, d, index_t(1), vt, T(0), ds + i0 * steps,
                                                   steps, i1);                                              // dP = dO V^T
                    k::attention_score_grad(i0, i1, hd, sc, dout, out, d, p, ds, steps);   // dS = P (dP - rowsum(dO O)) / sqrt(dh)
                    k::gemm_single_thread(rb, hd, i1, ds + i0 * steps, steps, 1, kk, d3, 1, T(0), dq + i0 * d3, d3);  // dQ = dS K
                }
                for (index_t j0 = 0; j0 < steps; j0 += block) {   // column block [j0, j1): rows [j0, T)
                    const index_t j1 = std::min(steps, j0 + block), n = steps - j0;
                    k::gemm_single_thread(j1 - j0, hd, n, p + j0 * steps + j0, 1, steps, dout + j0 * d, d, 1, T(0),
                                          dv + j0 * d3, d3);                                                // dV = P^T dO
                    k::gemm_single_thread(j1 - j0, hd, n, ds + j0 * steps + j0, 1, steps, q + j0 * d3, d3, 1, T(0),
                                          dk + j0 * d3, d3);                                                // dK = dS^T Q
                }
            });
            k::gemm(d3, d, rows, s.dqkv, 1, d3, a.x, d, 1, T(1), dp + win, d,         // dW_in += dqkv^T x,
                    k::bias_epilogue<T>{.a_row_sums = dp + bin});                     // db_in += sum dqkv
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
