// tests/optim/clip_test.cpp — clip_grad_norm and clip_grad_value (optim/clip.hpp) against
// torch.nn.utils (tests/parity/gen.py, optim2()): the returned norm and the gradients after, for a
// case that clips and one that does not; the option checks; and their kernels
// (kernels/cpu/reduce.hpp) against the plain-loop *_ref twins on ragged sizes 1..67.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "support/parity.hpp"
#include "typenet/core/network.hpp"
#include "typenet/kernels/cpu/reduce.hpp"
#include "typenet/layers/dense.hpp"
#include "typenet/optim/clip.hpp"

namespace {
using namespace typenet;

// 8 gradients: dense<2> on input<3> is w (2, 3) and b (2), torch's two tensors flattened in order.
template <class T> using net8 = basic_network<T, input<3>, dense<2>>;

const test::parity_file& torch_values() {
    static const test::parity_file f(TYPENET_TEST_DIR "/parity/data/optim2.txt");
    return f;
}

template <class T>
void load_gradients(net8<T>& net, const test::parity_tensor& g) {
    test::load_parameters(net.gradients(), {&g});
}

// Deterministic values in [-2, 2] with a ragged spread, for the kernel checks.
template <class T>
std::vector<T> ramp(std::size_t n) {
    std::vector<T> v(n);
    for (std::size_t i = 0; i < n; ++i) v[i] = T(std::sin(double(i) * 1.7 + 0.3) * 2.0);
    return v;
}
}  // namespace

TEST_CASE_TEMPLATE("clip_grad_norm matches torch.nn.utils.clip_grad_norm_", T, float, double) {
    for (const std::string name : {"clip", "noclip"}) {
        CAPTURE(name);
        const auto& f = torch_values();
        net8<T> net;
        load_gradients(net, f.at(name + "/g"));
        const double norm = optim::clip_grad_norm(net, f.at(name + "/max_norm").scalar());
        test::check_close_scalar(norm, f.at(name + "/norm"), test::parity_tol<T>, name + ": returned norm");
        test::check_close(net.gradients(), f.at(name + "/clipped"), test::parity_tol<T>, name + ": gradients after");
    }
    SUBCASE("after clipping, the norm is max_norm (less torch's 1e-6)") {
        net8<T> net;
        load_gradients(net, torch_values().at("clip/g"));
        optim::clip_grad_norm(net, 1.0);
        CHECK(optim::clip_grad_norm(net, 1.0) == doctest::Approx(1.0).epsilon(1e-5));
    }
}

TEST_CASE_TEMPLATE("clip_grad_value matches torch.nn.utils.clip_grad_value_", T, float, double) {
    net8<T> net;
    load_gradients(net, torch_values().at("clip_value/g"));
    optim::clip_grad_value(net, 0.5);
    test::check_close(net.gradients(), torch_values().at("clip_value/clipped"), test::parity_tol<T>, "clip_value");
}

TEST_CASE("clipping: invalid arguments throw std::invalid_argument") {
    net8<double> net;
    CHECK_THROWS_AS(optim::clip_grad_norm(net, -1.0), std::invalid_argument);
    CHECK_THROWS_AS(optim::clip_grad_norm(net, std::numeric_limits<double>::quiet_NaN()), std::invalid_argument);
    CHECK_THROWS_AS(optim::clip_grad_value(net, -0.5), std::invalid_argument);
    const std::string msg = test::thrown_message<std::invalid_argument>([&] { optim::clip_grad_norm(net, -1.0); });
    INFO("message: ", msg);
    CHECK(msg.find("clip_grad_norm") != std::string::npos);
    CHECK(msg.find("max_norm") != std::string::npos);
    CHECK_NOTHROW(optim::clip_grad_norm(net, 0.0));
    CHECK_NOTHROW(optim::clip_grad_value(net, 0.0));
}

TEST_CASE_TEMPLATE("kernels/cpu/reduce: each kernel equals its *_ref twin on sizes 1..67", T, float, double) {
    using kernels::cpu::index_t;
    for (index_t n = 1; n <= 67; ++n) {
        CAPTURE(n);
        const std::vector<T> x = ramp<T>(std::size_t(n));
        const double s = kernels::cpu::sum_of_squares(n, x.data());
        CHECK(s == doctest::Approx(kernels::cpu::sum_of_squares_ref(n, x.data())).epsilon(1e-14));

        std::vector<T> a = x, b = x;
        kernels::cpu::scale(n, T(0.37), a.data());
        kernels::cpu::scale_ref(n, T(0.37), b.data());
        CHECK(a == b);

        a = x;
        b = x;
        kernels::cpu::clamp(n, T(-0.5), T(0.75), a.data());
        kernels::cpu::clamp_ref(n, T(-0.5), T(0.75), b.data());
        CHECK(a == b);
    }
    SUBCASE("clamp keeps a NaN, as torch.clamp does") {
        std::vector<T> v(19, T(3));
        v[2] = v[17] = std::numeric_limits<T>::quiet_NaN();   // one in a full batch, one in the tail
        kernels::cpu::clamp(index_t(v.size()), T(-1), T(1), v.data());
        CHECK(std::isnan(v[2]));
        CHECK(std::isnan(v[17]));
        CHECK(v[0] == T(1));
    }
    SUBCASE("sum_of_squares of floats is accumulated in double") {
        // 4096^2 = 2^24, then 1000 ones: a float sum stays at 2^24 (2^24 + 1 rounds back to it).
        std::vector<T> x(1001, T(1));
        x[0] = T(4096);
        CHECK(kernels::cpu::sum_of_squares(index_t(x.size()), x.data()) == 16777216.0 + 1000.0);
    }
}
