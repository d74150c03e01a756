// kernels/cpu/gemm.hpp — C := A*B + beta*C, BLIS style: pack A and B into micro-panels, cache
// blocking sized for L1/L2, an xsimd register-blocked micro-kernel, edge tiles inside.
// Operands take a row and a column stride (BLIS's general strides), so A^T or B^T is a stride swap.
//
//   gemm(m, n, k, a, rsa, csa, b, rsb, csb, beta, c, ldc, ep)  (M,K) x (K,N) => (M,N), threads;
//                                                              ep: a row or column bias, same pass
//   gemm_single_thread(...)                                    the same on the calling thread
//   pack_b(k, n, b, rsb, csb, bp); gemm_packed_b(...)          B packed once for many products
//   gemm_ref(...)                                              plain loops: the oracle for tests
// The entry points split C over threads and pass pack buffers to the one-thread kernels
// (gemm_serial, gemm_packed_b_serial, pack_b_kernel), which run at the active ISA (dispatch.hpp).
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <numeric>
#include <utility>

#include "typenet/kernels/cpu/common.hpp"
#include "typenet/kernels/cpu/dispatch.hpp"
#include "typenet/kernels/cpu/elementwise.hpp"

namespace typenet::kernels::cpu {

template <class T, class Arch>
struct blocking {
    static constexpr index_t w = xsimd::batch<T, Arch>::size;   // lanes
    static constexpr index_t nv = 2;                             // vectors across a tile row
    // MR x NR accumulators: 8 x 2 = 16 of AVX-512's 32 registers, 6 x 2 = 12 of AVX2's 16. Eight
    // rows divide the row counts of the layers here (a transformer's 4096 tokens and its 128, 384,
    // 512 wide weight gradients, attention's 32-row blocks), where six left a ragged tile in each
    // A block; and a k step loads 2 vectors of B for 16 FMAs, not 12. gemm_bench, 1 thread, 6 -> 8:
    // 512x128x4096_aT 118-120 -> 128-136 GFLOP/s, 128x128x4096_aT 117-119 -> 125-127, 64x256x784_bT
    // 100-122 -> 128-130, 16x100x150 96-99 -> 106-110, the 4096-row products unchanged (150-158).
    // (12 rows: 24 accumulators and 12 row pointers of A, which g++ spills: 10 % slower read in
    // place.)
    static constexpr index_t mr = std::is_base_of_v<xsimd::avx512f, Arch> ? 8 : 6;
    static constexpr index_t nr = nv * w;
    static constexpr index_t kc = 256;                           // kc x nr B micro-panel stays in L1
    static constexpr index_t mc = mr * 24;                       // mc x kc A block stays in L2
    static constexpr index_t nc = nr * 64;                       // kc x nc B block in L2/L3
    // Below this many rows of C, a row-major B is read in place instead of packed: packing costs a
    // load and a store per element of B, the micro-kernel spends about m / w FMAs on it, so for a
    // convolution's few output channels packing cost as much as the arithmetic (conv_bench).
    static constexpr index_t direct_b_max_m = 4 * w;
    // ... and up to this k whatever the rows: a panel of at most 64 rows of B (8 KB at AVX-512) stays
    // in L1 across the tiles unpacked, so packing only copies it (a dense layer's dw = dy^T x at
    // batch 64: 256 x 784 x 64 went from 141-144 to 149-151 GFLOP/s, gemm_bench, 1 thread).
    static constexpr index_t direct_b_max_k = 64;
    // A C of at least this many bytes (the 2 MB L2 of the machines here) written in one k block
    // with beta == 0 is stored with non-temporal stores (gemm_serial).
    static constexpr index_t stream_c_min_bytes = index_t(1) << 21;
};

template <class T, class Arch>
constexpr gemm_sizes gemm_sizes_of() {
    using blk = blocking<T, Arch>;
    return {blk::mr, blk::nr, blk::kc, blk::mc, blk::nc};
}

// The blocking of the ISA that runs this process's GEMMs.
template <class T>
inline gemm_sizes active_gemm_sizes() {
    return active_sizes<&kernel_table<T>::gemm>([](auto a) { return gemm_sizes_of<T, decltype(a)>(); });
}

namespace detail {
// sums[r] += sum_p panel[p * MR + r] for r < rows: a packed panel of A, (k, MR) with p outermost.
// Read flat, lane l of the vector at offset f holds row (f + l) mod MR, so every lcm(MR, w) values
// (one vector at AVX-512's 8 rows of 16 floats, three at AVX2's 6 of 8) the rows repeat: that many
// accumulators, folded into rows once. A weight gradient's bias gradient this way costs a few vector
// adds per packed block, read back from L1; summed as the values were copied (a chain of dependent
// adds per row) it cost as much as the pass over dy it replaced (char-GPT, perf).
template <class Arch, class T>
inline void add_panel_row_sums(const T* panel, index_t k, index_t rows, T* sums) {
    using batch = xsimd::batch<T, Arch>;
    constexpr index_t w = batch::size, MR = blocking<T, Arch>::mr;
    constexpr index_t period = std::lcm(MR, w), nv = period / w;
    const index_t len = k * MR;
    batch acc[nv];
    for (index_t j = 0; j < nv; ++j) acc[j] = batch(T(0));
    index_t f = 0;
    for (; f + period <= len; f += period)
        for (index_t j = 0; j < nv; ++j) acc[j] += batch::load_unaligned(panel + f + j * w);
    alignas(64) T lanes[period];
    T row[MR] = {};
    for (index_t j = 0; j < nv; ++j) acc[j].store_aligned(lanes + j * w);
    for (index_t i = 0; i < period; ++i) row[i % MR] += lanes[i];
    for (; f < len; ++f) row[f % MR] += panel[f];           // f is a multiple of MR here
    for (index_t r = 0; r < rows; ++r) sums[r] += row[r];
}
}  // namespace detail

// A (m, k) block -> panels of the ISA's mr rows, each (k, mr) with p outermost; rows past m are zero.
// sums (if not null): sums[i] += sum_p A(i, p) over the block, summed from the packed panels.
template <class Arch, class T>
inline void pack_a(Arch, index_t m, index_t k, const T* a, index_t rsa, index_t csa, T* ap, T* sums = nullptr) {
    constexpr index_t mr = blocking<T, Arch>::mr;
    if (rsa == 1) {
        // A^T stored row-major (a dense layer's dw = dy^T x): the mr values of a panel at one p are
        // contiguous. Panel by panel, every p is a new cache line (and every few a new page) far
        // from the last: a fifth of a 384 x 128 x 4096 product went to that packing (perf). So p
        // goes in blocks of pb rows of A^T, which stay in L1 while every panel takes its pb x mr
        // piece of them, and each panel is written pb * mr contiguous values at a time. (Across
        // all panels at each p, the writes went to mc / mr streams 6 KB apart, which share two of
        // L1's 64 sets: 17 % of the same product in masked stores that missed, perf.)
        constexpr index_t pb = 32;
        for (index_t p0 = 0; p0 < k; p0 += pb) {
            const index_t p1 = std::min(k, p0 + pb);
            for (index_t i0 = 0; i0 < m; i0 += mr) {
                const index_t rows = std::min(mr, m - i0);
                T* dst = ap + i0 * k;
                const T* src = a + i0;
                if (rows == mr) {
                    for (index_t p = p0; p < p1; ++p) std::memcpy(dst + p * mr, src + p * csa, sizeof(T) * mr);
                } else {
                    for (index_t p = p0; p < p1; ++p) {
                        index_t r = 0;
                        for (; r < rows; ++r) dst[p * mr + r] = src[p * csa + r];
                        for (; r < mr; ++r) dst[p * mr + r] = T(0);
                    }
                }
                if (sums) detail::add_panel_row_sums<Arch>(dst + p0 * mr, p1 - p0, rows, sums + i0);   // from L1
            }
        }
        return;
    }
    for (index_t i0 = 0; i0 < m; i0 += mr, ap += mr * k) {
        const index_t rows = std::min(mr, m - i0);
        for (index_t p = 0; p < k; ++p) {
            const T* src = a + i0 * rsa + p * csa;
            T* dst = ap + p * mr;
            index_t r = 0;
            for (; r < rows; ++r) dst[r] = src[r * rsa];
            for (; r < mr; ++r) dst[r] = T(0);
        }
        if (sums) detail::add_panel_row_sums<Arch>(ap, k, rows, sums + i0);
    }
}

namespace detail {
#if defined(__AVX512F__)
// r[i] := column i of the 16 x 16 matrix whose rows are r[0..15].
inline void transpose16(__m512 r[16]) {
    __m512 t[16];
    for (int i = 0; i < 8; ++i) {                       // pairs of rows interleaved
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 4; ++i) {                       // then pairs of pairs: 4 x 4 blocks per 128-bit lane
        const __m512d a = _mm512_castps_pd(t[4 * i]), b = _mm512_castps_pd(t[4 * i + 1]);
        const __m512d c = _mm512_castps_pd(t[4 * i + 2]), d = _mm512_castps_pd(t[4 * i + 3]);
        r[4 * i] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
        r[4 * i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
        r[4 * i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
        r[4 * i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
    }
    for (int i = 0; i < 2; ++i)                         // then the 128-bit lanes, twice
        for (int q = 0; q < 4; ++q) {
            t[8 * i + q] = _mm512_shuffle_f32x4(r[8 * i + q], r[8 * i + 4 + q], 0x88);
            t[8 * i + 4 + q] = _mm512_shuffle_f32x4(r[8 * i + q], r[8 * i + 4 + q], 0xdd);
        }
    for (int q = 0; q < 8; ++q) {
        r[q] = _mm512_shuffle_f32x4(t[q], t[8 + q], 0x88);
        r[8 + q] = _mm512_shuffle_f32x4(t[q], t[8 + q], 0xdd);
    }
}
#endif
}  // namespace detail

// B (k, n) panel of nr columns -> (k, nr) with p outermost; columns past n are zero.
template <class Arch, class T>
inline void pack_b_panel(Arch, index_t nr, index_t n, index_t k, const T* b, index_t rsb, index_t csb, T* bp) {
    const index_t cols = std::min(nr, n);
    if (rsb == 1 && csb != 1) {                              // B^T stored row-major: read along k
        // A row of the panel gathered from `cols` rows of B^T: one gather per vector (Winograd's
        // dU = dM V^T packs V^T: 11 % of a 64x7x7 layer's backward as scalar copies, perf).
        if (csb > 0 && double(nr) * double(csb) < 2e9) {
#if defined(__AVX512F__)
            if constexpr (std::is_base_of_v<xsimd::avx512f, Arch> && std::is_same_v<T, float>) {
                // 16 x 16 blocks: 16 rows of B^T loaded whole and transposed in registers (64
                // shuffles), where a gather reads 16 lines for one vector. Causal attention packs
                // K^T and V^T (32 x 128) per sequence and head: by gathers that was 2 % of char-GPT's
                // step (perf). The k mod 16 rows left by gathers.
                index_t p0 = 0;
                for (; p0 + 16 <= k; p0 += 16)
                    for (index_t v = 0; v < nr; v += 16) {
                        __m512 r[16];
#pragma GCC unroll 16
                        for (index_t t = 0; t < 16; ++t)
                            r[t] = v + t < cols ? _mm512_loadu_ps(b + p0 + (v + t) * csb) : _mm512_setzero_ps();
                        detail::transpose16(r);
#pragma GCC unroll 16
                        for (index_t q = 0; q < 16; ++q) _mm512_storeu_ps(bp + (p0 + q) * nr + v, r[q]);
                    }
                const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
                for (index_t v = 0; v < nr; v += 16) {
                    const __m512i idx = _mm512_mullo_epi32(_mm512_add_epi32(lane, _mm512_set1_epi32(int(v))),
                                                           _mm512_set1_epi32(int(csb)));
                    const __mmask16 in = __mmask16(cols - v >= 16 ? 0xFFFFu : cols > v ? (1u << (cols - v)) - 1u : 0u);
                    for (index_t p = p0; p < k; ++p)
                        _mm512_storeu_ps(bp + p * nr + v, _mm512_mask_i32gather_ps(_mm512_setzero_ps(), in, idx, b + p, 4));
                }
                return;
            } else if constexpr (std::is_base_of_v<xsimd::avx512f, Arch> && std::is_same_v<T, double>) {
                const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
                for (index_t v = 0; v < nr; v += 8) {
                    const __m256i idx = _mm256_mullo_epi32(_mm256_add_epi32(lane, _mm256_set1_epi32(int(v))),
                                                           _mm256_set1_epi32(int(csb)));
                    const __mmask8 in = __mmask8(cols - v >= 8 ? 0xFFu : cols > v ? (1u << (cols - v)) - 1u : 0u);
                    for (index_t p = 0; p < k; ++p)
                        _mm512_storeu_pd(bp + p * nr + v, _mm512_mask_i32gather_pd(_mm512_setzero_pd(), in, idx, b + p, 8));
                }
                return;
            }
#endif
#if defined(__AVX2__)
            if constexpr (std::is_base_of_v<xsimd::avx2, Arch> && std::is_same_v<T, float>) {
                const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
                for (index_t v = 0; v < nr; v += 8) {
                    const __m256i j = _mm256_add_epi32(lane, _mm256_set1_epi32(int(v)));
                    const __m256i idx = _mm256_mullo_epi32(j, _mm256_set1_epi32(int(csb)));
                    const __m256 in = _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_set1_epi32(int(cols)), j));
                    for (index_t p = 0; p < k; ++p)
                        _mm256_storeu_ps(bp + p * nr + v, _mm256_mask_i32gather_ps(_mm256_setzero_ps(), b + p, idx, in, 4));
                }
                return;
            } else if constexpr (std::is_base_of_v<xsimd::avx2, Arch> && std::is_same_v<T, double>) {
                const __m128i lane = _mm_setr_epi32(0, 1, 2, 3);
                for (index_t v = 0; v < nr; v += 4) {
                    const __m128i j = _mm_add_epi32(lane, _mm_set1_epi32(int(v)));
                    const __m128i idx = _mm_mullo_epi32(j, _mm_set1_epi32(int(csb)));
                    const __m256d in = _mm256_castsi256_pd(_mm256_cvtepi32_epi64(_mm_cmpgt_epi32(_mm_set1_epi32(int(cols)), j)));
                    for (index_t p = 0; p < k; ++p)
                        _mm256_storeu_pd(bp + p * nr + v, _mm256_mask_i32gather_pd(_mm256_setzero_pd(), b + p, idx, in, 8));
                }
                return;
            }
#endif
        }
        for (index_t j = 0; j < nr; ++j)
            for (index_t p = 0; p < k; ++p) bp[p * nr + j] = j < cols ? b[p + j * csb] : T(0);
        return;
    }
    if (csb == 1) {                                          // rows of the panel: vector copies
        // The ragged last panel too, masked and zero-filled in the same vectors: element by element
        // (a copy loop and a rep stos per row) it was a third of LeNet's 16 x 100 x 150 (perf).
        using batch = xsimd::batch<T, Arch>;
        constexpr index_t w = batch::size;
        for (index_t p = 0; p < k; ++p) {
            const T* src = b + p * rsb;
            T* dst = bp + p * nr;
            for (index_t j = 0; j < nr; j += w) {
                load_upto<Arch>(src + j, std::clamp<index_t>(cols - j, 0, w)).store_unaligned(dst + j);   // past cols: zeros
            }
        }
        return;
    }
    for (index_t p = 0; p < k; ++p) {
        const T* src = b + p * rsb;
        T* dst = bp + p * nr;
        index_t j = 0;
        for (; j < cols; ++j) dst[j] = src[j * csb];
        for (; j < nr; ++j) dst[j] = T(0);
    }
}

namespace detail {
// B (k, n) in blocks of kc_step rows, outermost, each as (kc, nr) panels: the block of row pc at
// bp + pc * panels * nr, its panel jp at + jp * nr * kc (pack_b's layout, and gemm_serial's when
// it keeps a small B whole).
template <class Arch, class T>
inline void pack_b_blocks(Arch, index_t kc_step, index_t k, index_t n, const T* b, index_t rsb, index_t csb, T* bp) {
    constexpr index_t nr = blocking<T, Arch>::nr;
    const index_t panels = (n + nr - 1) / nr;
    for (index_t pc = 0; pc < k; pc += kc_step) {
        const index_t kc = std::min(kc_step, k - pc);
        for (index_t jp = 0; jp < panels; ++jp)
            pack_b_panel(Arch{}, nr, n - jp * nr, kc, b + pc * rsb + jp * nr * csb, rsb, csb,
                         bp + pc * panels * nr + jp * nr * kc);
    }
}
}  // namespace detail

// One MR x NR tile of C from a packed A micro-panel and a B micro-panel whose rows are ldb apart
// (NR when packed; B's own row stride when read in place): C := acc + beta*C (beta == 0: C is not
// read). Edge tiles (rows < MR or cols < NR) go through a local tile, so C is never touched past
// its edge.
struct gemm_micro_kernel {
    template <class Arch, class T> struct tile {
        xsimd::batch<T, Arch> acc[blocking<T, Arch>::mr][blocking<T, Arch>::nv];
    };
    template <class Arch, class T>
    void operator()(Arch, index_t kc, const T* ap, const T* bp, index_t ldb, T beta, T* c, index_t ldc,
                    index_t rows, index_t cols, bias_epilogue<T> ep, bool stream = false) const;
    template <class Arch, class T, class A>
    static tile<Arch, T> accumulate_by(Arch, index_t kc, A a, const T* bp, index_t ldb);
    template <class Arch, class T>
    static tile<Arch, T> accumulate(Arch, index_t kc, const T* ap, const T* bp, index_t ldb);
    template <class Arch, class T>
    static tile<Arch, T> accumulate_rows(Arch, index_t kc, const T* a, index_t lda, index_t rows, const T* bp,
                                         index_t ldb);
    template <class Arch, class T>
    static void store_tile(Arch, const tile<Arch, T>& t, T beta, T* c, index_t ldc, index_t rows, index_t cols,
                           bias_epilogue<T> ep, bool stream = false);
};

template <class Arch, class T>
inline void gemm_micro_kernel::operator()(Arch, index_t kc, const T* ap, const T* bp, index_t ldb, T beta, T* c,
                                          index_t ldc, index_t rows, index_t cols, bias_epilogue<T> ep,
                                          bool stream) const {
    store_tile(Arch{}, accumulate(Arch{}, kc, ap, bp, ldb), beta, c, ldc, rows, cols, ep, stream);
}

// The accumulation of a tile: k innermost, rank-1 updates in registers; a(p, r) is A's element
// (row r, column p) of the tile.
template <class Arch, class T, class A>
[[gnu::always_inline]] inline auto gemm_micro_kernel::accumulate_by(Arch, index_t kc, A a, const T* bp, index_t ldb)
    -> tile<Arch, T> {
    using batch = xsimd::batch<T, Arch>;
    using blk = blocking<T, Arch>;
    constexpr index_t mr = blk::mr, nv = blk::nv, w = blk::w;
    tile<Arch, T> t;
    auto& acc = t.acc;
#pragma GCC unroll 8
    for (index_t r = 0; r < mr; ++r)
#pragma GCC unroll 4
        for (index_t v = 0; v < nv; ++v) acc[r][v] = batch(T(0));
    // Four k steps per iteration: A read in place takes a pointer per row, and one step at a time
    // g++ advanced all eight each step, integer adds competing for the FMA ports (37 instructions
    // for 16 FMAs). gemm_bench, 1 thread: 64x784x256 153-160 -> 163-165 GFLOP/s, 4096x128x512
    // 156 -> 160.
#pragma GCC unroll 4
    for (index_t p = 0; p < kc; ++p) {
        batch b[nv];
#pragma GCC unroll 4
        for (index_t v = 0; v < nv; ++v) b[v] = batch::load_unaligned(bp + p * ldb + v * w);
#pragma GCC unroll 8
        for (index_t r = 0; r < mr; ++r) {
            const batch av(a(p, r));
#pragma GCC unroll 4
            for (index_t v = 0; v < nv; ++v) acc[r][v] = xsimd::fma(av, b[v], acc[r][v]);
        }
    }
    return t;
}

// A packed: element (r, p) at ap[p * mr + r].
template <class Arch, class T>
[[gnu::always_inline]] inline auto gemm_micro_kernel::accumulate(Arch, index_t kc, const T* ap, const T* bp, index_t ldb)
    -> tile<Arch, T> {
    constexpr index_t mr = blocking<T, Arch>::mr;
    return accumulate_by(Arch{}, kc, [ap](index_t p, index_t r) { return ap[p * mr + r]; }, bp, ldb);
}

// A read in place, row-major (element (r, p) at a[r * lda + p]): no packing of A. Rows past `rows`
// read row 0 again; the store leaves them out.
template <class Arch, class T>
[[gnu::always_inline]] inline auto gemm_micro_kernel::accumulate_rows(Arch, index_t kc, const T* a, index_t lda,
                                                                      index_t rows, const T* bp, index_t ldb)
    -> tile<Arch, T> {
    constexpr index_t mr = blocking<T, Arch>::mr;
    const T* ar[mr];
#pragma GCC unroll 8
    for (index_t r = 0; r < mr; ++r) ar[r] = a + (r < rows ? r : 0) * lda;
    return accumulate_by(Arch{}, kc, [&ar](index_t p, index_t r) { return ar[r][p]; }, bp, ldb);
}

template <class Arch, class T>
[[gnu::always_inline]] inline void gemm_micro_kernel::store_tile(Arch, const tile<Arch, T>& t, T beta, T* c,
                                                                 index_t ldc, index_t rows, index_t cols,
                                                                 bias_epilogue<T> ep, bool stream) {
    using batch = xsimd::batch<T, Arch>;
    using blk = blocking<T, Arch>;
    constexpr index_t mr = blk::mr, nv = blk::nv, w = blk::w, nr = blk::nr;
    const auto& acc = t.acc;
    if (rows == mr && cols == nr) {
#pragma GCC unroll 8
        for (index_t r = 0; r < mr; ++r)
#pragma GCC unroll 4
            for (index_t v = 0; v < nv; ++v) {
                T* cp = c + r * ldc + v * w;
                batch out = acc[r][v];
                if (beta != T(0)) out = xsimd::fma(batch(beta), batch::load_unaligned(cp), out);
                if (ep.col) out += batch::load_unaligned(ep.col + v * w);
                if (ep.row) out += batch(ep.row[r]);
                if constexpr (can_stream<T, Arch>)
                    if (stream) {
                        stream_store(out, cp);
                        continue;
                    }
                out.store_unaligned(cp);
            }
        return;
    }
    // An edge tile: its rows from a local copy, vector by vector, the ragged last vector of a row
    // masked (load_upto, store_upto), so C is never touched past its edge; the same fma(beta, C,
    // acc) as a full tile. Most of a small product's C is edge (LeNet's 16 x 100 convolution:
    // 6-row tiles, 32-wide panels), which went element by element before.
    alignas(64) T tile[mr * nr];
    for (index_t r = 0; r < mr; ++r)
        for (index_t v = 0; v < nv; ++v) acc[r][v].store_aligned(tile + r * nr + v * w);
    for (index_t r = 0; r < rows; ++r)
        for (index_t j = 0; j < cols; j += w) {
            const index_t len = std::min(w, cols - j);
            T* cp = c + r * ldc + j;
            batch out = batch::load_aligned(tile + r * nr + j);
            if (beta != T(0)) out = xsimd::fma(batch(beta), load_upto<Arch>(cp, len), out);
            if (ep.col) out += load_upto<Arch>(ep.col + j, len);
            if (ep.row) out += batch(ep.row[r]);
            store_upto(out, cp, len);
        }
}

template <class T>
inline void gemm_ref(index_t m, index_t n, index_t k, const T* a, index_t rsa, index_t csa,
                     const T* b, index_t rsb, index_t csb, T beta, T* c, index_t ldc) {
    for (index_t i = 0; i < m; ++i)
        for (index_t j = 0; j < n; ++j) {
            T s = 0;
            for (index_t p = 0; p < k; ++p) s += a[i * rsa + p * csa] * b[p * rsb + j * csb];
            c[i * ldc + j] = s + (beta != T(0) ? beta * c[i * ldc + j] : T(0));
        }
}

namespace detail {
// Pack buffers of the executing thread: each thread packs for itself, so threads never wait on
// each other inside a GEMM.
inline scratch& gemm_scratch_a() { static thread_local scratch s; return s; }
inline scratch& gemm_scratch_b() { static thread_local scratch s; return s; }

// One (mc, kc) block of A against nc columns of B: C (mc, nc) := A B + beta C, tile by tile.
// panel(jp, cols) gives micro-panel jp of B, (kc, nr) with its row stride. A row-major (csa == 1)
// is read in place, the micro-kernel broadcasting from its rows: packing A costs a load and a store
// per element against nc / (2 w) FMAs per element in the tiles, for the narrow products of a
// transformer's layers (nc = 128) as much as a third of the time. Otherwise A is packed into ap.
// a_sums (if not null): += the sums of the block's rows of A (bias_epilogue::a_row_sums); ep's own is
// not read.
template <class T, class Arch, class Panel>
inline void macro_kernel(index_t mc, index_t nc, index_t kc, const T* a, index_t rsa, index_t csa, Panel panel, T beta,
                         T* c, index_t ldc, T* ap, bias_epilogue<T> ep, T* a_sums = nullptr, bool stream = false) {
    using blk = blocking<T, Arch>;
    constexpr index_t mr = blk::mr, nr = blk::nr;
    const bool direct_a = csa == 1 && rsa != 1;
    if (!direct_a) pack_a(Arch{}, mc, kc, a, rsa, csa, ap, a_sums);
    else if (a_sums) row_sums{}(Arch{}, mc, kc, a, rsa, a_sums);          // rows read in place: their own sums
    for (index_t jp = 0; jp < (nc + nr - 1) / nr; ++jp) {
        const index_t cols = std::min(nr, nc - jp * nr);
        const auto [bj, ldb] = panel(jp, cols);
        for (index_t ip = 0; ip < (mc + mr - 1) / mr; ++ip) {
            T* cij = c + ip * mr * ldc + jp * nr;
            const index_t rows = std::min(mr, mc - ip * mr);
            if (direct_a)
                gemm_micro_kernel::store_tile(
                    Arch{}, gemm_micro_kernel::accumulate_rows(Arch{}, kc, a + ip * mr * rsa, rsa, rows, bj, ldb), beta,
                    cij, ldc, rows, cols, ep.at(ip * mr, jp * nr), stream);
            else
                gemm_micro_kernel{}(Arch{}, kc, ap + ip * mr * kc, bj, ldb, beta, cij, ldc, rows, cols,
                                    ep.at(ip * mr, jp * nr), stream);
        }
    }
}

}  // namespace detail

// One thread's GEMM, ap and bp its pack buffers (gemm_sizes::a_size, b_size). Loops, outermost
// first: jc (nc columns of B) > pc (kc of K) > ic (mc rows of A) > jr (nr-column micro-panels) >
// ir (mr-row micro-panels): a packed B micro-panel stays in L1 across all ir, the packed A block
// in L2 across all jr.
struct gemm_serial {
    template <class Arch, class T>
    void operator()(Arch, index_t m, index_t n, index_t k, const T* a, index_t rsa, index_t csa, const T* b, index_t rsb,
                    index_t csb, T beta, T* c, index_t ldc, T* ap, T* bp, bias_epilogue<T> ep) const;
};

// noipa: kept out of its callers' constant propagation. Inlined into a call with small constant
// sizes, g++ 12 warns (-Warray-bounds) about full-tile stores that the edge test never reaches.
template <class Arch, class T>
[[gnu::noipa]] inline void gemm_serial::operator()(Arch, index_t m, index_t n, index_t k, const T* a, index_t rsa,
                                                   index_t csa, const T* b, index_t rsb, index_t csb, T beta, T* c,
                                                   index_t ldc, T* ap, T* bp, bias_epilogue<T> ep) const {
    using blk = blocking<T, Arch>;
    constexpr index_t nr = blk::nr, kc_max = blk::kc, mc_max = blk::mc, nc_max = blk::nc;
    // Few rows of C, or a short k, and a row-major B: full micro-panels of B are read in place, only
    // the ragged last one is packed (zero-filled past n).
    const bool direct_b = csb == 1 && (m <= blk::direct_b_max_m || k <= blk::direct_b_max_k);
    // k in equal blocks of at most kc_max: a short last block (K = 288 as 256 + 32) would pay a
    // pass over C for few terms.
    const index_t kc_even = (k + (k + kc_max - 1) / kc_max - 1) / ((k + kc_max - 1) / kc_max);
    // A small B (at most whole_b_max packed, one nc block) past one k block, under many rows of C
    // (a transformer's 4096 x 128 x 512 products): all of B packed first, then each row block of
    // C takes every k block in turn while it is in L2. k blocks outermost, C (4096 x 128, 2 MB) was
    // read back from L3 for each. gemm_bench, 1 thread: 4096x128x384 152-153 -> 157-159 GFLOP/s,
    // 4096x128x512 (B^T) 152-154 -> 156-157.
    const index_t npanels_all = (n + nr - 1) / nr;
    if (!direct_b && n <= nc_max && k > kc_max && m > mc_max && k * npanels_all * nr <= whole_b_max) {
        detail::pack_b_blocks(Arch{}, kc_even, k, n, b, rsb, csb, bp);
        for (index_t ic = 0; ic < m; ic += mc_max)
            for (index_t pc = 0; pc < k; pc += kc_even) {
                const index_t kc = std::min(kc_even, k - pc);
                const T* bb = bp + pc * npanels_all * nr;
                detail::macro_kernel<T, Arch>(
                    std::min(mc_max, m - ic), n, kc, a + ic * rsa + pc * csa, rsa, csa,
                    [&](index_t jp, index_t) { return std::pair<const T*, index_t>(bb + jp * nr * kc, nr); },
                    pc == 0 ? beta : T(1), c + ic * ldc, ldc, ap, pc == 0 ? ep.at(ic, 0) : bias_epilogue<T>{},
                    ep.a_row_sums ? ep.a_row_sums + ic : nullptr);
            }
        return;
    }
    // A large C written once (beta == 0, one k block: a transformer's 4096 x 512 x 128 products):
    // its tiles go to memory by non-temporal stores. A normal store first reads each line of C,
    // which is in no cache, and the lines evicted later are written back during the next
    // product; the k = 128 products ran at 127 GFLOP/s in the char-GPT's step against 150 in a
    // loop. With them, char_gpt 1 thread: 18,733 -> 19,397 tokens/s (medians of 5 alternating
    // runs); the next pass reads C from memory, not from L3, and took no longer (the GELU is
    // bound by its arithmetic). Full tiles only, whole aligned lines; edge tiles store normally.
    constexpr bool whole_lines = can_stream<T, Arch> && nr * index_t(sizeof(T)) % 64 == 0;   // a tile row: lines
    const bool stream = whole_lines && beta == T(0) && k <= kc_max &&
                        m * n * index_t(sizeof(T)) >= blk::stream_c_min_bytes &&
                        reinterpret_cast<std::uintptr_t>(c) % 64 == 0 && ldc * index_t(sizeof(T)) % 64 == 0;
    for (index_t jc = 0; jc < n; jc += nc_max) {
        const index_t nc = std::min(nc_max, n - jc);
        const index_t npanels = (nc + nr - 1) / nr;
        for (index_t pc = 0; pc < k; pc += kc_even) {
            const index_t kc = std::min(kc_even, k - pc);
            const T beta_k = pc == 0 ? beta : T(1);          // later k blocks accumulate
            const T* b_blk = b + pc * rsb + jc * csb;        // (kc, nc)
            for (index_t jp = 0; jp < npanels; ++jp)
                if (!direct_b || nc - jp * nr < nr)
                    pack_b_panel(Arch{}, nr, nc - jp * nr, kc, b_blk + jp * nr * csb, rsb, csb, bp + jp * nr * kc);
            for (index_t ic = 0; ic < m; ic += mc_max)
                detail::macro_kernel<T, Arch>(std::min(mc_max, m - ic), nc, kc, a + ic * rsa + pc * csa, rsa, csa,
                                              [&](index_t jp, index_t cols) {
                                                  const bool in_place = direct_b && cols == nr;
                                                  return std::pair<const T*, index_t>(
                                                      in_place ? b_blk + jp * nr : bp + jp * nr * kc,
                                                      in_place ? rsb : nr);   // (kc, nr)
                                              },
                                              beta_k, c + ic * ldc + jc, ldc, ap,
                                              pc == 0 ? ep.at(ic, jc) : bias_epilogue<T>{},   // added once
                                              jc == 0 && ep.a_row_sums ? ep.a_row_sums + ic : nullptr, stream);
        }
    }
    if (stream) store_fence();                              // C complete before another thread reads it
}

// One thread, for callers that already run one GEMM per thread (a batch of small products).
// ep: a bias added to C in the same pass (dispatch.hpp).
template <class T>
inline void gemm_single_thread(index_t m, index_t n, index_t k, const T* a, index_t rsa, index_t csa,
                               const T* b, index_t rsb, index_t csb, T beta, T* c, index_t ldc,
                               bias_epilogue<T> ep = {}) {
    if (m <= 0 || n <= 0) return;
    if (k <= 0) {
        for (index_t i = 0; i < m; ++i)
            for (index_t j = 0; j < n; ++j) c[i * ldc + j] = ep.add(beta != T(0) ? beta * c[i * ldc + j] : T(0), i, j);
        return;
    }
    const gemm_sizes sz = active_gemm_sizes<T>();
    T* ap = detail::gemm_scratch_a().get<T>(std::size_t(sz.a_size(m, k)));
    T* bp = detail::gemm_scratch_b().get<T>(std::size_t(sz.b_size(n, k)));
    invoke_kernel<&kernel_table<T>::gemm_serial>(gemm_serial{}, m, n, k, a, rsa, csa, b, rsb, csb, beta, c, ldc, ap, bp,
                                                 ep);
}

// Threads split C into column (or, when C is tall and narrow, row) slices of whole micro-panels;
// each computes its slice alone, so a call has one fork and one join and no barrier inside.
// That keeps a GEMM fast when the machine is oversubscribed (ctest -j, other processes): with a
// barrier per packed block, a descheduled thread stalled every other one, up to 50x here.
// Below ~2^18 multiply-adds per thread, one thread is faster than waking another.
template <class T>
inline void gemm(index_t m, index_t n, index_t k, const T* a, index_t rsa, index_t csa,
                 const T* b, index_t rsb, index_t csb, T beta, T* c, index_t ldc, bias_epilogue<T> ep = {}) {
    const gemm_sizes sz = active_gemm_sizes<T>();
    const double work = double(m) * double(n) * double(k);
    const bool split_rows = m > 2 * n;
    const index_t panels = split_rows ? (m + sz.mr - 1) / sz.mr : (n + sz.nr - 1) / sz.nr;
    const int threads = int(std::min<double>({double(max_threads()), work / double(1 << 18), double(panels)}));
    if (m <= 0 || n <= 0 || k <= 0 || threads <= 1) {       // also C := beta C when k == 0
        gemm_single_thread<T>(m, n, k, a, rsa, csa, b, rsb, csb, beta, c, ldc, ep);
        return;
    }
    run_threads(threads, [&](index_t t, index_t nt) {
        const index_t p0 = panels * t / nt, p1 = panels * (t + 1) / nt;
        if (split_rows) {
            const index_t i0 = p0 * sz.mr, i1 = std::min(m, p1 * sz.mr);
            if (i1 > i0)
                gemm_single_thread<T>(i1 - i0, n, k, a + i0 * rsa, rsa, csa, b, rsb, csb, beta, c + i0 * ldc, ldc,
                                      ep.at(i0, 0));
        } else {
            const index_t j0 = p0 * sz.nr, j1 = std::min(n, p1 * sz.nr);
            if (j1 > j0)
                gemm_single_thread<T>(m, j1 - j0, k, a, rsa, csa, b + j0 * csb, rsb, csb, beta, c + j0, ldc, ep.at(0, j0));
        }
    });
}

// ---- B packed once, for many products with it ---------------------------------------------------------
// A recurrent layer multiplies the same W_hh at every step: packing it at every step would cost as
// much as the step's arithmetic (B is 4H x H, A only B x H). pack_b lays B (k, n) out as gemm's
// micro-panels, kc blocks outermost, (kc, nr) panels within; gemm_packed_b then packs only A.

// Room for pack_b's layout at any ISA (panels are at most 2 vectors of 64 bytes wide), so a
// layer's cache can be sized at compile time whichever ISA runs.
template <class T>
constexpr index_t packed_b_size(index_t k, index_t n) {
    constexpr index_t nr_max = 2 * index_t(64 / sizeof(T));
    return (n + nr_max - 1) / nr_max * nr_max * k;
}

struct pack_b_kernel {
    template <class Arch, class T>
    void operator()(Arch, index_t k, index_t n, const T* b, index_t rsb, index_t csb, T* bp) const;
};

// noipa: as gemm_serial (a layer's constant sizes would reach the tail loops of pack_b_panel).
template <class Arch, class T>
[[gnu::noipa]] inline void pack_b_kernel::operator()(Arch, index_t k, index_t n, const T* b, index_t rsb, index_t csb, T* bp) const {
    detail::pack_b_blocks(Arch{}, blocking<T, Arch>::kc, k, n, b, rsb, csb, bp);
}

// bp: packed_b_size(k, n) elements.
template <class T>
inline void pack_b(index_t k, index_t n, const T* b, index_t rsb, index_t csb, T* bp) {
    invoke_kernel<&kernel_table<T>::pack_b>(pack_b_kernel{}, k, n, b, rsb, csb, bp);
}

// Columns [j0, j1) (whole panels but the last) of C := A B + beta C, B as pack_b left it; ap is a
// pack buffer of gemm_sizes::a_size(m, k).
struct gemm_packed_b_serial {
    template <class Arch, class T>
    void operator()(Arch, index_t m, index_t n, index_t k, const T* a, index_t rsa, index_t csa, const T* bp, T beta,
                    T* c, index_t ldc, index_t j0, index_t j1, T* ap) const;
};

template <class Arch, class T>
[[gnu::noipa]] inline void gemm_packed_b_serial::operator()(Arch, index_t m, index_t n, index_t k, const T* a,
                                                            index_t rsa, index_t csa, const T* bp, T beta, T* c,
                                                            index_t ldc, index_t j0, index_t j1, T* ap) const {
    using blk = blocking<T, Arch>;
    constexpr index_t nr = blk::nr, kc_max = blk::kc, mc_max = blk::mc;
    const index_t panels = (n + nr - 1) / nr;
    for (index_t pc = 0; pc < k; pc += kc_max) {
        const index_t kc = std::min(kc_max, k - pc);
        const T* first = bp + pc * panels * nr + (j0 / nr) * nr * kc;        // the panel of column j0
        for (index_t ic = 0; ic < m; ic += mc_max)
            detail::macro_kernel<T, Arch>(
                std::min(mc_max, m - ic), j1 - j0, kc, a + ic * rsa + pc * csa, rsa, csa,
                [&](index_t jp, index_t) { return std::pair<const T*, index_t>(first + jp * nr * kc, nr); },
                pc == 0 ? beta : T(1), c + ic * ldc + j0, ldc, ap, bias_epilogue<T>{});
    }
}

namespace detail {
// Columns [j0, j1) (j0 on a panel boundary) of C := A B + beta C, B from pack_b, on this thread.
template <class T>
inline void packed_b_columns(index_t m, index_t n, index_t k, const T* a, index_t rsa, index_t csa, const T* bp, T beta,
                             T* c, index_t ldc, index_t j0, index_t j1) {
    T* ap = gemm_scratch_a().get<T>(std::size_t(active_gemm_sizes<T>().a_size(m, k)));
    invoke_kernel<&kernel_table<T>::gemm_packed_b_serial>(gemm_packed_b_serial{}, m, n, k, a, rsa, csa, bp, beta, c, ldc,
                                                          j0, j1, ap);
}
}  // namespace detail

// One thread, columns [0, j1) of C (m, n) := A (m, k) B + beta C with B from pack_b(k, n, ...): the
// leading columns of a B packed once for products that use more and more of it (causal attention's
// row blocks, block i reading keys [0, j1)). Columns past j1 are neither written nor read.
template <class T>
inline void gemm_packed_b_single_thread(index_t m, index_t n, index_t k, const T* a, index_t rsa, index_t csa,
                                        const T* bp, T beta, T* c, index_t ldc, index_t j1) {
    j1 = std::min(j1, n);
    if (m <= 0 || j1 <= 0 || k <= 0) return;
    detail::packed_b_columns(m, n, k, a, rsa, csa, bp, beta, c, ldc, index_t(0), j1);
}

// C (m, n) := A (m, k) B + beta C with B from pack_b(k, n, ...); threads split the panels of B.
template <class T>
inline void gemm_packed_b(index_t m, index_t n, index_t k, const T* a, index_t rsa, index_t csa, const T* bp, T beta,
                          T* c, index_t ldc) {
    if (m <= 0 || n <= 0 || k <= 0) return;
    const gemm_sizes sz = active_gemm_sizes<T>();
    const index_t panels = (n + sz.nr - 1) / sz.nr;
    const int threads = int(std::min<double>({double(max_threads()), double(m) * double(n) * double(k) / double(1 << 18),
                                              double(panels)}));
    auto slice = [&](index_t j0, index_t j1) { detail::packed_b_columns(m, n, k, a, rsa, csa, bp, beta, c, ldc, j0, j1); };
    if (threads <= 1) {
        slice(0, n);
        return;
    }
    run_threads(threads, [&](index_t t, index_t nt) {
        const index_t j0 = std::min(n, panels * t / nt * sz.nr), j1 = std::min(n, panels * (t + 1) / nt * sz.nr);
        if (j1 > j0) slice(j0, j1);
    });
}

}  // namespace typenet::kernels::cpu
