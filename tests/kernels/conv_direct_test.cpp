// tests/kernels/conv_direct_test.cpp — the direct convolution (no im2col) against its plain-loop
// twin on a few hundred sampled ragged geometries (input channels 1..9, output channels 1..19,
// H, W 1..37, K 1..5, padding 0..2): channel blocks with remainders, vectors that span row ends
// and rows narrower than a vector, the last tile past the last output. The scratch starts as NaN
// (every value a tile reads must be written by the padding), y as NaN with guards after it (every
// output written, nothing past it).
#include <doctest/doctest.h>

#include <algorithm>
#include <limits>
#include <string>
#include <vector>

#include "support/conv_kernels.hpp"
#include "typenet/kernels/cpu/conv_direct.hpp"

namespace {
using typenet::kernels::cpu::conv_direct_geometry;
using typenet::kernels::cpu::index_t;
using typenet::test::draw;
using typenet::test::max_error;
}  // namespace

TEST_CASE_TEMPLATE("conv2d_direct_forward matches the plain loops on ragged geometries", T, float, double) {
    draw d{42};
    int cases = 0;
    for (int i = 0; i < 300; ++i) {
        const index_t k = d.in(1, 5), pad = d.in(0, 2);
        const index_t h = std::max(d.in(1, 37), k - 2 * pad), w = std::max(d.in(1, 37), k - 2 * pad);
        const conv_direct_geometry g{d.in(1, 9), h, w, d.in(1, 19), k, k, pad};
        std::vector<double> x(std::size_t(g.c * h * w)), wt(std::size_t(g.o * g.c * k * k)), b(std::size_t(g.o));
        for (auto* v : {&x, &wt, &b})
            for (auto& e : *v) e = d.uniform();
        const std::vector<T> xt(x.begin(), x.end()), wtt(wt.begin(), wt.end()), bt(b.begin(), b.end());
        const std::size_t n = std::size_t(g.o * g.oh() * g.ow()), guard = 64;
        std::vector<T> y(n + guard, std::numeric_limits<T>::quiet_NaN()), ref(n);
        std::fill(y.begin() + std::ptrdiff_t(n), y.end(), T(7));
        std::vector<T> xp(std::size_t(g.padded_size(typenet::kernels::cpu::active_direct_sizes<T>().w)),
                          std::numeric_limits<T>::quiet_NaN());
        typenet::kernels::cpu::conv2d_direct_forward(g, xt.data(), wtt.data(), bt.data(), y.data(), xp.data());
        CHECK(std::all_of(y.begin() + std::ptrdiff_t(n), y.end(), [](T v) { return v == T(7); }));
        y.resize(n);
        typenet::kernels::cpu::conv2d_direct_forward_ref(g, xt.data(), wtt.data(), bt.data(), ref.data());
        const std::string config = "C=" + std::to_string(g.c) + " H=" + std::to_string(h) + " W=" + std::to_string(w) +
                                   " O=" + std::to_string(g.o) + " K=" + std::to_string(k) + " P=" + std::to_string(pad);
        const double tol = std::is_same_v<T, float> ? 1e-5 : 1e-12;
        const std::vector<double> yd(y.begin(), y.end()), refd(ref.begin(), ref.end());
        CHECK_MESSAGE(max_error(yd, refd, "y", config) <= tol, config);
        ++cases;
    }
    CHECK(cases == 300);
}
