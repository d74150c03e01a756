// kernels/cpu/recurrent.hpp — the pointwise part of one time step of lstm, gru and rnn
// (layers/recurrent.hpp), for the B sequences of a batch at once: the gate nonlinearities and the
// state update, forward, and their derivatives backward. Rows are batch-first (B, T, ...), so the
// rows of one step are `ld` values apart (T times a row's width). Formulas: torch.nn.LSTM / GRU /
// RNN (tanh).
//
//   lstm_step(B, H, gates, ld_g, c_prev, c, y, ld_h)         gates (i, f, g, o) pre -> post activation
//   lstm_step_backward(B, H, gates, ld_g, c, c_prev, dy, ld_h, dh, dc)
//   gru_step(B, H, gates, ld_g, gh, h_prev, hn, y, ld_h)     gh (B, 3H): b_hh + h_prev W_hh^T
//   gru_step_backward(B, H, gates, ld_g, hn, h_prev, dy, ld_h, dh)
//   rnn_step(B, H, y, ld_h)                                  y := tanh(y) in place
//   rnn_step_backward(B, H, y, dy, ld_h, dh, dg)
// cpu::store, qualified: a batch argument brings xsimd::store (the aligned store) in by ADL.
#pragma once
#include "typenet/kernels/cpu/dispatch.hpp"
#include "typenet/kernels/cpu/lanes.hpp"

namespace typenet::kernels::cpu {

// i, f, g, o = sigmoid, sigmoid, tanh, sigmoid of the gates (stored back); c = f c_prev + i g;
// y = o tanh(c).
struct lstm_step_kernel {
    template <class Arch, class T>
    void operator()(Arch, index_t batch, index_t h, T* gates, index_t ld_g, const T* c_prev, T* c, T* y,
                    index_t ld_h) const;
};
template <class Arch, class T>
inline void lstm_step_kernel::operator()(Arch, index_t batch, index_t h, T* gates, index_t ld_g, const T* c_prev, T* c,
                                         T* y, index_t ld_h) const {
    for (index_t b = 0; b < batch; ++b) {
        T* gr = gates + b * ld_g;
        const T* cp = c_prev + b * ld_h;
        T* cr = c + b * ld_h;
        T* yr = y + b * ld_h;
        for_lanes<T, Arch>(h, [&](auto v, index_t j) {
            using V = decltype(v);
            const V i = sigmoid_of(load<V>(gr + j)), f = sigmoid_of(load<V>(gr + h + j));
            const V gg = tanh_of(load<V>(gr + 2 * h + j)), o = sigmoid_of(load<V>(gr + 3 * h + j));
            const V cn = f * load<V>(cp + j) + i * gg;
            cpu::store(gr + j, i);
            cpu::store(gr + h + j, f);
            cpu::store(gr + 2 * h + j, gg);
            cpu::store(gr + 3 * h + j, o);
            cpu::store(cr + j, cn);
            cpu::store(yr + j, o * tanh_of(cn));
        });
    }
}

// Gates' activations in, pre-activation gradients out; dh (B, H) is the gradient flowing into this
// step's h from the next step, dc (B, H) into c, and dc leaves as the gradient into c_prev.
struct lstm_step_backward_kernel {
    template <class Arch, class T>
    void operator()(Arch, index_t batch, index_t h, T* gates, index_t ld_g, const T* c, const T* c_prev, const T* dy,
                    index_t ld_h, const T* dh, T* dc) const;
};
template <class Arch, class T>
inline void lstm_step_backward_kernel::operator()(Arch, index_t batch, index_t h, T* gates, index_t ld_g, const T* c,
                                                  const T* c_prev, const T* dy, index_t ld_h, const T* dh,
                                                  T* dc) const {
    for (index_t b = 0; b < batch; ++b) {
        T* gr = gates + b * ld_g;
        const T *cr = c + b * ld_h, *cp = c_prev + b * ld_h, *dyr = dy + b * ld_h, *dhb = dh + b * h;
        T* dcb = dc + b * h;
        for_lanes<T, Arch>(h, [&](auto v, index_t j) {
            using V = decltype(v);
            const V one(T(1));
            const V i = load<V>(gr + j), f = load<V>(gr + h + j);
            const V gg = load<V>(gr + 2 * h + j), o = load<V>(gr + 3 * h + j);
            const V tc = tanh_of(load<V>(cr + j));
            const V dhv = load<V>(dyr + j) + load<V>(dhb + j);
            const V dcv = load<V>(dcb + j) + dhv * o * (one - tc * tc);
            cpu::store(dcb + j, dcv * f);
            cpu::store(gr + j, dcv * gg * i * (one - i));
            cpu::store(gr + h + j, dcv * load<V>(cp + j) * f * (one - f));
            cpu::store(gr + 2 * h + j, dcv * i * (one - gg * gg));
            cpu::store(gr + 3 * h + j, dhv * tc * o * (one - o));
        });
    }
}

// r = sigmoid(x_r + gh_r), z = sigmoid(x_z + gh_z), n = tanh(x_n + r gh_n); y = (1 - z) n + z h_prev.
// gates (x's parts, b_ih included) receive r, z, n; hn receives gh_n.
struct gru_step_kernel {
    template <class Arch, class T>
    void operator()(Arch, index_t batch, index_t h, T* gates, index_t ld_g, const T* gh, const T* h_prev, T* hn, T* y,
                    index_t ld_h) const;
};
template <class Arch, class T>
inline void gru_step_kernel::operator()(Arch, index_t batch, index_t h, T* gates, index_t ld_g, const T* gh,
                                        const T* h_prev, T* hn, T* y, index_t ld_h) const {
    for (index_t b = 0; b < batch; ++b) {
        T* gr = gates + b * ld_g;
        const T *ghr = gh + b * 3 * h, *hp = h_prev + b * ld_h;
        T *hnr = hn + b * ld_h, *yr = y + b * ld_h;
        for_lanes<T, Arch>(h, [&](auto v, index_t j) {
            using V = decltype(v);
            const V rr = sigmoid_of(load<V>(gr + j) + load<V>(ghr + j));
            const V z = sigmoid_of(load<V>(gr + h + j) + load<V>(ghr + h + j));
            const V hnv = load<V>(ghr + 2 * h + j);
            const V n = tanh_of(load<V>(gr + 2 * h + j) + rr * hnv);
            cpu::store(gr + j, rr);
            cpu::store(gr + h + j, z);
            cpu::store(gr + 2 * h + j, n);
            cpu::store(hnr + j, hnv);
            cpu::store(yr + j, (V(T(1)) - z) * n + z * load<V>(hp + j));
        });
    }
}

// r, z, n in, (dr, dz, dn) pre-activation out; hn in, d(hn) out; dh (B, H): the gradient into this
// step's h in, into h_prev's direct path (dh z) out.
struct gru_step_backward_kernel {
    template <class Arch, class T>
    void operator()(Arch, index_t batch, index_t h, T* gates, index_t ld_g, T* hn, const T* h_prev, const T* dy,
                    index_t ld_h, T* dh) const;
};
template <class Arch, class T>
inline void gru_step_backward_kernel::operator()(Arch, index_t batch, index_t h, T* gates, index_t ld_g, T* hn,
                                                 const T* h_prev, const T* dy, index_t ld_h, T* dh) const {
    for (index_t b = 0; b < batch; ++b) {
        T* gr = gates + b * ld_g;
        T* hnr = hn + b * ld_h;
        const T *hp = h_prev + b * ld_h, *dyr = dy + b * ld_h;
        T* db = dh + b * h;
        for_lanes<T, Arch>(h, [&](auto v, index_t j) {
            using V = decltype(v);
            const V one(T(1));
            const V rr = load<V>(gr + j), z = load<V>(gr + h + j), n = load<V>(gr + 2 * h + j);
            const V dhv = load<V>(dyr + j) + load<V>(db + j);
            const V dan = dhv * (one - z) * (one - n * n);
            const V hnv = load<V>(hnr + j);
            cpu::store(gr + j, dan * hnv * rr * (one - rr));
            cpu::store(gr + h + j, dhv * (load<V>(hp + j) - n) * z * (one - z));
            cpu::store(gr + 2 * h + j, dan);
            cpu::store(hnr + j, dan * rr);
            cpu::store(db + j, dhv * z);
        });
    }
}

// y := tanh(y) for the B rows of one step.
struct rnn_step_kernel {
    template <class Arch, class T> void operator()(Arch, index_t batch, index_t h, T* y, index_t ld_h) const;
};
template <class Arch, class T>
inline void rnn_step_kernel::operator()(Arch, index_t batch, index_t h, T* y, index_t ld_h) const {
    for (index_t b = 0; b < batch; ++b) {
        T* yr = y + b * ld_h;
        for_lanes<T, Arch>(h, [&](auto v, index_t j) { cpu::store(yr + j, tanh_of(load<decltype(v)>(yr + j))); });
    }
}

// dg = (dy + dh) (1 - y^2): dg's rows are ld_h apart like y's, dh's (B, H) are h apart.
struct rnn_step_backward_kernel {
    template <class Arch, class T>
    void operator()(Arch, index_t batch, index_t h, const T* y, const T* dy, index_t ld_h, const T* dh, T* dg) const;
};
template <class Arch, class T>
inline void rnn_step_backward_kernel::operator()(Arch, index_t batch, index_t h, const T* y, const T* dy, index_t ld_h,
                                                 const T* dh, T* dg) const {
    for (index_t b = 0; b < batch; ++b) {
        const T *yr = y + b * ld_h, *dyr = dy + b * ld_h, *db = dh + b * h;
        T* dgr = dg + b * ld_h;
        for_lanes<T, Arch>(h, [&](auto v, index_t j) {
            using V = decltype(v);
            const V yv = load<V>(yr + j);
            cpu::store(dgr + j, (load<V>(dyr + j) + load<V>(db + j)) * (V(T(1)) - yv * yv));
        });
    }
}

template <class T>
inline void lstm_step(index_t batch, index_t h, T* gates, index_t ld_g, const T* c_prev, T* c, T* y, index_t ld_h) {
    invoke_kernel<&kernel_table<T>::lstm_step>(lstm_step_kernel{}, batch, h, gates, ld_g, c_prev, c, y, ld_h);
}
template <class T>
inline void lstm_step_backward(index_t batch, index_t h, T* gates, index_t ld_g, const T* c, const T* c_prev,
                               const T* dy, index_t ld_h, const T* dh, T* dc) {
    invoke_kernel<&kernel_table<T>::lstm_step_backward>(lstm_step_backward_kernel{}, batch, h, gates, ld_g, c, c_prev,
                                                        dy, ld_h, dh, dc);
}
template <class T>
inline void gru_step(index_t batch, index_t h, T* gates, index_t ld_g, const T* gh, const T* h_prev, T* hn, T* y,
                     index_t ld_h) {
    invoke_kernel<&kernel_table<T>::gru_step>(gru_step_kernel{}, batch, h, gates, ld_g, gh, h_prev, hn, y, ld_h);
}
template <class T>
inline void gru_step_backward(index_t batch, index_t h, T* gates, index_t ld_g, T* hn, const T* h_prev, const T* dy,
                              index_t ld_h, T* dh) {
    invoke_kernel<&kernel_table<T>::gru_step_backward>(gru_step_backward_kernel{}, batch, h, gates, ld_g, hn, h_prev, dy,
                                                       ld_h, dh);
}
template <class T>
inline void rnn_step(index_t batch, index_t h, T* y, index_t ld_h) {
    invoke_kernel<&kernel_table<T>::rnn_step>(rnn_step_kernel{}, batch, h, y, ld_h);
}
template <class T>
inline void rnn_step_backward(index_t batch, index_t h, const T* y, const T* dy, index_t ld_h, const T* dh, T* dg) {
    invoke_kernel<&kernel_table<T>::rnn_step_backward>(rnn_step_backward_kernel{}, batch, h, y, dy, ld_h, dh, dg);
}

}  // namespace typenet::kernels::cpu
