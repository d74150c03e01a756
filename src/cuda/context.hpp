// src/cuda/context.hpp — what a context holds, and the error checks, shared by the library's
// sources (never by a user's translation unit: kernels/cuda/api.hpp keeps CUDA's types out).
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime.h>
#ifdef TYPENET_CUDNN
#include <cudnn.h>
#endif

#include <map>
#include <string>
#include <tuple>

#include "typenet/kernels/cuda/api.hpp"

namespace typenet::kernels::cuda {

[[noreturn]] void fail(const char* call, const std::string& why);
inline void check(cudaError_t e, const char* call) {
    if (e != cudaSuccess) fail(call, cudaGetErrorString(e));
}
void check(cublasStatus_t s, const char* call);
#ifdef TYPENET_CUDNN
void check(cudnnStatus_t s, const char* call);
#endif
// After a kernel launch: a bad configuration shows here, a fault at the next synchronizing call.
#define TYPENET_CUDA_LAUNCHED(name) ::typenet::kernels::cuda::check(cudaGetLastError(), name)

#ifdef TYPENET_CUDNN
// One convolution shape at one batch size: descriptors, the algorithms cuDNN measured fastest, and
// the workspace they need (the context's, grown to the largest plan).
struct conv_plan {
    cudnnTensorDescriptor_t x = nullptr, y = nullptr, bias = nullptr;
    cudnnFilterDescriptor_t w = nullptr;
    cudnnConvolutionDescriptor_t conv = nullptr;
    cudnnConvolutionFwdAlgo_t fwd{};
    cudnnConvolutionBwdDataAlgo_t bwd_data{};
    cudnnConvolutionBwdFilterAlgo_t bwd_filter{};
};
#endif

struct context {
    int device = 0;
    cudaStream_t stream = nullptr;
    cublasHandle_t blas = nullptr;
    cudaDeviceProp props{};
#ifdef TYPENET_CUDNN
    cudnnHandle_t dnn = nullptr;
    std::map<std::tuple<index_t, index_t, index_t, index_t, index_t, index_t, index_t, index_t, index_t, index_t>,
             conv_plan> plans;
#endif
    void* workspace = nullptr;           // convolution scratch (cuDNN's, or im2col columns)
    std::size_t workspace_bytes = 0;
    void* ensure_workspace(std::size_t bytes);
    void* scratch = nullptr;             // reductions' partial results (small)
    std::size_t scratch_bytes = 0;
    void* ensure_scratch(std::size_t bytes);
    void* attention = nullptr;           // attention's (T, T) scores of every (sequence, head) pair
    std::size_t attention_bytes = 0;
    void* ensure_attention(std::size_t bytes);
};

// Grid for n elements at 256 threads, capped: kernels stride over what the grid does not cover.
inline unsigned blocks_for(index_t n) {
    const index_t b = (n + 255) / 256;
    return unsigned(b < 1 ? 1 : b > 65535 * 8 ? 65535 * 8 : b);
}

}  // namespace typenet::kernels::cuda

// A grid-stride loop over [0, n): any grid covers any n.
#define TYPENET_GRID_LOOP(i, n)                                                                         \
    for (::typenet::kernels::cuda::index_t i = blockIdx.x * ::typenet::kernels::cuda::index_t(blockDim.x) +     \
                                               threadIdx.x;                                                  \
         i < (n); i += ::typenet::kernels::cuda::index_t(gridDim.x) * blockDim.x)

// The sum (sum_op) or the maximum (max_op) of v over a block of N threads, N = blockDim.x a power of two;
// every thread gets it. It ends with a barrier, so a kernel may call it again at once.
struct sum_op {
    template <class T> __device__ T operator()(T a, T b) const { return a + b; }
};
struct max_op {
    __device__ float operator()(float a, float b) const { return fmaxf(a, b); }
};
template <unsigned N, class T, class Op>
__device__ T block_reduce(T v, Op op) {
    __shared__ T part[N];
    part[threadIdx.x] = v;
    __syncthreads();
    for (unsigned w = N / 2; w > 0; w /= 2) {
        if (threadIdx.x < w) part[threadIdx.x] = op(part[threadIdx.x], part[threadIdx.x + w]);
        __syncthreads();
    }
    const T r = part[0];
    __syncthreads();
    return r;
}
