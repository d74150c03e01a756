// kernels/cpu/norm.hpp — batch normalisation over (B, C, S) (S = H*W, or 1 for features) and
// layer normalisation over rows of n, forward and backward, torch.nn.BatchNorm{1,2}d / LayerNorm.
// Statistics accumulate in double across rows: a float sum over B*H*W values loses digits a mean
// needs; within one row (H*W values) vectors of T sum.
#pragma once
#include <algorithm>
#include <cmath>

#include "typenet/kernels/cpu/common.hpp"
#include "typenet/kernels/cpu/dispatch.hpp"
#include "typenet/kernels/cpu/elementwise.hpp"

namespace typenet::kernels::cpu {

namespace detail {
// A row's mean and sum of squared deviations from it (M2): the row (at most H*W values) is read
// twice while it is in L1, then the tensor is read once from memory for its statistics. The first
// pass sums x - x[0], so that a row's mean is accurate where mean^2 >> var (summed as they are, 35
// values near 1e4 in float gave means off by 6e-4 and, merged, variances 1.2 % off); the second
// sums (x - mean)^2. Four vectors of T each; rows merge in double (chan_merge).
template <class T, class Arch = arch>
inline void row_moments(index_t n, const T* x, double& mean, double& m2) {
    using batch = xsimd::batch<T, Arch>;
    constexpr index_t w = batch::size;
    const T x0 = x[0];
    const batch s0(x0);
    batch a0(T(0)), a1(T(0)), a2(T(0)), a3(T(0));
    index_t j = 0;
    for (; j + 4 * w <= n; j += 4 * w) {
        a0 += batch::load_unaligned(x + j) - s0;
        a1 += batch::load_unaligned(x + j + w) - s0;
        a2 += batch::load_unaligned(x + j + 2 * w) - s0;
        a3 += batch::load_unaligned(x + j + 3 * w) - s0;
    }
    for (; j + w <= n; j += w) a0 += batch::load_unaligned(x + j) - s0;
    double sum = double(xsimd::hadd((a0 + a1) + (a2 + a3)));
    for (; j < n; ++j) sum += double(x[j]) - double(x0);
    mean = double(x0) + sum / double(n);
    const T mt = static_cast<T>(mean);
    const batch m(mt);
    a0 = a1 = a2 = a3 = batch(T(0));
    j = 0;
    for (; j + 4 * w <= n; j += 4 * w) {
        const batch d0 = batch::load_unaligned(x + j) - m, d1 = batch::load_unaligned(x + j + w) - m;
        const batch d2 = batch::load_unaligned(x + j + 2 * w) - m, d3 = batch::load_unaligned(x + j + 3 * w) - m;
        a0 = xsimd::fma(d0, d0, a0);
        a1 = xsimd::fma(d1, d1, a1);
        a2 = xsimd::fma(d2, d2, a2);
        a3 = xsimd::fma(d3, d3, a3);
    }
    for (; j + w <= n; j += w) {
        const batch d = batch::load_unaligned(x + j) - m;
        a0 = xsimd::fma(d, d, a0);
    }
    double sq = double(xsimd::hadd((a0 + a1) + (a2 + a3)));
    for (; j < n; ++j) sq += (double(x[j]) - double(mt)) * (double(x[j]) - double(mt));
    // Deviations from the mean rounded to T: M2 about the mean itself is sq - n (mean - mt)^2.
    const double shift = mean - double(mt);
    m2 = std::max(0.0, sq - double(n) * shift * shift);
}

// Chan, Golub and LeVeque's merge of (count, mean, M2) with a part of nb values: exact in exact
// arithmetic, and stable where mean^2 >> var (no sum of squares is ever formed).
inline void chan_merge(double& n, double& mean, double& m2, double nb, double mean_b, double m2_b) {
    const double total = n + nb, delta = mean_b - mean;
    mean += delta * nb / total;
    m2 += m2_b + delta * delta * n * nb / total;
    n = total;
}

// sum dy and sum dy * xhat over one row, xhat = (x - mean) invstd as forward computed it.
template <class T, class Arch = arch>
inline void row_sum2(index_t n, const T* dy, const T* x, T mean, T invstd, double& sum_dy, double& sum_dy_xhat) {
    using batch = xsimd::batch<T, Arch>;
    constexpr index_t w = batch::size;
    const batch m(mean), is(invstd);
    batch a0(T(0)), b0(T(0)), a1(T(0)), b1(T(0));
    index_t j = 0;
    for (; j + 2 * w <= n; j += 2 * w) {
        const batch d0 = batch::load_unaligned(dy + j), d1 = batch::load_unaligned(dy + j + w);
        a0 += d0;
        a1 += d1;
        b0 = xsimd::fma(d0, (batch::load_unaligned(x + j) - m) * is, b0);
        b1 = xsimd::fma(d1, (batch::load_unaligned(x + j + w) - m) * is, b1);
    }
    for (; j + w <= n; j += w) {
        const batch d = batch::load_unaligned(dy + j);
        a0 += d;
        b0 = xsimd::fma(d, (batch::load_unaligned(x + j) - m) * is, b0);
    }
    double s1 = double(xsimd::hadd(a0 + a1)), s2 = double(xsimd::hadd(b0 + b1));
    for (; j < n; ++j) {
        s1 += double(dy[j]);
        s2 += double(dy[j]) * double((x[j] - mean) * invstd);
    }
    sum_dy += s1;
    sum_dy_xhat += s2;
}

// y = gamma (x - mean) invstd + beta over one row, as torch computes it (not folded into one
// scale and shift, which rounds differently).
template <class T, class Arch = arch>
inline void row_normalize(index_t n, const T* x, T mean, T invstd, T gamma, T beta, T* y) {
    using batch = xsimd::batch<T, Arch>;
    constexpr index_t w = batch::size;
    const batch m(mean), is(invstd), g(gamma), bt(beta);
    index_t j = 0;
    for (; j + w <= n; j += w) xsimd::fma(g, (batch::load_unaligned(x + j) - m) * is, bt).store_unaligned(y + j);
    for (; j < n; ++j) y[j] = gamma * ((x[j] - mean) * invstd) + beta;
}

// dx = k (dy - mean_dy - xhat mean_dy_xhat) over one row (k = gamma invstd; in evaluation the two
// means are zero), xhat recomputed from x.
template <class T, class Arch = arch>
inline void row_norm_dx(index_t n, T k, T mean_dy, T mean_dy_xhat, const T* dy, const T* x, T mean, T invstd, T* dx) {
    using batch = xsimd::batch<T, Arch>;
    constexpr index_t w = batch::size;
    const batch kv(k), md(mean_dy), mdx(mean_dy_xhat), m(mean), is(invstd);
    index_t j = 0;
    for (; j + w <= n; j += w) {
        const batch h = (batch::load_unaligned(x + j) - m) * is;
        (kv * (batch::load_unaligned(dy + j) - md - h * mdx)).store_unaligned(dx + j);
    }
    for (; j < n; ++j) dx[j] = k * (dy[j] - mean_dy - ((x[j] - mean) * invstd) * mean_dy_xhat);
}

// Runs f(c0, c1) on runs of channels, threads taking whole channels when there is work for them.
template <class F>
inline void for_channel_runs(index_t b, index_t c, index_t s, F f) {
    const int threads = int(std::max<index_t>(1, std::min<index_t>({index_t(max_threads()), c, b * c * s / (1 << 15)})));
    run_threads(threads, [&](index_t t, index_t nt) { f(c * t / nt, c * (t + 1) / nt); });
}
}  // namespace detail

// Training: per-channel mean and biased variance over (B, S); y = gamma (x - mean) invstd + beta;
// running stats: r = (1 - momentum) r + momentum stat, with the unbiased variance (torch).
// Writes mean (C) and invstd (C) for backward, which recomputes xhat from x (as layer norm does):
// x is read once from memory for the statistics and once from L2 (a channel's rows) for y, and
// only y is written. Against three passes that wrote xhat too (one thread, three alternating
// runs, us): forward (64, 16, 28x28) 666-815 -> 335-400, (64, 32, 14x14) 360-417 -> 213-218,
// (64, 64, 7x7) 266-274 -> 175-176; backward, which reads x for xhat, 435-448 -> 468-527 on the
// first, even on the others.
// Channels are independent: threads split them, and the kernels below take channels [c0, c1).
struct batch_norm_train_channels {
    template <class Arch, class T>
    void operator()(Arch, index_t b, index_t c, index_t s, index_t c0, index_t c1, T eps, T momentum, const T* x,
                    const T* gamma, const T* beta, T* y, T* mean_out, T* invstd_out, T* running_mean,
                    T* running_var) const;
};
template <class Arch, class T>
inline void batch_norm_train_channels::operator()(Arch, index_t b, index_t c, index_t s, index_t c0, index_t c1, T eps,
                                                  T momentum, const T* x, const T* gamma, const T* beta, T* y,
                                                  T* mean_out, T* invstd_out, T* running_mean, T* running_var) const {
    for (index_t ch = c0; ch < c1; ++ch) {
        double n = 0, mean = 0, m2 = 0;
        for (index_t i = 0; i < b; ++i) {
            double row_mean, row_m2;
            detail::row_moments<T, Arch>(s, x + (i * c + ch) * s, row_mean, row_m2);
            detail::chan_merge(n, mean, m2, double(s), row_mean, row_m2);
        }
        const double var = m2 / n;
        const T invstd = T(1.0 / std::sqrt(var + double(eps)));
        mean_out[ch] = T(mean);
        invstd_out[ch] = invstd;
        for (index_t i = 0; i < b; ++i) {
            const index_t off = (i * c + ch) * s;
            detail::row_normalize<T, Arch>(s, x + off, T(mean), invstd, gamma[ch], beta[ch], y + off);
        }
        running_mean[ch] = (T(1) - momentum) * running_mean[ch] + momentum * T(mean);
        const double unbiased = n > 1 ? m2 / (n - 1) : var;
        running_var[ch] = (T(1) - momentum) * running_var[ch] + momentum * T(unbiased);
    }
}
template <class T>
inline void batch_norm_forward_train(index_t b, index_t c, index_t s, T eps, T momentum, const T* x, const T* gamma,
                                     const T* beta, T* y, T* mean_out, T* invstd_out, T* running_mean,
                                     T* running_var) {
    detail::for_channel_runs(b, c, s, [&](index_t c0, index_t c1) {
        invoke_kernel<&kernel_table<T>::batch_norm_train>(batch_norm_train_channels{}, b, c, s, c0, c1, eps, momentum, x,
                                                          gamma, beta, y, mean_out, invstd_out, running_mean,
                                                          running_var);
    });
}

// Evaluation: the running statistics; their mean and invstd kept for a backward in eval mode.
struct batch_norm_eval_channels {
    template <class Arch, class T>
    void operator()(Arch, index_t b, index_t c, index_t s, index_t c0, index_t c1, T eps, const T* x, const T* gamma,
                    const T* beta, const T* running_mean, const T* running_var, T* y, T* mean_out,
                    T* invstd_out) const;
};
template <class Arch, class T>
inline void batch_norm_eval_channels::operator()(Arch, index_t b, index_t c, index_t s, index_t c0, index_t c1, T eps,
                                                 const T* x, const T* gamma, const T* beta, const T* running_mean,
                                                 const T* running_var, T* y, T* mean_out, T* invstd_out) const {
    for (index_t ch = c0; ch < c1; ++ch) {
        const T invstd = T(1) / std::sqrt(running_var[ch] + eps);
        mean_out[ch] = running_mean[ch];
        invstd_out[ch] = invstd;
        for (index_t i = 0; i < b; ++i) {
            const index_t off = (i * c + ch) * s;
            detail::row_normalize<T, Arch>(s, x + off, running_mean[ch], invstd, gamma[ch], beta[ch], y + off);
        }
    }
}
template <class T>
inline void batch_norm_forward_eval(index_t b, index_t c, index_t s, T eps, const T* x, const T* gamma, const T* beta,
                                    const T* running_mean, const T* running_var, T* y, T* mean_out, T* invstd_out) {
    detail::for_channel_runs(b, c, s, [&](index_t c0, index_t c1) {
        invoke_kernel<&kernel_table<T>::batch_norm_eval>(batch_norm_eval_channels{}, b, c, s, c0, c1, eps, x, gamma, beta,
                                                         running_mean, running_var, y, mean_out, invstd_out);
    });
}

// Inference: y = x * (gamma invstd) + (beta - mean gamma invstd) in one pass, nothing kept. The
// folded scale and shift round differently from xhat's two steps: within a few ulps of eval.
struct batch_norm_infer_channels {
    template <class Arch, class T>
    void operator()(Arch, index_t b, index_t c, index_t s, index_t c0, index_t c1, T eps, const T* x, const T* gamma,
                    const T* beta, const T* running_mean, const T* running_var, T* y) const;
};
template <class Arch, class T>
inline void batch_norm_infer_channels::operator()(Arch, index_t b, index_t c, index_t s, index_t c0, index_t c1, T eps,
                                                  const T* x, const T* gamma, const T* beta, const T* running_mean,
                                                  const T* running_var, T* y) const {
    for (index_t ch = c0; ch < c1; ++ch) {
        const T scale = gamma[ch] / std::sqrt(running_var[ch] + eps);
        const T shift = beta[ch] - running_mean[ch] * scale;
        for (index_t i = 0; i < b; ++i) {
            const index_t off = (i * c + ch) * s;
            map<T, Arch>(s, x + off, y + off, [=](auto v) { return xsimd::fma(v, decltype(v)(scale), decltype(v)(shift)); });
        }
    }
}
template <class T>
inline void batch_norm_forward_infer(index_t b, index_t c, index_t s, T eps, const T* x, const T* gamma, const T* beta,
                                     const T* running_mean, const T* running_var, T* y) {
    detail::for_channel_runs(b, c, s, [&](index_t c0, index_t c1) {
        invoke_kernel<&kernel_table<T>::batch_norm_infer>(batch_norm_infer_channels{}, b, c, s, c0, c1, eps, x, gamma,
                                                          beta, running_mean, running_var, y);
    });
}

// dgamma += sum dy xhat, dbeta += sum dy; dx (when given): in training the statistics depend on
// x, dx = invstd / N (N g - sum g - xhat sum(g xhat)) with g = gamma dy; in evaluation they are
// constants, dx = gamma invstd dy. xhat = (x - mean) invstd, from forward's x, mean and invstd.
struct batch_norm_backward_channels {
    template <class Arch, class T>
    void operator()(Arch, index_t b, index_t c, index_t s, index_t c0, index_t c1, bool training, const T* x,
                    const T* mean, const T* gamma, const T* invstd, const T* dy, T* dx, T* dgamma, T* dbeta) const;
};
template <class Arch, class T>
inline void batch_norm_backward_channels::operator()(Arch, index_t b, index_t c, index_t s, index_t c0, index_t c1,
                                                     bool training, const T* x, const T* mean, const T* gamma,
                                                     const T* invstd, const T* dy, T* dx, T* dgamma, T* dbeta) const {
    const double n = double(b * s);
    for (index_t ch = c0; ch < c1; ++ch) {
        double sum_dy = 0, sum_dy_xhat = 0;
        for (index_t i = 0; i < b; ++i) {
            const index_t off = (i * c + ch) * s;
            detail::row_sum2<T, Arch>(s, dy + off, x + off, mean[ch], invstd[ch], sum_dy, sum_dy_xhat);
        }
        dgamma[ch] += T(sum_dy_xhat);
        dbeta[ch] += T(sum_dy);
        if (!dx) continue;
        const T k = gamma[ch] * invstd[ch];
        const T mean_dy = training ? T(sum_dy / n) : T(0), mean_dy_xhat = training ? T(sum_dy_xhat / n) : T(0);
        for (index_t i = 0; i < b; ++i) {
            const index_t off = (i * c + ch) * s;
            detail::row_norm_dx<T, Arch>(s, k, mean_dy, mean_dy_xhat, dy + off, x + off, mean[ch], invstd[ch], dx + off);
        }
    }
}
template <class T>
inline void batch_norm_backward(index_t b, index_t c, index_t s, bool training, const T* x, const T* mean,
                                const T* gamma, const T* invstd, const T* dy, T* dx, T* dgamma, T* dbeta) {
    detail::for_channel_runs(b, c, s, [&](index_t c0, index_t c1) {
        invoke_kernel<&kernel_table<T>::batch_norm_backward>(batch_norm_backward_channels{}, b, c, s, c0, c1, training, x,
                                                             mean, gamma, invstd, dy, dx, dgamma, dbeta);
    });
}

// Layer norm over each row of n: xhat = (x - mean) invstd, y = gamma xhat + beta (biased variance).
// Row sums in SIMD lanes (w partial sums, then added), as torch's vectorized kernel does; rows are
// independent, so threads take runs of rows. Each row's mean and invstd are kept, not xhat: backward
// recomputes xhat from x in the same operations. Writing xhat (the size of y) cost more than the
// rest of the pass: 4096 x 128 from memory, 400 us with it, 155 without.
struct layer_norm_rows {
    template <class Arch, class T>
    void operator()(Arch, index_t r0, index_t r1, index_t n, T eps, const T* x, const T* gamma, const T* beta,
                    T* mean_out, T* y, T* invstd_out) const;
};

// noipa: as layer_norm_backward_rows below.
template <class Arch, class T>
[[gnu::noipa]] inline void layer_norm_rows::operator()(Arch, index_t r0, index_t r1, index_t n, T eps, const T* x,
                                                       const T* gamma, const T* beta, T* mean_out, T* y,
                                                       T* invstd_out) const {
    using batch = xsimd::batch<T, Arch>;
    constexpr index_t w = batch::size;
    for (index_t r = r0; r < r1; ++r) {
        const T* xr = x + r * n;
        T* yr = y + r * n;
        batch acc(T(0));
        index_t j = 0;
        for (; j + w <= n; j += w) acc += batch::load_unaligned(xr + j);
        T sum = xsimd::hadd(acc);
        for (; j < n; ++j) sum += xr[j];
        const T mean = sum / T(n);
        batch sq(T(0));
        j = 0;
        for (; j + w <= n; j += w) {
            const batch d = batch::load_unaligned(xr + j) - batch(mean);
            sq = xsimd::fma(d, d, sq);
        }
        T var = xsimd::hadd(sq);
        for (; j < n; ++j) var += (xr[j] - mean) * (xr[j] - mean);
        const T invstd = T(1) / std::sqrt(var / T(n) + eps);
        mean_out[r] = mean;
        invstd_out[r] = invstd;
        j = 0;
        for (; j + w <= n; j += w) {
            const batch h = (batch::load_unaligned(xr + j) - batch(mean)) * batch(invstd);
            xsimd::fma(batch::load_unaligned(gamma + j), h, batch::load_unaligned(beta + j)).store_unaligned(yr + j);
        }
        for (; j < n; ++j) yr[j] = gamma[j] * ((xr[j] - mean) * invstd) + beta[j];
    }
}

template <class T>
inline void layer_norm_forward(index_t rows, index_t n, T eps, const T* x, const T* gamma, const T* beta, T* mean_out,
                               T* y, T* invstd_out) {
    const int threads = int(std::min<double>(max_threads(), double(rows) * double(n) / double(1 << 16) + 1));
    run_threads(threads, [&](index_t t, index_t nt) {
        invoke_kernel<&kernel_table<T>::layer_norm_forward>(layer_norm_rows{}, rows * t / nt, rows * (t + 1) / nt, n, eps,
                                                            x, gamma, beta, mean_out, y, invstd_out);
    });
}

// xhat = (x - mean) invstd as forward computed it; dx = invstd (dy gamma - mean(dy gamma) - xhat
// mean(dy gamma xhat)); dgamma += sum dy xhat, dbeta += sum dy over the rows (one thread: they
// accumulate across rows).
struct layer_norm_backward_rows {
    template <class Arch, class T>
    void operator()(Arch, index_t rows, index_t n, const T* x, const T* mean, const T* gamma, const T* invstd,
                    const T* dy, T* dx, T* dgamma, T* dbeta) const;
};

// noipa: as gemm_serial; inlined with a network's constant width, g++ 12 warns
// (-Waggressive-loop-optimizations) about the scalar tail loops when the ISA is SSE2.
template <class Arch, class T>
[[gnu::noipa]] inline void layer_norm_backward_rows::operator()(Arch, index_t rows, index_t n, const T* x,
                                                                const T* mean, const T* gamma, const T* invstd,
                                                                const T* dy, T* dx, T* dgamma, T* dbeta) const {
    using batch = xsimd::batch<T, Arch>;
    constexpr index_t w = batch::size;
    for (index_t r = 0; r < rows; ++r, x += n, dy += n) {
        const T m = mean[r], is = invstd[r];
        const batch vm(m), vis(is);
        batch sg(T(0)), sgx(T(0));
        index_t j = 0;
        for (; j + w <= n; j += w) {
            const batch d = batch::load_unaligned(dy + j), h = (batch::load_unaligned(x + j) - vm) * vis;
            xsimd::fma(d, h, batch::load_unaligned(dgamma + j)).store_unaligned(dgamma + j);
            (batch::load_unaligned(dbeta + j) + d).store_unaligned(dbeta + j);
            const batch g = d * batch::load_unaligned(gamma + j);
            sg += g;
            sgx = xsimd::fma(g, h, sgx);
        }
        T sum_g = xsimd::hadd(sg), sum_g_xhat = xsimd::hadd(sgx);
        for (; j < n; ++j) {
            const T h = (x[j] - m) * is;
            dgamma[j] += dy[j] * h;
            dbeta[j] += dy[j];
            const T g = dy[j] * gamma[j];
            sum_g += g;
            sum_g_xhat += g * h;
        }
        if (!dx) continue;
        const T mg = sum_g / T(n), mgx = sum_g_xhat / T(n);
        T* dxr = dx + r * n;
        j = 0;
        for (; j + w <= n; j += w) {
            const batch g = batch::load_unaligned(dy + j) * batch::load_unaligned(gamma + j);
            const batch h = (batch::load_unaligned(x + j) - vm) * vis;
            (vis * (g - batch(mg) - h * batch(mgx))).store_unaligned(dxr + j);
        }
        for (; j < n; ++j) dxr[j] = is * (dy[j] * gamma[j] - mg - ((x[j] - m) * is) * mgx);
    }
}

template <class T>
inline void layer_norm_backward(index_t rows, index_t n, const T* x, const T* mean, const T* gamma, const T* invstd,
                                const T* dy, T* dx, T* dgamma, T* dbeta) {
    invoke_kernel<&kernel_table<T>::layer_norm_backward>(layer_norm_backward_rows{}, rows, n, x, mean, gamma, invstd, dy,
                                                         dx, dgamma, dbeta);
}

}  // namespace typenet::kernels::cpu
