// tests/kernels/elementwise_test.cpp — maps and their padded tails, axpy, row helpers, softmax
// stability, the denormal guard.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "typenet/kernels/cpu/activation.hpp"
#include "typenet/kernels/cpu/elementwise.hpp"
#include "typenet/kernels/cpu/optim.hpp"
#include "typenet/kernels/cpu/softmax.hpp"

namespace k = typenet::kernels::cpu;

TEST_CASE_TEMPLATE("map and map2 cover every length, tails included, and write nothing past n", T, float, double) {
    for (int n = 0; n <= 40; ++n) {
        std::vector<T> x(std::size_t(n) + 1), y(std::size_t(n) + 1, T(-7)), z(std::size_t(n) + 1, T(-7));
        for (int i = 0; i < n; ++i) x[std::size_t(i)] = T(i) - T(10);
        k::relu_forward(n, x.data(), y.data());
        k::map2(n, x.data(), x.data(), z.data(), [](auto a, auto b) { return a * b; });
        for (int i = 0; i < n; ++i) {
            CHECK(y[std::size_t(i)] == std::max(T(0), x[std::size_t(i)]));
            CHECK(z[std::size_t(i)] == x[std::size_t(i)] * x[std::size_t(i)]);
        }
        CHECK(y[std::size_t(n)] == T(-7));
        CHECK(z[std::size_t(n)] == T(-7));
    }
}

TEST_CASE("activation kernels match their formulas") {
    const std::vector<double> x{-3, -1.5, -0.2, 0.1, 0.7, 2.5, 4.0};
    const auto n = k::index_t(x.size());
    std::vector<double> y(x.size()), dx(x.size()), dy(x.size(), 1.0);
    k::sigmoid_forward(n, x.data(), y.data());
    for (std::size_t i = 0; i < x.size(); ++i) CHECK(y[i] == doctest::Approx(1 / (1 + std::exp(-x[i]))).epsilon(1e-12));
    k::tanh_forward(n, x.data(), y.data());
    for (std::size_t i = 0; i < x.size(); ++i) CHECK(y[i] == doctest::Approx(std::tanh(x[i])).epsilon(1e-12));
    k::gelu_forward(n, x.data(), y.data());
    for (std::size_t i = 0; i < x.size(); ++i)
        CHECK(y[i] == doctest::Approx(0.5 * x[i] * (1 + std::erf(x[i] / std::sqrt(2.0)))).epsilon(1e-12));
    k::leaky_relu_forward(n, 0.2, x.data(), y.data());
    for (std::size_t i = 0; i < x.size(); ++i) CHECK(y[i] == (x[i] > 0 ? x[i] : 0.2 * x[i]));
    k::leaky_relu_backward(n, 0.2, x.data(), dy.data(), dx.data());
    for (std::size_t i = 0; i < x.size(); ++i) CHECK(dx[i] == (x[i] > 0 ? 1.0 : 0.2));
}

TEST_CASE("softmax rows sum to one and survive huge logits") {
    const std::vector<float> x{1000.f, 1001.f, 999.f, -1000.f, 0.f, 3.f};
    std::vector<float> y(6), ly(6);
    k::softmax_rows(2, 3, x.data(), y.data());
    k::log_softmax_rows(2, 3, x.data(), ly.data());
    for (int r = 0; r < 2; ++r) {
        float s = 0;
        for (int j = 0; j < 3; ++j) {
            const float v = y[std::size_t(r * 3 + j)];
            CHECK(std::isfinite(v));
            CHECK(std::isfinite(ly[std::size_t(r * 3 + j)]));
            CHECK(v == doctest::Approx(std::exp(ly[std::size_t(r * 3 + j)])).epsilon(1e-5));
            s += v;
        }
        CHECK(s == doctest::Approx(1.0f));
    }
}

TEST_CASE("axpy, broadcast_rows and add_column_sums") {
    std::vector<float> x{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17}, y(17, 1.0f);
    k::axpy(17, 2.0f, x.data(), y.data());
    for (std::size_t i = 0; i < 17; ++i) CHECK(y[i] == 1 + 2 * x[i]);
    std::vector<float> c(3 * 4, 0.f), bias{1, 2, 3}, s(3, 0.f);
    k::broadcast_rows(4, 3, bias.data(), c.data(), 3);
    k::add_column_sums(4, 3, c.data(), 3, s.data());
    CHECK(s == std::vector<float>{4, 8, 12});
}

#if defined(__x86_64__) || defined(__SSE__)
TEST_CASE("flush_denormals zeroes denormal results while it lives, and restores the mode") {
    volatile float tiny = std::numeric_limits<float>::min();   // smallest normal
    {
        const k::flush_denormals guard;
        volatile float d = tiny * 0.5f;
        CHECK(d == 0.0f);
    }
    volatile float d = tiny * 0.5f;
    CHECK(d > 0.0f);
}
#endif

// Arrays of 2^17 values and more are cut into one slice per thread (split_elementwise): each value
// is computed as on one thread, so the results are the same bits, the ragged end included, and
// nothing past n is written. The optimizer's update goes the same way.
TEST_CASE_TEMPLATE("large elementwise passes give one thread's values on two, and write nothing past n", T, float,
                   double) {
    const k::index_t n = (k::index_t(1) << 17) + 37;
    std::vector<T> x(std::size_t(n) + 1), dy(std::size_t(n) + 1);
    for (k::index_t i = 0; i < n; ++i)
        x[std::size_t(i)] = T(std::sin(double(i))) * T(3), dy[std::size_t(i)] = T(std::cos(double(i)));
    struct out {
        std::vector<T> relu, relu_back, gelu, gelu_back, sum, axpy, p, m, v;
    };
    auto run = [&](int threads) {
        k::set_num_threads(threads);
        out o;
        for (auto* a : {&o.relu, &o.relu_back, &o.gelu, &o.gelu_back, &o.sum, &o.axpy})
            a->assign(std::size_t(n) + 1, T(-7));
        k::relu_forward(n, x.data(), o.relu.data());
        k::relu_backward(n, o.relu.data(), dy.data(), o.relu_back.data());
        k::gelu_forward(n, x.data(), o.gelu.data());
        k::gelu_backward(n, x.data(), dy.data(), o.gelu_back.data());
        k::add(n, x.data(), dy.data(), o.sum.data());
        o.axpy = dy;
        k::axpy(n, T(0.5), x.data(), o.axpy.data());
        o.p = x, o.m.assign(x.size(), T(0)), o.v.assign(x.size(), T(0));
        k::adam_update(n, T(1e-3), T(0.9), T(0.999), T(1e-8), T(0.01), true, 1, o.p.data(), dy.data(), o.m.data(),
                       o.v.data());
        return o;
    };
    const out one = run(1), two = run(2);
    k::set_num_threads(2);
    CHECK(one.relu == two.relu);
    CHECK(one.relu_back == two.relu_back);
    CHECK(one.gelu == two.gelu);
    CHECK(one.gelu_back == two.gelu_back);
    CHECK(one.sum == two.sum);
    CHECK(one.axpy == two.axpy);
    CHECK(one.p == two.p);
    CHECK(one.m == two.m);
    CHECK(one.v == two.v);
    for (const auto* a : {&two.relu, &two.relu_back, &two.gelu, &two.gelu_back, &two.sum})
        CHECK((*a)[std::size_t(n)] == T(-7));
    CHECK(two.relu[std::size_t(n) - 1] == std::max(T(0), x[std::size_t(n) - 1]));
    CHECK(two.sum[std::size_t(n) - 1] == x[std::size_t(n) - 1] + dy[std::size_t(n) - 1]);
}
