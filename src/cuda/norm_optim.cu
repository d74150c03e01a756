// src/cuda/norm_optim.cu — batch norm (one block per channel) and the optimizer updates (one pass
// over the flat parameter buffer), with the CPU kernels' formulas (kernels/cpu/norm.hpp, optim.hpp).
#include <cmath>

#include "context.hpp"

namespace typenet::kernels::cuda {

namespace {

constexpr unsigned norm_threads = 256;

// Sums over a channel of a batch in double: it holds B H W values, 200,704 for a 256-image batch of
// 28 x 28.
__device__ double block_sum(double v) { return block_reduce<norm_threads>(v, sum_op{}); }

// Element j of channel ch over the batch: (n, ch, s) with j = n s + k.
__device__ inline index_t at(index_t j, index_t c, index_t s, index_t ch) { return (j / s * c + ch) * s + j % s; }

__global__ void batch_norm_train_kernel(index_t b, index_t c, index_t s, float eps, float momentum, const float* x,
                                        const float* gamma, const float* beta, float* xhat, float* y, float* mean_out,
                                        float* invstd_out, float* running_mean, float* running_var) {
    const index_t ch = blockIdx.x, n = b * s;
    double sum = 0;
    for (index_t j = threadIdx.x; j < n; j += blockDim.x) sum += x[at(j, c, s, ch)];
    const double mean = block_sum(sum) / double(n);
    double sq = 0;
    for (index_t j = threadIdx.x; j < n; j += blockDim.x) {
        const double d = x[at(j, c, s, ch)] - mean;
        sq += d * d;
    }
    sq = block_sum(sq);
    const double var = sq / double(n);
    const float invstd = float(1.0 / sqrt(var + double(eps)));
    const float m = float(mean), g = gamma[ch], bt = beta[ch];
    for (index_t j = threadIdx.x; j < n; j += blockDim.x) {
        const index_t i = at(j, c, s, ch);
        const float h = (x[i] - m) * invstd;
        xhat[i] = h;
        y[i] = g * h + bt;
    }
    if (threadIdx.x == 0) {
        mean_out[ch] = m;
        invstd_out[ch] = invstd;
        running_mean[ch] = (1.0f - momentum) * running_mean[ch] + momentum * m;
        const double unbiased = n > 1 ? sq / double(n - 1) : var;
        running_var[ch] = (1.0f - momentum) * running_var[ch] + momentum * float(unbiased);
    }
}

__global__ void batch_norm_eval_kernel(index_t b, index_t c, index_t s, float eps, const float* x, const float* gamma,
                                       const float* beta, const float* running_mean, const float* running_var,
                                       float* xhat, float* y, float* invstd_out) {
    TYPENET_GRID_LOOP(i, b * c * s) {
        const index_t ch = i / s % c;
        const float invstd = 1.0f / sqrtf(running_var[ch] + eps);
        const float h = (x[i] - running_mean[ch]) * invstd;
        if (xhat) xhat[i] = h;
        y[i] = gamma[ch] * h + beta[ch];
        if (i < c * s && i % s == 0 && invstd_out) invstd_out[ch] = invstd;
    }
}

__global__ void batch_norm_backward_kernel(index_t b, index_t c, index_t s, bool training, const float* xhat,
                                           const float* gamma, const float* invstd, const float* dy, float* dx,
                                           float* dgamma, float* dbeta) {
    const index_t ch = blockIdx.x, n = b * s;
    double sdy = 0, sdyx = 0;
    for (index_t j = threadIdx.x; j < n; j += blockDim.x) {
        const index_t i = at(j, c, s, ch);
        sdy += dy[i];
        sdyx += double(dy[i]) * xhat[i];
    }
    sdy = block_sum(sdy);
    sdyx = block_sum(sdyx);
    if (threadIdx.x == 0) {
        dgamma[ch] += float(sdyx);
        dbeta[ch] += float(sdy);
    }
    if (!dx) return;
    const float k = gamma[ch] * invstd[ch];
    const float mean_dy = training ? float(sdy / double(n)) : 0.0f, mean_dyx = training ? float(sdyx / double(n)) : 0.0f;
    for (index_t j = threadIdx.x; j < n; j += blockDim.x) {
        const index_t i = at(j, c, s, ch);
        dx[i] = k * (dy[i] - mean_dy - xhat[i] * mean_dyx);
    }
}

__global__ void increment_kernel(float* v) { *v += 1.0f; }

__global__ void sgd_kernel(index_t n, float lr, float momentum, float dampening, float weight_decay, bool nesterov,
                           bool first, float* p, const float* grad, float* buf) {
    TYPENET_GRID_LOOP(i, n) {
        float g = grad[i] + weight_decay * p[i];
        if (momentum != 0.0f) {
            const float b = first ? g : momentum * buf[i] + (1.0f - dampening) * g;
            buf[i] = b;
            g = nesterov ? g + momentum * b : b;
        }
        p[i] = p[i] - lr * g;
    }
}

__global__ void adam_kernel(index_t n, float l2, float beta1, float beta2, float eps, float decay, float step_size,
                            float bc2_sqrt, float* p, const float* grad, float* m, float* v) {
    TYPENET_GRID_LOOP(i, n) {
        const float g = grad[i] + l2 * p[i];
        const float mi = beta1 * m[i] + (1.0f - beta1) * g;
        const float vi = beta2 * v[i] + (1.0f - beta2) * g * g;
        m[i] = mi;
        v[i] = vi;
        p[i] = p[i] * decay - step_size * mi / (sqrtf(vi) / bc2_sqrt + eps);
    }
}

__global__ void rmsprop_kernel(index_t n, float lr, float alpha, float eps, float weight_decay, float momentum,
                               bool centered, float* p, const float* grad, float* square_avg, float* grad_avg,
                               float* buf) {
    TYPENET_GRID_LOOP(i, n) {
        const float g = grad[i] + weight_decay * p[i];
        const float v = alpha * square_avg[i] + (1.0f - alpha) * g * g;
        square_avg[i] = v;
        float avg;
        if (centered) {
            const float ga = alpha * grad_avg[i] + (1.0f - alpha) * g;
            grad_avg[i] = ga;
            avg = sqrtf(v - ga * ga) + eps;
        } else {
            avg = sqrtf(v) + eps;
        }
        if (momentum > 0.0f) {
            const float b = momentum * buf[i] + g / avg;
            buf[i] = b;
            p[i] -= lr * b;
        } else {
            p[i] -= lr * (g / avg);
        }
    }
}

}  // namespace

void batch_norm_train(context& cx, index_t b, index_t c, index_t s, float eps, float momentum, const float* x,
                      const float* gamma, const float* beta, float* xhat, float* y, float* mean, float* invstd,
                      float* running_mean, float* running_var) {
    if (c == 0) return;
    batch_norm_train_kernel<<<unsigned(c), norm_threads, 0, cx.stream>>>(b, c, s, eps, momentum, x, gamma, beta, xhat, y,
                                                                         mean, invstd, running_mean, running_var);
    TYPENET_CUDA_LAUNCHED("batch_norm_train_kernel");
}
void batch_norm_eval(context& cx, index_t b, index_t c, index_t s, float eps, const float* x, const float* gamma,
                     const float* beta, const float* running_mean, const float* running_var, float* xhat, float* y,
                     float* invstd) {
    if (b * c * s == 0) return;
    batch_norm_eval_kernel<<<blocks_for(b * c * s), 256, 0, cx.stream>>>(b, c, s, eps, x, gamma, beta, running_mean,
                                                                          running_var, xhat, y, invstd);
    TYPENET_CUDA_LAUNCHED("batch_norm_eval_kernel");
}
void batch_norm_backward(context& cx, index_t b, index_t c, index_t s, bool training, const float* xhat,
                         const float* gamma, const float* invstd, const float* dy, float* dx, float* dgamma,
                         float* dbeta) {
    if (c == 0) return;
    batch_norm_backward_kernel<<<unsigned(c), norm_threads, 0, cx.stream>>>(b, c, s, training, xhat, gamma, invstd, dy,
                                                                            dx, dgamma, dbeta);
    TYPENET_CUDA_LAUNCHED("batch_norm_backward_kernel");
}
void increment(context& cx, float* v) {
    increment_kernel<<<1, 1, 0, cx.stream>>>(v);
    TYPENET_CUDA_LAUNCHED("increment_kernel");
}

void sgd_update(context& cx, index_t n, float lr, float momentum, float dampening, float weight_decay, bool nesterov,
                bool first, float* p, const float* grad, float* buf) {
    if (n == 0) return;
    sgd_kernel<<<blocks_for(n), 256, 0, cx.stream>>>(n, lr, momentum, dampening, weight_decay, nesterov, first, p, grad,
                                                     buf);
    TYPENET_CUDA_LAUNCHED("sgd_kernel");
}
// The bias corrections on the host, in float as the CPU kernel computes them.
void adam_update(context& cx, index_t n, float lr, float beta1, float beta2, float eps, float weight_decay,
                 bool decoupled, long step, float* p, const float* grad, float* m, float* v) {
    if (n == 0) return;
    const float bc1 = 1.0f - std::pow(beta1, float(step));
    const float bc2_sqrt = std::sqrt(1.0f - std::pow(beta2, float(step)));
    const float step_size = lr / bc1;
    const float decay = decoupled ? 1.0f - lr * weight_decay : 1.0f;
    const float l2 = decoupled ? 0.0f : weight_decay;
    adam_kernel<<<blocks_for(n), 256, 0, cx.stream>>>(n, l2, beta1, beta2, eps, decay, step_size, bc2_sqrt, p, grad, m, v);
    TYPENET_CUDA_LAUNCHED("adam_kernel");
}
void rmsprop_update(context& cx, index_t n, float lr, float alpha, float eps, float weight_decay, float momentum,
                    bool centered, float* p, const float* grad, float* square_avg, float* grad_avg, float* buf) {
    if (n == 0) return;
    rmsprop_kernel<<<blocks_for(n), 256, 0, cx.stream>>>(n, lr, alpha, eps, weight_decay, momentum, centered, p, grad,
                                                         square_avg, grad_avg, buf);
    TYPENET_CUDA_LAUNCHED("rmsprop_kernel");
}

}  // namespace typenet::kernels::cuda
