// kernels/cpu/gemm_abt.hpp — C := A B^T + beta*C for A (m, k) and B (n, k) both row-major: every
// element of C is a dot product of two contiguous rows, so nothing is packed or transposed.
// That is the weight gradient of a convolution, dw (O, C*KH*KW) += dy (O, S) col^T, where the
// packed GEMM must transpose col (S = OH*OW long rows) into panels: a load and a scattered store
// per element that cost more than the arithmetic for a few output channels (conv_bench).
//
//   gemm_abt(m, n, k, a, lda, b, ldb, beta, c, ldc)     (M,K) x (N,K)^T => (M,N)
//   gemm_ref with B's strides swapped is its oracle (tests/kernels/gemm_test.cpp).
#pragma once
#include <algorithm>
#include <type_traits>

#include "typenet/kernels/cpu/common.hpp"

namespace typenet::kernels::cpu {

template <class T, class Arch>
struct abt_blocking {
    static constexpr index_t w = xsimd::batch<T, Arch>::size;
    // MR x NR vector accumulators along k, plus MR + NR operands: 4 x 6 = 24 of AVX-512's 32
    // registers; 2 x 4 of AVX2's 16.
    static constexpr index_t mr = std::is_base_of_v<xsimd::avx512f, Arch> ? 4 : 2;
    static constexpr index_t nr = std::is_base_of_v<xsimd::avx512f, Arch> ? 6 : 4;
    // Each tile ends in MR*NR horizontal sums and a scalar tail of k mod w: below about 24 vectors
    // of k these cost more than the packed GEMM's transposition (conv_bench: a win at k = 784,
    // a loss at 196 and 49).
    static constexpr index_t min_k = 24 * w;
};

// One tile of at most MR x NR dot products. Rows past `rows` (columns past `cols`) repeat the last
// valid row of A (of B): the extra sums are computed and dropped, so the loop has no edge tests.
struct gemm_abt_tile {
    template <class Arch, class T>
    void operator()(Arch, index_t k, const T* a, index_t lda, const T* b, index_t ldb, T beta, T* c, index_t ldc,
                    index_t rows, index_t cols) const;
};

template <class Arch, class T>
inline void gemm_abt_tile::operator()(Arch, index_t k, const T* a, index_t lda, const T* b, index_t ldb, T beta,
                                      T* c, index_t ldc, index_t rows, index_t cols) const {
    using batch = xsimd::batch<T, Arch>;
    using blk = abt_blocking<T, Arch>;
    constexpr index_t mr = blk::mr, nr = blk::nr, w = blk::w;
    const T* ar[mr];
    const T* br[nr];
#pragma GCC unroll 8
    for (index_t i = 0; i < mr; ++i) ar[i] = a + std::min(i, rows - 1) * lda;
#pragma GCC unroll 8
    for (index_t j = 0; j < nr; ++j) br[j] = b + std::min(j, cols - 1) * ldb;
    batch acc[mr][nr];
#pragma GCC unroll 8
    for (index_t i = 0; i < mr; ++i)
#pragma GCC unroll 8
        for (index_t j = 0; j < nr; ++j) acc[i][j] = batch(T(0));
    index_t p = 0;
    for (; p + w <= k; p += w) {                              // (MR, w) x (NR, w): MR*NR FMAs
        batch bv[nr];
#pragma GCC unroll 8
        for (index_t j = 0; j < nr; ++j) bv[j] = batch::load_unaligned(br[j] + p);
#pragma GCC unroll 8
        for (index_t i = 0; i < mr; ++i) {
            const batch av = batch::load_unaligned(ar[i] + p);
#pragma GCC unroll 8
            for (index_t j = 0; j < nr; ++j) acc[i][j] = xsimd::fma(av, bv[j], acc[i][j]);
        }
    }
    for (index_t i = 0; i < rows; ++i)
        for (index_t j = 0; j < cols; ++j) {
            T s = xsimd::hadd(acc[i][j]);
            for (index_t q = p; q < k; ++q) s += ar[i][q] * br[j][q];
            T& cij = c[i * ldc + j];
            cij = s + (beta != T(0) ? beta * cij : T(0));
        }
}

// One thread: callers run one product per sample on each thread (conv2d_backward).
template <class T, class Arch = arch>
inline void gemm_abt(index_t m, index_t n, index_t k, const T* a, index_t lda, const T* b, index_t ldb, T beta, T* c,
                     index_t ldc) {
    using blk = abt_blocking<T, Arch>;
    for (index_t i = 0; i < m; i += blk::mr)
        for (index_t j = 0; j < n; j += blk::nr)
            gemm_abt_tile{}(Arch{}, k, a + i * lda, lda, b + j * ldb, ldb, beta, c + i * ldc + j, ldc,
                            std::min(blk::mr, m - i), std::min(blk::nr, n - j));
}

}  // namespace typenet::kernels::cpu
