// tests/support/gradcheck.hpp — finite-difference gradient checks of a whole network, in double.
// L = sum(y * r) for a fixed random r, so dL/dy = r; every parameter and input value is perturbed
// by +-h and the central difference compared with backward's gradient.
#pragma once
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

#include "typenet/core/network.hpp"

namespace typenet::test {

struct gradcheck_result {
    double max_rel_error = 0;   // max |a - n| / max(1, |a|, |n|)
    std::size_t checked = 0;
    // Records one analytic value against its finite difference; prints it when off by > 1e-6.
    void compare(double analytic, double numeric, const char* what, std::size_t i) {
        const double e = std::abs(analytic - numeric) / std::max({1.0, std::abs(analytic), std::abs(numeric)});
        if (e > max_rel_error) max_rel_error = e;
        if (e > 1e-6) std::printf("  %s[%zu]: backward %.10g, finite difference %.10g\n", what, i, analytic, numeric);
        ++checked;
    }
};

namespace detail {
// Every parameter of `net` perturbed by +-h: the central difference of loss() against dp.
template <class Net, class Loss>
void check_parameters(Net& net, const std::vector<double>& dp, double h, Loss loss, gradcheck_result& res) {
    auto p = net.parameters();
    for (std::size_t i = 0; i < p.size(); ++i) {
        const double keep = p[i];
        p[i] = keep + h; const double lp = loss();
        p[i] = keep - h; const double lm = loss();
        p[i] = keep;
        res.compare(dp[i], (lp - lm) / (2 * h), "dparam", i);
    }
}
// Every value of v perturbed by +-h: the central difference of loss(v) against grad.
template <class Loss>
void check_values(const std::vector<double>& v, const std::vector<double>& grad, double h, Loss loss, const char* what,
                  gradcheck_result& res) {
    for (std::size_t i = 0; i < v.size(); ++i) {
        auto vp = v, vm = v;
        vp[i] += h; vm[i] -= h;
        res.compare(grad[i], (loss(vp) - loss(vm)) / (2 * h), what, i);
    }
}
}  // namespace detail

// Checks d(sum(y r))/dp and /dx for `net` at a random x (B, in...). `draw` fills x; the default
// draws U(-1, 1). Values where the function is not differentiable (relu at 0) are unlikely at
// random points and h = 1e-6.
template <class Net>
gradcheck_result gradcheck(Net& net, index_t batch, std::uint64_t s = 7, double h = 1e-6, mode m = mode::train) {
    static_assert(std::is_same_v<typename Net::scalar, double>, "gradcheck runs in double precision");
    constexpr std::size_t in = Net::input_shape::size, out = Net::output_shape::size;
    rng g(seed{s});
    std::vector<double> x(std::size_t(batch) * in), r(std::size_t(batch) * out), dx(x.size());
    for (auto& v : x) v = g.uniform(-1, 1);
    for (auto& v : r) v = g.uniform(-1, 1);
    auto loss = [&](const std::vector<double>& xs) {
        const double* y = net.forward(batch, xs.data(), m);
        double l = 0;
        for (std::size_t i = 0; i < r.size(); ++i) l += y[i] * r[i];
        return l;
    };
    net.zero_grad();
    loss(x);
    net.backward(r.data(), dx.data());
    const std::vector<double> dp(net.gradients().begin(), net.gradients().end());

    gradcheck_result res;
    detail::check_parameters(net, dp, h, [&] { return loss(x); }, res);
    detail::check_values(x, dx, h, loss, "dx", res);
    return res;
}

// Parameter gradients of one backward that asks for dx and one that does not (dx null): a layer
// that skips its input gradient must still pass the right dy on. Returns (with dx, without dx).
template <class Net, class T>
std::pair<std::vector<T>, std::vector<T>> gradients_with_and_without_dx(Net& net, index_t batch,
                                                                        const std::vector<T>& x,
                                                                        const std::vector<T>& dy) {
    net.forward(batch, x.data(), mode::train);
    std::vector<T> dx(x.size());
    net.zero_grad();
    net.backward(dy.data(), dx.data());
    std::vector<T> with_dx(net.gradients().begin(), net.gradients().end());
    net.zero_grad();
    net.backward(dy.data());
    return {std::move(with_dx), std::vector<T>(net.gradients().begin(), net.gradients().end())};
}

// The same check for a sequence model: B sequences of T steps, x drawn U(-1, 1), or token ids in
// [0, vocabulary) when vocabulary > 0 (then no dx). A model with recurrent state starts from a
// random state and L also sums its final state times a fixed random rc, so dL/d(initial state)
// is checked as well as the state's gradient flowing in from the end.
template <class Net>
gradcheck_result gradcheck_sequence(Net& net, index_t batch, index_t steps, std::size_t vocabulary = 0,
                                    std::uint64_t s = 7, double h = 1e-6) {
    static_assert(std::is_same_v<typename Net::scalar, double>, "gradcheck runs in double precision");
    constexpr std::size_t in = Net::input_shape::size, out = Net::output_shape::size, carry = Net::carry_size;
    const std::size_t rows_in = std::size_t(rows_of<typename Net::input_shape>(batch, steps));
    const std::size_t rows_out = std::size_t(rows_of<typename Net::output_shape>(batch, steps));
    rng g(seed{s});
    std::vector<double> x(rows_in * in), r(rows_out * out), dx(x.size());
    std::vector<double> c0(std::size_t(batch) * carry), rc(c0.size()), c1(c0.size()), dc0(c0.size());
    for (auto& v : x) v = vocabulary ? double(std::size_t(g.uniform() * double(vocabulary))) : g.uniform(-1, 1);
    for (auto& v : r) v = g.uniform(-1, 1);
    for (auto& v : c0) v = g.uniform(-1, 1);
    for (auto& v : rc) v = g.uniform(-1, 1);
    auto loss = [&](const std::vector<double>& xs, const std::vector<double>& cs) {
        const double* y = net.forward(batch, steps, xs.data(), mode::train,
                                      carry ? recurrent_state<double>{cs.data(), c1.data()} : recurrent_state<double>{});
        double l = 0;
        for (std::size_t i = 0; i < r.size(); ++i) l += y[i] * r[i];
        for (std::size_t i = 0; i < c1.size(); ++i) l += c1[i] * rc[i];
        return l;
    };
    net.zero_grad();
    loss(x, c0);
    net.backward(r.data(), vocabulary ? nullptr : dx.data(),
                 carry ? recurrent_gradients<double>{rc.data(), dc0.data()} : recurrent_gradients<double>{});
    const std::vector<double> dp(net.gradients().begin(), net.gradients().end());

    gradcheck_result res;
    detail::check_parameters(net, dp, h, [&] { return loss(x, c0); }, res);
    if (!vocabulary) detail::check_values(x, dx, h, [&](const std::vector<double>& v) { return loss(v, c0); }, "dx", res);
    detail::check_values(c0, dc0, h, [&](const std::vector<double>& v) { return loss(x, v); }, "dcarry", res);
    return res;
}

// gradcheck_sequence on a fresh Net (seed 5), within 1e-6.
template <class Net>
void check_sequence_gradients(index_t batch, index_t steps, std::size_t vocabulary = 0) {
    Net net(seed{5});
    const auto r = gradcheck_sequence(net, batch, steps, vocabulary);
    CHECK(r.checked > 0);
    CHECK(r.max_rel_error < 1e-6);
}

}  // namespace typenet::test
