// src/cuda/elementwise.cu — pointwise, row-wise and pooling kernels: activations, softmax, bias
// broadcast and column sums, dropout, max and average pooling. The formulas are the CPU kernels'
// (kernels/cpu/activation.hpp, softmax.hpp, pool.hpp), so the two backends agree to rounding.
#include <cmath>

#include "context.hpp"

namespace typenet::kernels::cuda {

namespace {

// y (rows, cols) = a + b broadcast down the rows (b null: a alone).
__global__ void fill_rows_kernel(index_t rows, index_t cols, const float* a, const float* b, float* y) {
    TYPENET_GRID_LOOP(i, rows * cols) y[i] = b ? a[i % cols] + b[i % cols] : a[i % cols];
}

// Blocks of 32 columns x 8 row lanes: a warp reads 32 neighbouring columns of one row (coalesced);
// the lanes' partial sums meet in shared memory.
__global__ void column_sums_kernel(index_t rows, index_t cols, const float* y, index_t ld, float* s) {
    const index_t col = blockIdx.x * index_t(32) + threadIdx.x;
    float acc = 0;
    if (col < cols)
        for (index_t r = threadIdx.y; r < rows; r += 8) acc += y[r * ld + col];
    __shared__ float part[8][33];
    part[threadIdx.y][threadIdx.x] = acc;
    __syncthreads();
    if (threadIdx.y == 0 && col < cols) {
        float t = 0;
        for (int k = 0; k < 8; ++k) t += part[k][threadIdx.x];
        s[col] += t;
    }
}

__global__ void add_kernel(index_t n, const float* a, const float* b, float* y) {
    TYPENET_GRID_LOOP(i, n) y[i] = a[i] + b[i];
}
__global__ void axpy_kernel(index_t n, float alpha, const float* x, float* y) {
    TYPENET_GRID_LOOP(i, n) y[i] += alpha * x[i];
}
__global__ void multiply_kernel(index_t n, const float* a, const float* b, float* y) {
    TYPENET_GRID_LOOP(i, n) y[i] = a[i] * b[i];
}

__device__ inline float gelu_cdf(float x) { return 0.5f * (1.0f + erff(x * 0.70710678118654752f)); }

__global__ void activation_forward_kernel(activation f, float slope, index_t n, const float* x, float* y) {
    TYPENET_GRID_LOOP(i, n) {
        const float v = x[i];
        switch (f) {
        case activation::relu: y[i] = v > 0.0f ? v : 0.0f; break;
        case activation::sigmoid: y[i] = 1.0f / (1.0f + expf(-v)); break;
        case activation::tanh: y[i] = tanhf(v); break;
        case activation::gelu: y[i] = v * gelu_cdf(v); break;
        case activation::leaky_relu: y[i] = v > 0.0f ? v : slope * v; break;
        }
    }
}
__global__ void activation_backward_kernel(activation f, float slope, index_t n, const float* x, const float* y,
                                           const float* dy, float* dx) {
    TYPENET_GRID_LOOP(i, n) {
        const float g = dy[i];
        switch (f) {
        case activation::relu: dx[i] = y[i] > 0.0f ? g : 0.0f; break;
        case activation::sigmoid: dx[i] = g * y[i] * (1.0f - y[i]); break;
        case activation::tanh: dx[i] = g * (1.0f - y[i] * y[i]); break;
        case activation::gelu: {   // d/dx x Phi(x) = Phi(x) + x phi(x)
            const float v = x[i];
            dx[i] = g * (gelu_cdf(v) + v * 0.39894228040143268f * expf(-0.5f * v * v));
            break;
        }
        case activation::leaky_relu: dx[i] = x[i] > 0.0f ? g : slope * g; break;
        }
    }
}

// One block per row.
__global__ void softmax_rows_kernel(bool log, index_t cols, const float* x, float* y) {
    const float* xr = x + blockIdx.x * cols;
    float* yr = y + blockIdx.x * cols;
    float mx = -INFINITY;
    for (index_t j = threadIdx.x; j < cols; j += blockDim.x) mx = fmaxf(mx, xr[j]);
    mx = block_reduce<256>(mx, max_op{});
    float sum = 0;
    for (index_t j = threadIdx.x; j < cols; j += blockDim.x) sum += expf(xr[j] - mx);
    sum = block_reduce<256>(sum, sum_op{});
    const float lse = mx + logf(sum), inv = 1.0f / sum;
    for (index_t j = threadIdx.x; j < cols; j += blockDim.x) yr[j] = log ? xr[j] - lse : expf(xr[j] - mx) * inv;
}
// softmax: dx = y (dy - sum dy y); log_softmax: dx = dy - e^y sum dy.
__global__ void softmax_rows_backward_kernel(bool log, index_t cols, const float* y, const float* dy, float* dx) {
    const index_t off = blockIdx.x * cols;
    float dot = 0;
    for (index_t j = threadIdx.x; j < cols; j += blockDim.x) dot += log ? dy[off + j] : dy[off + j] * y[off + j];
    dot = block_reduce<256>(dot, sum_op{});
    for (index_t j = threadIdx.x; j < cols; j += blockDim.x)
        dx[off + j] = log ? dy[off + j] - expf(y[off + j]) * dot : y[off + j] * (dy[off + j] - dot);
}

// splitmix64 of (seed, i): a uniform in [0, 1) per element, the same for any grid.
__device__ inline float uniform_at(std::uint64_t seed, index_t i) {
    std::uint64_t z = seed + 0x9e3779b97f4a7c15ull * std::uint64_t(i + 1);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return float(z >> 40) * (1.0f / 16777216.0f);
}
__global__ void dropout_kernel(index_t n, float p, float keep, std::uint64_t seed, const float* x, float* y, float* mask) {
    TYPENET_GRID_LOOP(i, n) {
        const float m = uniform_at(seed, i) >= p ? keep : 0.0f;
        mask[i] = m;
        y[i] = x[i] * m;
    }
}

__global__ void max_pool_forward_kernel(pool_shape g, index_t planes, const float* x, float* y, float* where) {
    const index_t oh = g.oh(), ow = g.ow();
    TYPENET_GRID_LOOP(i, planes * oh * ow) {
        const index_t ox = i % ow, oy = i / ow % oh, pl = i / (ow * oh);
        const float* xp = x + pl * g.h * g.w + oy * g.stride * g.w + ox * g.stride;
        float best = xp[0];
        index_t at = 0;
        for (index_t ky = 0; ky < g.kh; ++ky)
            for (index_t kx = 0; kx < g.kw; ++kx) {
                const float v = xp[ky * g.w + kx];
                if (v > best || (v != v && best == best)) {   // the first maximum; a NaN wins (the CPU's rule)
                    best = v;
                    at = ky * g.kw + kx;
                }
            }
        y[i] = best;
        if (where) where[i] = float(at);
    }
}
// Each input pixel gathers dy from the windows whose maximum it was (no atomics; windows may overlap).
__global__ void max_pool_backward_kernel(pool_shape g, index_t planes, const float* where, const float* dy, float* dx) {
    const index_t oh = g.oh(), ow = g.ow();
    TYPENET_GRID_LOOP(i, planes * g.h * g.w) {
        const index_t ix = i % g.w, iy = i / g.w % g.h, pl = i / (g.w * g.h);
        float acc = 0;
        const index_t oy0 = iy >= g.kh ? (iy - g.kh) / g.stride + 1 : 0, ox0 = ix >= g.kw ? (ix - g.kw) / g.stride + 1 : 0;
        for (index_t oy = oy0; oy < oh && oy * g.stride <= iy; ++oy)
            for (index_t ox = ox0; ox < ow && ox * g.stride <= ix; ++ox) {
                const index_t o = (pl * oh + oy) * ow + ox;
                if (index_t(where[o]) == (iy - oy * g.stride) * g.kw + (ix - ox * g.stride)) acc += dy[o];
            }
        dx[i] = acc;
    }
}
__global__ void avg_pool_forward_kernel(pool_shape g, index_t planes, const float* x, float* y) {
    const index_t oh = g.oh(), ow = g.ow();
    const float inv = 1.0f / float(g.kh * g.kw);
    TYPENET_GRID_LOOP(i, planes * oh * ow) {
        const index_t ox = i % ow, oy = i / ow % oh, pl = i / (ow * oh);
        const float* xp = x + pl * g.h * g.w + oy * g.stride * g.w + ox * g.stride;
        float s = 0;
        for (index_t ky = 0; ky < g.kh; ++ky)
            for (index_t kx = 0; kx < g.kw; ++kx) s += xp[ky * g.w + kx];
        y[i] = s * inv;
    }
}
__global__ void avg_pool_backward_kernel(pool_shape g, index_t planes, const float* dy, float* dx) {
    const index_t oh = g.oh(), ow = g.ow();
    const float inv = 1.0f / float(g.kh * g.kw);
    TYPENET_GRID_LOOP(i, planes * g.h * g.w) {
        const index_t ix = i % g.w, iy = i / g.w % g.h, pl = i / (g.w * g.h);
        float acc = 0;
        const index_t oy0 = iy >= g.kh ? (iy - g.kh) / g.stride + 1 : 0, ox0 = ix >= g.kw ? (ix - g.kw) / g.stride + 1 : 0;
        for (index_t oy = oy0; oy < oh && oy * g.stride <= iy; ++oy)
            for (index_t ox = ox0; ox < ow && ox * g.stride <= ix; ++ox) acc += dy[(pl * oh + oy) * ow + ox];
        dx[i] = acc * inv;
    }
}

}  // namespace

void fill_rows(context& c, index_t rows, index_t cols, const float* b, float* y) {
    fill_rows_sum(c, rows, cols, b, nullptr, y);
}
void fill_rows_sum(context& c, index_t rows, index_t cols, const float* a, const float* b, float* y) {
    if (rows * cols == 0) return;
    fill_rows_kernel<<<blocks_for(rows * cols), 256, 0, c.stream>>>(rows, cols, a, b, y);
    TYPENET_CUDA_LAUNCHED("fill_rows_kernel");
}
void add_column_sums(context& c, index_t rows, index_t cols, const float* y, float* s) {
    add_column_sums(c, rows, cols, y, cols, s);
}
void add_column_sums(context& c, index_t rows, index_t cols, const float* y, index_t ld, float* s) {
    if (cols == 0) return;
    column_sums_kernel<<<unsigned((cols + 31) / 32), dim3(32, 8), 0, c.stream>>>(rows, cols, y, ld, s);
    TYPENET_CUDA_LAUNCHED("column_sums_kernel");
}
void add(context& c, index_t n, const float* a, const float* b, float* y) {
    if (n == 0) return;
    add_kernel<<<blocks_for(n), 256, 0, c.stream>>>(n, a, b, y);
    TYPENET_CUDA_LAUNCHED("add_kernel");
}
void axpy(context& c, index_t n, float alpha, const float* x, float* y) {
    if (n == 0) return;
    axpy_kernel<<<blocks_for(n), 256, 0, c.stream>>>(n, alpha, x, y);
    TYPENET_CUDA_LAUNCHED("axpy_kernel");
}
void multiply(context& c, index_t n, const float* a, const float* b, float* y) {
    if (n == 0) return;
    multiply_kernel<<<blocks_for(n), 256, 0, c.stream>>>(n, a, b, y);
    TYPENET_CUDA_LAUNCHED("multiply_kernel");
}
void activation_forward(context& c, activation f, float slope, index_t n, const float* x, float* y) {
    if (n == 0) return;
    activation_forward_kernel<<<blocks_for(n), 256, 0, c.stream>>>(f, slope, n, x, y);
    TYPENET_CUDA_LAUNCHED("activation_forward_kernel");
}
void activation_backward(context& c, activation f, float slope, index_t n, const float* x, const float* y,
                         const float* dy, float* dx) {
    if (n == 0) return;
    activation_backward_kernel<<<blocks_for(n), 256, 0, c.stream>>>(f, slope, n, x, y, dy, dx);
    TYPENET_CUDA_LAUNCHED("activation_backward_kernel");
}
void softmax_rows(context& c, bool log, index_t rows, index_t cols, const float* x, float* y) {
    if (rows == 0) return;
    softmax_rows_kernel<<<unsigned(rows), 256, 0, c.stream>>>(log, cols, x, y);
    TYPENET_CUDA_LAUNCHED("softmax_rows_kernel");
}
void softmax_rows_backward(context& c, bool log, index_t rows, index_t cols, const float* y, const float* dy, float* dx) {
    if (rows == 0) return;
    softmax_rows_backward_kernel<<<unsigned(rows), 256, 0, c.stream>>>(log, cols, y, dy, dx);
    TYPENET_CUDA_LAUNCHED("softmax_rows_backward_kernel");
}
void dropout_forward(context& c, index_t n, float p, std::uint64_t seed, const float* x, float* y, float* mask) {
    if (n == 0) return;
    const float keep = p < 1.0f ? 1.0f / (1.0f - p) : 0.0f;
    dropout_kernel<<<blocks_for(n), 256, 0, c.stream>>>(n, p, keep, seed, x, y, mask);
    TYPENET_CUDA_LAUNCHED("dropout_kernel");
}
void max_pool_forward(context& c, const pool_shape& g, index_t planes, const float* x, float* y, float* where) {
    if (planes == 0) return;
    max_pool_forward_kernel<<<blocks_for(planes * g.oh() * g.ow()), 256, 0, c.stream>>>(g, planes, x, y, where);
    TYPENET_CUDA_LAUNCHED("max_pool_forward_kernel");
}
void max_pool_backward(context& c, const pool_shape& g, index_t planes, const float* where, const float* dy, float* dx) {
    if (planes == 0) return;
    max_pool_backward_kernel<<<blocks_for(planes * g.h * g.w), 256, 0, c.stream>>>(g, planes, where, dy, dx);
    TYPENET_CUDA_LAUNCHED("max_pool_backward_kernel");
}
void avg_pool_forward(context& c, const pool_shape& g, index_t planes, const float* x, float* y) {
    if (planes == 0) return;
    avg_pool_forward_kernel<<<blocks_for(planes * g.oh() * g.ow()), 256, 0, c.stream>>>(g, planes, x, y);
    TYPENET_CUDA_LAUNCHED("avg_pool_forward_kernel");
}
void avg_pool_backward(context& c, const pool_shape& g, index_t planes, const float* dy, float* dx) {
    if (planes == 0) return;
    avg_pool_backward_kernel<<<blocks_for(planes * g.h * g.w), 256, 0, c.stream>>>(g, planes, dy, dx);
    TYPENET_CUDA_LAUNCHED("avg_pool_backward_kernel");
}

}  // namespace typenet::kernels::cuda
