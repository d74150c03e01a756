// tests/kernels/dispatch_test.cpp — runtime ISA dispatch: which ISA a process runs, and every ISA
// table this CPU can run (sse2, avx2, avx512) against the plain-loop references and each other, in
// one process. The other kernel and layer tests run again under TYPENET_ISA=sse2 and avx2
// (tests/CMakeLists.txt), so every entry point is exercised at each ISA the CPU has.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "support/compare.hpp"
#include "typenet/core/random.hpp"
#include "typenet/kernels/cpu/activation.hpp"
#include "typenet/kernels/cpu/conv_direct.hpp"
#include "typenet/kernels/cpu/gemm.hpp"
#include "typenet/kernels/cpu/gemm_abt.hpp"
#include "typenet/kernels/cpu/isa.hpp"

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
        for (index_t m : {1, 5, 13, 67})
            for (index_t n : {1, 7, 33, 67})
                for (index_t kk : {1, 9, 67, 300}) {
                    CAPTURE(m);
                    CAPTURE(n);
                    CAPTURE(kk);
                    const auto a = uniform<T>(std::size_t(m * kk), 1), b = uniform<T>(std::size_t(kk * n), 2);
                    auto c = uniform<T>(std::size_t(m * n), 3);
                    auto ref = c;
                    std::vector<T> ap(std::size_t(t.gemm.a_size(m, kk))), bp(std::size_t(t.gemm.b_size(n, kk)));
                    // A^T stored, and a bias per column added in the same pass
                    const auto col_bias = uniform<T>(std::size_t(n), 9), row_bias = uniform<T>(std::size_t(m), 10);
                    t.gemm_serial(m, n, kk, a.data(), 1, m, b.data(), n, 1, T(0.5), c.data(), n, ap.data(), bp.data(),
                                  {.col = col_bias.data()});
                    k::gemm_ref(m, n, kk, a.data(), 1, m, b.data(), n, 1, T(0.5), ref.data(), n);
                    for (index_t i = 0; i < m; ++i)
                        for (index_t j = 0; j < n; ++j) ref[std::size_t(i * n + j)] += col_bias[std::size_t(j)];
                    CHECK(max_rel_diff(c, ref) <= tolerance<T>(kk));
                    // B packed once (its panels are the ISA's), A read in place.
                    std::vector<T> packed(std::size_t(k::packed_b_size<T>(kk, n)));
                    t.pack_b(kk, n, b.data(), n, 1, packed.data());
                    t.gemm_packed_b_serial(m, n, kk, a.data(), kk, 1, packed.data(), T(0), c.data(), n, 0, n, ap.data());
                    k::gemm_ref(m, n, kk, a.data(), kk, 1, b.data(), n, 1, T(0), ref.data(), n);
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

TEST_CASE_TEMPLATE("every ISA's direct convolution matches plain loops", T, float, double) {
    const k::conv_direct_geometry g{3, 13, 19, 5, 3, 3, 1};
    const auto x = uniform<T>(std::size_t(g.c * g.h * g.w), 4);
    const auto w = uniform<T>(std::size_t(g.o * g.c * g.kh * g.kw), 5), bias = uniform<T>(std::size_t(g.o), 6);
    std::vector<T> ref(std::size_t(g.o * g.oh() * g.ow()));
    k::conv2d_direct_forward_ref(g, x.data(), w.data(), bias.data(), ref.data());
    for (k::isa i : runnable()) {
        CAPTURE(k::isa_name(i));
        const auto& t = table<T>(i);
        std::vector<T> y(ref.size()), xp(std::size_t(g.padded_size(t.direct.w)));
        t.conv_direct(g, x.data(), w.data(), bias.data(), y.data(), xp.data());
        CHECK(max_rel_diff(y, ref) <= tolerance<T>(g.c * g.kh * g.kw));
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

#else

TEST_CASE("without TYPENET_DISPATCH the kernels run the compile-time ISA") {
    CHECK(k::active_isa() == k::isa::native);
    CHECK(std::string_view(k::active_isa_name()) == k::arch::name());
}

#endif
