// tests/optim/rmsprop_test.cpp — rmsprop (optim/optimizers.hpp) against torch.optim.RMSprop
// (tests/parity/gen.py, optim2()): from the same p0 (8) and 10 gradients, the parameters after every
// step in four configurations; the kernel's batches and scalar tail on ragged sizes 1..67; the
// state buffers it allocates; and the option checks.
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <type_traits>
#include <vector>

#include "support/optim_steps.hpp"
#include "typenet/core/network.hpp"
#include "typenet/kernels/cpu/optim.hpp"
#include "typenet/layers/dense.hpp"
#include "typenet/optim/optimizers.hpp"

namespace {
using namespace typenet;

template <class T> using net8 = test::net8<T>;
constexpr std::size_t n_params = test::optim_params;

const test::parity_file& torch_values() {
    static const test::parity_file f(TYPENET_TEST_DIR "/parity/data/optim2.txt");
    return f;
}

template <class T>
void check_torch(const std::string& name, const optim::rmsprop_options& o) {
    test::follow_torch_steps<T>(torch_values(), name, [&](net8<T>& net) {
        optim::rmsprop opt(net, o);
        static_assert(std::is_same_v<decltype(opt), optim::rmsprop<net8<T>>>);   // CTAD
        return opt;
    });
}
}  // namespace

TEST_CASE_TEMPLATE("rmsprop", T, float, double) {
    SUBCASE("defaults: lr 1e-2, alpha 0.99, eps 1e-8") { check_torch<T>("rmsprop", {}); }
    SUBCASE("momentum 0.9") { check_torch<T>("rmsprop_momentum", {.momentum = 0.9}); }
    SUBCASE("centered") { check_torch<T>("rmsprop_centered", {.centered = true}); }
    SUBCASE("weight_decay 0.1, momentum 0.5, centered") {
        check_torch<T>("rmsprop_wd_momentum_centered", {.weight_decay = 0.1, .momentum = 0.5, .centered = true});
    }
}

TEST_CASE("rmsprop: state buffers exist only for the options that use them") {
    net8<double> net;
    optim::rmsprop plain(net);
    CHECK(plain.square_avg().size() == n_params);
    CHECK(plain.grad_avg().empty());
    CHECK(plain.momentum_buffer().empty());
    optim::rmsprop full(net, {.momentum = 0.5, .centered = true});
    CHECK(full.grad_avg().size() == n_params);
    CHECK(full.momentum_buffer().size() == n_params);
    CHECK(full.opts().momentum == 0.5);
    full.set_lr(0.5);
    CHECK(full.lr() == 0.5);
    static_assert(optim::optimizer<optim::rmsprop<net8<double>>>);
}

TEST_CASE("rmsprop: a zero gradient leaves the parameters where they are") {
    net8<double> net;
    test::load_parameters(net.parameters(), {&torch_values().at("p0")});
    const std::vector<double> p0(net.parameters().begin(), net.parameters().end());
    net.zero_grad();
    optim::rmsprop opt(net, {.momentum = 0.9, .centered = true});
    opt.step();   // g / (sqrt(0) + eps) = 0
    CHECK(std::vector<double>(net.parameters().begin(), net.parameters().end()) == p0);
}

TEST_CASE("rmsprop: invalid options throw std::invalid_argument") {
    net8<double> net;
    CHECK_THROWS_AS((optim::rmsprop(net, {.lr = -1e-2})), std::invalid_argument);
    CHECK_THROWS_AS((optim::rmsprop(net, {.alpha = -0.1})), std::invalid_argument);
    CHECK_THROWS_AS((optim::rmsprop(net, {.alpha = 1.5})), std::invalid_argument);
    CHECK_THROWS_AS((optim::rmsprop(net, {.eps = -1e-8})), std::invalid_argument);
    CHECK_THROWS_AS((optim::rmsprop(net, {.weight_decay = -0.1})), std::invalid_argument);
    CHECK_THROWS_AS((optim::rmsprop(net, {.momentum = -0.9})), std::invalid_argument);
    const std::string msg = test::thrown_message<std::invalid_argument>([&] { optim::rmsprop(net, {.alpha = 1.5}); });
    INFO("message: ", msg);
    CHECK(msg.find("rmsprop") != std::string::npos);
    CHECK(msg.find("alpha") != std::string::npos);
    CHECK(msg.find("1.5") != std::string::npos);
    CHECK_NOTHROW((optim::rmsprop(net, {})));
    CHECK_NOTHROW((optim::rmsprop(net, {.alpha = 0.0, .eps = 0.0, .momentum = 0.0})));
}

// The update written as torch.optim.RMSprop's _single_tensor_rmsprop loop, one element at a time:
// the oracle for the kernel's full batches and scalar tail (8 parameters reach only one of them).
template <class T>
void rmsprop_plain(std::size_t n, T lr, T alpha, T eps, T wd, T mu, bool centered, T* p, const T* grad, T* v, T* ga,
                   T* buf) {
    for (std::size_t i = 0; i < n; ++i) {
        const T g = grad[i] + wd * p[i];
        v[i] = v[i] * alpha + (T(1) - alpha) * g * g;
        T avg = std::sqrt(v[i]);
        if (centered) {
            ga[i] = ga[i] * alpha + (T(1) - alpha) * g;
            avg = std::sqrt(v[i] - ga[i] * ga[i]);
        }
        avg += eps;
        if (mu > T(0)) {
            buf[i] = buf[i] * mu + g / avg;
            p[i] -= lr * buf[i];
        } else {
            p[i] -= lr * (g / avg);
        }
    }
}

TEST_CASE_TEMPLATE("kernels/cpu/optim: rmsprop_update equals the plain loop on sizes 1..67", T, float, double) {
    struct config { T wd, mu; bool centered; };
    for (const config c : {config{0, 0, false}, config{0, T(0.9), false}, config{0, 0, true}, config{T(0.1), T(0.5), true}}) {
        for (std::size_t n = 1; n <= 67; ++n) {
            CAPTURE(n);
            CAPTURE(c.centered);
            std::vector<T> p(n), v(n, T(0)), ga(n, T(0)), buf(n, T(0)), grad(n);
            for (std::size_t i = 0; i < n; ++i) p[i] = T(std::cos(double(i) * 0.9));
            std::vector<T> p2 = p, v2 = v, ga2 = ga, buf2 = buf;
            for (int step = 0; step < 3; ++step) {
                for (std::size_t i = 0; i < n; ++i) grad[i] = T(std::sin(double(i * 7 + std::size_t(step)) * 1.3));
                kernels::cpu::rmsprop_update(index_t(n), T(1e-2), T(0.99), T(1e-8), c.wd, c.mu, c.centered, p.data(),
                                             grad.data(), v.data(), ga.data(), buf.data());
                rmsprop_plain(n, T(1e-2), T(0.99), T(1e-8), c.wd, c.mu, c.centered, p2.data(), grad.data(), v2.data(),
                              ga2.data(), buf2.data());
            }
            for (std::size_t i = 0; i < n; ++i) {
                CAPTURE(i);
                REQUIRE(double(p[i]) == doctest::Approx(double(p2[i])).epsilon(test::parity_tol<T>));
                REQUIRE(double(v[i]) == doctest::Approx(double(v2[i])).epsilon(test::parity_tol<T>));
            }
        }
    }
}
