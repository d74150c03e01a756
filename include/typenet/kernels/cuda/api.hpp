// kernels/cuda/api.hpp — the CUDA kernel layer as plain functions over device pointers, sizes and
// strides (DESIGN §2): what typenet/cuda.hpp calls. They are compiled once, by nvcc, into the
// typenet_cuda library (src/cuda/, built by typenet_enable_cuda in CMake); this header names no
// CUDA type, so a program's own translation units compile with g++ alone and never parse CUDA's
// headers.
//
// Every call is queued on the context's stream and returns before the device has finished, except
// those that hand data back to the host (download, read_scalar). Failures throw cuda_error naming
// the call and CUDA's own message. fp32 throughout; row-major matrices as the CPU kernels take them.
#pragma once
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace typenet::kernels::cuda {

using index_t = std::ptrdiff_t;   // every runtime size and stride (STYLE rule 8), as kernels/cpu's

struct cuda_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// ---- devices, contexts, memory -------------------------------------------------------------------
// GPUs this process can use; 0 where there is none or no driver (never throws).
int device_count() noexcept;
// Why device_count() is 0, in CUDA's words ("no CUDA-capable device is detected", "CUDA driver
// version is insufficient ..."); empty when there are devices.
std::string unavailable_reason();

// A device, one stream on it, and the cuBLAS (and cuDNN) handles bound to that stream; plus the
// convolution plans and their workspace, made on first use for each shape and batch, then reused.
struct context;
context* create_context(int device);          // throws cuda_error
void destroy_context(context*) noexcept;
std::string device_name(const context&);      // "NVIDIA H100 80GB HBM3 (sm_90, 79.1 GiB)"
// The device's fp32 FMA peak in TFLOP/s: SMs x fp32 lanes per SM x 2 x the boost clock.
double fp32_peak_tflops(const context&);

void* allocate(context&, std::size_t bytes);  // device memory, 256-byte aligned; throws on failure
void release(void*) noexcept;
void upload(context&, void* device, const void* host, std::size_t bytes);    // host -> device
void download(context&, void* host, const void* device, std::size_t bytes);  // device -> host, waits
void copy(context&, void* to, const void* from, std::size_t bytes);          // device -> device
void zero(context&, void* device, std::size_t bytes);
void synchronize(context&);
// Makes the context's device the calling thread's current one (cuda::model does it on each call,
// so models on different GPUs can be used in turn from one thread).
void make_current(context&);

// ---- dense algebra -------------------------------------------------------------------------------
// C (m, n) = alpha op(A) op(B) + beta C, row-major; op(A) is (m, k): A is (m, k) with row stride
// lda, or (k, m) when ta. cuBLAS, fp32 (no TF32: results are compared with the CPU's).
void gemm(context&, bool ta, bool tb, index_t m, index_t n, index_t k, float alpha, const float* a, index_t lda,
          const float* b, index_t ldb, float beta, float* c, index_t ldc);
// `count` products C_i = alpha op(A_i) op(B_i) + beta C_i, X_i = X + i stride_x (as gemm, row-major).
void gemm_strided_batched(context&, bool ta, bool tb, index_t m, index_t n, index_t k, float alpha, const float* a,
                          index_t lda, index_t stride_a, const float* b, index_t ldb, index_t stride_b, float beta,
                          float* c, index_t ldc, index_t stride_c, index_t count);
// y (rows, cols) = b broadcast down the rows: the bias a GEMM with beta = 1 then adds to; a + b
// (a recurrent layer's two biases) the same way.
void fill_rows(context&, index_t rows, index_t cols, const float* b, float* y);
void fill_rows_sum(context&, index_t rows, index_t cols, const float* a, const float* b, float* y);
// s (cols) += the sums of y's columns (rows ld apart: the first cols columns of wider rows).
void add_column_sums(context&, index_t rows, index_t cols, const float* y, float* s);
void add_column_sums(context&, index_t rows, index_t cols, const float* y, index_t ld, float* s);
void add(context&, index_t n, const float* a, const float* b, float* y);   // y = a + b
void axpy(context&, index_t n, float alpha, const float* x, float* y);     // y += alpha x
void multiply(context&, index_t n, const float* a, const float* b, float* y);   // y = a * b

// ---- pointwise and row-wise ----------------------------------------------------------------------
enum class activation { relu, sigmoid, tanh, gelu, leaky_relu };
// y = f(x); dx = f'(x) dy, from x or y as the CPU kernels use them (slope: leaky_relu only).
void activation_forward(context&, activation, float slope, index_t n, const float* x, float* y);
void activation_backward(context&, activation, float slope, index_t n, const float* x, const float* y,
                         const float* dy, float* dx);
// Softmax (log: log-softmax) of each row of cols; backward from y.
void softmax_rows(context&, bool log, index_t rows, index_t cols, const float* x, float* y);
void softmax_rows_backward(context&, bool log, index_t rows, index_t cols, const float* y, const float* dy, float* dx);

// Dropout: mask[i] = keep with probability 1 - p, else 0 (keep = 1 / (1 - p)), drawn from a counter
// hash of (seed, i), so a step is reproducible; y = x mask.
void dropout_forward(context&, index_t n, float p, std::uint64_t seed, const float* x, float* y, float* mask);

// ---- pooling (planes = B C of (h, w) each; no padding) --------------------------------------------
struct pool_shape {
    index_t h, w, kh, kw, stride;
    constexpr index_t oh() const { return (h - kh) / stride + 1; }
    constexpr index_t ow() const { return (w - kw) / stride + 1; }
};
// Max: where[o] = the window offset (ky kw + kx) of each maximum, as a float (exact), or null.
void max_pool_forward(context&, const pool_shape&, index_t planes, const float* x, float* y, float* where);
void max_pool_backward(context&, const pool_shape&, index_t planes, const float* where, const float* dy, float* dx);
void avg_pool_forward(context&, const pool_shape&, index_t planes, const float* x, float* y);
void avg_pool_backward(context&, const pool_shape&, index_t planes, const float* dy, float* dx);

// ---- convolution (torch.nn.Conv2d: x (B, C, H, W), w (Out, C/G, K, K), b (Out)) ------------------
struct conv_shape {
    index_t c, h, w, out, k, stride, pad, dilation, groups;
    constexpr index_t oh() const { return (h + 2 * pad - dilation * (k - 1) - 1) / stride + 1; }
    constexpr index_t ow() const { return (w + 2 * pad - dilation * (k - 1) - 1) / stride + 1; }
};
// cuDNN where the library was built with it (TYPENET_CUDNN), else im2col and cuBLAS per sample.
void conv2d_forward(context&, const conv_shape&, index_t batch, const float* x, const float* w, const float* b,
                    float* y);
// dw += dL/dw, db += dL/db; dx = dL/dx when dx is not null.
void conv2d_backward(context&, const conv_shape&, index_t batch, const float* x, const float* w, const float* dy,
                     float* dx, float* dw, float* db);
// The transposed convolution (torch.nn.ConvTranspose2d), given as its adjoint convolution g: g's
// input is this layer's output (Out, OH, OW), g's output this layer's input (C, H, W); w (C, Out/G,
// K, K) as torch's, b (Out). dw, db accumulate; dx written when not null.
void conv_transpose2d_forward(context&, const conv_shape& g, index_t batch, const float* x, const float* w,
                              const float* b, float* y);
void conv_transpose2d_backward(context&, const conv_shape& g, index_t batch, const float* x, const float* w,
                               const float* dy, float* dx, float* dw, float* db);
// "cudnn" or "im2col": what conv2d runs on.
const char* conv2d_engine() noexcept;

// ---- batch norm over (B, C, S): S = H W positions per channel (1 for a flat input) ---------------
// Training: batch mean and biased variance per channel; xhat, y written; mean and invstd kept for
// backward; running mean and (unbiased) variance updated with momentum, as torch.
void batch_norm_train(context&, index_t b, index_t c, index_t s, float eps, float momentum, const float* x,
                      const float* gamma, const float* beta, float* xhat, float* y, float* mean, float* invstd,
                      float* running_mean, float* running_var);
// Evaluation: the running statistics; xhat and invstd kept for a backward.
void batch_norm_eval(context&, index_t b, index_t c, index_t s, float eps, const float* x, const float* gamma,
                     const float* beta, const float* running_mean, const float* running_var, float* xhat, float* y,
                     float* invstd);
// dgamma += sum dy xhat, dbeta += sum dy; dx (not null): through the batch statistics in training.
void batch_norm_backward(context&, index_t b, index_t c, index_t s, bool training, const float* xhat,
                         const float* gamma, const float* invstd, const float* dy, float* dx, float* dgamma,
                         float* dbeta);
// v[i] += 1 for a device scalar (batch norm's batches seen).
void increment(context&, float* v);

// ---- sequences -----------------------------------------------------------------------------------
// Row (b, t) of src (rows B T of n values, ld_src apart) to row (b, T - 1 - t) of dst (ld_dst
// apart), or added to it: a sequence reversed in time (bidirectional).
void reverse_steps(context&, index_t rows, index_t steps, index_t n, const float* src, index_t ld_src, float* dst,
                   index_t ld_dst, bool accumulate);
// rows rows of n values, ld_src and ld_dst apart; src null: zeros.
void copy_rows(context&, index_t rows, index_t n, const float* src, index_t ld_src, float* dst, index_t ld_dst);
// y (rows, d) = w[ids] (w (vocab, d)); dw[ids] += dy. The ids are checked on the host: here one
// out of range is clamped, never read past the table.
void embedding_forward(context&, index_t rows, index_t vocab, index_t d, const float* ids, const float* w, float* y);
void embedding_backward(context&, index_t rows, index_t vocab, index_t d, const float* ids, const float* dy,
                        float* dw);
// Rows of sequences of `steps`: y = x + p[step]; dp[step] += the sum of dy over the sequences.
void positional_forward(context&, index_t rows, index_t steps, index_t d, const float* x, const float* p, float* y);
void positional_backward(context&, index_t rows, index_t steps, index_t d, const float* dy, float* dp);
// One LSTM step for B rows (kernels/cpu/recurrent.hpp's lstm_step and lstm_step_backward): gates
// (i, f, g, o) pre-activation in, activations out (forward); activations in, pre-activation
// gradients out (backward), dc carried back in place.
void lstm_step(context&, index_t batch, index_t h, float* gates, index_t ld_g, const float* c_prev, float* c, float* y,
               index_t ld_h);
void lstm_step_backward(context&, index_t batch, index_t h, float* gates, index_t ld_g, const float* c,
                        const float* c_prev, const float* dy, index_t ld_h, const float* dh, float* dc);
// One GRU step (gru_step: gh (B, 3H) = b_hh + h_prev W_hh^T; gates r, z, n out, hn = gh_n) and
// its backward (dh (B, H) in and out); one tanh RNN step (y := tanh y) and its backward
// (dg = (dy + dh) (1 - y^2)), as kernels/cpu/recurrent.hpp.
void gru_step(context&, index_t batch, index_t h, float* gates, index_t ld_g, const float* gh, const float* h_prev,
              float* hn, float* y, index_t ld_h);
void gru_step_backward(context&, index_t batch, index_t h, float* gates, index_t ld_g, float* hn, const float* h_prev,
                       const float* dy, index_t ld_h, float* dh);
void rnn_step(context&, index_t batch, index_t h, float* y, index_t ld_h);
void rnn_step_backward(context&, index_t batch, index_t h, const float* y, const float* dy, index_t ld_h,
                       const float* dh, float* dg);
// Layer norm over each row of n (biased variance); each row's mean and invstd kept (mean may be null:
// inference), xhat = (x - mean) invstd recomputed by backward, as the host layer does.
void layer_norm_forward(context&, index_t rows, index_t n, float eps, const float* x, const float* gamma,
                        const float* beta, float* mean, float* y, float* invstd);
// dgamma += sum dy xhat, dbeta += sum dy; dx when not null.
void layer_norm_backward(context&, index_t rows, index_t n, const float* x, const float* mean, const float* gamma,
                         const float* invstd, const float* dy, float* dx, float* dgamma, float* dbeta);

// Causal multi-head attention of B sequences of T steps (layers/attention.hpp): qkv (B T, 3D) the
// projected queries, keys and values; att (B T, D) the attended values; lse (B T, heads) each row's
// log-sum-exp, kept for backward, which writes dqkv (B T, 3D) from datt = dL/d(att).
void attention_forward(context&, index_t batch, index_t steps, index_t heads, index_t d, const float* qkv, float* att,
                       float* lse);
void attention_backward(context&, index_t batch, index_t steps, index_t heads, index_t d, const float* qkv,
                        const float* att, const float* lse, const float* datt, float* dqkv);

// ---- reductions for gradient clipping -------------------------------------------------------------
double sum_of_squares(context&, index_t n, const float* x);   // waits for the result
void scale(context&, index_t n, float alpha, float* x);        // x *= alpha

// ---- optimizers: one pass over the flat parameter buffer, torch.optim's formulas ------------------
void sgd_update(context&, index_t n, float lr, float momentum, float dampening, float weight_decay, bool nesterov,
                bool first, float* p, const float* grad, float* buf);
void adam_update(context&, index_t n, float lr, float beta1, float beta2, float eps, float weight_decay,
                 bool decoupled, long step, float* p, const float* grad, float* m, float* v);
void rmsprop_update(context&, index_t n, float lr, float alpha, float eps, float weight_decay, float momentum,
                    bool centered, float* p, const float* grad, float* square_avg, float* grad_avg, float* buf);

}  // namespace typenet::kernels::cuda
