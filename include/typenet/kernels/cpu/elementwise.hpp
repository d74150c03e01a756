// kernels/cpu/elementwise.hpp — maps over contiguous arrays, full batches then a padded tail, and
// the row/column helpers a dense layer needs (bias broadcast, bias gradient).
#pragma once
#include <algorithm>

#include "typenet/kernels/cpu/common.hpp"

namespace typenet::kernels::cpu {

// y[i] = f(x[i]); f takes and returns xsimd::batch<T, Arch>. The tail runs as one zero-padded
// batch, so f needs no scalar twin.
template <class T, class F, class Arch = arch>
inline void map(index_t n, const T* x, T* y, F f) {
    using batch = xsimd::batch<T, Arch>;
    constexpr index_t w = batch::size;
    index_t i = 0;
    for (; i + w <= n; i += w) f(batch::load_unaligned(x + i)).store_unaligned(y + i);
    if (i < n) {
        alignas(64) T tx[w] = {}, ty[w];
        std::copy(x + i, x + n, tx);
        f(batch::load_aligned(tx)).store_aligned(ty);
        std::copy(ty, ty + (n - i), y + i);
    }
}

// z[i] = f(x[i], y[i]).
template <class T, class F, class Arch = arch>
inline void map2(index_t n, const T* x, const T* y, T* z, F f) {
    using batch = xsimd::batch<T, Arch>;
    constexpr index_t w = batch::size;
    index_t i = 0;
    for (; i + w <= n; i += w)
        f(batch::load_unaligned(x + i), batch::load_unaligned(y + i)).store_unaligned(z + i);
    if (i < n) {
        alignas(64) T tx[w] = {}, tyy[w] = {}, tz[w];
        std::copy(x + i, x + n, tx);
        std::copy(y + i, y + n, tyy);
        f(batch::load_aligned(tx), batch::load_aligned(tyy)).store_aligned(tz);
        std::copy(tz, tz + (n - i), z + i);
    }
}

// y += a x
template <class T>
inline void axpy(index_t n, T a, const T* x, T* y) {
    map2(n, x, y, y, [a](auto xv, auto yv) { return xsimd::fma(decltype(xv)(a), xv, yv); });
}

// Every row of C (m, n) := v (n): the bias, before a GEMM accumulates into C with beta = 1.
template <class T>
inline void broadcast_rows(index_t m, index_t n, const T* v, T* c, index_t ldc) {
    for (index_t i = 0; i < m; ++i) std::copy(v, v + n, c + i * ldc);
}

// s (n) += sum over rows of A (m, n): a bias gradient.
template <class T>
inline void add_column_sums(index_t m, index_t n, const T* a, index_t lda, T* s) {
    for (index_t i = 0; i < m; ++i) axpy(n, T(1), a + i * lda, s);
}

}  // namespace typenet::kernels::cpu
