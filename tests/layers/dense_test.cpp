// tests/layers/dense_test.cpp — dense<Out> against torch.nn.Linear(5, 3) (tests/parity/gen.py) and
// against finite differences; the xtensor face of a dense network and its shape errors.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>
#include <xtensor/xtensor.hpp>

#include "support/gradcheck.hpp"
#include "support/parity.hpp"
#include "typenet/core/network.hpp"
#include "typenet/layers/dense.hpp"

namespace {
using namespace typenet;
constexpr index_t batch = 4, in = 5, out = 3;   // x (B, In), w (Out, In), b (Out)

template <class T> using linear_net = basic_network<T, input<in>, dense<out>>;

template <class T>
void load_torch_weights(linear_net<T>& net, const test::parity_file& f) {
    test::load_parameters(net.template layer_parameters<0>(), {&f.at("w"), &f.at("b")});
}

// dw (Out, In) and db (Out) of layer 0, scaled by `times` (gradients accumulate).
template <class T>
void check_parameter_gradients(linear_net<T>& net, const test::parity_file& f, double times, const std::string& what) {
    auto dp = net.template layer_gradients<0>();
    test::parity_tensor dw = f.at("dw"), db = f.at("db");
    for (auto& v : dw.values) v *= times;
    for (auto& v : db.values) v *= times;
    test::check_close(dp.first(out * in), dw, test::parity_tol<T>, what + " dw");
    test::check_close(dp.subspan(out * in), db, test::parity_tol<T>, what + " db");
}
}  // namespace

TEST_CASE_TEMPLATE("dense", T, float, double) {
    const test::parity_file f(TYPENET_TEST_DIR "/parity/data/dense.txt");
    const auto x = f.at("x").as<T>();     // (B, In)
    const auto dy = f.at("dy").as<T>();   // (B, Out)
    const double tol = test::parity_tol<T>;
    linear_net<T> net;
    load_torch_weights(net, f);

    SUBCASE("forward and backward match torch") {
        const T* y = net.forward(batch, x.data(), mode::train);   // (B, Out)
        test::check_close(std::span<const T>(y, batch * out), f.at("y"), tol, "dense forward y");
        net.zero_grad();
        std::vector<T> dx(x.size(), std::numeric_limits<T>::quiet_NaN());   // (B, In); NaN: every value written
        net.backward(dy.data(), dx.data());
        test::check_close(dx, f.at("dx"), tol, "dense backward dx");
        check_parameter_gradients(net, f, 1.0, "dense backward");
    }

    SUBCASE("backward accumulates parameter gradients, with or without dx") {
        net.forward(batch, x.data(), mode::train);
        net.zero_grad();
        net.backward(dy.data());                  // dx == nullptr: the input needs no gradient
        check_parameter_gradients(net, f, 1.0, "dense backward without dx");
        std::vector<T> dx(x.size());
        net.backward(dy.data(), dx.data());       // second pass adds the same gradients again
        check_parameter_gradients(net, f, 2.0, "dense backward twice");
        test::check_close(dx, f.at("dx"), tol, "dense backward dx after a nullptr pass");
    }

    SUBCASE("the xtensor face matches torch and names wrong shapes") {
        xt::xtensor<T, 2> xt_x = xt::zeros<T>({std::size_t(batch), std::size_t(in)});
        std::copy(x.begin(), x.end(), xt_x.begin());
        const auto y = net.forward(xt_x, mode::train);
        REQUIRE(y.dimension() == 2);
        CHECK(y.shape()[0] == std::size_t(batch));
        CHECK(y.shape()[1] == std::size_t(out));
        test::check_close(std::vector<T>(y.begin(), y.end()), f.at("y"), tol, "dense xtensor forward y");

        const xt::xtensor<T, 2> wrong = xt::zeros<T>({std::size_t(2), std::size_t(6)});
        const std::string msg = test::thrown_message<std::invalid_argument>([&] { net.forward(wrong); });
        INFO("message: ", msg);
        CHECK(msg.find("(2, 6)") != std::string::npos);
        CHECK(msg.find("(B, 5)") != std::string::npos);
        const xt::xtensor<T, 3> wrong_rank = xt::zeros<T>({std::size_t(4), std::size_t(5), std::size_t(1)});
        const std::string msg3 = test::thrown_message<std::invalid_argument>([&] { net.forward(wrong_rank); });
        CHECK(msg3.find("(4, 5, 1)") != std::string::npos);
    }
}

TEST_CASE("dense: backward matches finite differences") {
    basic_network<double, input<7>, dense<4>> net(seed{3});
    const auto r = test::gradcheck(net, 3);
    CHECK(r.checked == 4 * 7 + 4 + 3 * 7);   // every parameter and every input value
    CHECK(r.max_rel_error < 1e-6);
}

TEST_CASE("dense: two layers back to back match finite differences") {
    basic_network<double, input<6>, dense<5>, dense<2>> net(seed{5});
    const auto r = test::gradcheck(net, 2);
    CHECK(r.checked == (5 * 6 + 5) + (2 * 5 + 2) + 2 * 6);
    CHECK(r.max_rel_error < 1e-6);
}
