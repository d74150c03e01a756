// src/cuda/context.cu — devices, contexts, memory, cuBLAS's GEMM and the convolution (cuDNN, or
// im2col + cuBLAS where the library is built without cuDNN).
#include <algorithm>
#include <cstdio>
#include <string>

#include "context.hpp"

namespace typenet::kernels::cuda {

void fail(const char* call, const std::string& why) {
    throw cuda_error(std::string("typenet: CUDA: ") + call + " failed: " + why);
}
void check(cublasStatus_t s, const char* call) {
    if (s != CUBLAS_STATUS_SUCCESS) fail(call, std::string("cuBLAS ") + cublasGetStatusString(s));
}
#ifdef TYPENET_CUDNN
static void destroy_plan(conv_plan& p) noexcept;
void check(cudnnStatus_t s, const char* call) {
    if (s != CUDNN_STATUS_SUCCESS) fail(call, std::string("cuDNN ") + cudnnGetErrorString(s));
}
#endif

int device_count() noexcept {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        (void)cudaGetLastError();   // clear the sticky error: a later call should not see it
        return 0;
    }
    return n;
}

std::string unavailable_reason() {
    int n = 0;
    const cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
        (void)cudaGetLastError();
        return cudaGetErrorString(e);
    }
    return n == 0 ? "no CUDA device found" : "";
}

context* create_context(int device) {
    const int n = device_count();
    if (device < 0 || device >= n)
        fail("create_context", "device " + std::to_string(device) + " asked for, " + std::to_string(n) +
                                   " present" + (n == 0 ? " (" + unavailable_reason() + ")" : std::string()));
    auto* c = new context;
    try {
        c->device = device;
        check(cudaSetDevice(device), "cudaSetDevice");
        check(cudaGetDeviceProperties(&c->props, device), "cudaGetDeviceProperties");
        check(cudaStreamCreateWithFlags(&c->stream, cudaStreamNonBlocking), "cudaStreamCreate");
        check(cublasCreate(&c->blas), "cublasCreate");
        check(cublasSetStream(c->blas, c->stream), "cublasSetStream");
        check(cublasSetMathMode(c->blas, CUBLAS_PEDANTIC_MATH), "cublasSetMathMode");   // fp32, no TF32
#ifdef TYPENET_CUDNN
        check(cudnnCreate(&c->dnn), "cudnnCreate");
        check(cudnnSetStream(c->dnn, c->stream), "cudnnSetStream");
#endif
    } catch (...) {
        destroy_context(c);
        throw;
    }
    return c;
}

void destroy_context(context* c) noexcept {
    if (!c) return;
    int previous = 0;
    const bool restore = cudaGetDevice(&previous) == cudaSuccess;
    cudaSetDevice(c->device);
    if (c->stream) cudaStreamSynchronize(c->stream);
#ifdef TYPENET_CUDNN
    for (auto& [key, p] : c->plans) {
        (void)key;
        destroy_plan(p);
    }
    if (c->dnn) cudnnDestroy(c->dnn);
#endif
    if (c->workspace) cudaFree(c->workspace);
    if (c->scratch) cudaFree(c->scratch);
    if (c->attention) cudaFree(c->attention);
    if (c->blas) cublasDestroy(c->blas);
    if (c->stream) cudaStreamDestroy(c->stream);
    if (restore) cudaSetDevice(previous);   // the caller's current device, as it was
    delete c;
}

std::string device_name(const context& c) {
    char mem[32];
    std::snprintf(mem, sizeof mem, "%.1f", double(c.props.totalGlobalMem) / double(1ull << 30));
    return std::string(c.props.name) + " (sm_" + std::to_string(c.props.major) + std::to_string(c.props.minor) + ", " +
           mem + " GiB)";
}

// A buffer of the context that only grows: the old one may still be read by queued work, so the
// stream is drained before it goes.
static void* grow(context& c, void*& p, std::size_t& have, std::size_t bytes, const char* what) {
    if (bytes <= have) return p;
    check(cudaStreamSynchronize(c.stream), "cudaStreamSynchronize");
    if (p) check(cudaFree(p), "cudaFree");
    p = nullptr;
    have = 0;
    const cudaError_t e = cudaMalloc(&p, bytes);
    if (e != cudaSuccess) fail("cudaMalloc", std::to_string(bytes) + " bytes for the " + what + ": " + cudaGetErrorString(e));
    have = bytes;
    return p;
}
void* context::ensure_workspace(std::size_t bytes) { return grow(*this, workspace, workspace_bytes, bytes, "convolution workspace"); }
double fp32_peak_tflops(const context& c) {
    const int major = c.props.major, minor = c.props.minor;
    // fp32 lanes per SM: 64 on sm_60, sm_70, sm_75 and sm_80; 128 on sm_86, sm_89, sm_90 and later.
    const int lanes = major >= 9 || (major == 8 && minor >= 6) ? 128 : 64;
    int khz = 0;
    if (cudaDeviceGetAttribute(&khz, cudaDevAttrClockRate, c.device) != cudaSuccess) khz = 0;
    return double(c.props.multiProcessorCount) * lanes * 2.0 * double(khz) * 1e3 / 1e12;
}

void* context::ensure_scratch(std::size_t bytes) { return grow(*this, scratch, scratch_bytes, bytes, "reduction scratch"); }
void* context::ensure_attention(std::size_t bytes) { return grow(*this, attention, attention_bytes, bytes, "attention scores"); }

void* allocate(context& c, std::size_t bytes) {
    check(cudaSetDevice(c.device), "cudaSetDevice");
    void* p = nullptr;
    const cudaError_t e = cudaMalloc(&p, std::max<std::size_t>(bytes, 1));
    if (e != cudaSuccess)
        fail("cudaMalloc", std::to_string(bytes) + " bytes: " + cudaGetErrorString(e));
    return p;
}
void release(void* p) noexcept {
    if (p) cudaFree(p);
}
void upload(context& c, void* device, const void* host, std::size_t bytes) {
    if (bytes) check(cudaMemcpyAsync(device, host, bytes, cudaMemcpyHostToDevice, c.stream), "cudaMemcpy (to device)");
    // The host buffer may be pageable and reused at once: the copy has left it when this returns.
    check(cudaStreamSynchronize(c.stream), "cudaStreamSynchronize");
}
void download(context& c, void* host, const void* device, std::size_t bytes) {
    if (bytes) check(cudaMemcpyAsync(host, device, bytes, cudaMemcpyDeviceToHost, c.stream), "cudaMemcpy (to host)");
    check(cudaStreamSynchronize(c.stream), "cudaStreamSynchronize");
}
void copy(context& c, void* to, const void* from, std::size_t bytes) {
    if (bytes && to != from)
        check(cudaMemcpyAsync(to, from, bytes, cudaMemcpyDeviceToDevice, c.stream), "cudaMemcpy (device to device)");
}
void zero(context& c, void* device, std::size_t bytes) {
    if (bytes) check(cudaMemsetAsync(device, 0, bytes, c.stream), "cudaMemset");
}
void synchronize(context& c) { check(cudaStreamSynchronize(c.stream), "cudaStreamSynchronize"); }
void make_current(context& c) { check(cudaSetDevice(c.device), "cudaSetDevice"); }

// Row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T: the operands swap, the flags stay.
void gemm(context& c, bool ta, bool tb, index_t m, index_t n, index_t k, float alpha, const float* a, index_t lda,
          const float* b, index_t ldb, float beta, float* out, index_t ldc) {
    if (m == 0 || n == 0) return;
    check(cublasSgemm(c.blas, tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N, int(n), int(m), int(k),
                      &alpha, b, int(ldb), a, int(lda), &beta, out, int(ldc)),
          "cublasSgemm");
}

// ---- convolution ---------------------------------------------------------------------------------
// out[ch] += sum over b and s of x (b, ch, s): the bias gradient of a convolution.
__global__ void channel_sums_kernel(index_t b, index_t c, index_t s, const float* x, float* out) {
    const index_t ch = blockIdx.x;
    float acc = 0;
    for (index_t i = threadIdx.x; i < b * s; i += blockDim.x) {
        const index_t n = i / s, j = i % s;
        acc += x[(n * c + ch) * s + j];
    }
    acc = block_reduce<256>(acc, sum_op{});
    if (threadIdx.x == 0) out[ch] += acc;
}

// y (planes of s) += b[plane % c].
__global__ void add_bias_planes_kernel(index_t planes, index_t c, index_t s, const float* b, float* y) {
    TYPENET_GRID_LOOP(i, planes * s) y[i] += b[i / s % c];
}

#ifdef TYPENET_CUDNN
const char* conv2d_engine() noexcept { return "cudnn"; }

static void destroy_plan(conv_plan& p) noexcept {
    if (p.x) cudnnDestroyTensorDescriptor(p.x);
    if (p.y) cudnnDestroyTensorDescriptor(p.y);
    if (p.bias) cudnnDestroyTensorDescriptor(p.bias);
    if (p.w) cudnnDestroyFilterDescriptor(p.w);
    if (p.conv) cudnnDestroyConvolutionDescriptor(p.conv);
}

// The first of cuDNN's ranked algorithms that works in plain fp32 (the descriptor's FMA math: no
// TF32, whose results the tests could not compare with the CPU's); `otherwise` if none does.
template <class Perf, class Algo>
static Algo pick(const Perf* perf, int n, Algo otherwise) {
    for (int i = 0; i < n; ++i)
        if (perf[i].status == CUDNN_STATUS_SUCCESS && perf[i].mathType == CUDNN_FMA_MATH) return perf[i].algo;
    for (int i = 0; i < n; ++i)
        if (perf[i].status == CUDNN_STATUS_SUCCESS) return perf[i].algo;
    return otherwise;
}

static conv_plan& plan_for(context& c, const conv_shape& g, index_t batch) {
    const auto key = std::make_tuple(g.c, g.h, g.w, g.out, g.k, g.stride, g.pad, g.dilation, g.groups, batch);
    auto it = c.plans.find(key);
    if (it != c.plans.end()) return it->second;
    // In the map first, so that the context frees its descriptors whatever fails below; a plan
    // that failed is taken out again (and its descriptors freed).
    conv_plan& p = c.plans[key];
    struct undo {
        context& c;
        const decltype(c.plans)::key_type& k;
        bool done = false;
        ~undo() {
            if (done) return;
            auto it = c.plans.find(k);
            destroy_plan(it->second);
            c.plans.erase(it);
        }
    } guard{c, key};
    check(cudnnCreateTensorDescriptor(&p.x), "cudnnCreateTensorDescriptor");
    check(cudnnCreateTensorDescriptor(&p.y), "cudnnCreateTensorDescriptor");
    check(cudnnCreateTensorDescriptor(&p.bias), "cudnnCreateTensorDescriptor");
    check(cudnnCreateFilterDescriptor(&p.w), "cudnnCreateFilterDescriptor");
    check(cudnnCreateConvolutionDescriptor(&p.conv), "cudnnCreateConvolutionDescriptor");
    check(cudnnSetTensor4dDescriptor(p.x, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, int(batch), int(g.c), int(g.h), int(g.w)),
          "cudnnSetTensor4dDescriptor (x)");
    check(cudnnSetTensor4dDescriptor(p.y, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, int(batch), int(g.out), int(g.oh()),
                                     int(g.ow())),
          "cudnnSetTensor4dDescriptor (y)");
    check(cudnnSetTensor4dDescriptor(p.bias, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 1, int(g.out), 1, 1),
          "cudnnSetTensor4dDescriptor (bias)");
    check(cudnnSetFilter4dDescriptor(p.w, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, int(g.out), int(g.c / g.groups), int(g.k),
                                     int(g.k)),
          "cudnnSetFilter4dDescriptor");
    check(cudnnSetConvolution2dDescriptor(p.conv, int(g.pad), int(g.pad), int(g.stride), int(g.stride),
                                          int(g.dilation), int(g.dilation), CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT),
          "cudnnSetConvolution2dDescriptor");
    check(cudnnSetConvolutionGroupCount(p.conv, int(g.groups)), "cudnnSetConvolutionGroupCount");
    check(cudnnSetConvolutionMathType(p.conv, CUDNN_FMA_MATH), "cudnnSetConvolutionMathType");   // fp32, no TF32
    int n = 0;
    // The algorithms by cuDNN's heuristics, best first; the first that succeeds is kept.
    cudnnConvolutionFwdAlgoPerf_t fwd[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
    check(cudnnGetConvolutionForwardAlgorithm_v7(c.dnn, p.x, p.w, p.conv, p.y, CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &n, fwd),
          "cudnnGetConvolutionForwardAlgorithm_v7");
    p.fwd = pick(fwd, n, CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM);
    cudnnConvolutionBwdDataAlgoPerf_t bd[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
    check(cudnnGetConvolutionBackwardDataAlgorithm_v7(c.dnn, p.w, p.y, p.conv, p.x, CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT,
                                                      &n, bd),
          "cudnnGetConvolutionBackwardDataAlgorithm_v7");
    p.bwd_data = pick(bd, n, CUDNN_CONVOLUTION_BWD_DATA_ALGO_1);
    cudnnConvolutionBwdFilterAlgoPerf_t bf[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
    check(cudnnGetConvolutionBackwardFilterAlgorithm_v7(c.dnn, p.x, p.y, p.conv, p.w,
                                                        CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, &n, bf),
          "cudnnGetConvolutionBackwardFilterAlgorithm_v7");
    p.bwd_filter = pick(bf, n, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1);
    std::size_t a = 0, b = 0, d = 0;
    check(cudnnGetConvolutionForwardWorkspaceSize(c.dnn, p.x, p.w, p.conv, p.y, p.fwd, &a),
          "cudnnGetConvolutionForwardWorkspaceSize");
    check(cudnnGetConvolutionBackwardDataWorkspaceSize(c.dnn, p.w, p.y, p.conv, p.x, p.bwd_data, &b),
          "cudnnGetConvolutionBackwardDataWorkspaceSize");
    check(cudnnGetConvolutionBackwardFilterWorkspaceSize(c.dnn, p.x, p.y, p.conv, p.w, p.bwd_filter, &d),
          "cudnnGetConvolutionBackwardFilterWorkspaceSize");
    c.ensure_workspace(std::max({a, b, d, std::size_t(256)}));
    guard.done = true;
    return p;
}

void conv2d_forward(context& c, const conv_shape& g, index_t batch, const float* x, const float* w, const float* b,
                    float* y) {
    conv_plan& p = plan_for(c, g, batch);
    const float one = 1, zero = 0;
    check(cudnnConvolutionForward(c.dnn, &one, p.x, x, p.w, w, p.conv, p.fwd, c.workspace, c.workspace_bytes, &zero,
                                  p.y, y),
          "cudnnConvolutionForward");
    check(cudnnAddTensor(c.dnn, &one, p.bias, b, &one, p.y, y), "cudnnAddTensor (bias)");
}

void conv2d_backward(context& c, const conv_shape& g, index_t batch, const float* x, const float* w, const float* dy,
                     float* dx, float* dw, float* db) {
    conv_plan& p = plan_for(c, g, batch);
    const float one = 1, zero = 0;
    if (dx)
        check(cudnnConvolutionBackwardData(c.dnn, &one, p.w, w, p.y, dy, p.conv, p.bwd_data, c.workspace,
                                           c.workspace_bytes, &zero, p.x, dx),
              "cudnnConvolutionBackwardData");
    check(cudnnConvolutionBackwardFilter(c.dnn, &one, p.x, x, p.y, dy, p.conv, p.bwd_filter, c.workspace,
                                         c.workspace_bytes, &one, p.w, dw),
          "cudnnConvolutionBackwardFilter");
    channel_sums_kernel<<<unsigned(g.out), 256, 0, c.stream>>>(batch, g.out, g.oh() * g.ow(), dy, db);
    TYPENET_CUDA_LAUNCHED("channel_sums_kernel");
}

// The transposed convolution is its adjoint convolution run backwards: g is that convolution (its
// input our output (Out, OH, OW), its output our input (C, H, W)), whose filter (C, Out/G, K, K)
// is torch's ConvTranspose2d weight as it is.
void conv_transpose2d_forward(context& c, const conv_shape& g, index_t batch, const float* x, const float* w,
                              const float* b, float* y) {
    conv_plan& p = plan_for(c, g, batch);
    const float one = 1, zero = 0;
    check(cudnnConvolutionBackwardData(c.dnn, &one, p.w, w, p.y, x, p.conv, p.bwd_data, c.workspace, c.workspace_bytes,
                                       &zero, p.x, y),
          "cudnnConvolutionBackwardData (transposed forward)");
    add_bias_planes_kernel<<<blocks_for(batch * g.c * g.h * g.w), 256, 0, c.stream>>>(batch * g.c, g.c, g.h * g.w, b, y);
    TYPENET_CUDA_LAUNCHED("add_bias_planes_kernel");
}
void conv_transpose2d_backward(context& c, const conv_shape& g, index_t batch, const float* x, const float* w,
                               const float* dy, float* dx, float* dw, float* db) {
    conv_plan& p = plan_for(c, g, batch);
    const float one = 1, zero = 0;
    if (dx)
        check(cudnnConvolutionForward(c.dnn, &one, p.x, dy, p.w, w, p.conv, p.fwd, c.workspace, c.workspace_bytes, &zero,
                                      p.y, dx),
              "cudnnConvolutionForward (transposed backward)");
    check(cudnnConvolutionBackwardFilter(c.dnn, &one, p.x, dy, p.y, x, p.conv, p.bwd_filter, c.workspace,
                                         c.workspace_bytes, &one, p.w, dw),
          "cudnnConvolutionBackwardFilter (transposed)");
    channel_sums_kernel<<<unsigned(g.c), 256, 0, c.stream>>>(batch, g.c, g.h * g.w, dy, db);
    TYPENET_CUDA_LAUNCHED("channel_sums_kernel");
}

#else   // im2col + cuBLAS, one sample at a time

const char* conv2d_engine() noexcept { return "im2col"; }

// y (planes of s) = b[plane % c]: a convolution's bias on every position, before the GEMM adds.
__global__ void bias_planes_kernel(index_t planes, index_t c, index_t s, const float* b, float* y) {
    for (index_t i = blockIdx.x * index_t(blockDim.x) + threadIdx.x; i < planes * s; i += index_t(gridDim.x) * blockDim.x)
        y[i] = b[i / s % c];
}

// cols (C K K, OH OW) of one sample; zero where the window reads padding.
__global__ void im2col_kernel(conv_shape g, const float* x, float* cols) {
    const index_t oh = g.oh(), ow = g.ow(), n = g.c * g.k * g.k * oh * ow;
    for (index_t i = blockIdx.x * index_t(blockDim.x) + threadIdx.x; i < n; i += index_t(gridDim.x) * blockDim.x) {
        const index_t ox = i % ow, oy = i / ow % oh, row = i / (ow * oh);
        const index_t kx = row % g.k, ky = row / g.k % g.k, ch = row / (g.k * g.k);
        const index_t iy = oy * g.stride - g.pad + ky * g.dilation, ix = ox * g.stride - g.pad + kx * g.dilation;
        cols[i] = iy >= 0 && iy < g.h && ix >= 0 && ix < g.w ? x[(ch * g.h + iy) * g.w + ix] : 0.0f;
    }
}
// dx (C, H, W) of one sample = the columns' gradient gathered back: each input pixel sums the
// column entries that read it (a gather, so no two threads write one place).
__global__ void col2im_kernel(conv_shape g, const float* cols, float* dx) {
    const index_t oh = g.oh(), ow = g.ow(), n = g.c * g.h * g.w;
    for (index_t i = blockIdx.x * index_t(blockDim.x) + threadIdx.x; i < n; i += index_t(gridDim.x) * blockDim.x) {
        const index_t ix = i % g.w, iy = i / g.w % g.h, ch = i / (g.w * g.h);
        float acc = 0;
        for (index_t ky = 0; ky < g.k; ++ky) {
            const index_t ty = iy + g.pad - ky * g.dilation;
            if (ty < 0 || ty % g.stride) continue;
            const index_t oy = ty / g.stride;
            if (oy >= oh) continue;
            for (index_t kx = 0; kx < g.k; ++kx) {
                const index_t tx = ix + g.pad - kx * g.dilation;
                if (tx < 0 || tx % g.stride) continue;
                const index_t ox = tx / g.stride;
                if (ox >= ow) continue;
                acc += cols[((ch * g.k + ky) * g.k + kx) * oh * ow + oy * ow + ox];
            }
        }
        dx[i] = acc;
    }
}

void conv2d_forward(context& c, const conv_shape& g, index_t batch, const float* x, const float* w, const float* b,
                    float* y) {
    const index_t s = g.oh() * g.ow(), ckk = g.c * g.k * g.k, cg = ckk / g.groups, og = g.out / g.groups;
    float* cols = static_cast<float*>(c.ensure_workspace(std::size_t(ckk * s) * sizeof(float)));
    bias_planes_kernel<<<blocks_for(batch * g.out * s), 256, 0, c.stream>>>(batch * g.out, g.out, s, b, y);
    TYPENET_CUDA_LAUNCHED("bias_planes_kernel");
    for (index_t n = 0; n < batch; ++n) {
        im2col_kernel<<<blocks_for(ckk * s), 256, 0, c.stream>>>(g, x + n * g.c * g.h * g.w, cols);
        TYPENET_CUDA_LAUNCHED("im2col_kernel");
        float* yn = y + n * g.out * s;   // (Out, S) += w_g (O/G, CKK/G) cols_g (CKK/G, S), group by group
        for (index_t gi = 0; gi < g.groups; ++gi)
            gemm(c, false, false, og, s, cg, 1.0f, w + gi * og * cg, cg, cols + gi * cg * s, s, 1.0f, yn + gi * og * s, s);
    }
}

// Transposed: per sample, the columns (Out K K, H W) = W^T x group by group, gathered into y by
// col2im (the adjoint convolution's input gradient), then the bias; backward reverses each step.
void conv_transpose2d_forward(context& c, const conv_shape& g, index_t batch, const float* x, const float* w,
                              const float* b, float* y) {
    const index_t s = g.oh() * g.ow(), okk = g.c * g.k * g.k, og = okk / g.groups, cg = g.out / g.groups;
    float* cols = static_cast<float*>(c.ensure_workspace(std::size_t(okk * s) * sizeof(float)));
    const index_t in = g.out * s, out = g.c * g.h * g.w;   // per sample: x (C, H, W), y (Out, OH, OW)
    for (index_t n = 0; n < batch; ++n) {
        for (index_t gi = 0; gi < g.groups; ++gi)   // cols_g (Out/G K K, HW) = W_g^T (C/G, Out/G K K)^T x_g
            gemm(c, true, false, og, s, cg, 1.0f, w + gi * cg * og, og, x + n * in + gi * cg * s, s, 0.0f,
                 cols + gi * og * s, s);
        col2im_kernel<<<blocks_for(out), 256, 0, c.stream>>>(g, cols, y + n * out);
        TYPENET_CUDA_LAUNCHED("col2im_kernel");
    }
    add_bias_planes_kernel<<<blocks_for(batch * out), 256, 0, c.stream>>>(batch * g.c, g.c, g.h * g.w, b, y);
    TYPENET_CUDA_LAUNCHED("add_bias_planes_kernel");
}
void conv_transpose2d_backward(context& c, const conv_shape& g, index_t batch, const float* x, const float* w,
                               const float* dy, float* dx, float* dw, float* db) {
    const index_t s = g.oh() * g.ow(), okk = g.c * g.k * g.k, og = okk / g.groups, cg = g.out / g.groups;
    float* cols = static_cast<float*>(c.ensure_workspace(std::size_t(okk * s) * sizeof(float)));
    const index_t in = g.out * s, out = g.c * g.h * g.w;
    for (index_t n = 0; n < batch; ++n) {
        im2col_kernel<<<blocks_for(okk * s), 256, 0, c.stream>>>(g, dy + n * out, cols);
        TYPENET_CUDA_LAUNCHED("im2col_kernel");
        for (index_t gi = 0; gi < g.groups; ++gi) {
            const float* xg = x + n * in + gi * cg * s;
            if (dx)   // dx_g (C/G, HW) = W_g cols_g
                gemm(c, false, false, cg, s, og, 1.0f, w + gi * cg * og, og, cols + gi * og * s, s, 0.0f,
                     dx + n * in + gi * cg * s, s);
            // dW_g (C/G, Out/G K K) += x_g cols_g^T
            gemm(c, false, true, cg, og, s, 1.0f, xg, s, cols + gi * og * s, s, 1.0f, dw + gi * cg * og, og);
        }
    }
    channel_sums_kernel<<<unsigned(g.c), 256, 0, c.stream>>>(batch, g.c, g.h * g.w, dy, db);
    TYPENET_CUDA_LAUNCHED("channel_sums_kernel");
}

void conv2d_backward(context& c, const conv_shape& g, index_t batch, const float* x, const float* w, const float* dy,
                     float* dx, float* dw, float* db) {
    const index_t s = g.oh() * g.ow(), ckk = g.c * g.k * g.k, cg = ckk / g.groups, og = g.out / g.groups;
    float* cols = static_cast<float*>(c.ensure_workspace(std::size_t(2 * ckk * s) * sizeof(float)));
    float* dcols = cols + ckk * s;
    for (index_t n = 0; n < batch; ++n) {
        im2col_kernel<<<blocks_for(ckk * s), 256, 0, c.stream>>>(g, x + n * g.c * g.h * g.w, cols);
        TYPENET_CUDA_LAUNCHED("im2col_kernel");
        const float* dyn = dy + n * g.out * s;
        for (index_t gi = 0; gi < g.groups; ++gi) {
            // dw_g (O/G, CKK/G) += dy_g (O/G, S) cols_g^T
            gemm(c, false, true, og, cg, s, 1.0f, dyn + gi * og * s, s, cols + gi * cg * s, s, 1.0f, dw + gi * og * cg, cg);
            if (dx)   // dcols_g (CKK/G, S) = w_g^T dy_g
                gemm(c, true, false, cg, s, og, 1.0f, w + gi * og * cg, cg, dyn + gi * og * s, s, 0.0f, dcols + gi * cg * s, s);
        }
        if (dx) {
            col2im_kernel<<<blocks_for(g.c * g.h * g.w), 256, 0, c.stream>>>(g, dcols, dx + n * g.c * g.h * g.w);
            TYPENET_CUDA_LAUNCHED("col2im_kernel");
        }
    }
    channel_sums_kernel<<<unsigned(g.out), 256, 0, c.stream>>>(batch, g.out, s, dy, db);
    TYPENET_CUDA_LAUNCHED("channel_sums_kernel");
}
#endif

}  // namespace typenet::kernels::cuda
