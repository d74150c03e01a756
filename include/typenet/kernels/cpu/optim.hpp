// kernels/cpu/optim.hpp — optimizer updates (sgd, adam/adamw, rmsprop) as one pass over the flat
// parameter buffer. Formulas follow the torch.optim documentation (1.13) term for term, so 10 steps
// match PyTorch.
// xsimd, not a plain loop: std::sqrt under -fmath-errno (the default) keeps g++ from vectorizing,
// and the scalar Adam update was 45% of the MLP's training step.
#pragma once
#include <cmath>

#include "typenet/kernels/cpu/common.hpp"
#include "typenet/kernels/cpu/dispatch.hpp"

namespace typenet::kernels::cpu {

// The *_update entry points are noipa: inlined with a network's constant parameter count, g++ 12
// warns (-Waggressive-loop-optimizations) about the scalar tail loop that the count never reaches.

// torch.optim.SGD: g = grad + wd p; buf = mu buf + (1 - dampening) g (buf = g on the first step);
// g = nesterov ? g + mu buf : buf; p -= lr g.
struct sgd_step {
    template <class Arch, class T>
    void operator()(Arch, index_t n, T lr, T momentum, T dampening, T weight_decay, bool nesterov, bool first,
                    T* p, const T* grad, T* buf) const;
};

template <class Arch, class T>
inline void sgd_step::operator()(Arch, index_t n, T lr, T momentum, T dampening, T weight_decay, bool nesterov,
                                 bool first, T* p, const T* grad, T* buf) const {
    using batch = xsimd::batch<T, Arch>;
    constexpr index_t w = batch::size;
    // One body for vectors and the scalar tail: V is batch or T.
    auto update = [&](auto pv, auto gv, auto bv, auto& bout) {
        using V = decltype(pv);
        V g = gv + V(weight_decay) * pv;
        if (momentum != T(0)) {
            bout = first ? g : V(momentum) * bv + V(T(1) - dampening) * g;
            g = nesterov ? g + V(momentum) * bout : bout;
        }
        return pv - V(lr) * g;
    };
    index_t i = 0;
    for (; i + w <= n; i += w) {
        batch bout(T(0));
        const batch bv = momentum != T(0) ? batch::load_unaligned(buf + i) : batch(T(0));
        update(batch::load_unaligned(p + i), batch::load_unaligned(grad + i), bv, bout).store_unaligned(p + i);
        if (momentum != T(0)) bout.store_unaligned(buf + i);
    }
    for (; i < n; ++i) {
        T bout = 0;
        p[i] = update(p[i], grad[i], momentum != T(0) ? buf[i] : T(0), bout);
        if (momentum != T(0)) buf[i] = bout;
    }
}

template <class T>
[[gnu::noipa]] inline void sgd_update(index_t n, T lr, T momentum, T dampening, T weight_decay, bool nesterov, bool first,
                       T* p, const T* grad, T* buf) {
    split_elementwise<T>(n, [&](index_t i, index_t m) {
        invoke_kernel<&kernel_table<T>::sgd>(sgd_step{}, m, lr, momentum, dampening, weight_decay, nesterov, first, p + i,
                                             grad + i, buf ? buf + i : nullptr);
    });
}

// torch.optim.Adam (L2 weight decay folded into g) and torch.optim.AdamW (decoupled: p *= 1 - lr wd).
// step_size = lr / (1 - b1^t); denom = sqrt(v) / sqrt(1 - b2^t) + eps.
struct adam_step {
    template <class Arch, class T>
    void operator()(Arch, index_t n, T lr, T beta1, T beta2, T eps, T weight_decay, bool decoupled, long step,
                    T* p, const T* grad, T* m, T* v) const;
};

template <class Arch, class T>
inline void adam_step::operator()(Arch, index_t n, T lr, T beta1, T beta2, T eps, T weight_decay, bool decoupled,
                                  long step, T* p, const T* grad, T* m, T* v) const {
    using batch = xsimd::batch<T, Arch>;
    constexpr index_t w = batch::size;
    const T bc1 = T(1) - std::pow(beta1, T(step));
    const T bc2_sqrt = std::sqrt(T(1) - std::pow(beta2, T(step)));
    const T step_size = lr / bc1;
    const T decay = decoupled ? T(1) - lr * weight_decay : T(1);
    const T l2 = decoupled ? T(0) : weight_decay;
    index_t i = 0;
    for (; i + w <= n; i += w) {
        const batch pv = batch::load_unaligned(p + i);
        const batch g = batch::load_unaligned(grad + i) + batch(l2) * pv;
        const batch mv = batch(beta1) * batch::load_unaligned(m + i) + batch(T(1) - beta1) * g;
        const batch vv = batch(beta2) * batch::load_unaligned(v + i) + batch(T(1) - beta2) * g * g;
        mv.store_unaligned(m + i);
        vv.store_unaligned(v + i);
        (pv * batch(decay) - batch(step_size) * mv / (xsimd::sqrt(vv) / batch(bc2_sqrt) + batch(eps)))
            .store_unaligned(p + i);
    }
    for (; i < n; ++i) {
        const T g = grad[i] + l2 * p[i];
        m[i] = beta1 * m[i] + (T(1) - beta1) * g;
        v[i] = beta2 * v[i] + (T(1) - beta2) * g * g;
        p[i] = p[i] * decay - step_size * m[i] / (std::sqrt(v[i]) / bc2_sqrt + eps);
    }
}

template <class T>
[[gnu::noipa]] inline void adam_update(index_t n, T lr, T beta1, T beta2, T eps, T weight_decay, bool decoupled, long step,
                        T* p, const T* grad, T* m, T* v) {
    split_elementwise<T>(n, [&](index_t i, index_t len) {
        invoke_kernel<&kernel_table<T>::adam>(adam_step{}, len, lr, beta1, beta2, eps, weight_decay, decoupled, step, p + i,
                                              grad + i, m + i, v + i);
    });
}

// torch.optim.RMSprop: g = grad + wd p; v = alpha v + (1 - alpha) g^2;
// centered: ga = alpha ga + (1 - alpha) g, avg = sqrt(v - ga^2) + eps; else avg = sqrt(v) + eps;
// momentum > 0: buf = mu buf + g / avg, p -= lr buf; else p -= lr g / avg.
// grad_avg is read only when centered, buf only when momentum > 0 (either may be null otherwise).
struct rmsprop_step {
    template <class Arch, class T>
    void operator()(Arch, index_t n, T lr, T alpha, T eps, T weight_decay, T momentum, bool centered,
                    T* p, const T* grad, T* square_avg, T* grad_avg, T* buf) const;
};

template <class Arch, class T>
inline void rmsprop_step::operator()(Arch, index_t n, T lr, T alpha, T eps, T weight_decay, T momentum,
                                     bool centered, T* p, const T* grad, T* square_avg, T* grad_avg,
                                     T* buf) const {
    using batch = xsimd::batch<T, Arch>;
    constexpr index_t w = batch::size;
    const bool use_momentum = momentum > T(0);
    index_t i = 0;
    for (; i + w <= n; i += w) {
        const batch pv = batch::load_unaligned(p + i);
        const batch g = batch::load_unaligned(grad + i) + batch(weight_decay) * pv;
        const batch v = batch(alpha) * batch::load_unaligned(square_avg + i) + batch(T(1) - alpha) * g * g;
        v.store_unaligned(square_avg + i);
        batch avg;
        if (centered) {
            const batch ga = batch(alpha) * batch::load_unaligned(grad_avg + i) + batch(T(1) - alpha) * g;
            ga.store_unaligned(grad_avg + i);
            avg = xsimd::sqrt(v - ga * ga) + batch(eps);
        } else {
            avg = xsimd::sqrt(v) + batch(eps);
        }
        if (use_momentum) {
            const batch b = batch(momentum) * batch::load_unaligned(buf + i) + g / avg;
            b.store_unaligned(buf + i);
            (pv - batch(lr) * b).store_unaligned(p + i);
        } else {
            (pv - batch(lr) * (g / avg)).store_unaligned(p + i);
        }
    }
    for (; i < n; ++i) {
        const T g = grad[i] + weight_decay * p[i];
        square_avg[i] = alpha * square_avg[i] + (T(1) - alpha) * g * g;
        T avg;
        if (centered) {
            grad_avg[i] = alpha * grad_avg[i] + (T(1) - alpha) * g;
            avg = std::sqrt(square_avg[i] - grad_avg[i] * grad_avg[i]) + eps;
        } else {
            avg = std::sqrt(square_avg[i]) + eps;
        }
        if (use_momentum) {
            buf[i] = momentum * buf[i] + g / avg;
            p[i] -= lr * buf[i];
        } else {
            p[i] -= lr * (g / avg);
        }
    }
}

template <class T>
[[gnu::noipa]] inline void rmsprop_update(index_t n, T lr, T alpha, T eps, T weight_decay, T momentum, bool centered,
                           T* p, const T* grad, T* square_avg, T* grad_avg, T* buf) {
    split_elementwise<T>(n, [&](index_t i, index_t m) {
        invoke_kernel<&kernel_table<T>::rmsprop>(rmsprop_step{}, m, lr, alpha, eps, weight_decay, momentum, centered, p + i,
                                                 grad + i, square_avg + i, grad_avg ? grad_avg + i : nullptr,
                                                 buf ? buf + i : nullptr);
    });
}

}  // namespace typenet::kernels::cpu
