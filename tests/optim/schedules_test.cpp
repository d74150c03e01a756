// tests/optim/schedules_test.cpp — the learning-rate schedules (optim/schedules.hpp) against
// torch.optim.lr_scheduler (tests/parity/gen.py, optim2()): the lr of 30 epochs from base lr 0.1
// for StepLR, ExponentialLR, CosineAnnealingLR and ReduceLROnPlateau fed a fixed metric sequence;
// the cosine warm-up against its formula; and the option checks.
#include <doctest/doctest.h>

#include <cmath>
#include <numbers>
#include <stdexcept>
#include <string>
#include <vector>

#include "support/parity.hpp"
#include "typenet/optim/schedules.hpp"

namespace {
using namespace typenet;

constexpr long n_epochs = 30;
constexpr double base_lr = 0.1;

const test::parity_file& torch_values() {
    static const test::parity_file f(TYPENET_TEST_DIR "/parity/data/optim2.txt");
    return f;
}

// lr(base_lr, t) for t = 0 .. 29 against torch's block `name`/lr.
template <class Schedule>
void check_torch(const std::string& name, const Schedule& s) {
    std::vector<double> got;
    for (long t = 0; t < n_epochs; ++t) got.push_back(s.lr(base_lr, t));
    test::check_close(got, torch_values().at(name + "/lr"), 1e-12, name);
}
}  // namespace

TEST_CASE("schedules match torch.optim.lr_scheduler over 30 epochs") {
    SUBCASE("StepLR(step_size 7, gamma 0.5)") { check_torch("step_lr", optim::step_lr{.step_size = 7, .gamma = 0.5}); }
    SUBCASE("ExponentialLR(gamma 0.9)") { check_torch("exponential_lr", optim::exponential_lr{.gamma = 0.9}); }
    SUBCASE("CosineAnnealingLR(T_max 20, eta_min 1e-4), past T_max too") {
        check_torch("cosine_lr", optim::cosine_lr{.t_max = 20, .eta_min = 1e-4});
    }
}

TEST_CASE("reduce_on_plateau matches torch's ReduceLROnPlateau on a fixed metric sequence") {
    const auto& metric = torch_values().at("plateau/metric");
    SUBCASE("factor 0.5, patience 2") {
        optim::reduce_on_plateau p{.factor = 0.5, .patience = 2};
        std::vector<double> got;
        double lr = base_lr;
        for (double m : metric.values) got.push_back(lr = p.update(m, lr));   // as opt.set_lr(p.update(m, opt.lr()))
        test::check_close(got, torch_values().at("plateau/lr"), 1e-12, "plateau");
    }
    SUBCASE("factor 0.5, patience 2, min_lr 0.02; update(metric) keeps the lr") {
        optim::reduce_on_plateau p{.factor = 0.5, .patience = 2, .min_lr = 0.02, .lr = base_lr};
        std::vector<double> got;
        for (double m : metric.values) got.push_back(p.update(m));
        test::check_close(got, torch_values().at("plateau_min_lr/lr"), 1e-12, "plateau_min_lr");
        CHECK(p.lr == got.back());
        CHECK(got.back() == 0.02);   // the sequence is long enough to reach min_lr
    }
}

TEST_CASE("cosine_lr: linear warm-up from 0, then the cosine from base_lr") {
    const optim::cosine_lr c{.t_max = 10, .eta_min = 1e-3, .warmup = 4};
    for (long t = 0; t < 4; ++t) CHECK(c.lr(base_lr, t) == doctest::Approx(base_lr * double(t) / 4.0));
    CHECK(c.lr(base_lr, 0) == 0.0);
    CHECK(c.lr(base_lr, 4) == doctest::Approx(base_lr));            // warm-up ends at the peak
    for (long t = 4; t <= 14; ++t) {
        const double expected = 1e-3 + (base_lr - 1e-3) * (1 + std::cos(std::numbers::pi * double(t - 4) / 10)) / 2;
        CHECK(c.lr(base_lr, t) == doctest::Approx(expected).epsilon(1e-14));
    }
    CHECK(c.lr(base_lr, 14) == doctest::Approx(1e-3));              // eta_min, t_max steps after warm-up
    // Without warm-up the schedule is torch's, shifted by nothing.
    const optim::cosine_lr plain{.t_max = 10, .eta_min = 1e-3};
    const optim::cosine_lr warm{.t_max = 10, .eta_min = 1e-3, .warmup = 4};
    for (long t = 0; t <= 10; ++t) CHECK(warm.lr(base_lr, t + 4) == doctest::Approx(plain.lr(base_lr, t)).epsilon(1e-14));
}

TEST_CASE("schedules: invalid options throw std::invalid_argument") {
    CHECK_THROWS_AS(optim::step_lr{}.lr(base_lr, 0), std::invalid_argument);                 // step_size unset
    CHECK_THROWS_AS((optim::step_lr{.step_size = 5, .gamma = 0.0}.lr(base_lr, 1)), std::invalid_argument);
    CHECK_THROWS_AS((optim::step_lr{.step_size = 5}.lr(base_lr, -1)), std::invalid_argument);
    CHECK_THROWS_AS(optim::exponential_lr{}.lr(base_lr, 0), std::invalid_argument);          // gamma unset
    CHECK_THROWS_AS(optim::cosine_lr{}.lr(base_lr, 0), std::invalid_argument);               // t_max unset
    CHECK_THROWS_AS((optim::cosine_lr{.t_max = 10, .eta_min = -1.0}.lr(base_lr, 0)), std::invalid_argument);
    CHECK_THROWS_AS((optim::cosine_lr{.t_max = 10, .warmup = -2}.lr(base_lr, 0)), std::invalid_argument);
    CHECK_THROWS_AS((optim::reduce_on_plateau{.factor = 1.0}.update(1.0, base_lr)), std::invalid_argument);
    CHECK_THROWS_AS((optim::reduce_on_plateau{.patience = -1}.update(1.0, base_lr)), std::invalid_argument);
    CHECK_THROWS_AS((optim::reduce_on_plateau{.threshold = -1e-4}.update(1.0, base_lr)), std::invalid_argument);
    CHECK_THROWS_AS((optim::reduce_on_plateau{.min_lr = -1.0}.update(1.0, base_lr)), std::invalid_argument);
    CHECK_THROWS_AS(optim::reduce_on_plateau{}.update(1.0), std::invalid_argument);          // no lr given
    const std::string msg = test::thrown_message<std::invalid_argument>([] { (void)optim::cosine_lr{}.lr(base_lr, 0); });
    INFO("message: ", msg);
    CHECK(msg.find("cosine_lr") != std::string::npos);
    CHECK(msg.find("t_max") != std::string::npos);
    CHECK_NOTHROW((void)optim::step_lr{.step_size = 1}.lr(base_lr, 0));
}
