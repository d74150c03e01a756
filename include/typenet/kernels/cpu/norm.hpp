// kernels/cpu/norm.hpp — batch normalisation over (B, C, S) (S = H*W, or 1 for features) and
// layer normalisation over rows of n, forward and backward, torch.nn.BatchNorm{1,2}d / LayerNorm.
// Statistics accumulate in double: a float sum over B*H*W values loses digits a mean needs.
#pragma once
#include <cmath>

#include "typenet/kernels/cpu/common.hpp"

namespace typenet::kernels::cpu {

// Training: per-channel mean and biased variance over (B, S); xhat, y = gamma xhat + beta;
// running stats: r = (1 - momentum) r + momentum stat, with the unbiased variance (torch).
// Writes mean (C) and invstd (C) for backward.
template <class T>
inline void batch_norm_forward_train(index_t b, index_t c, index_t s, T eps, T momentum, const T* x, const T* gamma,
                                     const T* beta, T* xhat, T* y, T* mean_out, T* invstd_out, T* running_mean,
                                     T* running_var) {
    const double n = double(b * s);
    for (index_t ch = 0; ch < c; ++ch) {
        double sum = 0, sq = 0;
        for (index_t i = 0; i < b; ++i) {
            const T* xs = x + (i * c + ch) * s;
            for (index_t j = 0; j < s; ++j) sum += double(xs[j]);
        }
        const double mean = sum / n;
        for (index_t i = 0; i < b; ++i) {
            const T* xs = x + (i * c + ch) * s;
            for (index_t j = 0; j < s; ++j) sq += (double(xs[j]) - mean) * (double(xs[j]) - mean);
        }
        const double var = sq / n;
        const T invstd = T(1.0 / std::sqrt(var + double(eps)));
        mean_out[ch] = T(mean);
        invstd_out[ch] = invstd;
        for (index_t i = 0; i < b; ++i) {
            const index_t off = (i * c + ch) * s;
            for (index_t j = 0; j < s; ++j) {
                xhat[off + j] = (x[off + j] - T(mean)) * invstd;
                y[off + j] = gamma[ch] * xhat[off + j] + beta[ch];
            }
        }
        running_mean[ch] = (T(1) - momentum) * running_mean[ch] + momentum * T(mean);
        const double unbiased = n > 1 ? sq / (n - 1) : var;
        running_var[ch] = (T(1) - momentum) * running_var[ch] + momentum * T(unbiased);
    }
}

// Evaluation: the running statistics; xhat kept for a backward in eval mode.
template <class T>
inline void batch_norm_forward_eval(index_t b, index_t c, index_t s, T eps, const T* x, const T* gamma, const T* beta,
                                    const T* running_mean, const T* running_var, T* xhat, T* y, T* invstd_out) {
    for (index_t ch = 0; ch < c; ++ch) {
        const T invstd = T(1) / std::sqrt(running_var[ch] + eps);
        invstd_out[ch] = invstd;
        for (index_t i = 0; i < b; ++i) {
            const index_t off = (i * c + ch) * s;
            for (index_t j = 0; j < s; ++j) {
                xhat[off + j] = (x[off + j] - running_mean[ch]) * invstd;
                y[off + j] = gamma[ch] * xhat[off + j] + beta[ch];
            }
        }
    }
}

// dgamma += sum dy xhat, dbeta += sum dy; dx (when given): in training the statistics depend on
// x, dx = invstd / N (N g - sum g - xhat sum(g xhat)) with g = gamma dy; in evaluation they are
// constants, dx = gamma invstd dy.
template <class T>
inline void batch_norm_backward(index_t b, index_t c, index_t s, bool training, const T* xhat, const T* gamma,
                                const T* invstd, const T* dy, T* dx, T* dgamma, T* dbeta) {
    const double n = double(b * s);
    for (index_t ch = 0; ch < c; ++ch) {
        double sum_dy = 0, sum_dy_xhat = 0;
        for (index_t i = 0; i < b; ++i) {
            const index_t off = (i * c + ch) * s;
            for (index_t j = 0; j < s; ++j) {
                sum_dy += double(dy[off + j]);
                sum_dy_xhat += double(dy[off + j]) * double(xhat[off + j]);
            }
        }
        dgamma[ch] += T(sum_dy_xhat);
        dbeta[ch] += T(sum_dy);
        if (!dx) continue;
        const T k = gamma[ch] * invstd[ch];
        const T mean_dy = T(sum_dy / n), mean_dy_xhat = T(sum_dy_xhat / n);
        for (index_t i = 0; i < b; ++i) {
            const index_t off = (i * c + ch) * s;
            for (index_t j = 0; j < s; ++j)
                dx[off + j] = training ? k * (dy[off + j] - mean_dy - xhat[off + j] * mean_dy_xhat) : k * dy[off + j];
        }
    }
}

// Layer norm over each row of n: xhat = (x - mean) invstd, y = gamma xhat + beta (biased variance).
template <class T>
inline void layer_norm_forward(index_t rows, index_t n, T eps, const T* x, const T* gamma, const T* beta, T* xhat,
                               T* y, T* invstd_out) {
    for (index_t r = 0; r < rows; ++r, x += n, xhat += n, y += n) {
        double sum = 0, sq = 0;
        for (index_t j = 0; j < n; ++j) sum += double(x[j]);
        const double mean = sum / double(n);
        for (index_t j = 0; j < n; ++j) sq += (double(x[j]) - mean) * (double(x[j]) - mean);
        const T invstd = T(1.0 / std::sqrt(sq / double(n) + double(eps)));
        invstd_out[r] = invstd;
        for (index_t j = 0; j < n; ++j) {
            xhat[j] = (x[j] - T(mean)) * invstd;
            y[j] = gamma[j] * xhat[j] + beta[j];
        }
    }
}

template <class T>
inline void layer_norm_backward(index_t rows, index_t n, const T* xhat, const T* gamma, const T* invstd, const T* dy,
                                T* dx, T* dgamma, T* dbeta) {
    for (index_t r = 0; r < rows; ++r, xhat += n, dy += n) {
        double sum_g = 0, sum_g_xhat = 0;
        for (index_t j = 0; j < n; ++j) {
            dgamma[j] += dy[j] * xhat[j];
            dbeta[j] += dy[j];
            const double g = double(dy[j]) * double(gamma[j]);
            sum_g += g;
            sum_g_xhat += g * double(xhat[j]);
        }
        if (!dx) continue;
        const T mg = T(sum_g / double(n)), mgx = T(sum_g_xhat / double(n));
        T* dxr = dx + r * n;
        for (index_t j = 0; j < n; ++j) dxr[j] = invstd[r] * (dy[j] * gamma[j] - mg - xhat[j] * mgx);
    }
}

}  // namespace typenet::kernels::cpu
