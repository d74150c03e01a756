// kernels/cpu/gemm_abt.hpp — C := A B^T + beta*C for A (m, k) and B (n, k) both row-major: every
// element of C is a dot product of two contiguous rows, so nothing is packed or transposed.
// That is the weight gradient of a convolution, dw (O, C*KH*KW) += dy (O, S) col^T, where the
// packed GEMM must transpose col (S = OH*OW long rows) into panels: a load and a scattered store
// per element that cost more than the arithmetic for a few output channels (conv_bench); and a
// dense layer's forward for a few samples, y (B, Out) = x w^T, where the packed GEMM would
// transpose all of w on every call.
//
//   gemm_abt(m, n, k, a, lda, b, ldb, beta, c, ldc)     (M,K) x (N,K)^T => (M,N), threads over N
//   gemm_abt_single_thread(...)                          the same on the calling thread
//   gemm_ref with B's strides swapped is its oracle (tests/kernels/gemm_test.cpp).
#pragma once
#include <algorithm>
#include <type_traits>

#include "typenet/kernels/cpu/common.hpp"
#include "typenet/kernels/cpu/gemm.hpp"

namespace typenet::kernels::cpu {

template <class T, class Arch>
struct abt_blocking {
    static constexpr index_t w = xsimd::batch<T, Arch>::size;
    // MR x NR vector accumulators along k, plus MR + NR operands: 4 x 6 = 24 of AVX-512's 32
    // registers; 2 x 4 of AVX2's 16.
    static constexpr index_t mr = std::is_base_of_v<xsimd::avx512f, Arch> ? 4 : 2;
    static constexpr index_t nr = std::is_base_of_v<xsimd::avx512f, Arch> ? 6 : 4;
    // The rows left below MR (all of them for one sample) take 1 x NR1 tiles: a matrix-vector
    // product that loads each element of B once, instead of repeating a row MR times.
    static constexpr index_t nr1 = 8;
    // Each tile ends in MR*NR horizontal sums and a scalar tail of k mod w: below about 24 vectors
    // of k these cost more than the packed GEMM's transposition (conv_bench: a win at k = 784,
    // a loss at 196 and 49).
    static constexpr index_t min_k = 24 * w;
};

// One tile of at most MR x NR dot products. Rows past `rows` (columns past `cols`) repeat the last
// valid row of A (of B): the extra sums are computed and dropped, so the loop has no edge tests.
template <index_t MR, index_t NR>
struct gemm_abt_tile {
    template <class Arch, class T>
    void operator()(Arch, index_t k, const T* a, index_t lda, const T* b, index_t ldb, T beta, T* c, index_t ldc,
                    index_t rows, index_t cols, bias_epilogue<T> ep) const;
};

template <index_t MR, index_t NR>
template <class Arch, class T>
inline void gemm_abt_tile<MR, NR>::operator()(Arch, index_t k, const T* a, index_t lda, const T* b, index_t ldb,
                                              T beta, T* c, index_t ldc, index_t rows, index_t cols,
                                              bias_epilogue<T> ep) const {
    using batch = xsimd::batch<T, Arch>;
    constexpr index_t w = batch::size;
    const T* ar[MR];
    const T* br[NR];
#pragma GCC unroll 8
    for (index_t i = 0; i < MR; ++i) ar[i] = a + std::min(i, rows - 1) * lda;
#pragma GCC unroll 8
    for (index_t j = 0; j < NR; ++j) br[j] = b + std::min(j, cols - 1) * ldb;
    batch acc[MR][NR];
#pragma GCC unroll 8
    for (index_t i = 0; i < MR; ++i)
#pragma GCC unroll 8
        for (index_t j = 0; j < NR; ++j) acc[i][j] = batch(T(0));
    index_t p = 0;
    for (; p + w <= k; p += w) {                              // (MR, w) x (NR, w): MR*NR FMAs
        batch bv[NR];
#pragma GCC unroll 8
        for (index_t j = 0; j < NR; ++j) bv[j] = batch::load_unaligned(br[j] + p);
#pragma GCC unroll 8
        for (index_t i = 0; i < MR; ++i) {
            const batch av = batch::load_unaligned(ar[i] + p);
#pragma GCC unroll 8
            for (index_t j = 0; j < NR; ++j) acc[i][j] = xsimd::fma(av, bv[j], acc[i][j]);
        }
    }
    for (index_t i = 0; i < rows; ++i)
        for (index_t j = 0; j < cols; ++j) {
            T s = xsimd::hadd(acc[i][j]);
            for (index_t q = p; q < k; ++q) s += ar[i][q] * br[j][q];
            T& cij = c[i * ldc + j];
            cij = ep.add(s + (beta != T(0) ? beta * cij : T(0)), i, j);
        }
}

template <class T, class Arch>
constexpr abt_sizes abt_sizes_of() {
    return {abt_blocking<T, Arch>::nr1, abt_blocking<T, Arch>::min_k};
}

template <class T>
inline abt_sizes active_abt_sizes() {
    return active_sizes<&kernel_table<T>::abt>([](auto a) { return abt_sizes_of<T, decltype(a)>(); });
}

// One thread's C := A B^T + beta C.
struct gemm_abt_serial {
    template <class Arch, class T>
    void operator()(Arch, index_t m, index_t n, index_t k, const T* a, index_t lda, const T* b, index_t ldb, T beta, T* c,
                    index_t ldc, bias_epilogue<T> ep) const;
};

// noipa: kept out of its callers' constant propagation, as gemm_serial is. Inlined into a call with
// small constant sizes, g++ 12 warns (-Waggressive-loop-optimizations) about the scalar tail loop.
template <class Arch, class T>
[[gnu::noipa]] inline void gemm_abt_serial::operator()(Arch, index_t m, index_t n, index_t k, const T* a, index_t lda,
                                                       const T* b, index_t ldb, T beta, T* c, index_t ldc,
                                                       bias_epilogue<T> ep) const {
    using blk = abt_blocking<T, Arch>;
    const index_t full = m / blk::mr * blk::mr;
    for (index_t i = 0; i < full; i += blk::mr)
        for (index_t j = 0; j < n; j += blk::nr)
            gemm_abt_tile<blk::mr, blk::nr>{}(Arch{}, k, a + i * lda, lda, b + j * ldb, ldb, beta, c + i * ldc + j,
                                              ldc, blk::mr, std::min(blk::nr, n - j), ep.at(i, j));
    for (index_t i = full; i < m; ++i)
        for (index_t j = 0; j < n; j += blk::nr1)
            gemm_abt_tile<1, blk::nr1>{}(Arch{}, k, a + i * lda, lda, b + j * ldb, ldb, beta, c + i * ldc + j, ldc, 1,
                                         std::min(blk::nr1, n - j), ep.at(i, j));
}

// One thread: callers run one product per sample on each thread (conv2d_backward).
template <class T>
inline void gemm_abt_single_thread(index_t m, index_t n, index_t k, const T* a, index_t lda, const T* b, index_t ldb,
                                   T beta, T* c, index_t ldc, bias_epilogue<T> ep = {}) {
    if (ep.a_row_sums) {                          // A read in place, row by row: its sums in a pass of their own
        add_row_sums(m, k, a, lda, ep.a_row_sums);
        ep.a_row_sums = nullptr;
    }
    invoke_kernel<&kernel_table<T>::gemm_abt_serial>(gemm_abt_serial{}, m, n, k, a, lda, b, ldb, beta, c, ldc, ep);
}

// Threads split the columns of C (rows of B), each computing its slice alone, as gemm does; below
// ~2^18 multiply-adds per thread one thread is faster than waking another.
// Products with many rows of both A and B go to the packed GEMM (B read as B^T through its
// strides): its packed panels of B stay in cache across all of A's rows, where the tiles here
// re-read B for every few rows of A. Measured on one core (AVX-512): 4096 x 512 x 128 ran at 36
// GFLOP/s here and 148 packed; 64 x 84 x 120 at 30 and 76; but 1 x 256 x 784 at 32 and 3, and
// 64 x 10 x 128 at 47 and 21, so a small m or n stays here.
template <class T>
inline void gemm_abt(index_t m, index_t n, index_t k, const T* a, index_t lda, const T* b, index_t ldb, T beta, T* c,
                     index_t ldc, bias_epilogue<T> ep = {}) {
    if (m >= 48 && n >= 32) {
        gemm<T>(m, n, k, a, lda, 1, b, 1, ldb, beta, c, ldc, ep);
        return;
    }
    const index_t nr1 = active_abt_sizes<T>().nr1;
    const index_t panels = (n + nr1 - 1) / nr1;
    const int threads = int(std::min<double>({double(max_threads()), double(m) * double(n) * double(k) / double(1 << 18),
                                              double(panels)}));
    if (threads <= 1) {
        gemm_abt_single_thread<T>(m, n, k, a, lda, b, ldb, beta, c, ldc, ep);
        return;
    }
    run_threads(threads, [&](index_t t, index_t nt) {                // slices of whole nr1-column panels
        const index_t j0 = std::min(n, panels * t / nt * nr1), j1 = std::min(n, panels * (t + 1) / nt * nr1);
        if (j1 > j0) gemm_abt_single_thread<T>(m, j1 - j0, k, a, lda, b + j0 * ldb, ldb, beta, c + j0, ldc, ep.at(0, j0));
    });
}

}  // namespace typenet::kernels::cpu
