// tests/train/metrics_test.cpp — confusion_matrix against numbers worked by hand (sklearn's
// zero_division=0 conventions), its printed table, and confusion() on a model trained here.
#include <doctest/doctest.h>

#include <sstream>
#include <string>

#include "typenet/train/metrics.hpp"
#include "support/data.hpp"
#include "typenet/typenet.hpp"

using namespace typenet;

namespace {
using test::circle;

confusion_matrix from_rows(std::size_t c, std::initializer_list<std::size_t> rows) {
    confusion_matrix m(c);
    std::size_t i = 0;
    for (auto v : rows) {
        for (std::size_t k = 0; k < v; ++k) m.add(i / c, i % c);
        ++i;
    }
    return m;
}
}  // namespace

TEST_CASE("confusion_matrix: precision, recall, F1 and macro averages worked by hand") {
    // true 0: predicted 0 five times, 1 once; true 1: 0 twice, 1 three times, 2 once;
    // class 2 is predicted once but never true; class 3 never occurs.
    const auto m = from_rows(4, {5, 1, 0, 0,
                                 2, 3, 1, 0,
                                 0, 0, 0, 0,
                                 0, 0, 0, 0});
    CHECK(m.total() == 12);
    CHECK(m.correct() == 8);
    CHECK(m.accuracy() == doctest::Approx(8.0 / 12));
    CHECK(m(1, 0) == 2);
    CHECK(m.support(0) == 6);
    CHECK(m.predicted(0) == 7);

    CHECK(m.precision(0) == doctest::Approx(5.0 / 7));
    CHECK(m.recall(0) == doctest::Approx(5.0 / 6));
    CHECK(m.f1(0) == doctest::Approx(10.0 / 13));   // 2 tp / (2 tp + fp + fn) = 10 / (10 + 2 + 1)
    CHECK(m.precision(1) == doctest::Approx(3.0 / 4));
    CHECK(m.recall(1) == doctest::Approx(0.5));
    CHECK(m.f1(1) == doctest::Approx(0.6));
    // Class 2: tp = 0 with one false positive: precision 0; recall 0 / 0 -> 0 (zero_division=0).
    CHECK(m.precision(2) == 0.0);
    CHECK(m.recall(2) == 0.0);
    CHECK(m.f1(2) == 0.0);
    CHECK(m.precision(3) == 0.0);

    // Macro averages over classes 0, 1, 2 (3 never occurs, as sklearn's default labels).
    CHECK(m.macro_precision() == doctest::Approx((5.0 / 7 + 0.75 + 0) / 3));
    CHECK(m.macro_recall() == doctest::Approx((5.0 / 6 + 0.5 + 0) / 3));
    CHECK(m.macro_f1() == doctest::Approx((10.0 / 13 + 0.6 + 0) / 3));

    CHECK_THROWS_WITH_AS(confusion_matrix(2).add(0, 2), "typenet: confusion_matrix::add: class 2 is outside [0, 2)",
                         std::out_of_range);
    const confusion_matrix empty(3);
    CHECK(empty.accuracy() == 0.0);
    CHECK(empty.macro_f1() == 0.0);
}

TEST_CASE("confusion_matrix prints an aligned table") {
    const auto m = from_rows(2, {3, 1,
                                 0, 2});
    const std::string expected =
        "true\\pred    0    1  precision  recall      f1  support\n"
        "        0    3    1      1.000   0.750   0.857        4\n"
        "        1    0    2      0.667   1.000   0.800        2\n"
        "          macro avg      0.833   0.875   0.829        6\n"
        "accuracy 0.833 (5 of 6)\n";
    CHECK(m.str() == expected);
    std::ostringstream os;
    os << m;
    CHECK(os.str() == expected);

    // Wide counts widen every column alike.
    auto wide = m;
    wide(0, 0) = 123456;
    const std::string s = wide.str();
    CHECK(s.find("       0 123456      1") != std::string::npos);
    CHECK(s.find("       1      0      2") != std::string::npos);
}

TEST_CASE("confusion() of a trained model agrees with evaluate()") {
    using net = network<input<2>, dense<16>, typenet::tanh, dense<2>>;
    net model{seed{1}};
    optim::adam opt{model, {.lr = 0.02}};
    fit(model, opt, loss::cross_entropy{}, circle(1024, 1), {.epochs = 30, .batch = 32, .seed = 3});
    const auto test = circle(1000, 2);
    const auto m = confusion(model, test, 64);   // batches of 64: the last one partial
    const auto e = evaluate(model, test);
    REQUIRE(m.classes == 2);
    CHECK(m.total() == 1000);
    CHECK(m.accuracy() == doctest::Approx(e.accuracy));
    std::size_t inside = 0;
    for (auto y : test.y) inside += std::size_t(y == 1);
    CHECK(m.support(1) == inside);
    CHECK(m.support(0) == 1000 - inside);
    CHECK(m.recall(0) > 0.85);
    CHECK(m.recall(1) > 0.85);
    CHECK(m.macro_f1() > 0.85);
    MESSAGE("\n", m);
}

TEST_CASE("bad input to confusion() is a clear error") {
    using net = network<input<2>, dense<3>>;
    net model;
    auto d = circle(10, 1);
    CHECK_THROWS_WITH_AS(confusion(model, d, 0), "typenet: confusion: batch size must be > 0, got 0",
                         std::invalid_argument);
    d.y[4] = 3;
    CHECK_THROWS_WITH_AS(confusion(model, d), "typenet: confusion: sample 4 has label 3, the network has 3 outputs",
                         std::out_of_range);
    d.y[4] = -1;
    CHECK_THROWS_AS(confusion(model, d), std::out_of_range);
    d.sample_shape = {3};
    CHECK_THROWS_AS(confusion(model, d), std::invalid_argument);
}
