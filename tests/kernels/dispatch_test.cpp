// tests/kernels/dispatch_test.cpp — runtime ISA dispatch: which ISA a process runs, and every ISA
// table this CPU can run (sse2, avx2, avx512) against the plain-loop references and each other, in
// one process. The other kernel and layer tests run again under TYPENET_ISA=sse2 and avx2
// (tests/CMakeLists.txt), so every entry point is exercised at each ISA the CPU has.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <numbers>
#include <string>
#include <string_view>
#include <vector>

#include "support/compare.hpp"
#include "typenet/core/aligned.hpp"
#include "typenet/core/random.hpp"
#include "typenet/kernels/cpu/activation.hpp"
#include "typenet/kernels/cpu/conv.hpp"
#include "typenet/kernels/cpu/conv_direct.hpp"
#include "typenet/kernels/cpu/elementwise.hpp"
#include "typenet/kernels/cpu/conv_winograd.hpp"
#include "typenet/kernels/cpu/gemm.hpp"
#include "typenet/kernels/cpu/gemm_abt.hpp"
#include "typenet/kernels/cpu/isa.hpp"
#include "typenet/kernels/cpu/pool.hpp"
#include "typenet/kernels/cpu/softmax.hpp"

namespace k = typenet::kernels::cpu;
using k::index_t;

#if defined(TYPENET_DISPATCH)

namespace {
using typenet::test::max_rel_diff;

template <class T> std::vector<T> uniform(std::size_t n, std::uint64_t s) {
    typenet::rng g(typenet::seed{s});
    std::vector<T> v(n);
    for (auto& x : v) x = T(g.uniform(-2, 2));
    return v;
}

template <class T> const k::kernel_table<T>& table(k::isa i) {
    switch (i) {
    case k::isa::avx512: return k::table_for<T, k::isa::avx512>();
    case k::isa::avx2: return k::table_for<T, k::isa::avx2>();
    default: return k::table_for<T, k::isa::sse2>();
    }
}

std::vector<k::isa> runnable() {
    std::vector<k::isa> out;
    for (k::isa i : {k::isa::sse2, k::isa::avx2, k::isa::avx512})
        if (k::cpu_supports(i)) out.push_back(i);
    return out;
}

template <class T> double tolerance(index_t terms) {
    return std::is_same_v<T, float> ? 2e-5 * std::sqrt(double(terms) + 1) : 1e-12 * double(terms + 1);
}

// A kernel's output against its reference: values left NaN (unwritten) in the first ref.size(),
// values written past them (the guard), and the largest error relative to 1 + |ref|.
struct written_check {
    index_t unwritten = 0, spilled = 0;
    double err = 0;
};
// f(b, o, ch, ky, kx, oy, ox, iy, ix) for every product w[o, ch, ky, kx] x[b, ch, iy, ix] of n
// samples' convolution g (one group) whose input position (iy, ix) is inside the image.
template <class F>
void for_each_product(const k::conv2d_geometry& g, index_t n, F f) {
    const index_t oh = g.oh(), ow = g.ow();
    for (index_t b = 0; b < n; ++b)
        for (index_t o = 0; o < g.o; ++o)
            for (index_t ch = 0; ch < g.c; ++ch)
                for (index_t ky = 0; ky < g.kh; ++ky)
                    for (index_t kx = 0; kx < g.kw; ++kx)
                        for (index_t oy = 0; oy < oh; ++oy)
                            for (index_t ox = 0; ox < ow; ++ox) {
                                const index_t iy = oy * g.stride - g.pad + ky * g.dilation;
                                const index_t ix = ox * g.stride - g.pad + kx * g.dilation;
                                if (iy >= 0 && iy < g.h && ix >= 0 && ix < g.w) f(b, o, ch, ky, kx, oy, ox, iy, ix);
                            }
}

// A convolution's sizes for a failing check's message.
template <class G>
std::string describe(const G& g) {
    return "C=" + std::to_string(g.c) + " H=" + std::to_string(g.h) + " W=" + std::to_string(g.w) +
           " O=" + std::to_string(g.o) + " K=" + std::to_string(g.kh) + "x" + std::to_string(g.kw) +
           " P=" + std::to_string(g.pad);
}

written_check check_written(const std::vector<float>& got, const std::vector<double>& ref) {
    written_check r;
    for (std::size_t j = 0; j < ref.size(); ++j) {
        r.unwritten += std::isnan(got[j]);
        r.err = std::max(r.err, std::abs(double(got[j]) - ref[j]) / (1 + std::abs(ref[j])));
    }
    for (std::size_t j = ref.size(); j < got.size(); ++j) r.spilled += !std::isnan(got[j]);
    return r;
}
}  // namespace

TEST_CASE("the process runs the best ISA the CPU has, capped by TYPENET_ISA") {
    k::isa best = k::isa::sse2;
    for (k::isa i : runnable()) best = i;
    k::isa expected = best;
    if (const char* cap = std::getenv("TYPENET_ISA"))
        for (k::isa i : {k::isa::sse2, k::isa::avx2, k::isa::avx512})
            if (std::string_view(cap) == k::isa_name(i) && i < best) expected = i;
    MESSAGE("CPU supports up to ", k::isa_name(best), "; the kernels run ", k::active_isa_name());
    CHECK(k::active_isa() == expected);
    CHECK(k::active_table<float>().id == expected);
    CHECK(k::active_table<double>().id == expected);
    CHECK(std::string_view(k::active_isa_name()) == k::isa_name(expected));
}

TEST_CASE("each table names its ISA and blocks for its vector width") {
    for (k::isa i : runnable()) {
        CAPTURE(k::isa_name(i));
        const auto& t = table<float>(i);
        CHECK(t.id == i);
        const index_t lanes = i == k::isa::avx512 ? 16 : i == k::isa::avx2 ? 8 : 4;
        CHECK(t.gemm.nr == 2 * lanes);
        CHECK(t.direct.w == lanes);
        CHECK(table<double>(i).gemm.nr == lanes);
        // pack_b's room, sized at compile time, holds the layout of every ISA.
        CHECK(k::packed_b_size<float>(37, 45) >= (45 + t.gemm.nr - 1) / t.gemm.nr * t.gemm.nr * 37);
    }
}

TEST_CASE_TEMPLATE("every ISA's GEMM kernels match plain loops on ragged sizes", T, float, double) {
    for (k::isa i : runnable()) {
        CAPTURE(k::isa_name(i));
        const auto& t = table<T>(i);
        for (index_t m : {1, 5, 13, 67, 300})          // 300: past mc, with k 300 past kc the whole B kept
            for (index_t n : {1, 7, 33, 67})
                for (index_t kk : {1, 9, 67, 300}) {
                    CAPTURE(m);
                    CAPTURE(n);
                    CAPTURE(kk);
                    const auto a = uniform<T>(std::size_t(m * kk), 1), b = uniform<T>(std::size_t(kk * n), 2);
                    auto c = uniform<T>(std::size_t(m * n), 3);
                    auto ref = c;
                    std::vector<T> ap(std::size_t(t.gemm.a_size(m, kk))), bp(std::size_t(t.gemm.b_size(n, kk)));
                    // A^T stored, a bias per column added in the same pass, and A's row sums (a
                    // weight gradient's bias gradient) taken in its packing
                    const auto col_bias = uniform<T>(std::size_t(n), 9), row_bias = uniform<T>(std::size_t(m), 10);
                    auto sums = uniform<T>(std::size_t(m), 11), sums_ref = sums;
                    t.gemm_serial(m, n, kk, a.data(), 1, m, b.data(), n, 1, T(0.5), c.data(), n, ap.data(), bp.data(),
                                  {.col = col_bias.data(), .a_row_sums = sums.data()});
                    k::gemm_ref(m, n, kk, a.data(), 1, m, b.data(), n, 1, T(0.5), ref.data(), n);
                    for (index_t i = 0; i < m; ++i)
                        for (index_t j = 0; j < n; ++j) ref[std::size_t(i * n + j)] += col_bias[std::size_t(j)];
                    CHECK(max_rel_diff(c, ref) <= tolerance<T>(kk));
                    for (index_t i = 0; i < m; ++i)
                        for (index_t p = 0; p < kk; ++p) sums_ref[std::size_t(i)] += a[std::size_t(p * m + i)];
                    CHECK(max_rel_diff(sums, sums_ref) <= tolerance<T>(kk));
                    // B packed once (its panels are the ISA's), A read in place.
                    std::vector<T> packed(std::size_t(k::packed_b_size<T>(kk, n)));
                    t.pack_b(kk, n, b.data(), n, 1, packed.data());
                    t.gemm_packed_b_serial(m, n, kk, a.data(), kk, 1, packed.data(), T(0), c.data(), n, 0, n, ap.data());
                    k::gemm_ref(m, n, kk, a.data(), kk, 1, b.data(), n, 1, T(0), ref.data(), n);
                    CHECK(max_rel_diff(c, ref) <= tolerance<T>(kk));
                    // B^T stored, B (n, k): its panels transposed (16 x 16 blocks) or gathered, in
                    // gemm_serial and in pack_b.
                    t.gemm_serial(m, n, kk, a.data(), kk, 1, b.data(), 1, kk, T(0), c.data(), n, ap.data(), bp.data(), {});
                    k::gemm_ref(m, n, kk, a.data(), kk, 1, b.data(), 1, kk, T(0), ref.data(), n);
                    CHECK(max_rel_diff(c, ref) <= tolerance<T>(kk));
                    t.pack_b(kk, n, b.data(), 1, kk, packed.data());
                    t.gemm_packed_b_serial(m, n, kk, a.data(), kk, 1, packed.data(), T(0), c.data(), n, 0, n, ap.data());
                    CHECK(max_rel_diff(c, ref) <= tolerance<T>(kk));
                    // A B^T without packing, B (n, k), and a bias per row.
                    t.gemm_abt_serial(m, n, kk, a.data(), kk, b.data(), kk, T(0), c.data(), n, {.row = row_bias.data()});
                    k::gemm_ref(m, n, kk, a.data(), kk, 1, b.data(), 1, kk, T(0), ref.data(), n);
                    for (index_t i = 0; i < m; ++i)
                        for (index_t j = 0; j < n; ++j) ref[std::size_t(i * n + j)] += row_bias[std::size_t(i)];
                    CHECK(max_rel_diff(c, ref) <= tolerance<T>(kk));
                }
    }
}

// A C of 2 MB or more written in one k block with beta == 0 is stored by non-temporal stores
// (gemm_serial) where the ISA has them and C's rows are whole aligned lines; otherwise by normal
// stores. Both must write exactly C: full tiles, ragged edge tiles, the bias, guard columns left
// alone, NaN in C never read, and the same C from an unaligned start (normal stores).
TEST_CASE_TEMPLATE("every ISA's GEMM streams a large C written once and stores the same values", T, float, double) {
    const index_t m = 1043, n = 531, kk = 100, ldc = 544;   // C: 2.2 MB (float) or 4.4 MB: above the 2 MB
    static_assert(1043 * 531 * sizeof(float) >= (std::size_t(1) << 21));
    const auto a = uniform<T>(std::size_t(m * kk), 1), b = uniform<T>(std::size_t(n * kk), 2);
    const auto bias = uniform<T>(std::size_t(n), 3);
    std::vector<T> ref(std::size_t(m * ldc), T(7));
    k::gemm_ref(m, n, kk, a.data(), kk, 1, b.data(), 1, kk, T(0), ref.data(), ldc);
    for (index_t i = 0; i < m; ++i)
        for (index_t j = 0; j < n; ++j) ref[std::size_t(i * ldc + j)] += bias[std::size_t(j)];
    for (k::isa i : runnable()) {
        CAPTURE(k::isa_name(i));
        const auto& t = table<T>(i);
        std::vector<T> ap(std::size_t(t.gemm.a_size(m, kk))), bp(std::size_t(t.gemm.b_size(n, kk)));
        for (index_t offset : {0, 1}) {                       // C at a 64-byte boundary, and one value past it
            CAPTURE(offset);
            typenet::aligned_vector<T> c(std::size_t(m * ldc + 1), T(7));
            T* c0 = c.data() + offset;
            for (index_t r = 0; r < m; ++r)
                std::fill(c0 + r * ldc, c0 + r * ldc + n, std::numeric_limits<T>::quiet_NaN());
            t.gemm_serial(m, n, kk, a.data(), kk, 1, b.data(), 1, kk, T(0), c0, ldc, ap.data(), bp.data(),
                          {.col = bias.data()});
            const std::vector<T> got(c0, c0 + m * ldc);
            CHECK(std::none_of(got.begin(), got.end(), [](T v) { return std::isnan(v); }));
            CHECK(max_rel_diff(got, ref) <= tolerance<T>(kk));   // guard columns still 7
            if (offset == 1) CHECK(c[0] == T(7));
        }
    }
}

TEST_CASE_TEMPLATE("every ISA's direct convolution matches plain loops, and writes nothing else", T, float, double) {
    // Channel blocks with and without a remainder at every ISA's block, the 3-wide window's own
    // tiles (the ResNet's 16x28x28 layer), LeNet's 5x5 layers, rows narrower than a vector (7x7),
    // a window wider than the image, one column. The scratch starts as NaN, y as NaN with guards.
    // {C, H, W, O, KH, KW, pad}
    const k::conv_direct_geometry geoms[] = {{3, 13, 19, 5, 3, 3, 1}, {16, 28, 28, 16, 3, 3, 1}, {1, 28, 28, 6, 5, 5, 2},
                                             {6, 14, 14, 16, 5, 5, 0}, {5, 7, 7, 11, 3, 3, 1}, {2, 3, 4, 3, 5, 5, 2},
                                             {4, 9, 1, 9, 1, 1, 0}};
    const T nan = std::numeric_limits<T>::quiet_NaN();
    for (const auto& g : geoms) {
        const std::string where = describe(g);
        INFO(where);
        const auto x = uniform<T>(std::size_t(g.c * g.h * g.w), 4);
        const auto w = uniform<T>(std::size_t(g.o * g.c * g.kh * g.kw), 5), bias = uniform<T>(std::size_t(g.o), 6);
        const std::size_t n = std::size_t(g.o * g.oh() * g.ow());
        std::vector<T> ref(n);
        k::conv2d_direct_forward_ref(g, x.data(), w.data(), bias.data(), ref.data());
        for (k::isa i : runnable()) {
            CAPTURE(k::isa_name(i));
            const auto& t = table<T>(i);
            std::vector<T> y(n + 64, nan), xp(std::size_t(g.padded_size(t.direct.w)), nan);
            t.conv_direct(g, x.data(), w.data(), bias.data(), y.data(), xp.data());
            CHECK(std::none_of(y.begin(), y.begin() + std::ptrdiff_t(n), [](T v) { return std::isnan(v); }));
            CHECK(std::all_of(y.begin() + std::ptrdiff_t(n), y.end(), [](T v) { return std::isnan(v); }));
            y.resize(n);
            CHECK(max_rel_diff(y, ref) <= tolerance<T>(g.c * g.kh * g.kw));
        }
    }
}

TEST_CASE_TEMPLATE("every ISA's direct weight gradient matches plain loops, summed over samples", T, float, double) {
    // 3- and 5-wide windows: the ResNet's 16x28x28 layer, LeNet's c1 and c2, output channels past a
    // whole block (11 and 9), rows narrower than a vector, one column, a window wider than the
    // image. Two samples accumulate into the partial sums; the scratch starts as NaN.
    // {C, H, W, O, KH, KW, pad}
    const k::conv_direct_geometry geoms[] = {{16, 28, 28, 16, 3, 3, 1}, {1, 28, 28, 6, 5, 5, 2}, {6, 14, 14, 16, 5, 5, 0},
                                             {3, 7, 9, 11, 3, 3, 1},    {4, 9, 1, 9, 3, 3, 1},    {2, 3, 4, 3, 5, 5, 2}};
    const index_t n = 2;
    for (const auto& g : geoms) {
        const std::string where = describe(g);
        INFO(where);
        REQUIRE(k::direct_dw_fits(g));
        const index_t oh = g.oh(), ow = g.ow(), kk = g.kh * g.kw, nw = g.o * g.c * kk;
        const auto x = uniform<T>(std::size_t(n * g.c * g.h * g.w), 41);
        const auto dy = uniform<T>(std::size_t(n * g.o * oh * ow), 42);
        std::vector<double> ref(std::size_t(nw), 0.0);
        const k::conv2d_geometry g2{g.c, g.h, g.w, g.o, g.kh, g.kw, 1, g.pad, 1, 1};
        for_each_product(g2, n, [&](index_t b, index_t o, index_t ch, index_t ky, index_t kx, index_t oy, index_t ox,
                                    index_t iy, index_t ix) {
            ref[std::size_t((o * g.c + ch) * kk + ky * g.kw + kx)] +=
                double(dy[std::size_t(((b * g.o + o) * oh + oy) * ow + ox)]) *
                double(x[std::size_t(((b * g.c + ch) * g.h + iy) * g.w + ix)]);
        });
        for (k::isa i : runnable()) {
            CAPTURE(k::isa_name(i));
            const auto& t = table<T>(i);
            const index_t lanes = t.direct.w;
            std::vector<T> dwv_buf(std::size_t(nw * lanes + 64), T(0));
            std::vector<T> scratch_buf(std::size_t(k::direct_dw_scratch(g, lanes) + 64),
                                       std::numeric_limits<T>::quiet_NaN());
            T* dwv = k::align64(dwv_buf.data());
            T* scratch = k::align64(scratch_buf.data());
            for (index_t b = 0; b < n; ++b)
                t.conv_direct_dw(g, x.data() + b * g.c * g.h * g.w, dy.data() + b * g.o * oh * ow, dwv, scratch);
            std::vector<T> dw(std::size_t(nw), T(0));
            k::direct_dw_fold(nw, lanes, dwv, dw.data());
            std::vector<T> reft(ref.begin(), ref.end());
            CHECK(std::none_of(dw.begin(), dw.end(), [](T v) { return std::isnan(v); }));
            CHECK(max_rel_diff(dw, reft) <= tolerance<T>(n * oh * ow));
        }
    }
}

TEST_CASE("every ISA's stride-2 direct convolution matches plain loops, and writes nothing else") {
    // One row per vector (14 columns from 28, the ResNet's 16x28x28 layer) and two (7 from 14), at
    // odd and even padding, dilation 2, windows 1, 2, 5 and 16 wide, rows of one column, output
    // channels that leave a partial block, 3 samples; y in a buffer of NaN with guards after it.
    // {C, H, W, O, KH, KW, stride, pad, dilation, groups}
    const k::conv2d_geometry geoms[] = {{16, 28, 28, 32, 3, 3, 2, 1, 1, 1}, {32, 14, 14, 64, 3, 3, 2, 1, 1, 1},
                                        {3, 9, 11, 5, 3, 3, 2, 1, 1, 1},    {2, 13, 16, 19, 3, 3, 2, 2, 2, 1},
                                        {4, 14, 14, 9, 1, 1, 2, 0, 1, 1},   {2, 8, 10, 3, 5, 5, 2, 3, 1, 1},
                                        {3, 10, 7, 17, 2, 2, 2, 0, 1, 1},   {2, 5, 2, 4, 3, 3, 2, 1, 1, 1},
                                        {2, 6, 30, 3, 3, 16, 2, 1, 1, 1},   {1, 1, 1, 2, 3, 3, 2, 1, 1, 1}};
    const index_t n = 3;
    for (const auto& g : geoms) {
        const std::string where = describe(g);
        INFO(where);
        const index_t oh = g.oh(), ow = g.ow(), s = oh * ow, k = g.c * g.kh * g.kw;
        const auto x = uniform<float>(std::size_t(n * g.c * g.h * g.w), 31);
        const auto w = uniform<float>(std::size_t(g.o * k), 32), bias = uniform<float>(std::size_t(g.o), 33);
        std::vector<double> ref(std::size_t(n * g.o * s));
        for (index_t b = 0; b < n; ++b)
            for (index_t o = 0; o < g.o; ++o)
                for (index_t oy = 0; oy < oh; ++oy)
                    for (index_t ox = 0; ox < ow; ++ox) {
                        double acc = bias[std::size_t(o)];
                        for (index_t ch = 0; ch < g.c; ++ch)
                            for (index_t ky = 0; ky < g.kh; ++ky)
                                for (index_t kx = 0; kx < g.kw; ++kx) {
                                    const index_t iy = 2 * oy - g.pad + ky * g.dilation, ix = 2 * ox - g.pad + kx * g.dilation;
                                    if (iy < 0 || iy >= g.h || ix < 0 || ix >= g.w) continue;
                                    acc += double(w[std::size_t(((o * g.c + ch) * g.kh + ky) * g.kw + kx)]) *
                                           double(x[std::size_t(((b * g.c + ch) * g.h + iy) * g.w + ix)]);
                                }
                        ref[std::size_t((b * g.o + o) * s + oy * ow + ox)] = acc;
                    }
        int ran = 0;
        for (k::isa i : runnable()) {
            CAPTURE(k::isa_name(i));
            const auto& t = table<float>(i);
            if (!t.direct.s2 || !k::direct_s2_fits<float>(g, t.direct.w)) continue;
            ++ran;
            const index_t guard = 40;
            std::vector<float> y(ref.size() + std::size_t(guard), std::numeric_limits<float>::quiet_NaN());
            std::vector<float> wp(std::size_t(k::direct_s2_packed_size(g)), std::numeric_limits<float>::quiet_NaN());
            t.conv_direct_s2(g, n, x.data(), w.data(), bias.data(), y.data(), wp.data());
            const written_check c = check_written(y, ref);
            CHECK(c.unwritten == 0);
            CHECK(c.spilled == 0);
            CHECK(c.err <= tolerance<float>(k));
        }
        // AVX-512 has the kernel, and each geometry here fits its 16 lanes.
        if (k::cpu_supports(k::isa::avx512)) CHECK(ran >= 1);
    }
}

TEST_CASE("every ISA's stride-2 direct input gradient matches plain loops, and writes all of dx and nothing else") {
    // dx = the adjoint of the stride-2 convolution, by phases: the ResNet's two 3x3 layers and its
    // 1x1 projections (one and two dx rows a vector), odd widths (a shorter odd phase), padding 0
    // to 3, dilation 2, a window row that reaches no dx row of one parity (1x1: odd rows are
    // zero), input channels that leave a partial block, 3 samples. dx starts as NaN: every value
    // must be written. {C, H, W, O, KH, KW, stride, pad, dilation, groups}
    const k::conv2d_geometry geoms[] = {{16, 28, 28, 32, 3, 3, 2, 1, 1, 1}, {32, 14, 14, 64, 3, 3, 2, 1, 1, 1},
                                        {16, 28, 28, 32, 1, 1, 2, 0, 1, 1}, {32, 14, 14, 64, 1, 1, 2, 0, 1, 1},
                                        {3, 9, 11, 5, 3, 3, 2, 1, 1, 1},    {19, 13, 15, 6, 3, 3, 2, 2, 2, 1},
                                        {5, 8, 10, 3, 5, 5, 2, 3, 1, 1},    {2, 7, 13, 4, 3, 3, 2, 1, 1, 1},
                                        {17, 6, 30, 3, 4, 2, 2, 1, 1, 1},   {1, 1, 1, 2, 3, 3, 2, 1, 1, 1}};
    const index_t n = 3;
    int ran = 0;
    for (const auto& g : geoms) {
        CAPTURE(g.c);
        CAPTURE(g.h);
        CAPTURE(g.w);
        CAPTURE(g.kw);
        CAPTURE(g.pad);
        const index_t oh = g.oh(), ow = g.ow(), s = oh * ow, k = g.c * g.kh * g.kw;
        const auto dy = uniform<float>(std::size_t(n * g.o * s), 41);
        const auto w = uniform<float>(std::size_t(g.o * k), 42);
        std::vector<double> ref(std::size_t(n * g.c * g.h * g.w), 0.0);
        for_each_product(g, n, [&](index_t b, index_t o, index_t ch, index_t ky, index_t kx, index_t oy, index_t ox,
                                   index_t iy, index_t ix) {
            ref[std::size_t(((b * g.c + ch) * g.h + iy) * g.w + ix)] +=
                double(w[std::size_t(((o * g.c + ch) * g.kh + ky) * g.kw + kx)]) *
                double(dy[std::size_t((b * g.o + o) * s + oy * ow + ox)]);
        });
        for (k::isa i : runnable()) {
            CAPTURE(k::isa_name(i));
            const auto& t = table<float>(i);
            if (!t.direct.s2 || !k::direct_s2_dx_fits<float>(g, t.direct.w)) continue;
            ++ran;
            const index_t guard = 40;
            std::vector<float> dx(ref.size() + std::size_t(guard), std::numeric_limits<float>::quiet_NaN());
            std::vector<float> wp(std::size_t(k::direct_s2_dx_packed_size(g)), std::numeric_limits<float>::quiet_NaN());
            k::direct_s2_dx_pack(g, w.data(), wp.data());
            t.conv_direct_s2_dx(g, n, dy.data(), wp.data(), dx.data());
            const written_check c = check_written(dx, ref);
            CHECK(c.unwritten == 0);
            CHECK(c.spilled == 0);
            CHECK(c.err <= tolerance<float>(g.o * g.kh * g.kw));
        }
    }
    if (k::cpu_supports(k::isa::avx512)) CHECK(ran == 10);    // each fits AVX-512's kernel
}

TEST_CASE_TEMPLATE("every ISA's im2col and col2im_add match plain loops, within their rows", T, float, double) {
    // One-vector rows at stride 1 (10 columns), 'same' width, stride 2 (with dilation, even and odd
    // padding, rows past two vectors; the ResNet's 3x3 and 1x1 downsampling at 28 and 14, padding
    // of 3 at a 5x5 window, and a window 17 wide, past col2im's 16 of the vector path), dilation,
    // rows longer than two vectors; rows ld = OH*OW + 5 apart, as samples side by side leave them, and the gap
    // between rows must stay unwritten. {C, H, W, O, KH, KW, stride, pad, dilation, groups}
    const k::conv2d_geometry geoms[] = {{2, 14, 14, 3, 5, 5, 1, 0, 1, 1}, {1, 28, 28, 2, 5, 5, 1, 2, 1, 1},
                                        {3, 9, 11, 2, 3, 3, 2, 1, 1, 1},  {2, 12, 13, 2, 3, 2, 1, 2, 2, 1},
                                        {2, 30, 37, 2, 3, 3, 1, 1, 1, 1}, {2, 5, 4, 2, 3, 3, 1, 1, 1, 1},
                                        {2, 13, 70, 2, 3, 4, 2, 2, 2, 1}, {2, 10, 33, 2, 2, 2, 2, 0, 1, 1},
                                        {2, 9, 9, 2, 1, 1, 2, 0, 1, 1},   {3, 28, 28, 2, 3, 3, 2, 1, 1, 1},
                                        {2, 14, 14, 2, 3, 3, 2, 1, 1, 1}, {2, 14, 14, 2, 1, 1, 2, 0, 1, 1},
                                        {2, 8, 10, 2, 5, 5, 2, 3, 1, 1},  {2, 40, 40, 2, 3, 3, 2, 1, 1, 1},
                                        {2, 9, 40, 2, 3, 17, 2, 4, 1, 1}};
    for (const auto& g : geoms) {
        const index_t oh = g.oh(), ow = g.ow(), s = oh * ow, ld = s + 5, rows = g.col_rows();
        CAPTURE(g.h);
        CAPTURE(g.w);
        CAPTURE(g.stride);
        const auto x = uniform<T>(std::size_t(g.c * g.h * g.w), 11), dcol = uniform<T>(std::size_t(rows * ld), 12);
        const auto dx0 = uniform<T>(x.size(), 13);
        std::vector<T> col_ref(std::size_t(rows * s), T(0));
        std::vector<double> dx_ref(dx0.begin(), dx0.end());
        for (index_t ch = 0; ch < g.c; ++ch)
            for (index_t ky = 0; ky < g.kh; ++ky)
                for (index_t kx = 0; kx < g.kw; ++kx)
                    for (index_t oy = 0; oy < oh; ++oy)
                        for (index_t ox = 0; ox < ow; ++ox) {
                            const index_t r = (ch * g.kh + ky) * g.kw + kx;
                            const index_t iy = oy * g.stride - g.pad + ky * g.dilation;
                            const index_t ix = ox * g.stride - g.pad + kx * g.dilation;
                            if (iy < 0 || iy >= g.h || ix < 0 || ix >= g.w) continue;
                            const std::size_t xi = std::size_t((ch * g.h + iy) * g.w + ix);
                            col_ref[std::size_t(r * s + oy * ow + ox)] = x[xi];
                            dx_ref[xi] += double(dcol[std::size_t(r * ld + oy * ow + ox)]);
                        }
        for (k::isa i : runnable()) {
            CAPTURE(k::isa_name(i));
            const auto& t = table<T>(i);
            std::vector<T> col(std::size_t(rows * ld), std::numeric_limits<T>::quiet_NaN());
            t.im2col(g, oh, ow, x.data(), col.data(), ld);
            index_t wrong = 0, spilled = 0;
            for (index_t r = 0; r < rows; ++r) {
                for (index_t j = 0; j < s; ++j) wrong += !(col[std::size_t(r * ld + j)] == col_ref[std::size_t(r * s + j)]);
                for (index_t j = s; j < ld; ++j) spilled += !std::isnan(col[std::size_t(r * ld + j)]);
            }
            CHECK(wrong == 0);
            CHECK(spilled == 0);
            std::vector<T> dx = dx0;
            t.col2im_add(g, oh, ow, dcol.data(), ld, dx.data());
            double err = 0;
            for (std::size_t j = 0; j < dx.size(); ++j) err = std::max(err, std::abs(double(dx[j]) - dx_ref[j]));
            CHECK(err <= tolerance<T>(g.kh * g.kw));
        }
    }
}

TEST_CASE_TEMPLATE("every ISA's Winograd F(2x2, 3x3) transforms match the matrices, and write nothing else", T, float, double) {
    // V = B^T d B of each 4x4 patch, Y = A^T M A + bias of each tile (cropped), and their adjoints
    // dM = A dY A^T and dx = sum B dV B^T, against the matrices applied in plain loops.
    const double bt[4][4] = {{1, 0, -1, 0}, {0, 1, 1, 0}, {0, -1, 1, 0}, {0, 1, 0, -1}};
    const double at[2][4] = {{1, 1, 1, 0}, {0, 1, -1, -1}};
    // {h, w, pad}: 'same' at 7x7 and 14x14, valid, padding 2, rows past two vectors, one pixel.
    const index_t shapes[][3] = {{7, 7, 1}, {14, 14, 1}, {9, 6, 0}, {5, 11, 2}, {6, 70, 1}, {1, 1, 1}, {3, 35, 0}};
    for (const auto& sh : shapes) {
        const index_t h = sh[0], w = sh[1], pad = sh[2], oh = h + 2 * pad - 2, ow = w + 2 * pad - 2;
        const k::winograd_plane p{h, w, pad, oh, ow, (oh + 1) / 2, (ow + 1) / 2};
        const index_t c = 3, ts = p.tiles(), ldc = ts + 3, ldxi = c * ldc + 5, nv = 16 * ldxi;
        CAPTURE(h);
        CAPTURE(w);
        CAPTURE(pad);
        const auto x = uniform<T>(std::size_t(c * h * w), 21), m = uniform<T>(std::size_t(nv), 22);
        const auto bias = uniform<T>(std::size_t(c), 23), dy = uniform<T>(std::size_t(c * oh * ow), 24);
        const double nan = std::numeric_limits<double>::quiet_NaN();
        std::vector<double> v_ref(std::size_t(nv), nan), y_ref(std::size_t(c * oh * ow)), dm_ref(std::size_t(nv), nan),
            dx_ref(x.size(), 0.0);
        for (index_t ch = 0; ch < c; ++ch)
            for (index_t ty = 0; ty < p.th; ++ty)
                for (index_t tx = 0; tx < p.tw; ++tx) {
                    const index_t t = ty * p.tw + tx;
                    double d[4][4], dq[2][2];
                    for (index_t i = 0; i < 4; ++i)
                        for (index_t j = 0; j < 4; ++j) {
                            const index_t r = 2 * ty - pad + i, col = 2 * tx - pad + j;
                            d[i][j] = r >= 0 && r < h && col >= 0 && col < w ? double(x[std::size_t((ch * h + r) * w + col)]) : 0.0;
                        }
                    for (index_t a = 0; a < 2; ++a)
                        for (index_t b = 0; b < 2; ++b) {
                            const index_t r = 2 * ty + a, col = 2 * tx + b;
                            dq[a][b] = r < oh && col < ow ? double(dy[std::size_t((ch * oh + r) * ow + col)]) : 0.0;
                        }
                    for (index_t i = 0; i < 4; ++i)
                        for (index_t j = 0; j < 4; ++j) {
                            const std::size_t at_v = std::size_t(ch * ldc + (4 * i + j) * ldxi + t);
                            double sv = 0, sm = 0;
                            for (index_t u = 0; u < 4; ++u)
                                for (index_t q = 0; q < 4; ++q) sv += bt[i][u] * d[u][q] * bt[j][q];
                            for (index_t a = 0; a < 2; ++a)
                                for (index_t b = 0; b < 2; ++b) sm += at[a][i] * dq[a][b] * at[b][j];
                            v_ref[at_v] = sv;
                            dm_ref[at_v] = sm;
                            // dx += B dV B^T with dV = m's element (i, j) of this tile.
                            for (index_t u = 0; u < 4; ++u)
                                for (index_t q = 0; q < 4; ++q) {
                                    const index_t r = 2 * ty - pad + u, col = 2 * tx - pad + q;
                                    if (r >= 0 && r < h && col >= 0 && col < w)
                                        dx_ref[std::size_t((ch * h + r) * w + col)] += bt[i][u] * double(m[at_v]) * bt[j][q];
                                }
                        }
                    for (index_t a = 0; a < 2; ++a)
                        for (index_t b = 0; b < 2; ++b) {
                            if (2 * ty + a >= oh || 2 * tx + b >= ow) continue;
                            double sy = double(bias[std::size_t(ch)]);
                            for (index_t i = 0; i < 4; ++i)
                                for (index_t j = 0; j < 4; ++j)
                                    sy += at[a][i] * double(m[std::size_t(ch * ldc + (4 * i + j) * ldxi + t)]) * at[b][j];
                            y_ref[std::size_t((ch * oh + 2 * ty + a) * ow + 2 * tx + b)] = sy;
                        }
                }
        // Equal where the reference is a number, NaN (unwritten) where it is NaN.
        auto compare = [](const std::vector<T>& got, const std::vector<double>& want) {
            double err = 0;
            index_t wrong = 0;
            for (std::size_t j = 0; j < got.size(); ++j) {
                if (std::isnan(want[j])) wrong += !std::isnan(double(got[j]));
                else err = std::max(err, std::abs(double(got[j]) - want[j]));
            }
            CHECK(wrong == 0);
            CHECK(err <= tolerance<T>(16));
        };
        for (k::isa i : runnable()) {
            CAPTURE(k::isa_name(i));
            const auto& tb = table<T>(i);
            std::vector<T> work(std::size_t(p.work_size()));
            std::vector<T> v(std::size_t(nv), std::numeric_limits<T>::quiet_NaN());
            tb.winograd_input(p, c, x.data(), v.data(), ldc, ldxi, work.data());
            compare(v, v_ref);
            std::vector<T> dm(std::size_t(nv), std::numeric_limits<T>::quiet_NaN());
            tb.winograd_output_adjoint(p, c, dy.data(), dm.data(), ldc, ldxi, work.data());
            compare(dm, dm_ref);
            std::vector<T> y(y_ref.size(), std::numeric_limits<T>::quiet_NaN());
            tb.winograd_output(p, c, m.data(), ldc, ldxi, bias.data(), y.data(), work.data());
            compare(y, y_ref);
            std::vector<T> dx(x.size(), std::numeric_limits<T>::quiet_NaN());
            tb.winograd_input_adjoint(p, c, m.data(), ldc, ldxi, dx.data(), work.data());
            compare(dx, dx_ref);
        }
    }
}

TEST_CASE_TEMPLATE("every ISA's 2x2 max pooling matches plain loops: ties, NaN, odd sizes, tails", T, float, double) {
    // Values from a few levels, so windows tie; some NaN. Widths below, at and past one and two
    // vectors of outputs, odd heights and widths (the last row or column is in no window).
    for (index_t h : {2, 5, 28}) {
        for (index_t w : {2, 3, 28, 29, 33, 64, 67}) {
            CAPTURE(h);
            CAPTURE(w);
            const index_t planes = 3, oh = h / 2, ow = w / 2;
            std::vector<T> x = uniform<T>(std::size_t(planes * h * w), std::uint64_t(16 + w));
            for (std::size_t i = 0; i < x.size(); ++i) x[i] = i % 37 == 5 ? std::numeric_limits<T>::quiet_NaN() : std::round(x[i]);
            const auto dy = uniform<T>(std::size_t(planes * oh * ow), 17);
            std::vector<T> y_ref(dy.size()), arg_ref(dy.size()), dx_ref(x.size(), T(0));
            for (index_t p = 0; p < planes; ++p)
                for (index_t oy = 0; oy < oh; ++oy)
                    for (index_t ox = 0; ox < ow; ++ox) {
                        const T* win = x.data() + p * h * w + 2 * oy * w + 2 * ox;
                        T m = win[0];
                        index_t at = 0;
                        for (index_t off : {index_t(1), w, w + 1})
                            if (win[off] > m || (std::isnan(win[off]) && !std::isnan(m))) { m = win[off]; at = off; }
                        const std::size_t o = std::size_t((p * oh + oy) * ow + ox);
                        y_ref[o] = m;
                        arg_ref[o] = T(at);
                        dx_ref[std::size_t(p * h * w + 2 * oy * w + 2 * ox + at)] = dy[o];
                    }
            auto same = [](const std::vector<T>& a, const std::vector<T>& b) {
                for (std::size_t i = 0; i < a.size(); ++i)
                    if (!(a[i] == b[i] || (std::isnan(a[i]) && std::isnan(b[i])))) return false;
                return true;
            };
            for (k::isa i : runnable()) {
                CAPTURE(k::isa_name(i));
                const auto& t = table<T>(i);
                std::vector<T> y(dy.size()), arg(dy.size()), dx(x.size(), std::numeric_limits<T>::quiet_NaN());
                t.max_pool_2x2_forward(planes, h, w, x.data(), y.data(), arg.data());
                t.max_pool_2x2_backward(planes, h, w, arg.data(), dy.data(), dx.data());
                CHECK(same(y, y_ref));
                CHECK(same(arg, arg_ref));
                CHECK(same(dx, dx_ref));
            }
        }
    }
}

TEST_CASE_TEMPLATE("every ISA's row sums match plain loops, tails included", T, float, double) {
    for (index_t n : {1, 15, 16, 17, 64, 67, 200}) {
        CAPTURE(n);
        const index_t m = 5, lda = n + 3;
        const auto a = uniform<T>(std::size_t(m * lda), 14), s0 = uniform<T>(std::size_t(m), 15);
        std::vector<double> want(s0.begin(), s0.end());
        for (index_t i = 0; i < m; ++i)
            for (index_t j = 0; j < n; ++j) want[std::size_t(i)] += double(a[std::size_t(i * lda + j)]);
        for (k::isa i : runnable()) {
            CAPTURE(k::isa_name(i));
            std::vector<T> got = s0;
            table<T>(i).row_sums(m, n, a.data(), lda, got.data());
            for (index_t r = 0; r < m; ++r)
                CHECK(std::abs(double(got[std::size_t(r)]) - want[std::size_t(r)]) <= tolerance<T>(n));
        }
    }
}

// Layer norm keeps each row's mean and invstd, and backward recomputes xhat from x: rows of 1 to
// 200 values (whole vectors and the scalar tail at every ISA) against double loops.
TEST_CASE_TEMPLATE("every ISA's layer norm rows match plain loops, forward and backward, tails included", T, float,
                   double) {
    for (index_t n : {1, 7, 16, 37, 128, 200}) {
        CAPTURE(n);
        const index_t rows = 5;
        const auto x = uniform<T>(std::size_t(rows * n), 31), gamma = uniform<T>(std::size_t(n), 32),
                   beta = uniform<T>(std::size_t(n), 33), dy = uniform<T>(std::size_t(rows * n), 34);
        const double eps = 1e-5;
        std::vector<double> y_ref(std::size_t(rows * n)), dx_ref(std::size_t(rows * n)), dg_ref(std::size_t(n), 0.5),
            db_ref(std::size_t(n), -0.25);
        for (index_t r = 0; r < rows; ++r) {
            double mean = 0, var = 0;
            for (index_t j = 0; j < n; ++j) mean += double(x[std::size_t(r * n + j)]) / double(n);
            for (index_t j = 0; j < n; ++j) var += std::pow(double(x[std::size_t(r * n + j)]) - mean, 2) / double(n);
            const double is = 1 / std::sqrt(var + eps);
            double mg = 0, mgx = 0;
            for (index_t j = 0; j < n; ++j) {
                const std::size_t e = std::size_t(r * n + j);
                const double h = (double(x[e]) - mean) * is, g = double(dy[e]) * double(gamma[std::size_t(j)]);
                y_ref[e] = double(gamma[std::size_t(j)]) * h + double(beta[std::size_t(j)]);
                dg_ref[std::size_t(j)] += double(dy[e]) * h;
                db_ref[std::size_t(j)] += double(dy[e]);
                mg += g / double(n);
                mgx += g * h / double(n);
            }
            for (index_t j = 0; j < n; ++j) {
                const std::size_t e = std::size_t(r * n + j);
                const double h = (double(x[e]) - mean) * is;
                dx_ref[e] = is * (double(dy[e]) * double(gamma[std::size_t(j)]) - mg - h * mgx);
            }
        }
        for (k::isa i : runnable()) {
            CAPTURE(k::isa_name(i));
            const auto& t = table<T>(i);
            const std::size_t cells = std::size_t(rows * n), nr = std::size_t(rows), nc = std::size_t(n);
            std::vector<T> y(cells), mean(nr), invstd(nr), dx(cells), dg(nc, T(0.5)), db(nc, T(-0.25));
            t.layer_norm_forward(0, rows, n, T(eps), x.data(), gamma.data(), beta.data(), mean.data(), y.data(),
                                 invstd.data());
            t.layer_norm_backward(rows, n, x.data(), mean.data(), gamma.data(), invstd.data(), dy.data(), dx.data(),
                                  dg.data(), db.data());
            const double tol = std::is_same_v<T, float> ? 2e-4 : 1e-9;   // invstd 1 / sqrt(eps) = 316 for n = 1
            double ey = 0, edx = 0, edg = 0, edb = 0;
            for (std::size_t e = 0; e < y.size(); ++e) {
                ey = std::max(ey, std::abs(double(y[e]) - y_ref[e]));
                edx = std::max(edx, std::abs(double(dx[e]) - dx_ref[e]) / (1 + std::abs(dx_ref[e])));
            }
            for (std::size_t j = 0; j < dg.size(); ++j) {
                edg = std::max(edg, std::abs(double(dg[j]) - dg_ref[j]) / (1 + std::abs(dg_ref[j])));
                edb = std::max(edb, std::abs(double(db[j]) - db_ref[j]));
            }
            CHECK(ey <= tol);
            CHECK(edx <= tol);
            CHECK(edg <= tol);
            CHECK(edb <= tol);
        }
    }
}

TEST_CASE_TEMPLATE("every ISA's pointwise kernels agree with SSE2's, tails included", T, float, double) {
    const auto& base = table<T>(k::isa::sse2);
    for (k::isa i : runnable()) {
        CAPTURE(k::isa_name(i));
        const auto& t = table<T>(i);
        for (index_t n : {1, 15, 16, 17, 67}) {
            CAPTURE(n);
            const auto x = uniform<T>(std::size_t(n), 7), dy = uniform<T>(std::size_t(n), 8);
            std::vector<T> y(static_cast<std::size_t>(n)), want(static_cast<std::size_t>(n));
            const T tol = std::is_same_v<T, float> ? T(1e-6) : T(1e-14);
            auto same = [&](auto f, auto g) {
                f(y.data());
                g(want.data());
                return max_rel_diff(y, want) <= tol;
            };
            CHECK(same([&](T* o) { t.gelu_forward(n, T(0), x.data(), o); }, [&](T* o) { base.gelu_forward(n, T(0), x.data(), o); }));
            CHECK(same([&](T* o) { t.gelu_backward(n, T(0), x.data(), dy.data(), o); },
                       [&](T* o) { base.gelu_backward(n, T(0), x.data(), dy.data(), o); }));
            CHECK(same([&](T* o) { t.sigmoid_forward(n, T(0), x.data(), o); }, [&](T* o) { base.sigmoid_forward(n, T(0), x.data(), o); }));
            CHECK(same([&](T* o) { t.tanh_forward(n, T(0), x.data(), o); }, [&](T* o) { base.tanh_forward(n, T(0), x.data(), o); }));
            CHECK(same([&](T* o) { t.leaky_relu_backward(n, T(0.1), x.data(), dy.data(), o); },
                       [&](T* o) { base.leaky_relu_backward(n, T(0.1), x.data(), dy.data(), o); }));
            CHECK(same([&](T* o) { t.add(n, x.data(), dy.data(), o); }, [&](T* o) { base.add(n, x.data(), dy.data(), o); }));
            // and against the formula, in double
            t.relu_forward(n, T(0), x.data(), y.data());
            for (index_t j = 0; j < n; ++j) CHECK(y[std::size_t(j)] == (x[std::size_t(j)] > 0 ? x[std::size_t(j)] : T(0)));
        }
    }
}

TEST_CASE("every ISA's float GELU is within A&S 7.1.26's error of the exact one, forward and backward") {
    // x in [-12, 12] by 1/64, the far tails included. The bounds allow a few float roundings beyond
    // the formula's 1.5e-7 (SSE2 has no FMA).
    std::vector<float> x;
    for (int i = -768; i <= 768; ++i) x.push_back(float(i) / 64.0f);
    const index_t n = index_t(x.size());
    const std::vector<float> dy(x.size(), 1.0f);
    std::vector<float> y(x.size()), dx(x.size());
    for (k::isa i : runnable()) {
        CAPTURE(k::isa_name(i));
        table<float>(i).gelu_forward(n, 0.0f, x.data(), y.data());
        table<float>(i).gelu_backward(n, 0.0f, x.data(), dy.data(), dx.data());
        for (std::size_t j = 0; j < x.size(); ++j) {
            CAPTURE(x[j]);
            const double v = x[j], cdf = 0.5 * std::erfc(-v / std::sqrt(2.0));
            const double pdf = std::exp(-0.5 * v * v) / std::sqrt(2.0 * std::numbers::pi);
            CHECK(std::abs(double(y[j]) - v * cdf) <= 1e-7 * (1 + std::abs(v)));
            CHECK(std::abs(double(dx[j]) - (cdf + v * pdf)) <= 5e-7 * (1 + std::abs(v)));
        }
    }
}

TEST_CASE_TEMPLATE("every ISA's log-sum-exp, exp_affine and causal softmax rows match plain loops", T, float, double) {
    const double tol = std::is_same_v<T, float> ? 2e-6 : 1e-13;
    for (k::isa i : runnable()) {
        CAPTURE(k::isa_name(i));
        const auto& t = table<T>(i);
        for (index_t n : {1, 7, 16, 17, 33, 128, 131}) {
            CAPTURE(n);
            const index_t rows = 3, ld = n + 5;
            auto x = uniform<T>(std::size_t(rows * ld), 21);
            for (auto& v : x) v *= T(20);                                // logits of either sign, up to 40
            std::vector<T> lse(static_cast<std::size_t>(rows));
            t.log_sum_exp_rows(rows, n, x.data(), ld, lse.data());
            for (index_t r = 0; r < rows; ++r) {
                double m = -1e300, s = 0;
                for (index_t j = 0; j < n; ++j) m = std::max(m, double(x[std::size_t(r * ld + j)]));
                for (index_t j = 0; j < n; ++j) s += std::exp(double(x[std::size_t(r * ld + j)]) - m);
                CHECK(std::abs(double(lse[std::size_t(r)]) - (m + std::log(s))) <= tol * (1 + std::abs(m)));
            }
            // y = a e^(x - b) + c, nothing written past n
            std::vector<T> y(std::size_t(n + 1), T(7));
            t.exp_affine(n, x.data(), T(0.5), lse[0], T(-0.25), y.data());
            for (index_t j = 0; j < n; ++j)
                CHECK(std::abs(double(y[std::size_t(j)]) - (0.5 * std::exp(double(x[std::size_t(j)]) - double(lse[0])) - 0.25)) <=
                      tol);
            CHECK(y[std::size_t(n)] == T(7));
        }
        // every -inf: -inf; a +inf: +inf; a NaN: NaN
        const T inf = std::numeric_limits<T>::infinity();
        std::vector<T> special{-inf, -inf, -inf, T(1), inf, T(2), T(1), std::numeric_limits<T>::quiet_NaN(), T(3)};
        std::vector<T> lse(3);
        t.log_sum_exp_rows(3, 3, special.data(), 3, lse.data());
        CHECK(lse[0] == -inf);
        CHECK(lse[1] == inf);
        CHECK(std::isnan(lse[2]));
        // causal softmax of a (steps, steps) score matrix in row blocks: P on and below the
        // diagonal, zeros above it to the end of the row's block, the rest untouched; then the same
        // P again from the log-sum-exps (backward's recomputation). Rows from 1 to 200 values (the
        // ragged last vector at every ISA); scores shifted to -300 (e^(0.35 s) underflows) would
        // give 0 / 0 if a row's max were not its own.
        struct rows_case { index_t steps, block; T shift; };
        for (rows_case rc : {rows_case{1, 4, 0}, rows_case{5, 4, 0}, rows_case{8, 4, 0}, rows_case{19, 4, 0},
                             rows_case{19, 4, -300}, rows_case{131, 32, 0}, rows_case{200, 32, -300}}) {
            const index_t steps = rc.steps, block = rc.block, hs = 3;   // lse of 3 heads interleaved
            CAPTURE(steps);
            CAPTURE(double(rc.shift));
            const T a = T(0.35);
            auto s0 = uniform<T>(std::size_t(steps * steps), 22);
            for (auto& v : s0) v += rc.shift;
            auto p = s0;
            std::vector<T> lse_h(std::size_t(steps * hs), T(-1));
            // in two row ranges, as the attention's row blocks call it: rows [0, split), then
            // [split, steps) from their own first row (sp points at row i0, lse is indexed by i)
            const index_t split = steps / 3;
            t.causal_softmax(0, split, steps, block, a, p.data(), steps, lse_h.data() + 1, hs, false);
            t.causal_softmax(split, steps, steps, block, a, p.data() + split * steps, steps, lse_h.data() + 1, hs, false);
            auto again = s0;
            t.causal_softmax(0, split, steps, block, a, again.data(), steps, lse_h.data() + 1, hs, true);
            t.causal_softmax(split, steps, steps, block, a, again.data() + split * steps, steps, lse_h.data() + 1, hs,
                             true);
            for (index_t r = 0; r < steps; ++r) {
                double m = -1e300, sum = 0;
                for (index_t j = 0; j <= r; ++j) m = std::max(m, a * double(s0[std::size_t(r * steps + j)]));
                for (index_t j = 0; j <= r; ++j) sum += std::exp(a * double(s0[std::size_t(r * steps + j)]) - m);
                CHECK(std::abs(double(lse_h[std::size_t(r * hs + 1)]) - (m + std::log(sum))) <= tol * 10 * std::max(1.0, std::abs(m)));
                CHECK(lse_h[std::size_t(r * hs)] == T(-1));
                const index_t end = std::min(steps, (r / block + 1) * block);
                for (index_t j = 0; j < steps; ++j) {
                    const std::size_t e = std::size_t(r * steps + j);
                    const double want = j <= r ? std::exp(a * double(s0[e]) - m) / sum : 0.0;
                    if (j < end) {
                        CHECK(std::abs(double(p[e]) - want) <= tol * 10);
                        CHECK(std::abs(double(again[e]) - want) <= tol * 10);
                    } else {
                        CHECK(p[e] == s0[e]);
                        CHECK(again[e] == s0[e]);
                    }
                }
            }
        }
    }
}

#else

TEST_CASE("without TYPENET_DISPATCH the kernels run the compile-time ISA") {
    CHECK(k::active_isa() == k::isa::native);
    CHECK(std::string_view(k::active_isa_name()) == k::arch::name());
}

#endif
