// tests/layers/pool_test.cpp — max_pool2d<K, S>, avg_pool2d<K, S> and global_avg_pool against
// torch.nn.functional's max_pool2d / avg_pool2d / mean (tests/parity/gen.py, pool.txt) and against
// finite differences; output shapes at compile time; ties in a max window go to the first.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "support/gradcheck.hpp"
#include "support/parity.hpp"
#include "typenet/core/network.hpp"
#include "typenet/layers/activation.hpp"
#include "typenet/layers/conv.hpp"
#include "typenet/layers/dense.hpp"
#include "typenet/layers/flatten.hpp"
#include "typenet/layers/pool.hpp"

namespace {
using namespace typenet;

template <class T, class Net>
void check_against_torch(const test::parity_file& f, const std::string& name, index_t batch) {
    const double tol = test::parity_tol<T>;
    const auto x = f.at(name + "/x").as<T>();     // (B, C, H, W)
    const auto dy = f.at(name + "/dy").as<T>();   // (B, out...)
    REQUIRE(x.size() == std::size_t(batch) * Net::input_shape::size);
    REQUIRE(dy.size() == std::size_t(batch) * Net::output_shape::size);
    Net net;
    static_assert(Net::param_count == 0);
    const T* y = net.forward(batch, x.data(), mode::train);
    test::check_close(std::span<const T>(y, dy.size()), f.at(name + "/y"), tol, name + " forward y");
    std::vector<T> dx(x.size(), std::numeric_limits<T>::quiet_NaN());   // NaN: every value written
    net.backward(dy.data(), dx.data());
    test::check_close(dx, f.at(name + "/dx"), tol, name + " backward dx");
    // Again after the same forward, into a buffer of garbage: dx is written (=), not accumulated.
    std::fill(dx.begin(), dx.end(), T(7));
    net.backward(dy.data(), dx.data());
    test::check_close(dx, f.at(name + "/dx"), tol, name + " second backward dx");
}
}  // namespace

TEST_CASE_TEMPLATE("pooling: forward and backward match torch", T, float, double) {
    const test::parity_file f(TYPENET_TEST_DIR "/parity/data/pool.txt");
    SUBCASE("max_pool2d<2> on (2, 6, 6)") {
        check_against_torch<T, basic_network<T, input<2, 6, 6>, max_pool2d<2>>>(f, "max_k2", 2);
    }
    SUBCASE("max_pool2d<3, 2> on (2, 7, 7): overlapping windows") {
        check_against_torch<T, basic_network<T, input<2, 7, 7>, max_pool2d<3, 2>>>(f, "max_k3_s2", 2);
    }
    SUBCASE("avg_pool2d<2> on (2, 6, 6)") {
        check_against_torch<T, basic_network<T, input<2, 6, 6>, avg_pool2d<2>>>(f, "avg_k2", 2);
    }
    SUBCASE("avg_pool2d<3, 1> on (2, 5, 5)") {
        check_against_torch<T, basic_network<T, input<2, 5, 5>, avg_pool2d<3, 1>>>(f, "avg_k3_s1", 2);
    }
    SUBCASE("global_avg_pool on (3, 4, 5)") {
        check_against_torch<T, basic_network<T, input<3, 4, 5>, global_avg_pool>>(f, "global_avg", 2);
    }
}

TEST_CASE_TEMPLATE("pooling: output shapes, names and the summary", T, float, double) {
    using max2 = basic_network<T, input<3, 8, 6>, max_pool2d<2>>;
    using max32 = basic_network<T, input<3, 7, 9>, max_pool2d<3, 2>>;
    using avg31 = basic_network<T, input<1, 5, 4>, avg_pool2d<3, 1>>;
    using gap = basic_network<T, input<5, 3, 7>, global_avg_pool>;
    using whole = basic_network<T, input<2, 4, 4>, max_pool2d<4>>;   // the window is the whole plane
    static_assert(std::is_same_v<typename max2::output_shape, shape<3, 4, 3>>);
    static_assert(std::is_same_v<typename max32::output_shape, shape<3, 3, 4>>);
    static_assert(std::is_same_v<typename avg31::output_shape, shape<1, 3, 2>>);
    static_assert(std::is_same_v<typename gap::output_shape, shape<5>>);
    static_assert(std::is_same_v<typename whole::output_shape, shape<2, 1, 1>>);
    static_assert(max2::param_count == 0 && gap::param_count == 0);
    CHECK(max2::summary().find("0  max_pool2d<2>  (3, 8, 6) -> (3, 4, 3)  params 0") != std::string::npos);
    CHECK(max32::summary().find("0  max_pool2d<3, 2>  (3, 7, 9) -> (3, 3, 4)") != std::string::npos);
    CHECK(avg31::summary().find("0  avg_pool2d<3, 1>  (1, 5, 4) -> (1, 3, 2)") != std::string::npos);
    CHECK(gap::summary().find("0  global_avg_pool  (5, 3, 7) -> (5)") != std::string::npos);
}

TEST_CASE_TEMPLATE("max_pool2d: a tie sends the gradient to the window's first maximum, as torch", T, float, double) {
    // One (1, 2, 4) plane, two windows: [[1, 3], [3, 0]] and [[2, 2], [2, 2]]; torch's CPU kernel
    // keeps the first maximum in row-major order.
    basic_network<T, input<1, 2, 4>, max_pool2d<2>> net;
    const std::vector<T> x{1, 3, 2, 2,
                           3, 0, 2, 2};
    const std::vector<T> dy{5, 7};
    const T* y = net.forward(1, x.data(), mode::train);
    CHECK(y[0] == T(3));
    CHECK(y[1] == T(2));
    std::vector<T> dx(8, std::numeric_limits<T>::quiet_NaN());
    net.backward(dy.data(), dx.data());
    const std::vector<T> expect{0, 5, 7, 0,
                                0, 0, 0, 0};
    for (std::size_t i = 0; i < 8; ++i) CHECK_MESSAGE(dx[i] == expect[i], "dx[", i, "]");
}

TEST_CASE_TEMPLATE("max_pool2d: a NaN in a window is its maximum and takes the gradient, as torch", T, float, double) {
    // torch's CPU max pool picks (v > max) || isnan(v): a NaN propagates instead of being skipped.
    basic_network<T, input<1, 2, 4>, max_pool2d<2>> net;
    const T nan = std::numeric_limits<T>::quiet_NaN();
    const std::vector<T> x{1, nan, 2, 9,
                           3, 0, nan, 2};
    const std::vector<T> dy{5, 7};
    const T* y = net.forward(1, x.data(), mode::train);
    CHECK(std::isnan(y[0]));
    CHECK(std::isnan(y[1]));
    std::vector<T> dx(8, T(-1));
    net.backward(dy.data(), dx.data());
    const std::vector<T> expect{0, 5, 0, 0,
                                0, 0, 7, 0};
    for (std::size_t i = 0; i < 8; ++i) CHECK_MESSAGE(dx[i] == expect[i], "dx[", i, "]");
}

TEST_CASE("pooling: backward matches finite differences") {
    SUBCASE("max_pool2d<2> on the input") {
        basic_network<double, input<2, 6, 4>, max_pool2d<2>> net;
        const auto r = test::gradcheck(net, 2);
        CHECK(r.checked == 2 * 2 * 6 * 4);
        CHECK(r.max_rel_error < 1e-6);
    }
    SUBCASE("conv2d, tanh, max_pool2d<3, 2>, dense") {
        basic_network<double, input<2, 7, 7>, conv2d<3, 3, padding<1>>, typenet::tanh, max_pool2d<3, 2>, flatten, dense<2>>
            net(seed{11});
        const auto r = test::gradcheck(net, 2);
        CHECK(r.max_rel_error < 1e-6);
    }
    SUBCASE("avg_pool2d<3, 1> then avg_pool2d<2>") {
        basic_network<double, input<2, 6, 6>, avg_pool2d<3, 1>, avg_pool2d<2>> net;
        static_assert(std::is_same_v<decltype(net)::output_shape, shape<2, 2, 2>>);
        const auto r = test::gradcheck(net, 3);
        CHECK(r.checked == 3 * 2 * 6 * 6);
        CHECK(r.max_rel_error < 1e-6);
    }
    SUBCASE("conv2d, global_avg_pool, dense") {
        basic_network<double, input<3, 5, 4>, conv2d<4, 3, padding<1>>, global_avg_pool, dense<3>> net(seed{12});
        const auto r = test::gradcheck(net, 2);
        CHECK(r.max_rel_error < 1e-6);
    }
}

TEST_CASE("pooling: the parameter gradients before a pool do not depend on whether dx is asked for") {
    basic_network<double, input<2, 6, 6>, conv2d<3, 3, padding<1>>, max_pool2d<2>, conv2d<2, 3>, avg_pool2d<1>> net(seed{13});
    rng g(seed{14});
    std::vector<double> x(2 * 2 * 6 * 6), dy(2 * 2 * 1 * 1);
    for (auto& v : x) v = g.uniform(-1, 1);
    for (auto& v : dy) v = g.uniform(-1, 1);
    const auto [with_dx, without_dx] = test::gradients_with_and_without_dx(net, 2, x, dy);
    REQUIRE(with_dx.size() == without_dx.size());
    double max_diff = 0;
    for (std::size_t i = 0; i < with_dx.size(); ++i) max_diff = std::max(max_diff, std::abs(with_dx[i] - without_dx[i]));
    CHECK(max_diff < 1e-12);
}
