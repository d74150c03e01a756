// tests/optim/optimizers_test.cpp — sgd, adam and adamw against torch.optim (tests/parity/gen.py):
// from the same p0 (8) and the same 10 gradients, the parameters after every step; and the option
// checks.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "support/parity.hpp"
#include "typenet/core/network.hpp"
#include "typenet/layers/dense.hpp"
#include "typenet/optim/optimizers.hpp"

namespace {
using namespace typenet;

// 8 parameters: dense<2> on input<3> is w (2, 3) and b (2). The optimizers see only the flat buffer.
template <class T> using net8 = basic_network<T, input<3>, dense<2>>;
constexpr std::size_t n_params = 8, n_steps = 10;

const test::parity_file& torch_values() {
    static const test::parity_file f(TYPENET_TEST_DIR "/parity/data/optim.txt");
    return f;
}

// Runs `Opt` for the 10 steps of torch's run `name`, comparing all parameters after each step.
template <class T, template <class> class Opt, class Options>
void check_torch(const std::string& name, const Options& o) {
    const auto& f = torch_values();
    const auto& p0 = f.at("p0");                   // (8)
    const auto& grads = f.at("grads");             // (10, 8)
    const auto& after = f.at(name + "/p");         // (10, 8): parameters after step k
    REQUIRE(p0.size() == n_params);
    REQUIRE(grads.size() == n_steps * n_params);
    REQUIRE(after.size() == n_steps * n_params);
    net8<T> net;
    static_assert(net8<T>::param_count == n_params);
    test::load_parameters(net.parameters(), {&p0});
    Opt<net8<T>> opt(net, o);
    for (std::size_t k = 0; k < n_steps; ++k) {
        auto g = net.gradients();
        for (std::size_t i = 0; i < n_params; ++i) g[i] = T(grads.values[k * n_params + i]);
        opt.step();
        test::parity_tensor expected{name + "/p[" + std::to_string(k) + "]", {n_params},
                                     std::vector<double>(after.values.begin() + long(k * n_params),
                                                         after.values.begin() + long((k + 1) * n_params))};
        test::check_close(net.parameters(), expected, test::parity_tol<T>, name + " after step " + std::to_string(k + 1));
    }
    CHECK(opt.steps() == long(n_steps));
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
