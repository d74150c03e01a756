// tests/layers/flatten_test.cpp — flatten against torch.flatten(x, 1) on (2, 3, 2, 2)
// (tests/parity/gen.py) and against finite differences in front of a dense layer.
#include <doctest/doctest.h>

#include <limits>
#include <string>
#include <vector>
#include <xtensor/xtensor.hpp>

#include "support/gradcheck.hpp"
#include "support/parity.hpp"
#include "typenet/core/network.hpp"
#include "typenet/layers/dense.hpp"
#include "typenet/layers/flatten.hpp"

namespace {
using namespace typenet;
constexpr index_t batch = 2;   // x (B, 3, 2, 2) -> y (B, 12)
}  // namespace

TEST_CASE_TEMPLATE("flatten", T, float, double) {
    const test::parity_file f(TYPENET_TEST_DIR "/parity/data/flatten.txt");
    const auto x = f.at("x").as<T>();     // (B, 3, 2, 2)
    const auto dy = f.at("dy").as<T>();   // (B, 12)
    const double tol = test::parity_tol<T>;
    basic_network<T, input<3, 2, 2>, flatten> net;
    static_assert(std::is_same_v<typename decltype(net)::output_shape, shape<12>>);

    SUBCASE("forward and backward match torch") {
        const T* y = net.forward(batch, x.data(), mode::train);   // (B, 12)
        test::check_close(std::span<const T>(y, x.size()), f.at("y"), tol, "flatten forward y");
        std::vector<T> dx(x.size(), std::numeric_limits<T>::quiet_NaN());   // (B, 3, 2, 2)
        net.backward(dy.data(), dx.data());
        test::check_close(dx, f.at("dx"), tol, "flatten backward dx");
    }

    SUBCASE("the xtensor face gives (B, 12) and names wrong shapes") {
        xt::xtensor<T, 4> xt_x = xt::zeros<T>({std::size_t(batch), std::size_t(3), std::size_t(2), std::size_t(2)});
        std::copy(x.begin(), x.end(), xt_x.begin());
        const auto y = net.forward(xt_x);
        REQUIRE(y.dimension() == 2);
        CHECK(y.shape()[0] == std::size_t(batch));
        CHECK(y.shape()[1] == 12);
        test::check_close(std::vector<T>(y.begin(), y.end()), f.at("y"), tol, "flatten xtensor forward y");

        const xt::xtensor<T, 4> wrong = xt::zeros<T>({std::size_t(2), std::size_t(2), std::size_t(3), std::size_t(2)});
        const std::string msg = test::thrown_message<std::invalid_argument>([&] { net.forward(wrong); });
        INFO("message: ", msg);
        CHECK(msg.find("(2, 2, 3, 2)") != std::string::npos);
        CHECK(msg.find("(B, 3, 2, 2)") != std::string::npos);
    }
}

TEST_CASE("flatten: backward matches finite differences") {
    SUBCASE("alone") {
        basic_network<double, input<3, 2, 2>, flatten> net;
        const auto r = test::gradcheck(net, 2);
        CHECK(r.checked == 2 * 12);
        CHECK(r.max_rel_error < 1e-6);
    }
    SUBCASE("before dense<3>") {
        basic_network<double, input<2, 3, 2>, flatten, dense<3>> net(seed{4});
        const auto r = test::gradcheck(net, 3);
        CHECK(r.checked == (3 * 12 + 3) + 3 * 12);
        CHECK(r.max_rel_error < 1e-6);
    }
}

TEST_CASE("flatten: backward without dx still gives the next layer's parameter gradients") {
    basic_network<double, input<3, 2, 2>, flatten, dense<2>> net(seed{6});
    const test::parity_file f(TYPENET_TEST_DIR "/parity/data/flatten.txt");
    const auto x = f.at("x").as<double>();                        // (2, 3, 2, 2)
    const std::vector<double> dy{0.5, -1.0, 0.25, 2.0};           // (2, 2)
    const auto [with_dx, without_dx] = test::gradients_with_and_without_dx(net, batch, x, dy);
    CHECK(with_dx == without_dx);
    // db = column sums of dy (2, 2): (0.5 + 0.25, -1 + 2)
    CHECK(without_dx[2 * 12] == doctest::Approx(0.75));
    CHECK(without_dx[2 * 12 + 1] == doctest::Approx(1.0));
}
