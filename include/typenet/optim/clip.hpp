// optim/clip.hpp — gradient clipping over a network's flat gradient buffer: by the global L2 norm
// (torch.nn.utils.clip_grad_norm_) or elementwise (clip_grad_value_). Call between backward and
// step; the whole buffer is one tensor to these, so each is one pass (two for the norm).
#pragma once
#include <cmath>
#include <stdexcept>
#include <string>

#include "typenet/core/network.hpp"
#include "typenet/kernels/cpu/reduce.hpp"

namespace typenet::optim {

// torch.nn.utils.clip_grad_norm_(parameters, max_norm) with norm_type 2 (1.13):
//   total = sqrt(sum g^2) over all gradients; scale = max_norm / (total + 1e-6);
//   g *= scale when scale < 1 (torch multiplies by min(scale, 1), the same values).
// Returns total, the norm before clipping; a NaN or infinite total is returned, the gradients
// then scaled by 0 or NaN as torch's error_if_nonfinite=False does.
template <model Net>
double clip_grad_norm(Net& net, double max_norm) {
    using T = typename Net::scalar;
    if (!(max_norm >= 0.0))
        throw std::invalid_argument("typenet: clip_grad_norm: max_norm must be >= 0, got " + std::to_string(max_norm));
    auto g = net.gradients();
    const double total = std::sqrt(kernels::cpu::sum_of_squares(index_t(g.size()), g.data()));
    const double scale = max_norm / (total + 1e-6);
    if (!(scale >= 1.0)) kernels::cpu::scale(index_t(g.size()), T(scale), g.data());
    return total;
}

// torch.nn.utils.clip_grad_value_(parameters, clip_value): every gradient clamped into [-v, v].
template <model Net>
void clip_grad_value(Net& net, double v) {
    using T = typename Net::scalar;
    if (!(v >= 0.0))
        throw std::invalid_argument("typenet: clip_grad_value: the clip value must be >= 0, got " + std::to_string(v));
    auto g = net.gradients();
    kernels::cpu::clamp(index_t(g.size()), T(-v), T(v), g.data());
}

}  // namespace typenet::optim
