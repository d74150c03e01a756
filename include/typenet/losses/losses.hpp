// losses/losses.hpp — mse, cross_entropy (fused log-softmax, integer labels, label smoothing) and
// bce_with_logits, each reduced by the mean as torch.nn's default reduction='mean'.
//
// A loss L over a batch: value = L(y, t) and, when dy is given, dy = dL/dy, in one pass.
//   y (B, C) network output;  t the targets: (B) class labels, or (B, C) values
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "typenet/core/shape.hpp"
#include "typenet/kernels/cpu/softmax.hpp"

namespace typenet::loss {

// Targets: one class index per sample.
using label_t = std::int32_t;

// torch.nn.MSELoss: mean over every element of (y - t)^2.
struct mse {
    template <class T> using target_type = T;
    static constexpr bool per_sample_targets = false;   // t is (B, C), like y
    template <class T>
    T operator()(index_t batch, index_t c, const T* y, const T* t, T* dy = nullptr) const {
        const index_t n = batch * c;
        const T scale = T(2) / T(n);
        T sum = 0;
        for (index_t i = 0; i < n; ++i) {
            const T d = y[i] - t[i];
            sum += d * d;
            if (dy) dy[i] = scale * d;
        }
        return sum / T(n);
    }
};

// torch.nn.CrossEntropyLoss(label_smoothing=s, ignore_index=i) on logits y (N, C) and labels t (N):
// per row  -(1 - s) log p_t - (s / C) sum_j log p_j,  p = softmax(y); the mean over the rows whose
// label is not ignore_index (those rows get dy = 0; none counted: loss 0). dy = (p - q) / N' with
// q = (1 - s) onehot(t) + s / C, N' the rows counted. For a sequence model the rows are the B * T
// steps of the batch, and ignore_index masks padding: the sequence cross-entropy.
struct cross_entropy {
    double label_smoothing = 0.0;
    label_t ignore_index = -100;
    template <class T> using target_type = label_t;
    static constexpr bool per_sample_targets = true;
    template <class T>
    T operator()(index_t batch, index_t c, const T* y, const label_t* t, T* dy = nullptr) const {
        if (!(label_smoothing >= 0.0 && label_smoothing <= 1.0))
            throw std::invalid_argument("typenet: cross_entropy: label_smoothing must be in [0, 1], got " +
                                        std::to_string(label_smoothing));
        const T s = T(label_smoothing);
        index_t counted = 0;
        for (index_t b = 0; b < batch; ++b) {
            const label_t label = t[b];
            if (label == ignore_index) continue;
            if (label < 0 || label >= c)
                throw std::out_of_range("typenet: cross_entropy: label " + std::to_string(label) + " of row " +
                                        std::to_string(b) + " is outside [0, " + std::to_string(c) + ")");
            ++counted;
        }
        const T n = T(std::max<index_t>(counted, 1));
        // Per row, one vectorized log-sum-exp (kernels/cpu/softmax.hpp), then dy from it:
        // dy_j = (softmax_j - q_j) / n with q the smoothed one-hot target.
        T total = 0;
        for (index_t b = 0; b < batch; ++b) {
            const T* yb = y + b * c;
            const label_t label = t[b];
            if (label == ignore_index) {
                if (dy) std::fill_n(dy + b * c, c, T(0));
                continue;
            }
            T lse;
            kernels::cpu::log_sum_exp_rows(1, c, yb, c, &lse);
            T sum_y = 0;
            if (s != T(0))
                for (index_t j = 0; j < c; ++j) sum_y += yb[j];
            // -log p_t = lse - y_t;  -sum_j log p_j = C lse - sum_j y_j
            total += (T(1) - s) * (lse - yb[label]) + (s / T(c)) * (T(c) * lse - sum_y);
            if (dy) {
                T* db = dy + b * c;
                kernels::cpu::exp_affine(c, yb, T(1) / n, lse, -(s / T(c)) / n, db);
                db[label] -= (T(1) - s) / n;
            }
        }
        return total / n;
    }
};

// torch.nn.BCEWithLogitsLoss: mean of  max(y, 0) - y t + log(1 + e^-|y|)  (the stable form);
// dy = (sigmoid(y) - t) / n.
struct bce_with_logits {
    template <class T> using target_type = T;
    static constexpr bool per_sample_targets = false;
    template <class T>
    T operator()(index_t batch, index_t c, const T* y, const T* t, T* dy = nullptr) const {
        const index_t n = batch * c;
        T sum = 0;
        for (index_t i = 0; i < n; ++i) {
            sum += std::max(y[i], T(0)) - y[i] * t[i] + std::log1p(std::exp(-std::abs(y[i])));
            if (dy) dy[i] = (T(1) / (T(1) + std::exp(-y[i])) - t[i]) / T(n);
        }
        return sum / T(n);
    }
};

}  // namespace typenet::loss
