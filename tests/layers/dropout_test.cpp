// tests/layers/dropout_test.cpp — dropout<P> (torch.nn.Dropout): the identity in evaluation; in
// training a fraction P of zeros over 100k values, the rest scaled by 1 / (1 - P), backward through
// the same mask; the mask follows the network's seed; P = 0 and P = 1.
#include <doctest/doctest.h>

#include <cmath>
#include <cstddef>
#include <limits>
#include <vector>

#include "support/gradcheck.hpp"
#include "typenet/core/network.hpp"
#include "typenet/layers/activation.hpp"
#include "typenet/layers/dense.hpp"
#include "typenet/layers/dropout.hpp"

namespace {
using namespace typenet;
constexpr index_t batch = 100;   // 100 x (10, 100): 100k values

template <class T, double P> using drop_net = basic_network<T, input<10, 100>, dropout<P>>;

// x in [0.5, 1.5] and dy in [-1.5, -0.5] u [0.5, 1.5]: never zero, so a zero marks a dropped value.
template <class T> std::vector<T> nonzero_values(std::size_t n, std::uint64_t s) {
    rng g(seed{s});
    std::vector<T> v(n);
    for (auto& e : v) e = T(g.uniform(0.5, 1.5));
    return v;
}

template <class T, double P> void check_train_mask() {
    drop_net<T, P> net(seed{21});
    const std::size_t n = std::size_t(batch) * 1000;
    const auto x = nonzero_values<T>(n, 1);
    auto dy = nonzero_values<T>(n, 2);
    for (std::size_t i = 0; i < n; i += 2) dy[i] = -dy[i];
    const T* yp = net.forward(batch, x.data(), mode::train);
    const std::vector<T> y(yp, yp + n);
    std::vector<T> dx(n, std::numeric_limits<T>::quiet_NaN());
    net.backward(dy.data(), dx.data());

    const double keep = 1.0 / (1.0 - P);
    const double tol = sizeof(T) == 4 ? 1e-6 : 1e-14;
    std::size_t zeros = 0, bad_scale = 0, bad_dx = 0;
    for (std::size_t i = 0; i < n; ++i) {
        if (y[i] == T(0)) {
            ++zeros;
            if (dx[i] != T(0)) ++bad_dx;                          // dropped: no gradient
            continue;
        }
        if (std::abs(double(y[i]) - double(x[i]) * keep) > tol * keep * 2) ++bad_scale;
        // backward uses the forward's mask: dx = dy * y / x
        if (std::abs(double(dx[i]) - double(dy[i]) * double(y[i]) / double(x[i])) > tol * keep * 4) ++bad_dx;
    }
    const double frac = double(zeros) / double(n);
    INFO("P = ", P, ", zero fraction ", frac);
    CHECK(std::abs(frac - P) < 0.01);   // the standard deviation is sqrt(P (1 - P) / 1e5) <= 0.0016
    CHECK(bad_scale == 0);
    CHECK(bad_dx == 0);
}
}  // namespace

TEST_CASE_TEMPLATE("dropout: shapes and counts", T, float, double) {
    static_assert(std::is_same_v<typename drop_net<T, 0.5>::output_shape, shape<10, 100>>);
    static_assert(drop_net<T, 0.5>::param_count == 0 && drop_net<T, 0.5>::state_count == 0);
    static_assert(basic_network<T, input<1, 4, 4>, dropout<>>::well_formed);
    using mlp = basic_network<T, input<8>, dense<16>, relu, dropout<0.25>, dense<3>>;
    static_assert(mlp::param_count == 8 * 16 + 16 + 16 * 3 + 3);
    static_assert(std::is_same_v<typename mlp::output_shape, shape<3>>);
    CHECK(basic_network<T, input<4>, dropout<0.5>>::summary().find("dropout<0.5") != std::string::npos);
}

TEST_CASE_TEMPLATE("dropout: evaluation is the identity, forward and backward", T, float, double) {
    drop_net<T, 0.5> net(seed{1});
    const std::size_t n = std::size_t(batch) * 1000;
    const auto x = nonzero_values<T>(n, 3), dy = nonzero_values<T>(n, 4);
    const T* y = net.forward(batch, x.data(), mode::eval);
    CHECK(std::vector<T>(y, y + n) == x);
    std::vector<T> dx(n, std::numeric_limits<T>::quiet_NaN());
    net.backward(dy.data(), dx.data());
    CHECK(dx == dy);
    SUBCASE("also after a training pass (the mode is the last forward's)") {
        net.forward(batch, x.data(), mode::train);
        y = net.forward(batch, x.data(), mode::eval);
        CHECK(std::vector<T>(y, y + n) == x);
        net.backward(dy.data(), dx.data());
        CHECK(dx == dy);
    }
}

TEST_CASE_TEMPLATE("dropout: training zeros a fraction P, scales the rest by 1 / (1 - P), backward uses the mask", T,
                   float, double) {
    SUBCASE("P = 0.5") { check_train_mask<T, 0.5>(); }
    SUBCASE("P = 0.1") { check_train_mask<T, 0.1>(); }
    SUBCASE("P = 0.8") { check_train_mask<T, 0.8>(); }
}

TEST_CASE_TEMPLATE("dropout: the mask follows the network's seed", T, float, double) {
    const std::size_t n = std::size_t(batch) * 1000;
    const auto x = nonzero_values<T>(n, 5);
    auto mask_of = [&](drop_net<T, 0.5>& net) {
        const T* y = net.forward(batch, x.data(), mode::train);
        return std::vector<T>(y, y + n);
    };
    drop_net<T, 0.5> a(seed{7}), b(seed{7}), c(seed{8});
    const auto ya = mask_of(a), yb = mask_of(b), yc = mask_of(c);
    CHECK(ya == yb);
    CHECK(ya != yc);
    CHECK(mask_of(a) != ya);   // the generator moves on: the next step draws another mask
    a.init(seed{7});           // and init(seed) starts it again
    CHECK(mask_of(a) == ya);
}

TEST_CASE_TEMPLATE("dropout: P = 0 is the identity, P = 1 gives zeros", T, float, double) {
    const std::size_t n = std::size_t(batch) * 1000;
    const auto x = nonzero_values<T>(n, 6), dy = nonzero_values<T>(n, 7);
    std::vector<T> dx(n, std::numeric_limits<T>::quiet_NaN());
    SUBCASE("P = 0") {
        drop_net<T, 0.0> net(seed{1});
        const T* y = net.forward(batch, x.data(), mode::train);
        CHECK(std::vector<T>(y, y + n) == x);
        net.backward(dy.data(), dx.data());
        CHECK(dx == dy);
    }
    SUBCASE("P = 1") {
        drop_net<T, 1.0> net(seed{1});
        const T* y = net.forward(batch, x.data(), mode::train);
        CHECK(std::vector<T>(y, y + n) == std::vector<T>(n, T(0)));
        net.backward(dy.data(), dx.data());
        CHECK(dx == std::vector<T>(n, T(0)));
        y = net.forward(batch, x.data(), mode::eval);   // evaluation still passes everything
        CHECK(std::vector<T>(y, y + n) == x);
    }
}

TEST_CASE("dropout: inside a network, gradients through the same mask") {
    using net_t = basic_network<double, input<6>, dense<8>, typenet::tanh, dropout<0.4>, dense<3>>;
    SUBCASE("evaluation: finite differences") {
        net_t net(seed{2});
        const auto r = test::gradcheck(net, 3, 7, 1e-6, mode::eval);
        CHECK(r.checked == (6 * 8 + 8) + (8 * 3 + 3) + 3 * 6);
        CHECK(r.max_rel_error < 1e-6);
    }
    SUBCASE("training: a backward with and one without dx agree (one mask per forward)") {
        net_t net(seed{3});
        std::vector<double> x(4 * 6), dy(4 * 3);
        for (std::size_t i = 0; i < x.size(); ++i) x[i] = std::sin(double(i));
        for (std::size_t i = 0; i < dy.size(); ++i) dy[i] = std::cos(double(i));
        const auto [with_dx, without_dx] = test::gradients_with_and_without_dx(net, 4, x, dy);
        CHECK(with_dx == without_dx);
        // The first dense layer's gradient is zero only for hidden units dropped in every sample;
        // with 4 samples and P = 0.4 most are kept, so some of its gradient is non-zero.
        bool any = false;
        for (std::size_t i = 0; i < 6 * 8; ++i) any = any || with_dx[i] != 0;
        CHECK(any);
    }
}
