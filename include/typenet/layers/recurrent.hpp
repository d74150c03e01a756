// layers/recurrent.hpp — rnn<H> (tanh), lstm<H>, gru<H> over sequences seq<D> -> seq<H>, each the
// one-layer torch.nn module (batch_first=True) with its parameter names and layout; stack them for
// more layers, put last_step after the last to keep only the final step, wrap one in
// bidirectional<> for both directions.
//
// Backpropagation through time runs over the T steps of the call. The state a sequence starts from
// and ends with is the network's recurrent_state (h, then c for an LSTM, per sequence): truncated
// BPTT passes one window's final state as the next window's initial state, and an encoder's final
// state can start a decoder, with its gradient flowing back (recurrent_gradients).
//
// The input projection of every step is one GEMM over all B * T rows before the recurrence, and the
// weight gradients one GEMM each after it; only h W_hh^T (forward) and dG W_hh (backward) run per
// step, on the B rows of that step (strided: the rows of step t are t, T + t, 2T + t, ...), with
// W_hh packed once per call rather than at every step.
#pragma once
#include <algorithm>
#include <cmath>
#include <string>
#include <type_traits>

#include "typenet/core/layer.hpp"
#include "typenet/kernels/cpu/elementwise.hpp"
#include "typenet/kernels/cpu/gemm.hpp"
#include "typenet/kernels/cpu/gemm_abt.hpp"
#include "typenet/kernels/cpu/recurrent.hpp"

namespace typenet {

namespace detail {
// torch's recurrent initialisation: every weight and bias U(-1/sqrt(H), 1/sqrt(H)).
template <class T> void recurrent_init(T* p, std::size_t n, std::size_t hidden, rng& g) {
    const double b = 1.0 / std::sqrt(double(hidden));
    for (std::size_t i = 0; i < n; ++i) p[i] = T(g.uniform(-b, b));
}
// Room for W_hh (g, h) packed as the right operand of both products a step makes: h W_hh^T
// (forward) and dG W_hh (backward); float's panels are the widest.
constexpr std::size_t packed_whh_size(std::size_t g, std::size_t h) {
    return std::size_t(std::max(kernels::cpu::packed_b_size<float>(index_t(h), index_t(g)),
                                kernels::cpu::packed_b_size<float>(index_t(g), index_t(h))));
}
// The weights and biases of a one-layer recurrent module of G = gates * H rows, torch's names.
template <std::size_t G, std::size_t D, std::size_t H>
void recurrent_tensors(tensor_list& t, const std::string& prefix, std::size_t p) {
    t.push_back({prefix + "weight_ih_l0", {G, D}, p});
    t.push_back({prefix + "weight_hh_l0", {G, H}, p + G * D});
    t.push_back({prefix + "bias_ih_l0", {G}, p + G * D + G * H});
    t.push_back({prefix + "bias_hh_l0", {G}, p + G * D + G * H + G});
}
// What rnn, lstm and gru share, Gates * H rows of weights: shapes, torch's parameter layout and
// names, and its initialisation.
template <std::size_t Gates, std::size_t D, std::size_t H>
struct recurrent_params {
    static constexpr std::size_t G = Gates * H;
    using input_shape = seq<D>;
    using output_shape = seq<H>;
    static constexpr std::size_t wih = 0, whh = G * D, bih = whh + G * H, bhh = bih + G;
    static constexpr std::size_t param_count = bhh + G;
    static void tensors(tensor_list& t, const std::string& prefix, std::size_t p, std::size_t) {
        recurrent_tensors<G, D, H>(t, prefix, p);
    }
    template <class T> void init(T* p, rng& g) const { recurrent_init(p, param_count, H, g); }
};

// `rows` rows of n from src (ld_src apart; null: zeros) to dst (ld_dst apart): a state moved
// between the caller's (B, carry) blocks and the layer's rows, or a direction's half of a step.
template <class T>
void copy_rows(index_t rows, index_t n, const T* src, index_t ld_src, T* dst, index_t ld_dst) {
    for (index_t r = 0; r < rows; ++r) {
        if (src) std::copy_n(src + r * ld_src, n, dst + r * ld_dst);
        else std::fill_n(dst + r * ld_dst, n, T(0));
    }
}
// Every sequence's state before step t (the initial state or zeros at t = 0, else the previous
// step's row of `seq`) into the rows of step t of dst; seq and dst have rows of n, T a sequence.
template <class T>
void previous_rows(index_t batch, index_t steps, index_t t, index_t n, const T* initial, index_t ld_initial,
                   const T* seq, T* dst) {
    if (t > 0) copy_rows(batch, n, seq + (t - 1) * n, steps * n, dst + t * n, steps * n);
    else copy_rows(batch, n, initial, ld_initial, dst, steps * n);
}
// Every row of y (rows, n) := b_ih + b_hh: the biases before the input projection accumulates.
template <class T> void bias_sum_rows(index_t rows, index_t n, const T* b_ih, const T* b_hh, T* y) {
    for (index_t r = 0; r < rows; ++r)
        kernels::cpu::add(n, b_ih, b_hh, y + r * n);
}
}  // namespace detail

template <std::size_t H>
struct lstm {
    static_assert(H > 0, "typenet: lstm<H> needs H > 0");
    template <class In> static constexpr bool accepts = is_flat_sequence<In>;
    template <class In> struct bound;
};

// i, f, g, o = sigma, sigma, tanh, sigma (x W_ih^T + b_ih + h W_hh^T + b_hh);
// c' = f c + i g;  h' = o tanh(c').
template <std::size_t H>
template <std::size_t D>
struct lstm<H>::bound<seq<D>> : detail::recurrent_params<4, D, H> {
    using base = detail::recurrent_params<4, D, H>;
    using base::G, base::wih, base::whh, base::bih, base::bhh;
    // fixed: W_hh packed for the step's product; per row: gates (G), c, h_prev, c_prev (H each),
    // dh and dc (H each; the first B rows)
    static constexpr std::size_t cache_fixed = detail::packed_whh_size(G, H);
    static constexpr std::size_t cache_per_sample = G + 5 * H;
    static constexpr std::size_t carry_per_sample = 2 * H;                  // h, then c
    static std::string name() { return "lstm<" + std::to_string(H) + ">"; }

    template <class T> struct slots {
        T *wt, *gates, *c, *hp, *cp, *dh, *dc;
        slots(T* cache, index_t rows) {
            wt = cache;
            gates = wt + cache_fixed;
            c = gates + rows * index_t(G);
            hp = c + rows * index_t(H);
            cp = hp + rows * index_t(H);
            dh = cp + rows * index_t(H);
            dc = dh + rows * index_t(H);
        }
    };

    template <class T> void forward(const fwd_args<T>& a) const {
        namespace k = kernels::cpu;
        const index_t rows = a.batch, steps = a.steps, batch = rows / steps, g = G, h = H;
        const slots<T> s(a.cache, rows);
        const T* p = a.p;
        detail::bias_sum_rows(rows, g, p + bih, p + bhh, s.gates);
        k::gemm_abt(rows, g, index_t(D), a.x, index_t(D), p + wih, index_t(D), T(1), s.gates, g);
        k::pack_b(h, g, p + whh, 1, h, s.wt);                              // W_hh^T (H, G)
        for (index_t t = 0; t < steps; ++t) {
            detail::previous_rows(batch, steps, t, h, a.carry_in, 2 * h, a.y, s.hp);
            detail::previous_rows(batch, steps, t, h, a.carry_in ? a.carry_in + h : nullptr, 2 * h, s.c, s.cp);
            if (t > 0 || a.carry_in)
                k::gemm_packed_b(batch, g, h, s.hp + t * h, steps * h, 1, s.wt, T(1), s.gates + t * g, steps * g);
            k::lstm_step(batch, h, s.gates + t * g, steps * g, s.cp + t * h, s.c + t * h, a.y + t * h, steps * h);
        }
        if (a.carry_out) {                                                 // the last step's h and c
            detail::copy_rows(batch, h, a.y + (steps - 1) * h, steps * h, a.carry_out, 2 * h);
            detail::copy_rows(batch, h, s.c + (steps - 1) * h, steps * h, a.carry_out + h, 2 * h);
        }
    }

    template <class T> void backward(const bwd_args<T>& a) const {
        namespace k = kernels::cpu;
        const index_t rows = a.batch, steps = a.steps, batch = rows / steps, g = G, h = H, d = D;
        const slots<T> s(a.cache, rows);
        k::pack_b(g, h, a.p + whh, h, 1, s.wt);                            // W_hh (G, H)
        detail::copy_rows(batch, h, a.dcarry_out, 2 * h, s.dh, h);
        detail::copy_rows(batch, h, a.dcarry_out ? a.dcarry_out + h : nullptr, 2 * h, s.dc, h);
        for (index_t t = steps - 1; t >= 0; --t) {
            k::lstm_step_backward(batch, h, s.gates + t * g, steps * g, s.c + t * h, s.cp + t * h, a.dy + t * h, steps * h, s.dh,
                                  s.dc);
            if (t > 0 || a.dcarry_in)          // dh_prev = dG_t W_hh
                k::gemm_packed_b(batch, h, g, s.gates + t * g, steps * g, 1, s.wt, T(0), s.dh, h);
        }
        if (a.dcarry_in) {
            detail::copy_rows(batch, h, s.dh, h, a.dcarry_in, 2 * h);
            detail::copy_rows(batch, h, s.dc, h, a.dcarry_in + h, 2 * h);
        }
        T* dp = a.dp;
        // dW_ih += dG^T x, dW_hh += dG^T h_prev; each bias += the sums of dG's columns, in its packing
        k::gemm(g, d, rows, s.gates, 1, g, a.x, d, 1, T(1), dp + wih, d, k::bias_epilogue<T>{.a_row_sums = dp + bih});
        k::gemm(g, h, rows, s.gates, 1, g, s.hp, h, 1, T(1), dp + whh, h, k::bias_epilogue<T>{.a_row_sums = dp + bhh});
        if (a.dx) k::gemm(rows, d, g, s.gates, g, 1, a.p + wih, d, 1, T(0), a.dx, d);   // dx = dG W_ih
    }
};

template <std::size_t H>
struct gru {
    static_assert(H > 0, "typenet: gru<H> needs H > 0");
    template <class In> static constexpr bool accepts = is_flat_sequence<In>;
    template <class In> struct bound;
};

// r, z = sigma(x W_i{r,z}^T + b_i{r,z} + h W_h{r,z}^T + b_h{r,z});
// n = tanh(x W_in^T + b_in + r (h W_hn^T + b_hn));  h' = (1 - z) n + z h   (torch.nn.GRU).
template <std::size_t H>
template <std::size_t D>
struct gru<H>::bound<seq<D>> : detail::recurrent_params<3, D, H> {
    using base = detail::recurrent_params<3, D, H>;
    using base::G, base::wih, base::whh, base::bih, base::bhh;
    // fixed: W_hh packed for the step's products; per row: r, z, n (G), hn = h W_hn^T + b_hn (H),
    // h_prev (H), scratch (G; the first B rows: h W_hh^T + b_hh of a step forward, dh backward)
    static constexpr std::size_t cache_fixed = detail::packed_whh_size(G, H) +
                                               std::size_t(kernels::cpu::packed_b_size<float>(index_t(H), index_t(H)));
    static constexpr std::size_t cache_per_sample = 2 * G + 2 * H;
    static constexpr std::size_t carry_per_sample = H;
    static std::string name() { return "gru<" + std::to_string(H) + ">"; }

    template <class T> struct slots {
        T *wt, *gates, *hn, *hp, *scratch;
        slots(T* cache, index_t rows) {
            wt = cache;
            gates = wt + cache_fixed;
            hn = gates + rows * index_t(G);
            hp = hn + rows * index_t(H);
            scratch = hp + rows * index_t(H);
        }
    };

    template <class T> void forward(const fwd_args<T>& a) const {
        namespace k = kernels::cpu;
        const index_t rows = a.batch, steps = a.steps, batch = rows / steps, g = G, h = H;
        const slots<T> s(a.cache, rows);
        const T* p = a.p;
        k::gemm_abt(rows, g, index_t(D), a.x, index_t(D), p + wih, index_t(D), T(0), s.gates, g,
                    k::bias_epilogue<T>{.col = p + bih});
        k::pack_b(h, g, p + whh, 1, h, s.wt);                              // W_hh^T (H, G)
        for (index_t t = 0; t < steps; ++t) {
            detail::previous_rows(batch, steps, t, h, a.carry_in, h, a.y, s.hp);
            k::broadcast_rows(batch, g, p + bhh, s.scratch, g);          // gh (B, G) = b_hh + h W_hh^T
            if (t > 0 || a.carry_in) k::gemm_packed_b(batch, g, h, s.hp + t * h, steps * h, 1, s.wt, T(1), s.scratch, g);
            k::gru_step(batch, h, s.gates + t * g, steps * g, s.scratch, s.hp + t * h, s.hn + t * h, a.y + t * h, steps * h);
        }
        if (a.carry_out) detail::copy_rows(batch, h, a.y + (steps - 1) * h, steps * h, a.carry_out, h);
    }

    template <class T> void backward(const bwd_args<T>& a) const {
        namespace k = kernels::cpu;
        const index_t rows = a.batch, steps = a.steps, batch = rows / steps, g = G, h = H, d = D;
        const slots<T> s(a.cache, rows);
        T* dhr = s.scratch;                                              // (B, H) dL/dh flowing back
        T* w_rz = s.wt;                                                  // W_hh rows of r and z (2H, H)
        T* w_n = s.wt + kernels::cpu::packed_b_size<T>(2 * h, h);        // and of n (H, H)
        k::pack_b(2 * h, h, a.p + whh, h, 1, w_rz);
        k::pack_b(h, h, a.p + whh + 2 * H * H, h, 1, w_n);
        detail::copy_rows(batch, h, a.dcarry_out, h, dhr, h);
        for (index_t t = steps - 1; t >= 0; --t) {
            k::gru_step_backward(batch, h, s.gates + t * g, steps * g, s.hn + t * h, s.hp + t * h, a.dy + t * h, steps * h, dhr);
            if (t > 0 || a.dcarry_in) {              // dh_prev += dG_h W_hh, dG_h = (dr, dz, d(hn))
                k::gemm_packed_b(batch, h, 2 * h, s.gates + t * g, steps * g, 1, w_rz, T(1), dhr, h);
                k::gemm_packed_b(batch, h, h, s.hn + t * h, steps * h, 1, w_n, T(1), dhr, h);
            }
        }
        if (a.dcarry_in) std::copy_n(dhr, batch * h, a.dcarry_in);
        T* dp = a.dp;
        // The biases' gradients as the sums of the gradient operand's columns, in each product's packing.
        k::gemm(g, d, rows, s.gates, 1, g, a.x, d, 1, T(1), dp + wih, d, k::bias_epilogue<T>{.a_row_sums = dp + bih});
        k::gemm(2 * h, h, rows, s.gates, 1, g, s.hp, h, 1, T(1), dp + whh, h,
                k::bias_epilogue<T>{.a_row_sums = dp + bhh});
        k::gemm(h, h, rows, s.hn, 1, h, s.hp, h, 1, T(1), dp + whh + 2 * H * H, h,
                k::bias_epilogue<T>{.a_row_sums = dp + bhh + 2 * H});
        if (a.dx) k::gemm(rows, d, g, s.gates, g, 1, a.p + wih, d, 1, T(0), a.dx, d);
    }
};

template <std::size_t H>
struct rnn {
    static_assert(H > 0, "typenet: rnn<H> needs H > 0");
    template <class In> static constexpr bool accepts = is_flat_sequence<In>;
    template <class In> struct bound;
};

// h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh)   (torch.nn.RNN, nonlinearity='tanh').
template <std::size_t H>
template <std::size_t D>
struct rnn<H>::bound<seq<D>> : detail::recurrent_params<1, D, H> {
    using base = detail::recurrent_params<1, D, H>;
    using base::wih, base::whh, base::bih, base::bhh;
    // fixed: W_hh packed for the step's product; per row: h_prev, dG (pre-activation gradient), dh
    // (the first B rows)
    static constexpr std::size_t cache_fixed = detail::packed_whh_size(H, H);
    static constexpr std::size_t cache_per_sample = 3 * H;
    static constexpr std::size_t carry_per_sample = H;
    static std::string name() { return "rnn<" + std::to_string(H) + ">"; }

    template <class T> void forward(const fwd_args<T>& a) const {
        namespace k = kernels::cpu;
        const index_t rows = a.batch, steps = a.steps, batch = rows / steps, h = H;
        T* hp = a.cache + cache_fixed;
        const T* p = a.p;
        k::pack_b(h, h, p + whh, 1, h, a.cache);                           // W_hh^T
        detail::bias_sum_rows(rows, h, p + bih, p + bhh, a.y);
        k::gemm_abt(rows, h, index_t(D), a.x, index_t(D), p + wih, index_t(D), T(1), a.y, h);
        for (index_t t = 0; t < steps; ++t) {
            detail::previous_rows(batch, steps, t, h, a.carry_in, h, a.y, hp);
            if (t > 0 || a.carry_in)
                k::gemm_packed_b(batch, h, h, hp + t * h, steps * h, 1, a.cache, T(1), a.y + t * h, steps * h);
            k::rnn_step(batch, h, a.y + t * h, steps * h);
        }
        if (a.carry_out) detail::copy_rows(batch, h, a.y + (steps - 1) * h, steps * h, a.carry_out, h);
    }

    template <class T> void backward(const bwd_args<T>& a) const {
        namespace k = kernels::cpu;
        const index_t rows = a.batch, steps = a.steps, batch = rows / steps, h = H, d = D;
        T* wt = a.cache;
        T* hp = wt + cache_fixed;
        T* dg = hp + rows * h;
        T* dhr = dg + rows * h;
        k::pack_b(h, h, a.p + whh, h, 1, wt);                              // W_hh
        detail::copy_rows(batch, h, a.dcarry_out, h, dhr, h);
        for (index_t t = steps - 1; t >= 0; --t) {
            k::rnn_step_backward(batch, h, a.y + t * h, a.dy + t * h, steps * h, dhr, dg + t * h);
            if (t > 0 || a.dcarry_in) k::gemm_packed_b(batch, h, h, dg + t * h, steps * h, 1, wt, T(0), dhr, h);
        }
        if (a.dcarry_in) std::copy_n(dhr, batch * h, a.dcarry_in);
        T* dp = a.dp;
        k::gemm(h, d, rows, dg, 1, h, a.x, d, 1, T(1), dp + wih, d, k::bias_epilogue<T>{.a_row_sums = dp + bih});
        k::gemm(h, h, rows, dg, 1, h, hp, h, 1, T(1), dp + whh, h, k::bias_epilogue<T>{.a_row_sums = dp + bhh});
        if (a.dx) k::gemm(rows, d, h, dg, h, 1, a.p + wih, d, 1, T(0), a.dx, d);
    }
};

// The readable error: a recurrent layer runs over a sequence of flat steps (the "required from"
// line above it names the layer, e.g. layer_check<0, typenet::lstm<16>, typenet::shape<8> >).
template <template <std::size_t> class R>
inline constexpr bool is_recurrent = std::is_same_v<R<1>, rnn<1>> || std::is_same_v<R<1>, lstm<1>> ||
                                     std::is_same_v<R<1>, gru<1>>;
template <std::size_t I, template <std::size_t> class R, std::size_t H, class In>
    requires is_recurrent<R>
struct layer_check<I, R<H>, In> {
    static_assert(is_flat_sequence<In>, "typenet: rnn, lstm and gru need a sequence of flat steps seq<D>: start the "
                                        "network with sequence_input<D> or tokens and embedding<V, D>");
    static constexpr bool ok = is_flat_sequence<In>;
};

}  // namespace typenet

namespace typenet {

// Both directions: L runs over the sequence forwards and a second L (its own parameters) over it
// backwards; y[t] = (forward y[t], backward y[t]) concatenated, torch's bidirectional=True layout
// and names (the backward direction's tensors end in "_reverse"). The recurrent state is the
// forward direction's block, then the backward's (torch's h_0 (2, B, H)).
//   network<sequence_input<8>, bidirectional<lstm<64>>, last_step, dense<2>>
template <class L>
struct bidirectional {
    template <class In>
    static constexpr bool accepts = is_flat_sequence<In> && L::template accepts<In> &&
                                    is_flat_sequence<typename output_of<L, In>::type>;
    template <class In> struct bound {
        using inner_t = typename L::template bound<In>;
        static constexpr std::size_t D = In::size, H = inner_t::output_shape::size;
        using input_shape = In;
        using output_shape = seq<2 * H>;
        static constexpr std::size_t inner_params = param_count_of<inner_t>(), inner_carry = carry_per_sample_of<inner_t>();
        static constexpr std::size_t param_count = 2 * inner_params;
        static constexpr std::size_t carry_per_sample = 2 * inner_carry;
        // both directions' caches, then per row: y forward, y backward (reversed), x reversed, and for
        // backward dy of each direction and dx of the backward one
        static constexpr std::size_t cache_per_sample = 2 * cache_per_sample_of<inner_t>() + 4 * H + 2 * D;
        static constexpr std::size_t cache_fixed = 2 * cache_fixed_of<inner_t>();
        static std::string name() { return "bidirectional<" + inner_t::name() + ">"; }
        static void tensors(tensor_list& t, const std::string& prefix, std::size_t p, std::size_t s) {
            inner_t::tensors(t, prefix, p, s);
            tensor_list reverse;
            inner_t::tensors(reverse, prefix, p + inner_params, s);
            for (auto& d : reverse) {
                d.name += "_reverse";
                t.push_back(d);
            }
        }
        template <class T> void init(T* p, rng& g) const {
            inner_.init(p, g);
            inner_.init(p + inner_params, g);
        }

        template <class T> struct slots {
            T *fwd, *bwd, *yf, *yr, *xr, *dyf, *dyr, *dxr;
            slots(T* c, index_t rows) {
                const index_t inner = rows * index_t(cache_per_sample_of<inner_t>()) + index_t(cache_fixed_of<inner_t>());
                fwd = c;
                bwd = fwd + inner;
                yf = bwd + inner;
                yr = yf + rows * index_t(H);
                xr = yr + rows * index_t(H);
                dyf = xr + rows * index_t(D);
                dyr = dyf + rows * index_t(H);
                dxr = dyr + rows * index_t(H);
            }
        };
        // Row (b, t) of src to row (b, T - 1 - t) of dst, n scalars a row; rows ld_src and ld_dst apart.
        template <class T>
        static void reverse_steps(index_t rows, index_t steps, index_t n, const T* src, index_t ld_src, T* dst,
                                  index_t ld_dst) {
            for (index_t r = 0; r < rows; ++r) {
                const index_t b = r / steps, t = r % steps;
                std::copy_n(src + r * ld_src, n, dst + (b * steps + steps - 1 - t) * ld_dst);
            }
        }
        template <class P> static P second(P c, index_t rows, index_t steps) {
            return c ? c + rows / steps * index_t(inner_carry) : nullptr;
        }

        template <class T> void forward(const fwd_args<T>& a) const {
            const index_t rows = a.batch, steps = a.steps, h = H;
            const slots<T> s(a.cache, rows);
            inner_.forward(fwd_args<T>{rows, a.m, a.p, a.x, s.yf, s.fwd, a.gen, a.state, steps, a.carry_in, a.carry_out});
            reverse_steps(rows, steps, index_t(D), a.x, index_t(D), s.xr, index_t(D));
            inner_.forward(fwd_args<T>{rows, a.m, a.p + inner_params, s.xr, s.yr, s.bwd, a.gen, a.state, steps,
                                       second(a.carry_in, rows, steps), second(a.carry_out, rows, steps)});
            detail::copy_rows(rows, h, s.yf, h, a.y, 2 * h);                 // y = (forward, backward) per step
            reverse_steps(rows, steps, h, s.yr, h, a.y + h, 2 * h);
        }
        template <class T> void backward(const bwd_args<T>& a) const {
            const index_t rows = a.batch, steps = a.steps, h = H;
            const slots<T> s(a.cache, rows);
            detail::copy_rows(rows, h, a.dy, 2 * h, s.dyf, h);
            reverse_steps(rows, steps, h, a.dy + h, 2 * h, s.dyr, h);
            inner_.backward(bwd_args<T>{rows, a.p, a.x, s.yf, s.dyf, a.dx, a.dp, s.fwd, a.state, steps, a.dcarry_out,
                                        a.dcarry_in});
            inner_.backward(bwd_args<T>{rows, a.p + inner_params, s.xr, s.yr, s.dyr, a.dx ? s.dxr : nullptr,
                                        a.dp + inner_params, s.bwd, a.state, steps, second(a.dcarry_out, rows, steps),
                                        second(a.dcarry_in, rows, steps)});
            if (a.dx)
                for (index_t r = 0; r < rows; ++r) {
                    const index_t b = r / steps, t = r % steps;
                    kernels::cpu::axpy(index_t(D), T(1), s.dxr + (b * steps + steps - 1 - t) * index_t(D),
                                       a.dx + r * index_t(D));
                }
        }
        inner_t inner_{};
    };
};

template <std::size_t I, class L, class In>
struct layer_check<I, bidirectional<L>, In> {
    static constexpr bool inner_ok = layer_check<I, L, In>::ok;
    static_assert(!inner_ok || is_flat_sequence<typename output_of<L, In>::type>,
                  "typenet: bidirectional<L> needs a layer L that maps a sequence to a sequence (rnn, lstm, gru)");
    static constexpr bool ok = inner_ok && is_flat_sequence<typename output_of<L, In>::type>;
};

}  // namespace typenet
