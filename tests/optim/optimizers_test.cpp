// tests/optim/optimizers_test.cpp — sgd, adam and adamw against torch.optim (tests/parity/gen.py):
// from the same p0 (8) and the same 10 gradients, the parameters after every step; and the option
// checks.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "support/optim_steps.hpp"
#include "typenet/core/network.hpp"
#include "typenet/layers/dense.hpp"
#include "typenet/optim/optimizers.hpp"

namespace {
using namespace typenet;

const test::parity_file& torch_values() {
    static const test::parity_file f(TYPENET_TEST_DIR "/parity/data/optim.txt");
    return f;
}

template <class T> using net8 = test::net8<T>;
constexpr std::size_t n_params = test::optim_params;

template <class T, template <class> class Opt, class Options>
void check_torch(const std::string& name, const Options& o) {
    test::follow_torch_steps<T>(torch_values(), name, [&](net8<T>& net) { return Opt<net8<T>>(net, o); });
}
}  // namespace

TEST_CASE_TEMPLATE("sgd", T, float, double) {
    SUBCASE("plain, lr 0.1") { check_torch<T, optim::sgd>("sgd", optim::sgd_options{.lr = 0.1}); }
    SUBCASE("momentum 0.9, weight_decay 0.01") {
        check_torch<T, optim::sgd>("sgd_momentum_wd", optim::sgd_options{.lr = 0.1, .momentum = 0.9, .weight_decay = 0.01});
    }
    SUBCASE("momentum 0.9, dampening 0.1") {
        check_torch<T, optim::sgd>("sgd_momentum_dampening", optim::sgd_options{.lr = 0.1, .momentum = 0.9, .dampening = 0.1});
    }
    SUBCASE("nesterov, momentum 0.9") {
        check_torch<T, optim::sgd>("sgd_nesterov", optim::sgd_options{.lr = 0.1, .momentum = 0.9, .nesterov = true});
    }
}

TEST_CASE_TEMPLATE("adam", T, float, double) {
    SUBCASE("lr 1e-2") { check_torch<T, optim::adam>("adam", optim::adam_options{.lr = 1e-2}); }
    SUBCASE("lr 1e-2, weight_decay 0.1 (L2)") {
        check_torch<T, optim::adam>("adam_wd", optim::adam_options{.lr = 1e-2, .weight_decay = 0.1});
    }
}

TEST_CASE_TEMPLATE("adamw", T, float, double) {
    SUBCASE("lr 1e-2, default weight_decay") { check_torch<T, optim::adamw>("adamw", optim::adamw_options{.lr = 1e-2}); }
    SUBCASE("lr 1e-2, weight_decay 0.1, betas (0.8, 0.99), eps 1e-6") {
        check_torch<T, optim::adamw>("adamw_custom", optim::adamw_options{.lr = 1e-2, .beta1 = 0.8, .beta2 = 0.99,
                                                                          .eps = 1e-6, .weight_decay = 0.1});
    }
}

TEST_CASE("optimizers: invalid options throw std::invalid_argument") {
    net8<double> net;
    SUBCASE("sgd") {
        CHECK_THROWS_AS((optim::sgd(net, {.lr = -0.1})), std::invalid_argument);
        CHECK_THROWS_AS((optim::sgd(net, {.lr = 0.1, .momentum = -0.5})), std::invalid_argument);
        CHECK_THROWS_AS((optim::sgd(net, {.lr = 0.1, .weight_decay = -1e-4})), std::invalid_argument);
        CHECK_THROWS_AS((optim::sgd(net, {.lr = 0.1, .nesterov = true})), std::invalid_argument);   // no momentum
        CHECK_THROWS_AS((optim::sgd(net, {.lr = 0.1, .momentum = 0.9, .dampening = 0.1, .nesterov = true})),
                        std::invalid_argument);                                                 // torch rejects it too
        const std::string msg = test::thrown_message<std::invalid_argument>([&] { optim::sgd(net, {.lr = -0.1}); });
        INFO("message: ", msg);
        CHECK(msg.find("lr") != std::string::npos);
        CHECK_NOTHROW((optim::sgd(net, {.lr = 0.1, .momentum = 0.9, .nesterov = true})));
    }
    SUBCASE("adam") {
        CHECK_THROWS_AS((optim::adam(net, {.lr = -1e-3})), std::invalid_argument);
        CHECK_THROWS_AS((optim::adam(net, {.beta1 = 1.0})), std::invalid_argument);
        CHECK_THROWS_AS((optim::adam(net, {.beta2 = -0.1})), std::invalid_argument);
        CHECK_THROWS_AS((optim::adam(net, {.eps = -1e-8})), std::invalid_argument);
        CHECK_THROWS_AS((optim::adam(net, {.weight_decay = -0.1})), std::invalid_argument);
        CHECK_NOTHROW((optim::adam(net, {})));
    }
    SUBCASE("adamw") {
        CHECK_THROWS_AS((optim::adamw(net, {.lr = -1e-3})), std::invalid_argument);
        CHECK_THROWS_AS((optim::adamw(net, {.beta1 = 1.5})), std::invalid_argument);
        CHECK_THROWS_AS((optim::adamw(net, {.weight_decay = -0.01})), std::invalid_argument);
        CHECK_NOTHROW((optim::adamw(net, {})));
    }
}

TEST_CASE("optimizers: a zero gradient moves only what weight decay moves") {
    net8<double> net;
    test::load_parameters(net.parameters(), {&torch_values().at("p0")});
    const std::vector<double> p0(net.parameters().begin(), net.parameters().end());
    net.zero_grad();
    optim::sgd plain(net, {.lr = 0.1, .momentum = 0.9});
    plain.step();
    CHECK(std::vector<double>(net.parameters().begin(), net.parameters().end()) == p0);
    optim::adamw decay(net, {.lr = 0.1, .weight_decay = 0.5});
    decay.step();   // p *= 1 - lr wd; m = v = 0 so the Adam term is 0
    for (std::size_t i = 0; i < n_params; ++i) CHECK(net.parameters()[i] == doctest::Approx(p0[i] * 0.95));
}
