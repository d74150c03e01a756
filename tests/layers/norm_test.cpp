// tests/layers/norm_test.cpp — batch_norm<Momentum, Eps> against torch.nn.BatchNorm2d / BatchNorm1d
// (training: batch statistics and the running ones after 1 and 3 passes, momentum 0.1 and 0.3;
// evaluation with given running statistics) and layer_norm<Eps> against torch.nn.LayerNorm
// (tests/parity/gen.py, norm.txt); finite differences in training and evaluation; counts, initial
// values and the network state at compile and run time.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include "support/gradcheck.hpp"
#include "support/parity.hpp"
#include "typenet/core/network.hpp"
#include "typenet/layers/activation.hpp"
#include "typenet/layers/conv.hpp"
#include "typenet/layers/dense.hpp"
#include "typenet/layers/flatten.hpp"
#include "typenet/layers/norm.hpp"

namespace {
using namespace typenet;

template <class T> using bn2d = basic_network<T, input<3, 4, 5>, batch_norm<>>;   // BatchNorm2d(3)
template <class T> using bn2d_m03 = basic_network<T, input<3, 4, 5>, batch_norm<0.3>>;
template <class T> using bn1d = basic_network<T, input<6>, batch_norm<>>;         // BatchNorm1d(6)
template <class T> using ln = basic_network<T, input<2, 7>, layer_norm<>>;         // LayerNorm(7)

// Loads gamma, beta (and, for evaluation, the running statistics) of `name`, runs forward in mode
// m and backward twice, and compares y, dx, dgamma, dbeta (doubled after the second backward).
template <class T, class Net>
void check_against_torch(const test::parity_file& f, const std::string& name, index_t batch, mode m) {
    const double tol = test::parity_tol<T>;
    const auto x = f.at(name + "/x").as<T>();
    const auto dy = f.at(name + "/dy").as<T>();
    REQUIRE(x.size() == std::size_t(batch) * Net::input_shape::size);
    REQUIRE(dy.size() == x.size());
    Net net;
    test::load_parameters(net.template layer_parameters<0>(), {&f.at(name + "/gamma"), &f.at(name + "/beta")});
    if (m == mode::eval && Net::state_count > 0)
        test::load_parameters(net.template layer_state<0>().first(Net::state_count - 1),   // mean, variance (not the batch count)
                              {&f.at(name + "/running_mean"), &f.at(name + "/running_var")});

    const T* y = net.forward(batch, x.data(), m);
    test::check_close(std::span<const T>(y, x.size()), f.at(name + "/y"), tol, name + " forward y");

    net.zero_grad();
    std::vector<T> dx(x.size(), std::numeric_limits<T>::quiet_NaN());   // NaN: every value written
    net.backward(dy.data(), dx.data());
    test::check_close(dx, f.at(name + "/dx"), tol, name + " backward dx");
    auto dp = net.template layer_gradients<0>();   // dgamma (n), dbeta (n)
    const std::size_t n = dp.size() / 2;
    test::check_close(dp.first(n), f.at(name + "/dgamma"), tol, name + " backward dgamma");
    test::check_close(dp.subspan(n), f.at(name + "/dbeta"), tol, name + " backward dbeta");

    // Gradients accumulate; a backward without dx gives the same parameter gradients.
    net.backward(dy.data());
    test::parity_tensor dg2 = f.at(name + "/dgamma"), db2 = f.at(name + "/dbeta");
    for (auto& v : dg2.values) v *= 2;
    for (auto& v : db2.values) v *= 2;
    test::check_close(dp.first(n), dg2, tol, name + " dgamma after a second backward");
    test::check_close(dp.subspan(n), db2, tol, name + " dbeta after a second backward");
}

// Running mean and variance after passes over x, x2, x3 (training mode), against torch's.
template <class T, class Net>
void check_running_stats(const test::parity_file& f, const std::string& tag) {
    const double tol = test::parity_tol<T>;
    const std::string xs[3] = {"bn2d_train/x", "bn2d_train/x2", "bn2d_train/x3"};
    Net net;
    const auto x1 = f.at(xs[0]).as<T>();
    const index_t batch = index_t(x1.size() / Net::input_shape::size);
    REQUIRE(batch == 4);
    auto st = net.template layer_state<0>();   // running mean (3), running var (3), batches seen
    REQUIRE(st.size() == 7);
    net.forward(batch, x1.data(), mode::train);
    test::check_close(st.first(3), f.at(tag + "/running_mean1"), tol, tag + " running mean after 1 pass");
    test::check_close(st.subspan(3, 3), f.at(tag + "/running_var1"), tol, tag + " running var after 1 pass");
    CHECK(st[6] == T(1));                      // torch's num_batches_tracked
    for (int i = 1; i < 3; ++i) {
        const auto x = f.at(xs[i]).as<T>();
        net.forward(batch, x.data(), mode::train);
    }
    test::check_close(st.first(3), f.at(tag + "/running_mean3"), tol, tag + " running mean after 3 passes");
    test::check_close(st.subspan(3, 3), f.at(tag + "/running_var3"), tol, tag + " running var after 3 passes");
    CHECK(st[6] == T(3));
    // An evaluation pass reads the statistics and leaves them.
    const std::vector<T> before(st.begin(), st.end());
    net.forward(batch, x1.data(), mode::eval);
    CHECK(std::vector<T>(st.begin(), st.end()) == before);
}
}  // namespace

TEST_CASE_TEMPLATE("batch_norm: forward and backward match torch.nn.BatchNorm2d / BatchNorm1d", T, float, double) {
    const test::parity_file f(TYPENET_TEST_DIR "/parity/data/norm.txt");
    SUBCASE("BatchNorm2d(3) on (4, 3, 4, 5), training") { check_against_torch<T, bn2d<T>>(f, "bn2d_train", 4, mode::train); }
    SUBCASE("BatchNorm2d(3) on (2, 3, 2, 3), evaluation with given running statistics") {
        check_against_torch<T, basic_network<T, input<3, 2, 3>, batch_norm<>>>(f, "bn2d_eval", 2, mode::eval);
    }
    SUBCASE("BatchNorm1d(6) on (5, 6), training") {
        check_against_torch<T, bn1d<T>>(f, "bn1d_train", 5, mode::train);
        // and its running statistics after the one pass
        bn1d<T> net;
        const auto x = f.at("bn1d_train/x").as<T>();
        net.forward(5, x.data(), mode::train);
        auto st = net.template layer_state<0>();
        test::check_close(st.first(6), f.at("bn1d_train/running_mean1"), test::parity_tol<T>, "bn1d running mean");
        test::check_close(st.subspan(6, 6), f.at("bn1d_train/running_var1"), test::parity_tol<T>, "bn1d running var");
    }
}

TEST_CASE_TEMPLATE("batch_norm: running statistics match torch (momentum 0.1 and 0.3)", T, float, double) {
    const test::parity_file f(TYPENET_TEST_DIR "/parity/data/norm.txt");
    SUBCASE("momentum 0.1") { check_running_stats<T, bn2d<T>>(f, "bn2d_m01"); }
    SUBCASE("momentum 0.3") { check_running_stats<T, bn2d_m03<T>>(f, "bn2d_m03"); }
}

TEST_CASE_TEMPLATE("layer_norm: forward and backward match torch.nn.LayerNorm(7) on (3, 2, 7)", T, float, double) {
    const test::parity_file f(TYPENET_TEST_DIR "/parity/data/norm.txt");
    check_against_torch<T, ln<T>>(f, "ln", 3, mode::train);
    SUBCASE("the same in evaluation mode (layer_norm has no mode)") {
        check_against_torch<T, ln<T>>(f, "ln", 3, mode::eval);
    }
}

TEST_CASE_TEMPLATE("batch_norm, layer_norm: shapes, parameter and state counts", T, float, double) {
    static_assert(std::is_same_v<typename bn2d<T>::output_shape, shape<3, 4, 5>>);
    static_assert(bn2d<T>::param_count == 2 * 3 && bn2d<T>::state_count == 2 * 3 + 1);
    static_assert(std::is_same_v<typename bn1d<T>::output_shape, shape<6>>);
    static_assert(bn1d<T>::param_count == 2 * 6 && bn1d<T>::state_count == 2 * 6 + 1);
    static_assert(std::is_same_v<typename ln<T>::output_shape, shape<2, 7>>);
    static_assert(ln<T>::param_count == 2 * 7 && ln<T>::state_count == 0);
    static_assert(basic_network<T, input<4, 3, 2, 5>, layer_norm<>>::param_count == 2 * 5);
    static_assert(basic_network<T, input<1, 1, 1>, batch_norm<>>::param_count == 2);
    // Two batch norms and a layer norm: parameters and state add up, each layer its own slice.
    using stack = basic_network<T, input<2, 5, 5>, conv2d<3, 3, padding<1>>, batch_norm<>, relu, flatten,
                                dense<4>, batch_norm<0.2>, layer_norm<>>;
    static_assert(stack::param_count == (3 * 2 * 9 + 3) + 2 * 3 + (4 * 75 + 4) + 2 * 4 + 2 * 4);
    static_assert(stack::state_count == (2 * 3 + 1) + (2 * 4 + 1));
    static_assert(basic_network<T, input<3, 4>, flatten, batch_norm<>>::well_formed);
    static_assert(!batch_norm<>::template accepts<shape<3, 4>>);
    static_assert(!batch_norm<>::template accepts<shape<2, 3, 4, 5>>);
    stack net;
    CHECK(net.template layer_state<0>().size() == 0);
    CHECK(net.template layer_state<1>().size() == 7);
    CHECK(net.template layer_state<5>().size() == 9);
    CHECK(net.template layer_state<6>().size() == 0);
    CHECK(net.template layer_state<5>().data() == net.state().data() + 7);
    const std::string s = bn2d<T>::summary();
    INFO(s);
    CHECK(s.find("batch_norm  (3, 4, 5) -> (3, 4, 5)  params 6") != std::string::npos);
    CHECK(ln<T>::summary().find("layer_norm  (2, 7) -> (2, 7)  params 14") != std::string::npos);
}

TEST_CASE_TEMPLATE("batch_norm, layer_norm: init gives gamma 1, beta 0, running mean 0, running var 1", T, float,
                   double) {
    using net_t = basic_network<T, input<6>, dense<3>, batch_norm<>, layer_norm<>>;
    net_t net(seed{11});
    auto check_init = [&] {
        const auto bn = net.template layer_parameters<1>(), lnp = net.template layer_parameters<2>();
        const auto st = net.template layer_state<1>();
        REQUIRE(bn.size() == 6);
        REQUIRE(lnp.size() == 6);
        REQUIRE(st.size() == 7);
        CHECK(st[6] == T(0));
        for (int i = 0; i < 3; ++i) {
            CHECK(bn[i] == T(1));
            CHECK(bn[3 + i] == T(0));
            CHECK(lnp[i] == T(1));
            CHECK(lnp[3 + i] == T(0));
            CHECK(st[i] == T(0));
            CHECK(st[3 + i] == T(1));
        }
    };
    check_init();
    // Training moves the state; init(seed) restores it with the parameters.
    std::vector<T> x(4 * 6);
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = T(std::sin(double(i) * 1.7) * 2 + 0.5);
    net.forward(4, x.data(), mode::train);
    CHECK(net.template layer_state<1>()[0] != T(0));
    net.init(seed{11});
    check_init();
}

TEST_CASE_TEMPLATE("batch_norm: evaluation after training normalises with the running statistics", T, float, double) {
    using net_t = basic_network<T, input<2, 3, 3>, batch_norm<0.5>>;
    net_t net;
    auto p = net.template layer_parameters<0>();
    p[0] = T(1.5); p[1] = T(-0.5); p[2] = T(0.25); p[3] = T(-1);   // gamma (2), beta (2)
    constexpr index_t batch = 3;
    std::vector<T> x(batch * 18);
    for (int pass = 0; pass < 4; ++pass) {
        for (std::size_t i = 0; i < x.size(); ++i)
            x[i] = T(std::cos(double(i) * 0.9 + pass) * (1 + pass) + 0.3 * pass + ((i / 9) % 2 ? 2.0 : -1.0));
        net.forward(batch, x.data(), mode::train);
    }
    const auto st = net.template layer_state<0>();
    const std::vector<T> state(st.begin(), st.end());
    CHECK(state[0] != T(0));
    CHECK(state[2] != T(1));

    const T* yt = net.forward(batch, x.data(), mode::train);   // batch statistics; moves the state again
    const std::vector<T> y_train(yt, yt + x.size());
    const std::vector<T> state2(st.begin(), st.end());
    CHECK(state2 != state);
    const T* y = net.forward(batch, x.data(), mode::eval);
    CHECK(std::vector<T>(st.begin(), st.end()) == state2);   // evaluation leaves the state
    double max_err = 0, max_diff_train = 0;
    for (index_t b = 0; b < batch; ++b)
        for (index_t c = 0; c < 2; ++c)
            for (index_t j = 0; j < 9; ++j) {
                const std::size_t i = std::size_t((b * 2 + c) * 9 + j);
                const double expect = double(p[c]) * (double(x[i]) - double(state2[c])) /
                                          std::sqrt(double(state2[2 + c]) + 1e-5) +
                                      double(p[2 + c]);
                max_err = std::max(max_err, std::abs(double(y[i]) - expect));
                max_diff_train = std::max(max_diff_train, std::abs(double(y[i]) - double(y_train[i])));
            }
    CHECK(max_err < (sizeof(T) == 4 ? 1e-5 : 1e-12));
    CHECK(max_diff_train > 0.05);   // not the batch statistics

    // Evaluation backward: the statistics are constants, dx = gamma / sqrt(var + eps) dy.
    std::vector<T> dy(x.size()), dx(x.size(), std::numeric_limits<T>::quiet_NaN());
    for (std::size_t i = 0; i < dy.size(); ++i) dy[i] = T(0.125 * double(int(i % 7) - 3));
    net.zero_grad();
    net.backward(dy.data(), dx.data());
    double max_dx_err = 0;
    for (std::size_t i = 0; i < dx.size(); ++i) {
        const std::size_t c = (i / 9) % 2;
        const double expect = double(p[c]) / std::sqrt(double(state2[2 + c]) + 1e-5) * double(dy[i]);
        max_dx_err = std::max(max_dx_err, std::abs(double(dx[i]) - expect));
    }
    CHECK(max_dx_err < (sizeof(T) == 4 ? 1e-5 : 1e-12));

    // mode::infer folds the statistics into one scale and shift: the same outputs as the formula,
    // and the state untouched.
    const T* yi = net.forward(batch, x.data(), mode::infer);
    CHECK(std::vector<T>(st.begin(), st.end()) == state2);
    double max_infer_err = 0;
    for (std::size_t i = 0; i < x.size(); ++i) {
        const std::size_t c = (i / 9) % 2;
        const double expect = double(p[c]) * (double(x[i]) - double(state2[c])) / std::sqrt(double(state2[2 + c]) + 1e-5) +
                              double(p[2 + c]);
        max_infer_err = std::max(max_infer_err, std::abs(double(yi[i]) - expect));
    }
    CHECK(max_infer_err < (sizeof(T) == 4 ? 1e-5 : 1e-12));
}

TEST_CASE("batch_norm: batch statistics stay accurate where mean^2 >> variance, rows of different means") {
    // Values near 1e4 with a spread of about 0.03 (float's spacing there is 1/1024): the variance is
    // 1e-12 of mean^2, so a sum of squares would lose it. Each sample's rows sit at their own offset,
    // so the rows' (mean, M2) merge with different means. Momentum 1: the running statistics are
    // this batch's (the variance unbiased), compared with double sums over the same float values.
    using net_t = basic_network<float, input<3, 5, 7>, batch_norm<1.0>>;
    net_t net;
    constexpr index_t batch = 5, c = 3, s = 35;
    std::vector<float> x(std::size_t(batch * c * s));
    for (std::size_t i = 0; i < x.size(); ++i)
        x[i] = float(1e4 + 0.01 * double((i / std::size_t(c * s)) % 5) + 0.02 * std::cos(double(i) * 1.3));
    net.forward(batch, x.data(), mode::train);
    const auto st = net.template layer_state<0>();
    for (index_t ch = 0; ch < c; ++ch) {
        double sum = 0, sq = 0;
        for (index_t b = 0; b < batch; ++b)
            for (index_t j = 0; j < s; ++j) sum += double(x[std::size_t((b * c + ch) * s + j)]);
        const double mean = sum / double(batch * s);
        for (index_t b = 0; b < batch; ++b)
            for (index_t j = 0; j < s; ++j) {
                const double d = double(x[std::size_t((b * c + ch) * s + j)]) - mean;
                sq += d * d;
            }
        const double var = sq / double(batch * s - 1);
        CAPTURE(ch);
        CHECK(std::abs(double(st[std::size_t(ch)]) - mean) <= 1e-3);          // float's spacing at 1e4
        CHECK(std::abs(double(st[std::size_t(c + ch)]) - var) <= 1e-4 * var);
    }
}

TEST_CASE("batch_norm, layer_norm: backward matches finite differences") {
    SUBCASE("batch_norm on (3, 4, 5), training and evaluation") {
        basic_network<double, input<3, 4, 5>, batch_norm<>> net(seed{3});
        auto p = net.layer_parameters<0>();
        for (std::size_t i = 0; i < p.size(); ++i) p[i] = 0.25 * double(i) - 0.6;   // gamma, beta not 1, 0
        auto r = test::gradcheck(net, 3, 7, 1e-6, mode::train);
        CHECK(r.checked == 6 + 3 * 60);
        CHECK(r.max_rel_error < 1e-6);
        r = test::gradcheck(net, 3, 8, 1e-6, mode::eval);   // the running statistics the passes above left
        CHECK(r.checked == 6 + 3 * 60);
        CHECK(r.max_rel_error < 1e-6);
    }
    SUBCASE("batch_norm on features (BatchNorm1d), training and evaluation") {
        basic_network<double, input<5>, dense<6>, batch_norm<0.3>, typenet::tanh, dense<2>> net(seed{4});
        auto r = test::gradcheck(net, 4, 9, 1e-6, mode::train);
        CHECK(r.max_rel_error < 1e-6);
        r = test::gradcheck(net, 4, 10, 1e-6, mode::eval);
        CHECK(r.max_rel_error < 1e-6);
    }
    SUBCASE("layer_norm on (2, 3, 7), training and evaluation") {
        basic_network<double, input<2, 3, 7>, layer_norm<>> net(seed{5});
        auto p = net.layer_parameters<0>();
        for (std::size_t i = 0; i < p.size(); ++i) p[i] = 0.125 * double(i) - 0.8;
        auto r = test::gradcheck(net, 2, 11, 1e-6, mode::train);
        CHECK(r.checked == 14 + 2 * 42);
        CHECK(r.max_rel_error < 1e-6);
        r = test::gradcheck(net, 2, 12, 1e-6, mode::eval);
        CHECK(r.max_rel_error < 1e-6);
    }
    SUBCASE("stacked: conv, batch_norm, tanh, dense, batch_norm, layer_norm") {
        basic_network<double, input<2, 5, 5>, conv2d<3, 3, padding<1>>, batch_norm<>, typenet::tanh, flatten,
                      dense<4>, batch_norm<0.2>, layer_norm<>>
            net(seed{6});
        auto r = test::gradcheck(net, 3, 13, 1e-6, mode::train);
        CHECK(r.max_rel_error < 1e-6);
        r = test::gradcheck(net, 3, 14, 1e-6, mode::eval);
        CHECK(r.max_rel_error < 1e-6);
    }
}
