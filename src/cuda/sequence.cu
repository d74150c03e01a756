// src/cuda/sequence.cu — the sequence layers' kernels: embedding, positional embedding, the LSTM
// step forward and backward, layer norm over rows, strided row copies; and the gradient norm's
// reduction. Formulas as kernels/cpu/recurrent.hpp, norm.hpp and layers/sequence.hpp.
#include <algorithm>
#include <cmath>

#include "context.hpp"

namespace typenet::kernels::cuda {

namespace {

// Ids are exact integers in float; the host checked them (cuda::model::forward), so here an id
// out of range is clamped rather than read past the table.
__device__ inline index_t token(float v, index_t vocab) {
    const index_t id = index_t(v);
    return id < 0 ? 0 : id >= vocab ? vocab - 1 : id;
}
__global__ void embedding_forward_kernel(index_t rows, index_t vocab, index_t d, const float* ids, const float* w,
                                         float* y) {
    TYPENET_GRID_LOOP(i, rows * d) y[i] = w[token(ids[i / d], vocab) * d + i % d];
}
// Rows with the same id add into the same weights: atomics (their order, and so the last bits of a
// sum, may vary from run to run).
__global__ void embedding_backward_kernel(index_t rows, index_t vocab, index_t d, const float* ids, const float* dy,
                                          float* dw) {
    TYPENET_GRID_LOOP(i, rows * d) atomicAdd(dw + token(ids[i / d], vocab) * d + i % d, dy[i]);
}

__global__ void positional_forward_kernel(index_t rows, index_t steps, index_t d, const float* x, const float* p,
                                          float* y) {
    TYPENET_GRID_LOOP(i, rows * d) y[i] = x[i] + p[(i / d) % steps * d + i % d];
}
// dp[t, j] += sum over sequences of dy[b, t, j]: one thread per (t, j), no atomics.
__global__ void positional_backward_kernel(index_t batch, index_t steps, index_t d, const float* dy, float* dp) {
    TYPENET_GRID_LOOP(i, steps * d) {
        float s = 0;
        for (index_t b = 0; b < batch; ++b) s += dy[b * steps * d + i];
        dp[i] += s;
    }
}

__device__ inline float sigmoid(float v) { return 1.0f / (1.0f + expf(-v)); }

__global__ void lstm_step_kernel(index_t batch, index_t h, float* gates, index_t ld_g, const float* c_prev, float* c,
                                 float* y, index_t ld_h) {
    TYPENET_GRID_LOOP(k, batch * h) {
        const index_t b = k / h, j = k % h;
        float* gr = gates + b * ld_g;
        const float i = sigmoid(gr[j]), f = sigmoid(gr[h + j]), g = tanhf(gr[2 * h + j]), o = sigmoid(gr[3 * h + j]);
        const float cn = f * c_prev[b * ld_h + j] + i * g;
        gr[j] = i;
        gr[h + j] = f;
        gr[2 * h + j] = g;
        gr[3 * h + j] = o;
        c[b * ld_h + j] = cn;
        y[b * ld_h + j] = o * tanhf(cn);
    }
}
__global__ void lstm_step_backward_kernel(index_t batch, index_t h, float* gates, index_t ld_g, const float* c,
                                          const float* c_prev, const float* dy, index_t ld_h, const float* dh,
                                          float* dc) {
    TYPENET_GRID_LOOP(k, batch * h) {
        const index_t b = k / h, j = k % h;
        float* gr = gates + b * ld_g;
        const float i = gr[j], f = gr[h + j], g = gr[2 * h + j], o = gr[3 * h + j];
        const float tc = tanhf(c[b * ld_h + j]);
        const float dhv = dy[b * ld_h + j] + dh[b * h + j];
        const float dcv = dc[b * h + j] + dhv * o * (1.0f - tc * tc);
        dc[b * h + j] = dcv * f;
        gr[j] = dcv * g * i * (1.0f - i);
        gr[h + j] = dcv * c_prev[b * ld_h + j] * f * (1.0f - f);
        gr[2 * h + j] = dcv * i * (1.0f - g * g);
        gr[3 * h + j] = dhv * tc * o * (1.0f - o);
    }
}

// r, z, n = sigma(x_r + gh_r), sigma(x_z + gh_z), tanh(x_n + r gh_n); y = (1 - z) n + z h_prev;
// gates receive r, z, n and hn receives gh_n (kernels/cpu/recurrent.hpp's gru_step).
__global__ void gru_step_kernel(index_t batch, index_t h, float* gates, index_t ld_g, const float* gh,
                                const float* h_prev, float* hn, float* y, index_t ld_h) {
    TYPENET_GRID_LOOP(k, batch * h) {
        const index_t b = k / h, j = k % h;
        float* gr = gates + b * ld_g;
        const float* ghr = gh + b * 3 * h;
        const float r = sigmoid(gr[j] + ghr[j]), z = sigmoid(gr[h + j] + ghr[h + j]);
        const float hnv = ghr[2 * h + j];
        const float n = tanhf(gr[2 * h + j] + r * hnv);
        gr[j] = r;
        gr[h + j] = z;
        gr[2 * h + j] = n;
        hn[b * ld_h + j] = hnv;
        y[b * ld_h + j] = (1.0f - z) * n + z * h_prev[b * ld_h + j];
    }
}
__global__ void gru_step_backward_kernel(index_t batch, index_t h, float* gates, index_t ld_g, float* hn,
                                         const float* h_prev, const float* dy, index_t ld_h, float* dh) {
    TYPENET_GRID_LOOP(k, batch * h) {
        const index_t b = k / h, j = k % h;
        float* gr = gates + b * ld_g;
        const float r = gr[j], z = gr[h + j], n = gr[2 * h + j];
        const float dhv = dy[b * ld_h + j] + dh[b * h + j];
        const float dan = dhv * (1.0f - z) * (1.0f - n * n);
        const float hnv = hn[b * ld_h + j];
        gr[j] = dan * hnv * r * (1.0f - r);
        gr[h + j] = dhv * (h_prev[b * ld_h + j] - n) * z * (1.0f - z);
        gr[2 * h + j] = dan;
        hn[b * ld_h + j] = dan * r;
        dh[b * h + j] = dhv * z;
    }
}
__global__ void rnn_step_kernel(index_t batch, index_t h, float* y, index_t ld_h) {
    TYPENET_GRID_LOOP(k, batch * h) {
        float& v = y[k / h * ld_h + k % h];
        v = tanhf(v);
    }
}
__global__ void rnn_step_backward_kernel(index_t batch, index_t h, const float* y, const float* dy, index_t ld_h,
                                         const float* dh, float* dg) {
    TYPENET_GRID_LOOP(k, batch * h) {
        const index_t b = k / h, j = k % h, at = b * ld_h + j;
        dg[at] = (dy[at] + dh[b * h + j]) * (1.0f - y[at] * y[at]);
    }
}

// Row (b, t) of src to row (b, T - 1 - t) of dst, or added to it.
__global__ void reverse_steps_kernel(index_t rows, index_t steps, index_t n, const float* src, index_t ld_src, float* dst,
                                     index_t ld_dst, bool accumulate) {
    TYPENET_GRID_LOOP(k, rows * n) {
        const index_t r = k / n, j = k % n, b = r / steps, t = r % steps;
        float& d = dst[(b * steps + steps - 1 - t) * ld_dst + j];
        d = accumulate ? d + src[r * ld_src + j] : src[r * ld_src + j];
    }
}

constexpr unsigned row_threads = 128;

__device__ float row_sum(float v) { return block_reduce<row_threads>(v, sum_op{}); }

// One block per row: mean, biased variance, y; the row's mean (unless null) and invstd kept.
__global__ void layer_norm_forward_kernel(index_t n, float eps, const float* x, const float* gamma, const float* beta,
                                          float* mean_out, float* y, float* invstd_out) {
    const index_t r = blockIdx.x;
    const float* xr = x + r * n;
    float s = 0;
    for (index_t j = threadIdx.x; j < n; j += blockDim.x) s += xr[j];
    const float mean = row_sum(s) / float(n);
    float q = 0;
    for (index_t j = threadIdx.x; j < n; j += blockDim.x) q += (xr[j] - mean) * (xr[j] - mean);
    const float invstd = 1.0f / sqrtf(row_sum(q) / float(n) + eps);
    if (threadIdx.x == 0) {
        invstd_out[r] = invstd;
        if (mean_out) mean_out[r] = mean;
    }
    for (index_t j = threadIdx.x; j < n; j += blockDim.x) {
        const float hv = (xr[j] - mean) * invstd;
        y[r * n + j] = gamma[j] * hv + beta[j];
    }
}
// dx of one row per block: invstd (g - mean g - xhat mean(g xhat)), g = gamma dy, xhat = (x - mean)
// invstd as forward computed it.
__global__ void layer_norm_dx_kernel(index_t n, const float* x, const float* mean, const float* gamma,
                                     const float* invstd, const float* dy, float* dx) {
    const index_t r = blockIdx.x;
    const float m = mean[r], is = invstd[r];
    float sg = 0, sgx = 0;
    for (index_t j = threadIdx.x; j < n; j += blockDim.x) {
        const float g = dy[r * n + j] * gamma[j];
        sg += g;
        sgx += g * ((x[r * n + j] - m) * is);
    }
    const float mg = row_sum(sg) / float(n), mgx = row_sum(sgx) / float(n);
    for (index_t j = threadIdx.x; j < n; j += blockDim.x)
        dx[r * n + j] = is * (dy[r * n + j] * gamma[j] - mg - ((x[r * n + j] - m) * is) * mgx);
}
// dgamma[j] += sum_r dy xhat, dbeta[j] += sum_r dy: 32 columns x 8 row lanes per block.
__global__ void layer_norm_params_kernel(index_t rows, index_t n, const float* x, const float* mean,
                                         const float* invstd, const float* dy, float* dgamma, float* dbeta) {
    const index_t j = blockIdx.x * index_t(32) + threadIdx.x;
    float sg = 0, sb = 0;
    if (j < n)
        for (index_t r = threadIdx.y; r < rows; r += 8) {
            sg += dy[r * n + j] * ((x[r * n + j] - mean[r]) * invstd[r]);
            sb += dy[r * n + j];
        }
    __shared__ float pg[8][33], pb[8][33];
    pg[threadIdx.y][threadIdx.x] = sg;
    pb[threadIdx.y][threadIdx.x] = sb;
    __syncthreads();
    if (threadIdx.y == 0 && j < n) {
        float tg = 0, tb = 0;
        for (int k = 0; k < 8; ++k) {
            tg += pg[k][threadIdx.x];
            tb += pb[k][threadIdx.x];
        }
        dgamma[j] += tg;
        dbeta[j] += tb;
    }
}

// Partial sums of squares, one per block, in double; the host adds the blocks'.
__global__ void sum_of_squares_kernel(index_t n, const float* x, double* partial) {
    double s = 0;
    TYPENET_GRID_LOOP(i, n) s += double(x[i]) * double(x[i]);
    s = block_reduce<256>(s, sum_op{});
    if (threadIdx.x == 0) partial[blockIdx.x] = s;
}
__global__ void scale_kernel(index_t n, float alpha, float* x) {
    TYPENET_GRID_LOOP(i, n) x[i] *= alpha;
}

}  // namespace

void copy_rows(context& c, index_t rows, index_t n, const float* src, index_t ld_src, float* dst, index_t ld_dst) {
    if (rows == 0 || n == 0) return;
    const std::size_t w = std::size_t(n) * sizeof(float);
    if (src)
        check(cudaMemcpy2DAsync(dst, std::size_t(ld_dst) * sizeof(float), src, std::size_t(ld_src) * sizeof(float), w,
                                std::size_t(rows), cudaMemcpyDeviceToDevice, c.stream),
              "cudaMemcpy2D (rows)");
    else
        check(cudaMemset2DAsync(dst, std::size_t(ld_dst) * sizeof(float), 0, w, std::size_t(rows), c.stream),
              "cudaMemset2D (rows)");
}

void reverse_steps(context& c, index_t rows, index_t steps, index_t n, const float* src, index_t ld_src, float* dst,
                   index_t ld_dst, bool accumulate) {
    if (rows * n == 0) return;
    reverse_steps_kernel<<<blocks_for(rows * n), 256, 0, c.stream>>>(rows, steps, n, src, ld_src, dst, ld_dst, accumulate);
    TYPENET_CUDA_LAUNCHED("reverse_steps_kernel");
}

void embedding_forward(context& c, index_t rows, index_t vocab, index_t d, const float* ids, const float* w, float* y) {
    if (rows * d == 0) return;
    embedding_forward_kernel<<<blocks_for(rows * d), 256, 0, c.stream>>>(rows, vocab, d, ids, w, y);
    TYPENET_CUDA_LAUNCHED("embedding_forward_kernel");
}
void embedding_backward(context& c, index_t rows, index_t vocab, index_t d, const float* ids, const float* dy,
                        float* dw) {
    if (rows * d == 0) return;
    embedding_backward_kernel<<<blocks_for(rows * d), 256, 0, c.stream>>>(rows, vocab, d, ids, dy, dw);
    TYPENET_CUDA_LAUNCHED("embedding_backward_kernel");
}
void positional_forward(context& c, index_t rows, index_t steps, index_t d, const float* x, const float* p, float* y) {
    if (rows * d == 0) return;
    positional_forward_kernel<<<blocks_for(rows * d), 256, 0, c.stream>>>(rows, steps, d, x, p, y);
    TYPENET_CUDA_LAUNCHED("positional_forward_kernel");
}
void positional_backward(context& c, index_t rows, index_t steps, index_t d, const float* dy, float* dp) {
    if (rows * d == 0) return;
    positional_backward_kernel<<<blocks_for(steps * d), 256, 0, c.stream>>>(rows / steps, steps, d, dy, dp);
    TYPENET_CUDA_LAUNCHED("positional_backward_kernel");
}
void lstm_step(context& c, index_t batch, index_t h, float* gates, index_t ld_g, const float* c_prev, float* cell,
               float* y, index_t ld_h) {
    if (batch * h == 0) return;
    lstm_step_kernel<<<blocks_for(batch * h), 256, 0, c.stream>>>(batch, h, gates, ld_g, c_prev, cell, y, ld_h);
    TYPENET_CUDA_LAUNCHED("lstm_step_kernel");
}
void lstm_step_backward(context& c, index_t batch, index_t h, float* gates, index_t ld_g, const float* cell,
                        const float* c_prev, const float* dy, index_t ld_h, const float* dh, float* dc) {
    if (batch * h == 0) return;
    lstm_step_backward_kernel<<<blocks_for(batch * h), 256, 0, c.stream>>>(batch, h, gates, ld_g, cell, c_prev, dy, ld_h,
                                                                           dh, dc);
    TYPENET_CUDA_LAUNCHED("lstm_step_backward_kernel");
}
void gru_step(context& c, index_t batch, index_t h, float* gates, index_t ld_g, const float* gh, const float* h_prev,
              float* hn, float* y, index_t ld_h) {
    if (batch * h == 0) return;
    gru_step_kernel<<<blocks_for(batch * h), 256, 0, c.stream>>>(batch, h, gates, ld_g, gh, h_prev, hn, y, ld_h);
    TYPENET_CUDA_LAUNCHED("gru_step_kernel");
}
void gru_step_backward(context& c, index_t batch, index_t h, float* gates, index_t ld_g, float* hn, const float* h_prev,
                       const float* dy, index_t ld_h, float* dh) {
    if (batch * h == 0) return;
    gru_step_backward_kernel<<<blocks_for(batch * h), 256, 0, c.stream>>>(batch, h, gates, ld_g, hn, h_prev, dy, ld_h, dh);
    TYPENET_CUDA_LAUNCHED("gru_step_backward_kernel");
}
void rnn_step(context& c, index_t batch, index_t h, float* y, index_t ld_h) {
    if (batch * h == 0) return;
    rnn_step_kernel<<<blocks_for(batch * h), 256, 0, c.stream>>>(batch, h, y, ld_h);
    TYPENET_CUDA_LAUNCHED("rnn_step_kernel");
}
void rnn_step_backward(context& c, index_t batch, index_t h, const float* y, const float* dy, index_t ld_h,
                       const float* dh, float* dg) {
    if (batch * h == 0) return;
    rnn_step_backward_kernel<<<blocks_for(batch * h), 256, 0, c.stream>>>(batch, h, y, dy, ld_h, dh, dg);
    TYPENET_CUDA_LAUNCHED("rnn_step_backward_kernel");
}

void layer_norm_forward(context& c, index_t rows, index_t n, float eps, const float* x, const float* gamma,
                        const float* beta, float* mean, float* y, float* invstd) {
    if (rows == 0) return;
    layer_norm_forward_kernel<<<unsigned(rows), row_threads, 0, c.stream>>>(n, eps, x, gamma, beta, mean, y, invstd);
    TYPENET_CUDA_LAUNCHED("layer_norm_forward_kernel");
}
void layer_norm_backward(context& c, index_t rows, index_t n, const float* x, const float* mean, const float* gamma,
                         const float* invstd, const float* dy, float* dx, float* dgamma, float* dbeta) {
    if (rows == 0) return;
    layer_norm_params_kernel<<<unsigned((n + 31) / 32), dim3(32, 8), 0, c.stream>>>(rows, n, x, mean, invstd, dy, dgamma,
                                                                                     dbeta);
    TYPENET_CUDA_LAUNCHED("layer_norm_params_kernel");
    if (!dx) return;
    layer_norm_dx_kernel<<<unsigned(rows), row_threads, 0, c.stream>>>(n, x, mean, gamma, invstd, dy, dx);
    TYPENET_CUDA_LAUNCHED("layer_norm_dx_kernel");
}

double sum_of_squares(context& c, index_t n, const float* x) {
    if (n == 0) return 0;
    const unsigned blocks = std::min(blocks_for(n), 1024u);
    auto* partial = static_cast<double*>(c.ensure_scratch(blocks * sizeof(double)));
    sum_of_squares_kernel<<<blocks, 256, 0, c.stream>>>(n, x, partial);
    TYPENET_CUDA_LAUNCHED("sum_of_squares_kernel");
    double host[1024];
    download(c, host, partial, blocks * sizeof(double));
    double s = 0;
    for (unsigned i = 0; i < blocks; ++i) s += host[i];
    return s;
}
void scale(context& c, index_t n, float alpha, float* x) {
    if (n == 0) return;
    scale_kernel<<<blocks_for(n), 256, 0, c.stream>>>(n, alpha, x);
    TYPENET_CUDA_LAUNCHED("scale_kernel");
}

}  // namespace typenet::kernels::cuda
