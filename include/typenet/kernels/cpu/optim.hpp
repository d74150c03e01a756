// kernels/cpu/optim.hpp — optimizer updates as one pass over the flat parameter buffer.
// Formulas follow the torch.optim documentation (1.13) term for term, so 10 steps match PyTorch.
#pragma once
#include <cmath>

#include "typenet/kernels/cpu/common.hpp"

namespace typenet::kernels::cpu {

// torch.optim.SGD: g = grad + wd p; buf = mu buf + (1 - dampening) g (buf = g on the first step);
// g = nesterov ? g + mu buf : buf; p -= lr g.
template <class T>
inline void sgd_update(index_t n, T lr, T momentum, T dampening, T weight_decay, bool nesterov, bool first,
                       T* p, const T* grad, T* buf) {
TYPENET_OMP(omp simd)
    for (index_t i = 0; i < n; ++i) {
        T g = grad[i] + weight_decay * p[i];
        if (momentum != T(0)) {
            buf[i] = first ? g : momentum * buf[i] + (T(1) - dampening) * g;
            g = nesterov ? g + momentum * buf[i] : buf[i];
        }
        p[i] -= lr * g;
    }
}

// torch.optim.Adam (L2 weight decay folded into g) and torch.optim.AdamW (decoupled: p *= 1 - lr wd).
// step_size = lr / (1 - b1^t); denom = sqrt(v) / sqrt(1 - b2^t) + eps.
template <class T>
inline void adam_update(index_t n, T lr, T beta1, T beta2, T eps, T weight_decay, bool decoupled,
                        long step, T* p, const T* grad, T* m, T* v) {
    const T bc1 = T(1) - std::pow(beta1, T(step));
    const T bc2_sqrt = std::sqrt(T(1) - std::pow(beta2, T(step)));
    const T step_size = lr / bc1;
    const T decay = decoupled ? T(1) - lr * weight_decay : T(1);
    const T l2 = decoupled ? T(0) : weight_decay;
TYPENET_OMP(omp simd)
    for (index_t i = 0; i < n; ++i) {
        const T g = grad[i] + l2 * p[i];
        m[i] = beta1 * m[i] + (T(1) - beta1) * g;
        v[i] = beta2 * v[i] + (T(1) - beta2) * g * g;
        p[i] = p[i] * decay - step_size * m[i] / (std::sqrt(v[i]) / bc2_sqrt + eps);
    }
}

}  // namespace typenet::kernels::cpu
