// tests/core/random_test.cpp — the generator: reproducible streams, uniform and normal moments, shuffles.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "typenet/core/random.hpp"

using namespace typenet;

TEST_CASE("a seed fixes the stream, on every platform") {
    rng a(seed{42}), b(seed{42}), c(seed{43});
    for (int i = 0; i < 100; ++i) CHECK(a.next() == b.next());
    CHECK(rng(seed{42}).next() != c.next());
    // xoshiro256** seeded by splitmix64(42): a fixed value guards against silent changes of the stream
    CHECK(rng(seed{42}).next() == 1546998764402558742ull);
}

TEST_CASE("uniform and normal have the moments they should") {
    rng g(seed{1});
    const int n = 200000;
    double s = 0, s2 = 0, lo = 1, hi = 0;
    for (int i = 0; i < n; ++i) {
        const double u = g.uniform();
        s += u; lo = std::min(lo, u); hi = std::max(hi, u);
    }
    CHECK(s / n == doctest::Approx(0.5).epsilon(0.01));
    CHECK(lo >= 0.0);
    CHECK(hi < 1.0);
    s = 0;
    for (int i = 0; i < n; ++i) { const double z = g.normal(); s += z; s2 += z * z; }
    CHECK(std::abs(s / n) < 0.01);
    CHECK(s2 / n == doctest::Approx(1.0).epsilon(0.02));
}

TEST_CASE("shuffle is a permutation and below() is in range") {
    rng g(seed{9});
    std::vector<int> v(1000);
    std::iota(v.begin(), v.end(), 0);
    auto w = v;
    g.shuffle(w.begin(), w.end());
    CHECK(w != v);
    std::sort(w.begin(), w.end());
    CHECK(w == v);
    for (int i = 0; i < 1000; ++i) CHECK(g.below(7) < 7);
}
