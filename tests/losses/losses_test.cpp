// tests/losses/losses_test.cpp — mse, cross_entropy (label smoothing 0 and 0.1) and bce_with_logits
// against torch.nn.functional with reduction='mean' (tests/parity/gen.py), dy against finite
// differences, and the argument checks.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "support/parity.hpp"
#include "typenet/losses/losses.hpp"

namespace {
using namespace typenet;

const test::parity_file& torch_values() {
    static const test::parity_file f(TYPENET_TEST_DIR "/parity/data/losses.txt");
    return f;
}

std::vector<loss::label_t> labels_of(const test::parity_tensor& t) {
    std::vector<loss::label_t> out;
    for (double v : t.values) {
        REQUIRE_MESSAGE(v == std::floor(v), "block '", t.name, "' holds a non-integer label ", v);
        out.push_back(loss::label_t(v));
    }
    return out;
}

// value and dy of `l` on torch's y and t; `block` names the expected loss and dy.
template <class T, class Loss, class Target>
void check_torch(const Loss& l, const std::string& inputs, const std::string& block, const std::vector<Target>& t) {
    const auto& f = torch_values();
    const auto& y_ref = f.at(inputs + "/y");
    REQUIRE(y_ref.shape.size() == 2);
    const index_t b = index_t(y_ref.shape[0]), c = index_t(y_ref.shape[1]);
    const auto y = y_ref.as<T>();                                          // (B, C)
    std::vector<T> dy(y.size(), std::numeric_limits<T>::quiet_NaN());      // (B, C); NaN: all written
    const T value = l(b, c, y.data(), t.data(), dy.data());
    test::check_close_scalar(double(value), f.at(block + "/loss"), test::parity_tol<T>, block + " value");
    test::check_close(dy, f.at(block + "/dy"), test::parity_tol<T>, block + " dy");
    // dy is optional: the value alone must not change.
    CHECK(l(b, c, y.data(), t.data()) == value);
}

// Central differences of the value against dy, at torch's y, in double.
template <class Loss, class Target>
void check_finite_differences(const Loss& l, const std::string& inputs, const std::vector<Target>& t) {
    const auto& y_ref = torch_values().at(inputs + "/y");
    const index_t b = index_t(y_ref.shape[0]), c = index_t(y_ref.shape[1]);
    auto y = y_ref.as<double>();
    std::vector<double> dy(y.size());
    l(b, c, y.data(), t.data(), dy.data());
    const double h = 1e-6;
    for (std::size_t i = 0; i < y.size(); ++i) {
        const double keep = y[i];
        y[i] = keep + h; const double lp = l(b, c, y.data(), t.data());
        y[i] = keep - h; const double lm = l(b, c, y.data(), t.data());
        y[i] = keep;
        const double numeric = (lp - lm) / (2 * h);
        const double err = std::abs(dy[i] - numeric) / std::max({1.0, std::abs(dy[i]), std::abs(numeric)});
        INFO(inputs, " dy[", i, "]: analytic ", dy[i], ", finite difference ", numeric);
        CHECK(err < 1e-6);
    }
}
}  // namespace

TEST_CASE_TEMPLATE("mse", T, float, double) {
    const auto t = torch_values().at("mse/t").as<T>();
    SUBCASE("value and dy match torch") { check_torch<T>(loss::mse{}, "mse", "mse", t); }
}

TEST_CASE_TEMPLATE("cross_entropy", T, float, double) {
    const auto t = labels_of(torch_values().at("cross_entropy/t"));
    SUBCASE("value and dy match torch, label_smoothing 0") {
        check_torch<T>(loss::cross_entropy{}, "cross_entropy", "cross_entropy_s0", t);
    }
    SUBCASE("value and dy match torch, label_smoothing 0.1") {
        check_torch<T>(loss::cross_entropy{0.1}, "cross_entropy", "cross_entropy_s0.1", t);
    }
}

TEST_CASE_TEMPLATE("bce_with_logits", T, float, double) {
    const auto t = torch_values().at("bce_with_logits/t").as<T>();
    SUBCASE("value and dy match torch") { check_torch<T>(loss::bce_with_logits{}, "bce_with_logits", "bce_with_logits", t); }
}

TEST_CASE("losses: dy matches finite differences") {
    const auto& f = torch_values();
    SUBCASE("mse") { check_finite_differences(loss::mse{}, "mse", f.at("mse/t").as<double>()); }
    SUBCASE("cross_entropy") {
        check_finite_differences(loss::cross_entropy{}, "cross_entropy", labels_of(f.at("cross_entropy/t")));
    }
    SUBCASE("cross_entropy, label_smoothing 0.1") {
        check_finite_differences(loss::cross_entropy{0.1}, "cross_entropy", labels_of(f.at("cross_entropy/t")));
    }
    SUBCASE("bce_with_logits") {
        check_finite_differences(loss::bce_with_logits{}, "bce_with_logits", f.at("bce_with_logits/t").as<double>());
    }
}

TEST_CASE("cross_entropy: large logits stay finite") {
    // 1000 would overflow exp without the max subtraction.
    const std::vector<double> y{1000.0, 0.0, -1000.0};   // (1, 3)
    const std::vector<loss::label_t> t{1};
    std::vector<double> dy(3);
    const double value = loss::cross_entropy{}(1, 3, y.data(), t.data(), dy.data());
    CHECK(value == doctest::Approx(1000.0));
    CHECK(dy[0] == doctest::Approx(1.0));
    CHECK(dy[1] == doctest::Approx(-1.0));
    CHECK(dy[2] == doctest::Approx(0.0));
}

TEST_CASE("cross_entropy: argument checks") {
    const std::vector<double> y(2 * 3, 0.5);   // (2, 3)
    SUBCASE("a label outside [0, C) throws std::out_of_range naming it") {
        for (loss::label_t bad : {-1, 3, 100}) {
            const std::vector<loss::label_t> t{0, bad};
            const std::string msg =
                test::thrown_message<std::out_of_range>([&] { loss::cross_entropy{}(2, 3, y.data(), t.data()); });
            INFO("message: ", msg);
            CHECK(msg.find("label " + std::to_string(bad)) != std::string::npos);
            CHECK(msg.find("[0, 3)") != std::string::npos);
        }
        const std::vector<loss::label_t> ok{0, 2};
        CHECK_NOTHROW(loss::cross_entropy{}(2, 3, y.data(), ok.data()));
    }
    SUBCASE("label_smoothing outside [0, 1] throws std::invalid_argument") {
        const std::vector<loss::label_t> t{0, 1};
        for (double s : {-0.1, 1.5, std::numeric_limits<double>::quiet_NaN()}) {
            INFO("label_smoothing ", s);
            CHECK_THROWS_AS(loss::cross_entropy{s}(2, 3, y.data(), t.data()), std::invalid_argument);
        }
        CHECK_NOTHROW(loss::cross_entropy{1.0}(2, 3, y.data(), t.data()));
        CHECK_NOTHROW(loss::cross_entropy{0.0}(2, 3, y.data(), t.data()));
    }
}

TEST_CASE_TEMPLATE("cross_entropy over a sequence's steps, padding masked by ignore_index (torch)", T, float, double) {
    const test::parity_file f(TYPENET_TEST_DIR "/parity/data/sequence.txt");
    const auto y = f.at("seq_ce/y").as<T>();
    std::vector<loss::label_t> t;
    for (double v : f.at("seq_ce/t").values) t.push_back(loss::label_t(v));
    std::vector<T> dy(y.size());
    const T value = loss::cross_entropy{}(index_t(t.size()), 6, y.data(), t.data(), dy.data());
    test::check_close_scalar(double(value), f.at("seq_ce/loss"), test::parity_tol<T>, "sequence loss");
    test::check_close(dy, f.at("seq_ce/dy"), test::parity_tol<T>, "sequence dy");
    SUBCASE("every row ignored: loss 0, no gradient") {
        const std::vector<loss::label_t> none(t.size(), -100);
        CHECK(loss::cross_entropy{}(index_t(t.size()), 6, y.data(), none.data(), dy.data()) == T(0));
        CHECK(std::all_of(dy.begin(), dy.end(), [](T v) { return v == T(0); }));
    }
}
