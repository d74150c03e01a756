// kernels/cpu/common.hpp — what every CPU kernel shares: sizes, threads, aligned scratch.
// Kernels take pointers, sizes and strides and include nothing else of typenet (STYLE rule 2).
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <type_traits>
// g++ 12.2's AVX-512 intrinsics declare `__m512 __Y = __Y;` and then warn about it under
// -Wmaybe-uninitialized, or -Wuninitialized in optimised builds, when inlined (GCC PR105593,
// fixed in 12.3). Silence both for those headers only: the pragma covers the lines where they are
// first included.
#if defined(__GNUC__) && !defined(__clang__) && (defined(__x86_64__) || defined(__i386__))
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop
#endif
#include <xsimd/xsimd.hpp>
#if defined(__SSE__) || defined(__x86_64__)
#include <xmmintrin.h>
#endif
#if defined(_OPENMP)
#include <omp.h>
#endif

// OpenMP pragmas that vanish without -fopenmp, so -Wall -Werror builds without OpenMP stay clean.
#if defined(_OPENMP)
#define TYPENET_OMP(directive) _Pragma(#directive)
#else
#define TYPENET_OMP(directive)
#endif

namespace typenet::kernels::cpu {

using index_t = std::ptrdiff_t;

// The instruction set the kernels are compiled for: the target's flags (-mavx2 -mfma, -march=...).
using arch = xsimd::default_arch;

inline int max_threads() {
#if defined(_OPENMP)
    return omp_get_max_threads();
#else
    return 1;
#endif
}

// Sets the threads kernels may use; 0 keeps OpenMP's default (OMP_NUM_THREADS or the core count).
inline void set_num_threads(int n) {
#if defined(_OPENMP)
    if (n > 0) omp_set_num_threads(n);
#else
    (void)n;
#endif
}

// Flush-to-zero and denormals-are-zero for the calling thread while the guard lives. Denormal
// operands cost ~100 cycles each on x86: Adam's second moments and the gradients of quiet units
// reach them within an epoch, and training ran 3x slower without this (40k vs 13k images/s for
// the MLP example). TensorFlow's ScopedFlushDenormal does the same. Worker threads take the
// caller's mode inside each parallel kernel (fp_mode below).
class fp_mode {
public:
#if defined(__SSE__) || defined(__x86_64__)
    static unsigned current() { return _mm_getcsr(); }
    static void set(unsigned m) { _mm_setcsr(m); }
    static constexpr unsigned flush_bits = 0x8040;   // FTZ | DAZ
#else
    static unsigned current() { return 0; }
    static void set(unsigned) {}
    static constexpr unsigned flush_bits = 0;
#endif
    explicit fp_mode(unsigned m) : saved_(current()) { if (m != saved_) set(m); }
    ~fp_mode() { if (current() != saved_) set(saved_); }
    fp_mode(const fp_mode&) = delete;
    fp_mode& operator=(const fp_mode&) = delete;

private:
    unsigned saved_;
};

struct flush_denormals : fp_mode {
    flush_denormals() : fp_mode(current() | flush_bits) {}
};

// Runs f(t, nt) on `threads` OpenMP threads, t = 0..nt-1 (nt may be fewer than asked), each in
// the caller's floating-point mode: one fork and one join, no barrier inside. Without OpenMP,
// f(0, 1) on the calling thread.
template <class F>
inline void run_threads(int threads, F f) {
    const unsigned caller_fp = fp_mode::current();
TYPENET_OMP(omp parallel num_threads(threads) if (threads > 1))
    {
        const fp_mode same_fp_as_caller(caller_fp);
#if defined(_OPENMP)
        f(index_t(omp_get_thread_num()), index_t(omp_get_num_threads()));
#else
        (void)threads;
        f(index_t(0), index_t(1));
#endif
    }
}

// f(i) for i in [0, n), threads taking contiguous runs of i (as OpenMP's static schedule), each in
// the caller's floating-point mode. For independent iterations: samples, channels.
template <class F>
inline void parallel_for(int threads, index_t n, F f) {
    run_threads(threads, [&](index_t t, index_t nt) {
        for (index_t i = n * t / nt; i < n * (t + 1) / nt; ++i) f(i);
    });
}

// f(i, len) over [0, n) in one contiguous slice per thread, where n feeds more than one: at least
// 2^16 values a thread (256 KB of floats, tens of microseconds against the few it takes to wake a
// thread). Slices start on whole 64-byte lines. For elementwise kernels, whose values do not
// depend on the split: a ResNet's ReLU and residual adds (3.2 MB per pass at batch 64) and a
// transformer's GELU ran on one core while the convolutions and products used two.
template <class T, class F>
inline void split_elementwise(index_t n, F f) {
    constexpr index_t line = 64 / index_t(sizeof(T)) > 0 ? 64 / index_t(sizeof(T)) : 1;
    const int threads = int(std::min<index_t>(index_t(max_threads()), n >> 16));
    if (threads <= 1) {
        f(index_t(0), n);
        return;
    }
    run_threads(threads, [&](index_t t, index_t nt) {
        const index_t i0 = n * t / nt / line * line, i1 = t + 1 == nt ? n : n * (t + 1) / nt / line * line;
        if (i1 > i0) f(i0, i1 - i0);
    });
}

// Non-temporal stores: a vector written to memory without reading its cache line first (the read a
// normal store of a line not in cache makes) and without keeping it in cache. can_stream<T, Arch>
// says whether the ISA has them for a whole vector of T (AVX and AVX-512); stream_store needs p
// aligned to the vector's size, and a store_fence() before another thread reads what it wrote.
template <class T, class Arch>
inline constexpr bool can_stream = std::is_base_of_v<xsimd::avx, Arch> || std::is_base_of_v<xsimd::avx512f, Arch>;

template <class Arch, class T>
inline void stream_store(const xsimd::batch<T, Arch>& v, T* p) {
#if defined(__AVX512F__)
    if constexpr (std::is_base_of_v<xsimd::avx512f, Arch> && std::is_same_v<T, float>) return _mm512_stream_ps(p, v);
    else if constexpr (std::is_base_of_v<xsimd::avx512f, Arch> && std::is_same_v<T, double>) return _mm512_stream_pd(p, v);
#endif
#if defined(__AVX__)
    if constexpr (std::is_base_of_v<xsimd::avx, Arch> && std::is_same_v<T, float>) return _mm256_stream_ps(p, v);
    else if constexpr (std::is_base_of_v<xsimd::avx, Arch> && std::is_same_v<T, double>) return _mm256_stream_pd(p, v);
#endif
    v.store_aligned(p);
}

inline void store_fence() {
#if defined(__SSE__)
    _mm_sfence();
#endif
}

// The first n < batch::size lanes of v to out, nothing past them: one masked store where the ISA
// has one. A copy through a stack tile became a memmove call per ragged vector (11 % of a batch-1
// LeNet predict, perf: its 28- and 10-column rows end in a partial vector).
template <class Arch, class T>
inline void store_first(const xsimd::batch<T, Arch>& v, T* out, index_t n) {
#if defined(__AVX512F__)
    if constexpr (std::is_base_of_v<xsimd::avx512f, Arch> && std::is_same_v<T, float>) {
        _mm512_mask_storeu_ps(out, __mmask16((1u << n) - 1u), v);
        return;
    } else if constexpr (std::is_base_of_v<xsimd::avx512f, Arch> && std::is_same_v<T, double>) {
        _mm512_mask_storeu_pd(out, __mmask8((1u << n) - 1u), v);
        return;
    }
#endif
#if defined(__AVX2__)
    if constexpr (std::is_base_of_v<xsimd::avx2, Arch> && std::is_same_v<T, float>) {
        const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        _mm256_maskstore_ps(out, _mm256_cmpgt_epi32(_mm256_set1_epi32(int(n)), lane), v);
        return;
    } else if constexpr (std::is_base_of_v<xsimd::avx2, Arch> && std::is_same_v<T, double>) {
        const __m256i lane = _mm256_setr_epi64x(0, 1, 2, 3);
        _mm256_maskstore_pd(out, _mm256_cmpgt_epi64(_mm256_set1_epi64x(n), lane), v);
        return;
    }
#endif
    alignas(64) T tile[xsimd::batch<T, Arch>::size];
    v.store_aligned(tile);
    for (index_t j = 0; j < n; ++j) out[j] = tile[j];
}

// The first n < batch::size values at p in the low lanes, zeros above; nothing past p + n is read.
template <class Arch, class T>
inline xsimd::batch<T, Arch> load_first(const T* p, index_t n) {
#if defined(__AVX512F__)
    if constexpr (std::is_base_of_v<xsimd::avx512f, Arch> && std::is_same_v<T, float>)
        return _mm512_maskz_loadu_ps(__mmask16((1u << n) - 1u), p);
    else if constexpr (std::is_base_of_v<xsimd::avx512f, Arch> && std::is_same_v<T, double>)
        return _mm512_maskz_loadu_pd(__mmask8((1u << n) - 1u), p);
#endif
#if defined(__AVX2__)
    if constexpr (std::is_base_of_v<xsimd::avx2, Arch> && std::is_same_v<T, float>)
        return _mm256_maskload_ps(p, _mm256_cmpgt_epi32(_mm256_set1_epi32(int(n)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)));
    else if constexpr (std::is_base_of_v<xsimd::avx2, Arch> && std::is_same_v<T, double>)
        return _mm256_maskload_pd(p, _mm256_cmpgt_epi64(_mm256_set1_epi64x(n), _mm256_setr_epi64x(0, 1, 2, 3)));
#endif
    alignas(64) T tile[xsimd::batch<T, Arch>::size] = {};
    for (index_t j = 0; j < n; ++j) tile[j] = p[j];
    return xsimd::batch<T, Arch>::load_aligned(tile);
}

// n <= batch::size values: a whole vector where n is one, else the first n lanes (load_first,
// store_first); for loops whose last vector may be partial.
template <class Arch, class T>
inline xsimd::batch<T, Arch> load_upto(const T* p, index_t n) {
    return n == index_t(xsimd::batch<T, Arch>::size) ? xsimd::batch<T, Arch>::load_unaligned(p) : load_first<Arch>(p, n);
}
template <class Arch, class T>
inline void store_upto(const xsimd::batch<T, Arch>& v, T* out, index_t n) {
    if (n == index_t(xsimd::batch<T, Arch>::size)) v.store_unaligned(out);
    else store_first(v, out, n);
}

// Lanes [lo, hi) of the vector at p, zeros elsewhere (0 <= lo <= hi <= batch::size); only those
// lanes are read, so p + lo may be the first readable value.
template <class Arch, class T>
inline xsimd::batch<T, Arch> load_range(const T* p, index_t lo, index_t hi) {
#if defined(__AVX512F__)
    if constexpr (std::is_base_of_v<xsimd::avx512f, Arch> && std::is_same_v<T, float>)
        return _mm512_maskz_loadu_ps(__mmask16(((1u << hi) - 1u) & ~((1u << lo) - 1u)), p);
    else if constexpr (std::is_base_of_v<xsimd::avx512f, Arch> && std::is_same_v<T, double>)
        return _mm512_maskz_loadu_pd(__mmask8(((1u << hi) - 1u) & ~((1u << lo) - 1u)), p);
#endif
#if defined(__AVX2__)
    if constexpr (std::is_base_of_v<xsimd::avx2, Arch> && std::is_same_v<T, float>) {
        const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        const __m256i in = _mm256_andnot_si256(_mm256_cmpgt_epi32(_mm256_set1_epi32(int(lo)), lane),
                                               _mm256_cmpgt_epi32(_mm256_set1_epi32(int(hi)), lane));
        return _mm256_maskload_ps(p, in);
    } else if constexpr (std::is_base_of_v<xsimd::avx2, Arch> && std::is_same_v<T, double>) {
        const __m256i lane = _mm256_setr_epi64x(0, 1, 2, 3);
        const __m256i in = _mm256_andnot_si256(_mm256_cmpgt_epi64(_mm256_set1_epi64x(lo), lane),
                                               _mm256_cmpgt_epi64(_mm256_set1_epi64x(hi), lane));
        return _mm256_maskload_pd(p, in);
    }
#endif
    alignas(64) T tile[xsimd::batch<T, Arch>::size] = {};
    for (index_t j = lo; j < hi; ++j) tile[j] = p[j];
    return xsimd::batch<T, Arch>::load_aligned(tile);
}

// Lanes [lo, hi) of v to p + lo .. p + hi - 1 (0 <= lo <= hi <= batch::size); nothing else is written.
template <class Arch, class T>
inline void store_range(const xsimd::batch<T, Arch>& v, T* p, index_t lo, index_t hi) {
#if defined(__AVX512F__)
    if constexpr (std::is_base_of_v<xsimd::avx512f, Arch> && std::is_same_v<T, float>) {
        _mm512_mask_storeu_ps(p, __mmask16(((1u << hi) - 1u) & ~((1u << lo) - 1u)), v);
        return;
    } else if constexpr (std::is_base_of_v<xsimd::avx512f, Arch> && std::is_same_v<T, double>) {
        _mm512_mask_storeu_pd(p, __mmask8(((1u << hi) - 1u) & ~((1u << lo) - 1u)), v);
        return;
    }
#endif
#if defined(__AVX2__)
    if constexpr (std::is_base_of_v<xsimd::avx2, Arch> && std::is_same_v<T, float>) {
        const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        _mm256_maskstore_ps(p, _mm256_andnot_si256(_mm256_cmpgt_epi32(_mm256_set1_epi32(int(lo)), lane),
                                                   _mm256_cmpgt_epi32(_mm256_set1_epi32(int(hi)), lane)), v);
        return;
    } else if constexpr (std::is_base_of_v<xsimd::avx2, Arch> && std::is_same_v<T, double>) {
        const __m256i lane = _mm256_setr_epi64x(0, 1, 2, 3);
        _mm256_maskstore_pd(p, _mm256_andnot_si256(_mm256_cmpgt_epi64(_mm256_set1_epi64x(lo), lane),
                                                   _mm256_cmpgt_epi64(_mm256_set1_epi64x(hi), lane)), v);
        return;
    }
#endif
    alignas(64) T tile[xsimd::batch<T, Arch>::size];
    v.store_aligned(tile);
    for (index_t j = lo; j < hi; ++j) p[j] = tile[j];
}

// Short rows (a convolution's 10 to 28 columns): whole vectors, then one masked vector. g++ turns
// the plain loops into memmove and memset calls, which cost more than the copy at these lengths
// (im2col of LeNet's second layer: 18 % of its forward in memmove, perf).
template <class Arch, class T>
inline void copy_row(const T* src, T* dst, index_t n) {
    using batch = xsimd::batch<T, Arch>;
    constexpr index_t w = batch::size;
    index_t i = 0;
    for (; i + w <= n; i += w) batch::load_unaligned(src + i).store_unaligned(dst + i);
    if (i < n) store_first(load_first<Arch>(src + i, n - i), dst + i, n - i);
}
template <class Arch, class T>
inline void zero_row(T* dst, index_t n) {
    using batch = xsimd::batch<T, Arch>;
    constexpr index_t w = batch::size;
    index_t i = 0;
    for (; i + w <= n; i += w) batch(T(0)).store_unaligned(dst + i);
    if (i < n) store_first(batch(T(0)), dst + i, n - i);
}
// dst += src over n values.
template <class Arch, class T>
inline void add_row(const T* src, T* dst, index_t n) {
    using batch = xsimd::batch<T, Arch>;
    constexpr index_t w = batch::size;
    index_t i = 0;
    for (; i + w <= n; i += w) (batch::load_unaligned(dst + i) + batch::load_unaligned(src + i)).store_unaligned(dst + i);
    if (i < n) store_first(load_first<Arch>(dst + i, n - i) + load_first<Arch>(src + i, n - i), dst + i, n - i);
}

// Arch is AVX2 or a later x86 ISA compiled into this translation unit.
template <class Arch>
inline constexpr bool avx2_or_later = false
#if defined(__AVX2__)
                                      || std::is_base_of_v<xsimd::avx2, Arch>
#endif
#if defined(__AVX512F__)
                                      || std::is_base_of_v<xsimd::avx512f, Arch>
#endif
    ;

// The float ISAs with a full-width even/odd shuffle: (a0, a1), 2w consecutive values, to their even
// and odd elements (unzip), and back (zip). xsimd 8.1's zip_lo/zip_hi interleave within 128-bit
// lanes only.
template <class Arch, class T>
inline constexpr bool has_unzip = std::is_same_v<T, float> && (std::is_base_of_v<xsimd::sse2, Arch> || avx2_or_later<Arch>);

template <class Arch>
inline void unzip(xsimd::batch<float, Arch> a0, xsimd::batch<float, Arch> a1, xsimd::batch<float, Arch>& even,
                  xsimd::batch<float, Arch>& odd) {
#if defined(__AVX512F__)
    if constexpr (std::is_base_of_v<xsimd::avx512f, Arch>) {
        const __m512i e = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
        const __m512i o = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
        even = _mm512_permutex2var_ps(a0, e, a1);
        odd = _mm512_permutex2var_ps(a0, o, a1);
        return;
    }
#endif
#if defined(__AVX2__)
    if constexpr (std::is_base_of_v<xsimd::avx2, Arch>) {   // per 128-bit lane, then the 64-bit pairs in order
        even = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a0, a1, 0x88)), 0xD8));
        odd = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a0, a1, 0xDD)), 0xD8));
        return;
    }
#endif
    if constexpr (std::is_base_of_v<xsimd::sse2, Arch>) {
        even = _mm_shuffle_ps(a0, a1, _MM_SHUFFLE(2, 0, 2, 0));
        odd = _mm_shuffle_ps(a0, a1, _MM_SHUFFLE(3, 1, 3, 1));
    }
}

template <class Arch>
inline void zip(xsimd::batch<float, Arch> even, xsimd::batch<float, Arch> odd, xsimd::batch<float, Arch>& a0,
                xsimd::batch<float, Arch>& a1) {
#if defined(__AVX512F__)
    if constexpr (std::is_base_of_v<xsimd::avx512f, Arch>) {
        const __m512i lo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
        const __m512i hi = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
        a0 = _mm512_permutex2var_ps(even, lo, odd);
        a1 = _mm512_permutex2var_ps(even, hi, odd);
        return;
    }
#endif
#if defined(__AVX2__)
    if constexpr (std::is_base_of_v<xsimd::avx2, Arch>) {
        const __m256 lo = _mm256_unpacklo_ps(even, odd), hi = _mm256_unpackhi_ps(even, odd);
        a0 = _mm256_permute2f128_ps(lo, hi, 0x20);
        a1 = _mm256_permute2f128_ps(lo, hi, 0x31);
        return;
    }
#endif
    if constexpr (std::is_base_of_v<xsimd::sse2, Arch>) {
        a0 = _mm_unpacklo_ps(even, odd);
        a1 = _mm_unpackhi_ps(even, odd);
    }
}

// The float ISAs with a full-width permute of lanes (AVX2, AVX-512).
template <class Arch, class T>
inline constexpr bool has_lane_permute = std::is_same_v<T, float> && avx2_or_later<Arch>;

// A fixed choice of lanes from a pair of vectors (a0, a1), 2w values: lane i of the result is value
// index[i] of the pair, or zero where index[i] < 0. Built once, applied to many pairs: one
// two-source permute each at AVX-512; two permutes, a blend and a mask at AVX2.
template <class Arch>
struct pair_lanes {
    static_assert(has_lane_permute<Arch, float>);
    static constexpr index_t w = xsimd::batch<float, Arch>::size;
    xsimd::batch<std::int32_t, Arch> index;
    xsimd::batch<std::int32_t, Arch> keep, high;       // AVX2: all ones where index >= 0, >= w
    unsigned keep_bits = 0;                             // AVX-512: bit i where index[i] >= 0

    pair_lanes() = default;
    explicit pair_lanes(const std::int32_t* idx) {     // w entries, each < 2w
        index = xsimd::batch<std::int32_t, Arch>::load_unaligned(idx);
        for (index_t i = 0; i < w; ++i) keep_bits |= idx[i] >= 0 ? 1u << i : 0u;
#if defined(__AVX2__)
        if constexpr (!std::is_base_of_v<xsimd::avx512f, Arch>) {
            keep = _mm256_cmpgt_epi32(index, _mm256_set1_epi32(-1));
            high = _mm256_cmpgt_epi32(index, _mm256_set1_epi32(int(w) - 1));
        }
#endif
    }
    xsimd::batch<float, Arch> operator()(xsimd::batch<float, Arch> a0, xsimd::batch<float, Arch> a1) const {
#if defined(__AVX512F__)
        if constexpr (std::is_base_of_v<xsimd::avx512f, Arch>)   // the permute reads the index's low 5 bits
            return _mm512_maskz_permutex2var_ps(__mmask16(keep_bits), a0, index, a1);
#endif
#if defined(__AVX2__)
        if constexpr (!std::is_base_of_v<xsimd::avx512f, Arch>) {   // each vector permuted by the low 3 bits
            const __m256 picked = _mm256_blendv_ps(_mm256_permutevar8x32_ps(a0, index), _mm256_permutevar8x32_ps(a1, index),
                                                   _mm256_castsi256_ps(high));
            return _mm256_and_ps(picked, _mm256_castsi256_ps(keep));
        }
#endif
    }
};

// n <= 2w values from p as two vectors, zeros past n; nothing past p + n is read.
template <class Arch, class T>
inline void load_pair(const T* p, index_t n, xsimd::batch<T, Arch>& a0, xsimd::batch<T, Arch>& a1) {
    using batch = xsimd::batch<T, Arch>;
    constexpr index_t w = batch::size;
    a0 = load_upto<Arch>(p, std::min(n, w));
    a1 = n > w ? load_upto<Arch>(p + w, n - w) : batch(T(0));
}
template <class Arch, class T>
inline void store_pair(xsimd::batch<T, Arch> a0, xsimd::batch<T, Arch> a1, T* p, index_t n) {
    constexpr index_t w = xsimd::batch<T, Arch>::size;
    store_upto(a0, p, std::min(n, w));
    if (n > w) store_upto(a1, p + w, n - w);
}

// Makes the compiler hold v in a register from here on: g++ 12 otherwise folds a vector used by
// several FMAs into each of them as a memory operand, one load per FMA, where the loads, not the
// FMAs, then bound the loop (conv_direct_dw_tile: 8 dy vectors x 3 taps ran as 27 loads per 24
// FMAs).
template <class Arch, class T>
inline void in_register(xsimd::batch<T, Arch>& v) {
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
    auto& r = v.data;
    __asm__("" : "+v"(r));
#else
    (void)v;
#endif
}

// p rounded up to the next 64-byte boundary (at most 63 bytes on: leave room for it).
template <class T>
inline T* align64(T* p) {
    return reinterpret_cast<T*>((reinterpret_cast<std::uintptr_t>(p) + 63) & ~std::uintptr_t(63));
}

// Grow-only, 64-byte aligned scratch: after the first call of a given size, no allocation.
class scratch {
public:
    scratch() = default;
    scratch(const scratch&) = delete;
    scratch& operator=(const scratch&) = delete;
    ~scratch() { std::free(data_); }
    template <class T> T* get(std::size_t n) {
        const std::size_t bytes = (n * sizeof(T) + 63) / 64 * 64;
        if (bytes > bytes_) {
            std::free(data_);
            data_ = std::aligned_alloc(64, bytes);
            if (!data_) { bytes_ = 0; throw std::bad_alloc(); }
            bytes_ = bytes;
        }
        return static_cast<T*>(data_);
    }

private:
    void* data_ = nullptr;
    std::size_t bytes_ = 0;
};

}  // namespace typenet::kernels::cpu
