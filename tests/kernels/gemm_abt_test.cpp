// tests/kernels/gemm_abt_test.cpp — C := A B^T + beta*C by row dot products against plain loops
// (gemm_ref with B's strides swapped) on ragged sizes, rows shorter and longer than a vector, and
// padded leading dimensions; C has a guard band that must stay untouched.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <vector>

#include "support/compare.hpp"
#include "typenet/core/random.hpp"
#include "typenet/kernels/cpu/gemm.hpp"
#include "typenet/kernels/cpu/gemm_abt.hpp"

namespace k = typenet::kernels::cpu;
using k::index_t;

namespace {
using typenet::test::max_rel_diff;

// A (m, k) and B (n, k) row-major with a padded leading dimension, C with a guard band.
template <class T>
bool check_abt(index_t m, index_t n, index_t kk, T beta, std::uint64_t s) {
    typenet::rng g(typenet::seed{s});
    const index_t lda = kk + 2, ldb = kk + 1, ldc = n + 3;
    std::vector<T> a(std::size_t(m * lda)), b(std::size_t(n * ldb)), c(std::size_t(m * ldc));
    for (auto& v : a) v = T(g.uniform(-1, 1));
    for (auto& v : b) v = T(g.uniform(-1, 1));
    for (auto& v : c) v = T(g.uniform(-1, 1));
    std::vector<T> ref = c;
    k::gemm_abt(m, n, kk, a.data(), lda, b.data(), ldb, beta, c.data(), ldc);
    k::gemm_ref(m, n, kk, a.data(), lda, 1, b.data(), 1, ldb, beta, ref.data(), ldc);
    const double tol = std::is_same_v<T, float> ? 2e-5 * std::sqrt(double(kk) + 1) : 1e-12 * double(kk + 1);
    const double e = max_rel_diff(c, ref);
    if (e > tol)
        std::printf("gemm_abt m=%td n=%td k=%td beta=%g: max error %g > %g\n", m, n, kk, double(beta), e, tol);
    return e <= tol;
}

}  // namespace

TEST_CASE_TEMPLATE("gemm_abt matches the reference on ragged sizes 1..67 and long rows", T, float, double) {
    const index_t sizes[] = {1, 2, 3, 4, 5, 6, 7, 8, 13, 17, 33, 67};
    int failures = 0;
    std::uint64_t s = 100;
    for (index_t m : sizes)
        for (index_t n : sizes)
            for (index_t kk : {0, 1, 15, 16, 17, 67, 400, 785})
                failures += !check_abt<T>(m, n, kk, (m + n) % 3 == 0 ? T(0) : T(0.5), s++);
    CHECK(failures == 0);
}

TEST_CASE("gemm_abt: threads split the columns; the single-thread form agrees") {
    const int saved = k::max_threads();
    for (int t : {1, 2}) {
        k::set_num_threads(t);
        CHECK(check_abt<float>(70, 131, 300, 0.0f, 7));
        CHECK(check_abt<float>(1, 257, 784, 1.0f, 8));      // one sample through a dense layer
        CHECK(check_abt<float>(3, 9, 1000, 0.5f, 9));
    }
    k::set_num_threads(saved);
    std::vector<float> a(5 * 40, 0.25f), b(7 * 40, 0.5f), c1(35, 1.0f), c2(35, 1.0f);
    k::gemm_abt_single_thread(5, 7, 40, a.data(), 40, b.data(), 40, 1.0f, c1.data(), 7);
    k::gemm_abt(5, 7, 40, a.data(), 40, b.data(), 40, 1.0f, c2.data(), 7);
    CHECK(c1 == c2);
    CHECK(c1[0] == 6.0f);                                    // 40 * 0.125 + 1
}
