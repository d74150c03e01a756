// kernels/cpu/elementwise.hpp — maps over contiguous arrays, full batches then a padded tail, and
// the row/column helpers a dense layer needs (bias broadcast, bias gradient).
#pragma once
#include <algorithm>

#include "typenet/kernels/cpu/common.hpp"
#include "typenet/kernels/cpu/dispatch.hpp"

namespace typenet::kernels::cpu {

// y[i] = f(x[i]); f takes and returns xsimd::batch<T, Arch>. The tail runs as one zero-padded
// batch, so f needs no scalar twin. noipa (map2 too): f is inlined here, but a caller's constant n
// is not propagated in, where g++ 12 warns about the tail loops (-Waggressive-loop-optimizations).
template <class T, class Arch = arch, class F>
[[gnu::noipa]] inline void map(index_t n, const T* x, T* y, F f) {
    using batch = xsimd::batch<T, Arch>;
    constexpr index_t w = batch::size;
    index_t i = 0;
    for (; i + w <= n; i += w) f(batch::load_unaligned(x + i)).store_unaligned(y + i);
    if (i < n) {
        alignas(64) T tx[w] = {};
        for (index_t j = i; j < n; ++j) tx[j - i] = x[j];
        store_first(f(batch::load_aligned(tx)), y + i, n - i);
    }
}

// z[i] = f(x[i], y[i]).
template <class T, class Arch = arch, class F>
[[gnu::noipa]] inline void map2(index_t n, const T* x, const T* y, T* z, F f) {
    using batch = xsimd::batch<T, Arch>;
    constexpr index_t w = batch::size;
    index_t i = 0;
    for (; i + w <= n; i += w)
        f(batch::load_unaligned(x + i), batch::load_unaligned(y + i)).store_unaligned(z + i);
    if (i < n) {
        alignas(64) T tx[w] = {}, tyy[w] = {};
        for (index_t j = i; j < n; ++j) tx[j - i] = x[j], tyy[j - i] = y[j];
        store_first(f(batch::load_aligned(tx), batch::load_aligned(tyy)), z + i, n - i);
    }
}

// y += a x
struct axpy_kernel {
    template <class Arch, class T> void operator()(Arch, index_t n, T a, const T* x, T* y) const;
};
template <class Arch, class T>
inline void axpy_kernel::operator()(Arch, index_t n, T a, const T* x, T* y) const {
    map2<T, Arch>(n, x, y, y, [a](auto xv, auto yv) { return xsimd::fma(decltype(xv)(a), xv, yv); });
}
template <class T>
inline void axpy(index_t n, T a, const T* x, T* y) {
    split_elementwise<T>(n, [&](index_t i, index_t m) {
        invoke_kernel<&kernel_table<T>::axpy>(axpy_kernel{}, m, a, x + i, y + i);
    });
}

// z = x + y (a residual's sum, a bias pair, a position added); z may alias x or y.
struct add_arrays {
    template <class Arch, class T> void operator()(Arch, index_t n, const T* x, const T* y, T* z) const;
};
template <class Arch, class T>
inline void add_arrays::operator()(Arch, index_t n, const T* x, const T* y, T* z) const {
    map2<T, Arch>(n, x, y, z, [](auto u, auto v) { return u + v; });
}
template <class T>
inline void add(index_t n, const T* x, const T* y, T* z) {
    split_elementwise<T>(n, [&](index_t i, index_t m) {
        invoke_kernel<&kernel_table<T>::add>(add_arrays{}, m, x + i, y + i, z + i);
    });
}

// Every row of C (m, n) := v (n): the bias, before a GEMM accumulates into C with beta = 1.
template <class T>
inline void broadcast_rows(index_t m, index_t n, const T* v, T* c, index_t ldc) {
    for (index_t i = 0; i < m; ++i) std::copy(v, v + n, c + i * ldc);
}

// s (n) += sum over rows of A (m, n): a bias gradient.
struct column_sums {
    template <class Arch, class T> void operator()(Arch, index_t m, index_t n, const T* a, index_t lda, T* s) const;
};
template <class Arch, class T>
inline void column_sums::operator()(Arch, index_t m, index_t n, const T* a, index_t lda, T* s) const {
    for (index_t i = 0; i < m; ++i) add_arrays{}(Arch{}, n, a + i * lda, s, s);
}
template <class T>
inline void add_column_sums(index_t m, index_t n, const T* a, index_t lda, T* s) {
    invoke_kernel<&kernel_table<T>::column_sums>(column_sums{}, m, n, a, lda, s);
}

// s (m) += the sum of each row of A (m, n): a convolution's bias gradient, over dy's (O, S) rows.
// Four vector sums per row (a scalar loop is a chain of dependent additions: 4 cycles each).
struct row_sums {
    template <class Arch, class T> void operator()(Arch, index_t m, index_t n, const T* a, index_t lda, T* s) const;
};
template <class Arch, class T>
inline void row_sums::operator()(Arch, index_t m, index_t n, const T* a, index_t lda, T* s) const {
    using batch = xsimd::batch<T, Arch>;
    constexpr index_t w = batch::size;
    for (index_t i = 0; i < m; ++i) {
        const T* r = a + i * lda;
        batch acc[4] = {batch(T(0)), batch(T(0)), batch(T(0)), batch(T(0))};
        index_t j = 0;
        for (; j + 4 * w <= n; j += 4 * w)
#pragma GCC unroll 4
            for (index_t u = 0; u < 4; ++u) acc[u] += batch::load_unaligned(r + j + u * w);
        for (; j + w <= n; j += w) acc[0] += batch::load_unaligned(r + j);
        if (j < n) acc[1] += load_first<Arch>(r + j, n - j);
        s[i] += xsimd::hadd((acc[0] + acc[1]) + (acc[2] + acc[3]));
    }
}
template <class T>
inline void add_row_sums(index_t m, index_t n, const T* a, index_t lda, T* s) {
    invoke_kernel<&kernel_table<T>::row_sums>(row_sums{}, m, n, a, lda, s);
}

}  // namespace typenet::kernels::cpu
