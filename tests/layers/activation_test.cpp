// tests/layers/activation_test.cpp — every activation against torch (tests/parity/gen.py: x (4, 6),
// random dy) and against finite differences, on flat and multi-axis inputs.
#include <doctest/doctest.h>

#include <limits>
#include <string>
#include <vector>

#include "support/gradcheck.hpp"
#include "support/parity.hpp"
#include "typenet/core/network.hpp"
#include "typenet/layers/activation.hpp"
#include "typenet/layers/dense.hpp"

namespace {
using namespace typenet;

const test::parity_file& torch_values() {
    static const test::parity_file f(TYPENET_TEST_DIR "/parity/data/activation.txt");
    return f;
}

// y and dx of `Layer` on torch's x (4, 6) and dy, read as B samples of shape Input: (4, 6) as
// input<6>, or as (2, 2, 6) with input<2, 6>; the last axis (softmax's) is 6 either way.
template <class T, class Layer, class Input>
void check_torch(const std::string& name, index_t batch) {
    const auto& f = torch_values();
    const auto x = f.at("x").as<T>();     // (B, in...)
    const auto dy = f.at("dy").as<T>();   // (B, in...)
    const double tol = test::parity_tol<T>;
    basic_network<T, Input, Layer> net;
    const T* y = net.forward(batch, x.data(), mode::train);   // (B, in...)
    test::check_close(std::span<const T>(y, x.size()), f.at(name + "/y"), tol, name + " forward y");
    std::vector<T> dx(x.size(), std::numeric_limits<T>::quiet_NaN());   // NaN: every value must be written
    net.zero_grad();
    net.backward(dy.data(), dx.data());
    test::check_close(dx, f.at(name + "/dx"), tol, name + " backward dx");
}

template <class T, class Layer>
void check_torch_all_shapes(const std::string& name) {
    SUBCASE("flat input") { check_torch<T, Layer, input<6>>(name, 4); }
    SUBCASE("multi-axis input") { check_torch<T, Layer, input<2, 6>>(name, 2); }
}

// gradcheck on a flat and on a multi-axis input, and after a dense layer: there the activation's dx
// is the dense layer's dy, so an error in it also shows in the parameter gradients.
template <class Layer>
void check_finite_differences() {
    SUBCASE("input<7>") {
        basic_network<double, input<7>, Layer> net;
        const auto r = test::gradcheck(net, 3);
        CHECK(r.checked == 3 * 7);
        CHECK(r.max_rel_error < 1e-6);
    }
    SUBCASE("input<3, 4>") {
        basic_network<double, input<3, 4>, Layer> net;
        const auto r = test::gradcheck(net, 2);
        CHECK(r.checked == 2 * 12);
        CHECK(r.max_rel_error < 1e-6);
    }
    SUBCASE("dense<5> then the activation") {
        basic_network<double, input<4>, dense<5>, Layer> net(seed{11});
        const auto r = test::gradcheck(net, 3);
        CHECK(r.checked == (5 * 4 + 5) + 3 * 4);
        CHECK(r.max_rel_error < 1e-6);
    }
}

// An activation first in the chain gets dx == nullptr when the caller wants only parameter
// gradients; the dense after it must still receive them, equal to those of a pass with dx.
template <class Layer>
void check_backward_without_dx() {
    basic_network<double, input<6>, Layer, dense<2>> net(seed{2});
    const auto& f = torch_values();
    const auto x = f.at("x").as<double>();    // (4, 6)
    const std::vector<double> dy{0.5, -1.0, 0.25, 2.0, -0.75, 1.5, 1.0, -0.5};   // (4, 2)
    const auto [with_dx, without_dx] = test::gradients_with_and_without_dx(net, 4, x, dy);
    CHECK(with_dx == without_dx);
    double norm = 0;
    for (double g : without_dx) norm += g * g;
    CHECK(norm > 0);   // the dense layer did receive gradients
}
}  // namespace

// Three test cases per activation: torch parity (float, double), finite differences, nullptr dx.
#define TYPENET_ACTIVATION_TESTS(title, Layer, block)                                            \
    TEST_CASE_TEMPLATE(title, T, float, double) {                                                 \
        SUBCASE("forward and backward match torch") { check_torch_all_shapes<T, Layer>(block); }  \
    }                                                                                             \
    TEST_CASE(title ": backward matches finite differences") { check_finite_differences<Layer>(); } \
    TEST_CASE(title ": backward without dx still gives parameter gradients") {                    \
        check_backward_without_dx<Layer>();                                                       \
    }

TYPENET_ACTIVATION_TESTS("relu", relu, "relu")
TYPENET_ACTIVATION_TESTS("leaky_relu<> (0.01)", leaky_relu<>, "leaky_relu_0.01")
// Regression: the slope was a float template argument, so a double network used 0.2f =
// 0.2000000030 and missed torch by 1e-8; it is a double now.
TYPENET_ACTIVATION_TESTS("leaky_relu<0.2>", leaky_relu<0.2>, "leaky_relu_0.2")
TYPENET_ACTIVATION_TESTS("sigmoid", sigmoid, "sigmoid")
TYPENET_ACTIVATION_TESTS("tanh", typenet::tanh, "tanh")
TYPENET_ACTIVATION_TESTS("gelu", gelu, "gelu")
TYPENET_ACTIVATION_TESTS("softmax", softmax, "softmax")
TYPENET_ACTIVATION_TESTS("log_softmax", log_softmax, "log_softmax")
