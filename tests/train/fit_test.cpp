// tests/train/fit_test.cpp — the training loop: it learns, it is reproducible, it validates,
// callbacks can stop it, and bad input is a clear error.
#include <doctest/doctest.h>

#include <cmath>
#include <string>

#include "support/data.hpp"
#include "typenet/typenet.hpp"

using namespace typenet;
using net = network<input<2>, dense<16>, typenet::tanh, dense<2>>;

namespace {
using test::circle;
}  // namespace

TEST_CASE("fit learns a non-linear boundary, and evaluate agrees on held-out data") {
    net model{seed{1}};
    optim::adam opt{model, {.lr = 0.02}};
    const auto h = fit(model, opt, loss::cross_entropy{}, circle(1024, 1), {.epochs = 40, .batch = 32, .seed = 3});
    REQUIRE(h.size() == 40);
    CHECK(h.back().train.loss < 0.5 * h.front().train.loss);
    CHECK(h.back().train.samples == 1024);
    CHECK(h.back().samples_per_second > 0);
    const auto test = evaluate(model, circle(1000, 2));
    CHECK(test.samples == 1000);
    CHECK(test.accuracy > 0.93);
}

TEST_CASE("fit is reproducible: the same seeds give the same weights") {
    auto train = [](std::uint64_t shuffle_seed) {
        net model{seed{4}};
        optim::sgd opt{model, {.lr = 0.1, .momentum = 0.9}};
        fit(model, opt, loss::cross_entropy{}, circle(200, 5), {.epochs = 3, .batch = 16, .seed = shuffle_seed});
        return std::vector<float>(model.parameters().begin(), model.parameters().end());
    };
    CHECK(train(1) == train(1));
    CHECK(train(1) != train(2));
}

TEST_CASE("a validation split is held out and evaluated each epoch") {
    net model{seed{1}};
    optim::adam opt{model, {.lr = 0.02}};
    const auto h = fit(model, opt, loss::cross_entropy{}, circle(1000, 1), {.epochs = 2, .batch = 50, .validation = 0.2});
    CHECK(h[0].train.samples == 800);
    CHECK(h[0].validation.samples == 200);
    CHECK(h[1].validation.accuracy > 0.0);
}

TEST_CASE("a callback that returns false stops training; a batch larger than the data is one batch") {
    net model;
    optim::sgd opt{model};
    int calls = 0;
    const auto h = fit(model, opt, loss::cross_entropy{}, circle(10, 1), {.epochs = 10, .batch = 64},
                       [&](const epoch_stats& e) { ++calls; return e.epoch < 3; },
                       [&](const epoch_stats&) {});
    CHECK(calls == 3);
    CHECK(h.size() == 3);
    CHECK(h[0].train.samples == 10);
}

TEST_CASE("bad input to fit is a clear error") {
    net model;
    optim::sgd opt{model};
    const auto d = circle(10, 1);
    CHECK_THROWS_WITH_AS(fit(model, opt, loss::cross_entropy{}, d, {.batch = 0}),
                         "typenet: fit: batch size must be > 0, got 0", std::invalid_argument);
    CHECK_THROWS_AS(fit(model, opt, loss::cross_entropy{}, d, {.validation = 1.0}), std::invalid_argument);
    CHECK_THROWS_AS(evaluate(model, d, loss::cross_entropy{}, 0), std::invalid_argument);

    auto wrong = d;
    wrong.sample_shape = {3};
    CHECK_THROWS_WITH_AS(fit(model, opt, loss::cross_entropy{}, wrong, {}),
                         "typenet: fit: samples have 3 values, the network's input (2) needs 2", std::invalid_argument);

    auto bad_label = d;
    bad_label.y[4] = 7;
    CHECK_THROWS_AS(fit(model, opt, loss::cross_entropy{}, bad_label, {.batch = 10, .shuffle = false}), std::out_of_range);

    auto nan_data = d;
    nan_data.x[3] = std::nanf("");
    try {
        fit(model, opt, loss::cross_entropy{}, nan_data, {.epochs = 2, .batch = 5, .shuffle = false});
        FAIL("a NaN loss did not stop training");
    } catch (const std::runtime_error& e) {
        CHECK(std::string(e.what()).find("at epoch 1, step 1") != std::string::npos);
    }
}
