// tests/parity/mlp_test.cpp — a small MLP end to end against torch (tests/parity/gen.py):
// Linear(6, 5), ReLU, Linear(5, 3) on a batch of 4 with cross-entropy on integer labels; logits,
// loss, dx and every parameter gradient.
#include <doctest/doctest.h>

#include <limits>
#include <vector>

#include "support/parity.hpp"
#include "typenet/core/network.hpp"
#include "typenet/layers/activation.hpp"
#include "typenet/layers/dense.hpp"
#include "typenet/losses/losses.hpp"

namespace {
using namespace typenet;
constexpr index_t batch = 4, in = 6, hidden = 5, classes = 3;
template <class T> using mlp = basic_network<T, input<in>, dense<hidden>, relu, dense<classes>>;
}  // namespace

TEST_CASE_TEMPLATE("mlp: Linear(6, 5), ReLU, Linear(5, 3), cross-entropy", T, float, double) {
    const test::parity_file f(TYPENET_TEST_DIR "/parity/data/mlp.txt");
    const double tol = test::parity_tol<T>;
    const auto x = f.at("x").as<T>();   // (B, 6)
    std::vector<loss::label_t> t;       // (B)
    for (double v : f.at("t").values) t.push_back(loss::label_t(v));

    mlp<T> net;
    test::load_parameters(net.template layer_parameters<0>(), {&f.at("w1"), &f.at("b1")});
    test::load_parameters(net.template layer_parameters<2>(), {&f.at("w2"), &f.at("b2")});
    static_assert(mlp<T>::param_count == (5 * 6 + 5) + (3 * 5 + 3));

    SUBCASE("forward, loss and backward match torch") {
        const T* logits = net.forward(batch, x.data(), mode::train);   // (B, 3)
        test::check_close(std::span<const T>(logits, batch * classes), f.at("logits"), tol, "mlp logits");

        std::vector<T> dlogits(batch * classes);                        // (B, 3)
        const T value = loss::cross_entropy{}(batch, classes, logits, t.data(), dlogits.data());
        test::check_close_scalar(double(value), f.at("loss"), tol, "mlp loss");

        net.zero_grad();
        std::vector<T> dx(x.size(), std::numeric_limits<T>::quiet_NaN());   // (B, 6)
        net.backward(dlogits.data(), dx.data());
        test::check_close(dx, f.at("dx"), tol, "mlp dx");
        auto g1 = net.template layer_gradients<0>();                    // dw1 (5, 6), db1 (5)
        auto g2 = net.template layer_gradients<2>();                    // dw2 (3, 5), db2 (3)
        test::check_close(g1.first(hidden * in), f.at("dw1"), tol, "mlp dw1");
        test::check_close(g1.subspan(hidden * in), f.at("db1"), tol, "mlp db1");
        test::check_close(g2.first(classes * hidden), f.at("dw2"), tol, "mlp dw2");
        test::check_close(g2.subspan(classes * hidden), f.at("db2"), tol, "mlp db2");
    }
}
