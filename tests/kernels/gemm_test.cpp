// tests/kernels/gemm_test.cpp — the packed GEMM against plain loops on ragged sizes, every operand
// layout, beta, blocks past kc/mc/nc, and one and several threads.
#include <doctest/doctest.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <limits>
#include <vector>

#include "support/compare.hpp"
#include "typenet/core/random.hpp"
#include "typenet/kernels/cpu/gemm.hpp"
#include "typenet/kernels/cpu/gemm_abt.hpp"

namespace k = typenet::kernels::cpu;
using k::index_t;

namespace {
using typenet::test::max_rel_diff;

// C (m, n) with a guard band of ldc - n columns that must stay untouched.
template <class T>
bool check_case(index_t m, index_t n, index_t kk, bool ta, bool tb, T beta, std::uint64_t s) {
    typenet::rng g(typenet::seed{s});
    std::vector<T> a(std::size_t(m * kk)), b(std::size_t(kk * n));
    const index_t ldc = n + 3;
    std::vector<T> c(std::size_t(m * ldc)), ref;
    for (auto& v : a) v = T(g.uniform(-1, 1));
    for (auto& v : b) v = T(g.uniform(-1, 1));
    for (auto& v : c) v = T(g.uniform(-1, 1));
    ref = c;
    // A (m, k): row-major, or stored transposed as (k, m); likewise B.
    const index_t rsa = ta ? 1 : kk, csa = ta ? m : 1;
    const index_t rsb = tb ? 1 : n, csb = tb ? kk : 1;
    k::gemm(m, n, kk, a.data(), rsa, csa, b.data(), rsb, csb, beta, c.data(), ldc);
    k::gemm_ref(m, n, kk, a.data(), rsa, csa, b.data(), rsb, csb, beta, ref.data(), ldc);
    const double tol = std::is_same_v<T, float> ? 2e-5 * std::sqrt(double(kk) + 1) : 1e-12 * double(kk + 1);
    const double e = max_rel_diff(c, ref);   // includes the guard columns: they must be equal too
    if (e > tol)
        std::printf("gemm m=%td n=%td k=%td ta=%d tb=%d beta=%g: max error %g > %g\n", m, n, kk, ta, tb, double(beta), e, tol);
    return e <= tol;
}
}  // namespace

TEST_CASE_TEMPLATE("gemm matches the reference on ragged sizes 1..67", T, float, double) {
    const index_t sizes[] = {1, 2, 3, 5, 6, 7, 8, 13, 16, 17, 31, 32, 33, 47, 64, 67};
    int failures = 0, cases = 0;
    std::uint64_t s = 1;
    for (index_t m : sizes)
        for (index_t n : sizes)
            for (index_t kk : {1, 4, 17, 67}) {
                const bool ta = (m + kk) % 2, tb = (n + kk) % 3 == 0;
                const T beta = (m + n) % 3 == 0 ? T(0) : T(0.5);
                failures += !check_case<T>(m, n, kk, ta, tb, beta, s++);
                ++cases;
            }
    CHECK(failures == 0);
    CHECK(cases == 16 * 16 * 4);
}

TEST_CASE_TEMPLATE("gemm: every operand layout and beta", T, float, double) {
    for (bool ta : {false, true})
        for (bool tb : {false, true})
            for (T beta : {T(0), T(1), T(-0.75)}) CHECK(check_case<T>(29, 37, 41, ta, tb, beta, 11));
}

// Causal attention's row blocks: B (K^T or V^T) packed once, then products over its leading j1
// columns only; columns past j1 keep their values.
TEST_CASE_TEMPLATE("gemm_packed_b_single_thread: the leading columns of a packed B, the rest untouched", T, float,
                   double) {
    for (auto [m, n, kk] : {std::array<index_t, 3>{32, 128, 32}, {13, 100, 17}, {9, 70, 300}})
        for (index_t j1 : {index_t(1), index_t(32), index_t(33), n - 5, n, n + 9}) {
            typenet::rng g(typenet::seed{std::uint64_t(m * 7 + n + kk + j1)});
            std::vector<T> a(std::size_t(m * kk)), b(std::size_t(kk * n)), c(std::size_t(m * n)), ref;
            for (auto& v : a) v = T(g.uniform(-1, 1));
            for (auto& v : b) v = T(g.uniform(-1, 1));
            for (auto& v : c) v = T(g.uniform(-1, 1));
            ref = c;
            std::vector<T> bp(std::size_t(k::packed_b_size<T>(kk, n)));
            k::pack_b(kk, n, b.data(), 1, kk, bp.data());                      // B^T stored, as K is
            k::gemm_packed_b_single_thread(m, n, kk, a.data(), kk, index_t(1), bp.data(), T(0), c.data(), n, j1);
            const index_t cols = std::min(j1, n);
            k::gemm_ref(m, cols, kk, a.data(), kk, 1, b.data(), 1, kk, T(0), ref.data(), n);
            const double tol = std::is_same_v<T, float> ? 2e-5 * std::sqrt(double(kk) + 1) : 1e-12 * double(kk + 1);
            INFO("m ", m, " n ", n, " k ", kk, " j1 ", j1);
            CHECK(max_rel_diff(c, ref) <= tol);                                 // columns past j1: both untouched
        }
}

TEST_CASE("gemm: blocks past kc, mc and nc, with threads") {
    CHECK(check_case<float>(300, 700, 600, false, false, 0.0f, 21));
    CHECK(check_case<float>(150, 1100, 260, true, true, 1.0f, 22));
    // k in equal blocks (gemm_serial): 257 as 129 + 128, 577 as 3 x 193 with a short last block,
    // for few rows (B read in place) and many, with beta.
    CHECK(check_case<float>(40, 90, 257, false, false, 0.5f, 24));
    CHECK(check_case<float>(100, 70, 577, true, false, 1.0f, 25));
    k::set_num_threads(1);
    CHECK(check_case<float>(200, 300, 300, false, true, 0.0f, 23));
    k::set_num_threads(2);
    CHECK(check_case<float>(200, 300, 300, false, true, 0.0f, 23));
}

TEST_CASE("gemm: beta = 0 never reads C, so NaN in C does not leak") {
    std::vector<float> a(6, 1.0f), b(6, 1.0f), c(4, std::nanf(""));
    k::gemm<float>(2, 2, 3, a.data(), 3, 1, b.data(), 2, 1, 0.0f, c.data(), 2);
    for (float v : c) CHECK(v == 3.0f);
}

TEST_CASE("gemm: k = 0 scales C by beta; empty m or n touch nothing") {
    std::vector<float> c{1, 2, 3, 4};
    k::gemm<float>(2, 2, 0, nullptr, 0, 1, nullptr, 2, 1, 0.5f, c.data(), 2);
    CHECK(c == std::vector<float>{0.5f, 1, 1.5f, 2});
    k::gemm<float>(0, 2, 3, nullptr, 3, 1, nullptr, 2, 1, 0.0f, c.data(), 2);
    CHECK(c == std::vector<float>{0.5f, 1, 1.5f, 2});
}


TEST_CASE_TEMPLATE("gemm_packed_b: B packed once matches the reference, past kc, threaded, B^T too", T, float, double) {
    for (auto [m, n, kk] : {std::array<index_t, 3>{1, 1, 1}, {5, 33, 7}, {32, 1024, 256}, {7, 67, 300}, {64, 17, 513}})
        for (bool tb : {false, true})
            for (T beta : {T(0), T(1)}) {
                typenet::rng g(typenet::seed{std::uint64_t(m * 1000 + n + kk)});
                std::vector<T> a(std::size_t(m * kk)), b(std::size_t(kk * n)), c(std::size_t(m * n)), ref;
                for (auto& v : a) v = T(g.uniform(-1, 1));
                for (auto& v : b) v = T(g.uniform(-1, 1));
                for (auto& v : c) v = T(g.uniform(-1, 1));
                ref = c;
                const index_t rsb = tb ? 1 : n, csb = tb ? kk : 1;
                std::vector<T> bp(std::size_t(k::packed_b_size<T>(kk, n)));
                k::pack_b(kk, n, b.data(), rsb, csb, bp.data());
                k::gemm_packed_b(m, n, kk, a.data(), kk, 1, bp.data(), beta, c.data(), n);
                k::gemm_ref(m, n, kk, a.data(), kk, 1, b.data(), rsb, csb, beta, ref.data(), n);
                const double tol = std::is_same_v<T, float> ? 2e-5 * std::sqrt(double(kk) + 1) : 1e-12 * double(kk + 1);
                INFO("m ", m, " n ", n, " k ", kk, " transposed B ", tb, " beta ", double(beta));
                CHECK(max_rel_diff(c, ref) <= tol);
            }
}

TEST_CASE_TEMPLATE("gemm and gemm_abt add a row or a column bias as they store C: edges, k blocks, threads", T, float,
                   double) {
    struct dims { index_t m, n, kk; };
    for (int threads : {1, 2}) {
        k::set_num_threads(threads);
        for (dims d : {dims{1, 1, 1}, dims{5, 7, 3}, dims{67, 33, 17}, dims{1, 120, 400}, dims{300, 100, 600},
                       dims{900, 40, 70}, dims{64, 300, 20}})
            for (bool per_row : {false, true}) {
                CAPTURE(threads);
                CAPTURE(d.m);
                CAPTURE(d.n);
                CAPTURE(d.kk);
                CAPTURE(per_row);
                typenet::rng g(typenet::seed{std::uint64_t(d.m * 7 + d.n)});
                auto fill = [&](std::size_t n) {
                    std::vector<T> v(n);
                    for (auto& x : v) x = T(g.uniform(-1, 1));
                    return v;
                };
                const auto a = fill(std::size_t(d.m * d.kk)), b = fill(std::size_t(d.kk * d.n));
                const auto bias = fill(std::size_t(per_row ? d.m : d.n)), c0 = fill(std::size_t(d.m * d.n));
                const k::bias_epilogue<T> ep = per_row ? k::bias_epilogue<T>{.row = bias.data()}
                                                       : k::bias_epilogue<T>{.col = bias.data()};
                auto with_bias = [&](std::vector<T> r) {
                    for (index_t i = 0; i < d.m; ++i)
                        for (index_t j = 0; j < d.n; ++j) r[std::size_t(i * d.n + j)] += bias[std::size_t(per_row ? i : j)];
                    return r;
                };
                const double tol = std::is_same_v<T, float> ? 2e-5 * std::sqrt(double(d.kk) + 1) : 1e-12 * double(d.kk + 1);
                // C := A B + 0.5 C + bias, B (k, n) row-major
                auto c = c0, ref = c0;
                k::gemm(d.m, d.n, d.kk, a.data(), d.kk, 1, b.data(), d.n, 1, T(0.5), c.data(), d.n, ep);
                k::gemm_ref(d.m, d.n, d.kk, a.data(), d.kk, 1, b.data(), d.n, 1, T(0.5), ref.data(), d.n);
                CHECK(max_rel_diff(c, with_bias(ref)) <= tol);
                // C := A B^T + bias with B (n, k): the dense layer's product; beta 0 never reads C
                c = std::vector<T>(c0.size(), std::numeric_limits<T>::quiet_NaN());
                ref = c0;
                k::gemm_abt(d.m, d.n, d.kk, a.data(), d.kk, b.data(), d.kk, T(0), c.data(), d.n, ep);
                k::gemm_ref(d.m, d.n, d.kk, a.data(), d.kk, 1, b.data(), 1, d.kk, T(0), ref.data(), d.n);
                CHECK(max_rel_diff(c, with_bias(ref)) <= tol);
            }
    }
}

// A weight gradient's bias gradient in its product: a_row_sums[i] += sum_p A(i, p), each row once
// whatever the threads split (C's columns: only the block of column 0 adds them), for A^T (packed),
// A in place and general strides, past kc, mc and nc, and through gemm_abt.
TEST_CASE_TEMPLATE("gemm and gemm_abt add A's row sums once: layouts, blocks, threads", T, float, double) {
    struct dims { index_t m, n, kk; };
    for (int threads : {1, 2}) {
        k::set_num_threads(threads);
        for (dims d : {dims{1, 1, 1}, dims{7, 5, 3}, dims{67, 33, 17}, dims{128, 512, 700}, dims{512, 128, 600},
                       dims{300, 64, 500}, dims{300, 2200, 70}, dims{9, 3000, 40}})
            for (int layout : {0, 1, 2}) {      // A^T stored (a weight gradient's dy^T), A row-major, A column-strided
                CAPTURE(threads);
                CAPTURE(d.m);
                CAPTURE(d.n);
                CAPTURE(d.kk);
                CAPTURE(layout);
                typenet::rng g(typenet::seed{std::uint64_t(d.m * 13 + d.n + layout)});
                auto fill = [&](std::size_t n) {
                    std::vector<T> v(n);
                    for (auto& x : v) x = T(g.uniform(-1, 1));
                    return v;
                };
                // layout 2: A (m, k) inside a (m, 2k) buffer, every other column
                const index_t rsa = layout == 0 ? 1 : layout == 1 ? d.kk : 2 * d.kk, csa = layout == 0 ? d.m : layout == 1 ? 1 : 2;
                const auto a = fill(std::size_t(d.m * d.kk * (layout == 2 ? 2 : 1))), b = fill(std::size_t(d.kk * d.n));
                const auto s0 = fill(std::size_t(d.m)), c0 = fill(std::size_t(d.m * d.n));
                auto sums_ref = s0;
                for (index_t i = 0; i < d.m; ++i) {
                    double s = 0;
                    for (index_t p = 0; p < d.kk; ++p) s += double(a[std::size_t(i * rsa + p * csa)]);
                    sums_ref[std::size_t(i)] += T(s);
                }
                const double tol = std::is_same_v<T, float> ? 2e-5 * std::sqrt(double(d.kk) + 1) : 1e-12 * double(d.kk + 1);
                auto c = c0, ref = c0, sums = s0;
                k::gemm(d.m, d.n, d.kk, a.data(), rsa, csa, b.data(), d.n, 1, T(1), c.data(), d.n,
                        k::bias_epilogue<T>{.a_row_sums = sums.data()});
                k::gemm_ref(d.m, d.n, d.kk, a.data(), rsa, csa, b.data(), d.n, 1, T(1), ref.data(), d.n);
                CHECK(max_rel_diff(c, ref) <= tol);
                CHECK(max_rel_diff(sums, sums_ref) <= tol);
                if (layout == 1) {            // A B^T, B (n, k)
                    sums = s0;
                    k::gemm_abt(d.m, d.n, d.kk, a.data(), d.kk, b.data(), d.kk, T(0), c.data(), d.n,
                                k::bias_epilogue<T>{.a_row_sums = sums.data()});
                    k::gemm_ref(d.m, d.n, d.kk, a.data(), d.kk, 1, b.data(), 1, d.kk, T(0), ref.data(), d.n);
                    CHECK(max_rel_diff(c, ref) <= tol);
                    CHECK(max_rel_diff(sums, sums_ref) <= tol);
                }
            }
    }
    k::set_num_threads(1);
}
