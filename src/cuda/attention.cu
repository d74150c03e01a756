// src/cuda/attention.cu — causal multi-head attention on the device, the host layer's algorithm
// (layers/attention.hpp): per (sequence, head) S = Q K^T, P = causal softmax of S / sqrt(dh)
// keeping each row's log-sum-exp, O = P V; backward recomputes P from the log-sum-exp. The products
// run as cuBLAS strided-batched GEMMs over the sequences, one call per head; the (T, T) scores of
// all pairs live in the context's scratch.
#include <cmath>

#include "context.hpp"

namespace typenet::kernels::cuda {

namespace {

constexpr unsigned softmax_threads = 128;

__device__ float block_max(float v) { return block_reduce<softmax_threads>(v, max_op{}); }
__device__ float block_add(float v) { return block_reduce<softmax_threads>(v, sum_op{}); }

// One block per row i of one pair's S (pairs ordered head-major: pair = h B + b). Row i keeps
// columns j <= i: P = exp(a S - lse), zeros above the diagonal; lse computed (forward) or read.
__global__ void causal_softmax_kernel(index_t batch, index_t steps, index_t heads, float a, float* s, float* lse,
                                      bool known) {
    const index_t row = blockIdx.x, pair = row / steps, i = row % steps;
    const index_t h = pair / batch, b = pair % batch;
    float* r = s + row * steps;
    float& l = lse[(b * steps + i) * heads + h];
    float li;
    if (!known) {
        float m = -INFINITY;
        for (index_t j = threadIdx.x; j <= i; j += blockDim.x) m = fmaxf(m, r[j]);
        m = block_max(m) * a;
        float sum = 0;
        for (index_t j = threadIdx.x; j <= i; j += blockDim.x) sum += expf(r[j] * a - m);
        sum = block_add(sum);
        li = m + logf(sum);
        if (threadIdx.x == 0) l = li;
    } else {
        li = l;
    }
    for (index_t j = threadIdx.x; j < steps; j += blockDim.x) r[j] = j <= i ? expf(r[j] * a - li) : 0.0f;
}

// dS = a P (dP - rowsum(dO o O)) on and below the diagonal (P is zero above it); ds holds dP.
__global__ void score_grad_kernel(index_t batch, index_t steps, index_t heads, index_t hd, index_t d, float a,
                                  const float* dout, const float* out, const float* p, float* ds) {
    const index_t row = blockIdx.x, pair = row / steps, i = row % steps;
    const index_t h = pair / batch, b = pair % batch;
    const index_t at = (b * steps + i) * d + h * hd;
    float dot = 0;
    for (index_t c = threadIdx.x; c < hd; c += blockDim.x) dot += dout[at + c] * out[at + c];
    dot = block_add(dot);
    for (index_t j = threadIdx.x; j < steps; j += blockDim.x)
        ds[row * steps + j] = p[row * steps + j] * (ds[row * steps + j] - dot) * a;
}

// The pairs' (T, T) blocks, head-major, and a second set for backward's dS.
float* scores(context& c, index_t pairs, index_t steps, int sets) {
    return static_cast<float*>(c.ensure_attention(std::size_t(sets) * std::size_t(pairs * steps * steps) * sizeof(float)));
}

}  // namespace

void gemm_strided_batched(context& c, bool ta, bool tb, index_t m, index_t n, index_t k, float alpha, const float* a,
                          index_t lda, index_t stride_a, const float* b, index_t ldb, index_t stride_b, float beta,
                          float* out, index_t ldc, index_t stride_c, index_t count) {
    if (m == 0 || n == 0 || count == 0) return;
    check(cublasSgemmStridedBatched(c.blas, tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N, int(n),
                                    int(m), int(k), &alpha, b, int(ldb), stride_b, a, int(lda), stride_a, &beta, out,
                                    int(ldc), stride_c, int(count)),
          "cublasSgemmStridedBatched");
}

void attention_forward(context& c, index_t batch, index_t steps, index_t heads, index_t d, const float* qkv, float* att,
                       float* lse) {
    const index_t hd = d / heads, d3 = 3 * d, pairs = batch * heads, tt = steps * steps;
    float* s = scores(c, pairs, steps, 1);
    const float a = 1.0f / std::sqrt(float(hd));
    for (index_t h = 0; h < heads; ++h) {   // S = Q K^T
        const float* q = qkv + h * hd;
        gemm_strided_batched(c, false, true, steps, steps, hd, 1.0f, q, d3, steps * d3, q + d, d3, steps * d3, 0.0f,
                             s + h * batch * tt, steps, tt, batch);
    }
    causal_softmax_kernel<<<unsigned(pairs * steps), softmax_threads, 0, c.stream>>>(batch, steps, heads, a, s, lse, false);
    TYPENET_CUDA_LAUNCHED("causal_softmax_kernel");
    for (index_t h = 0; h < heads; ++h)      // O = P V
        gemm_strided_batched(c, false, false, steps, hd, steps, 1.0f, s + h * batch * tt, steps, tt, qkv + h * hd + 2 * d,
                             d3, steps * d3, 0.0f, att + h * hd, d, steps * d, batch);
}

void attention_backward(context& c, index_t batch, index_t steps, index_t heads, index_t d, const float* qkv,
                        const float* att, const float* lse, const float* datt, float* dqkv) {
    const index_t hd = d / heads, d3 = 3 * d, pairs = batch * heads, tt = steps * steps;
    float* p = scores(c, pairs, steps, 2);
    float* ds = p + pairs * tt;
    const float a = 1.0f / std::sqrt(float(hd));
    for (index_t h = 0; h < heads; ++h) {
        const float* q = qkv + h * hd;
        gemm_strided_batched(c, false, true, steps, steps, hd, 1.0f, q, d3, steps * d3, q + d, d3, steps * d3, 0.0f,
                             p + h * batch * tt, steps, tt, batch);                       // S = Q K^T
        gemm_strided_batched(c, false, true, steps, steps, hd, 1.0f, datt + h * hd, d, steps * d, q + 2 * d, d3,
                             steps * d3, 0.0f, ds + h * batch * tt, steps, tt, batch);    // dP = dO V^T
    }
    causal_softmax_kernel<<<unsigned(pairs * steps), softmax_threads, 0, c.stream>>>(batch, steps, heads, a, p,
                                                                                    const_cast<float*>(lse), true);
    TYPENET_CUDA_LAUNCHED("causal_softmax_kernel");
    score_grad_kernel<<<unsigned(pairs * steps), softmax_threads, 0, c.stream>>>(batch, steps, heads, hd, d, a, datt, att,
                                                                                p, ds);
    TYPENET_CUDA_LAUNCHED("score_grad_kernel");
    for (index_t h = 0; h < heads; ++h) {
        const float* q = qkv + h * hd;
        float* dq = dqkv + h * hd;
        const float* dsh = ds + h * batch * tt;
        const float* ph = p + h * batch * tt;
        gemm_strided_batched(c, false, false, steps, hd, steps, 1.0f, dsh, steps, tt, q + d, d3, steps * d3, 0.0f, dq, d3,
                             steps * d3, batch);                                          // dQ = dS K
        gemm_strided_batched(c, true, false, steps, hd, steps, 1.0f, dsh, steps, tt, q, d3, steps * d3, 0.0f, dq + d, d3,
                             steps * d3, batch);                                          // dK = dS^T Q
        gemm_strided_batched(c, true, false, steps, hd, steps, 1.0f, ph, steps, tt, datt + h * hd, d, steps * d, 0.0f,
                             dq + 2 * d, d3, steps * d3, batch);                          // dV = P^T dO
    }
}

}  // namespace typenet::kernels::cuda
