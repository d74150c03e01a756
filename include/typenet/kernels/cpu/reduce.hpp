// kernels/cpu/reduce.hpp — whole-buffer reductions and in-place maps for gradient clipping: the sum
// of squares (accumulated in double, whatever T), x *= a, and x clamped into [lo, hi], each with a
// plain-loop *_ref twin as the tests' oracle; and a dot product (attention's rows). Each is one
// pass, full batches then a scalar tail.
#pragma once
#include "typenet/kernels/cpu/common.hpp"
#include "typenet/kernels/cpu/dispatch.hpp"

namespace typenet::kernels::cpu {

// sum_i x[i]^2 in double: a float buffer of 10^6 gradients summed in float loses ~3 digits, and
// the norm decides whether and how much a step is clipped. Floats are widened as they are loaded
// (batch<double>::load_unaligned(const float*)), so both types run the same double FMA loop.
struct sum_of_squares_step {
    template <class Arch, class T>
    double operator()(Arch, index_t n, const T* x) const;
};

template <class Arch, class T>
inline double sum_of_squares_step::operator()(Arch, index_t n, const T* x) const {
    using batch = xsimd::batch<double, Arch>;
    constexpr index_t w = batch::size;
    batch acc(0.0);
    index_t i = 0;
    for (; i + w <= n; i += w) {
        const batch v = batch::load_unaligned(x + i);
        acc = xsimd::fma(v, v, acc);
    }
    double s = xsimd::hadd(acc);
    for (; i < n; ++i) s += double(x[i]) * double(x[i]);
    return s;
}

// sum_i a[i] b[i], in T (a row of attention scores: dh values).
template <class T, class Arch = arch>
inline T dot(index_t n, const T* a, const T* b) {
    using batch = xsimd::batch<T, Arch>;
    constexpr index_t w = batch::size;
    batch acc(T(0));
    index_t i = 0;
    for (; i + w <= n; i += w) acc = xsimd::fma(batch::load_unaligned(a + i), batch::load_unaligned(b + i), acc);
    T s = xsimd::hadd(acc);
    for (; i < n; ++i) s += a[i] * b[i];
    return s;
}

template <class T>
[[gnu::noipa]] inline double sum_of_squares(index_t n, const T* x) {   // noipa: as scale below

    return invoke_kernel<&kernel_table<T>::sum_of_squares>(sum_of_squares_step{}, n, x);
}

template <class T>
inline double sum_of_squares_ref(index_t n, const T* x) {
    double s = 0;
    for (index_t i = 0; i < n; ++i) s += double(x[i]) * double(x[i]);
    return s;
}

// x *= a
struct scale_step {
    template <class Arch, class T>
    void operator()(Arch, index_t n, T a, T* x) const;
};

template <class Arch, class T>
inline void scale_step::operator()(Arch, index_t n, T a, T* x) const {
    using batch = xsimd::batch<T, Arch>;
    constexpr index_t w = batch::size;
    index_t i = 0;
    for (; i + w <= n; i += w) (batch(a) * batch::load_unaligned(x + i)).store_unaligned(x + i);
    for (; i < n; ++i) x[i] *= a;
}

// noipa: called with a network's constant parameter count (clip_grad_norm), g++ 12 warns about the
// tail loop (-Waggressive-loop-optimizations) once the constant reaches it.
template <class T>
[[gnu::noipa]] inline void scale(index_t n, T a, T* x) {
    invoke_kernel<&kernel_table<T>::scale>(scale_step{}, n, a, x);
}

template <class T>
inline void scale_ref(index_t n, T a, T* x) {
    for (index_t i = 0; i < n; ++i) x[i] *= a;
}

// x = min(max(x, lo), hi), lo <= hi; a NaN stays NaN in both versions (as torch.clamp).
struct clamp_step {
    template <class Arch, class T>
    void operator()(Arch, index_t n, T lo, T hi, T* x) const;
};

template <class Arch, class T>
inline void clamp_step::operator()(Arch, index_t n, T lo, T hi, T* x) const {
    using batch = xsimd::batch<T, Arch>;
    constexpr index_t w = batch::size;
    index_t i = 0;
    // select, not xsimd::min/max: those return the second operand for a NaN on x86 and would turn
    // a NaN gradient into lo or hi, hiding the divergence the NaN reports.
    for (; i + w <= n; i += w) {
        const batch v = batch::load_unaligned(x + i);
        xsimd::select(v < batch(lo), batch(lo), xsimd::select(v > batch(hi), batch(hi), v)).store_unaligned(x + i);
    }
    for (; i < n; ++i) x[i] = x[i] < lo ? lo : (x[i] > hi ? hi : x[i]);
}

template <class T>
inline void clamp(index_t n, T lo, T hi, T* x) {
    invoke_kernel<&kernel_table<T>::clamp>(clamp_step{}, n, lo, hi, x);
}

template <class T>
inline void clamp_ref(index_t n, T lo, T hi, T* x) {
    for (index_t i = 0; i < n; ++i) x[i] = x[i] < lo ? lo : (x[i] > hi ? hi : x[i]);
}

}  // namespace typenet::kernels::cpu
