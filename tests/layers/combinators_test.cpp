// tests/layers/combinators_test.cpp — sequential and residual: a nested block computes what the
// flat list computes, x + f(x) is exactly that, projections and batch norm inside blocks pass the
// finite-difference check in both modes, and shapes, parameters and state add up.
#include <doctest/doctest.h>

#include <algorithm>
#include <vector>

#include "support/gradcheck.hpp"
#include "typenet/typenet.hpp"

using namespace typenet;

namespace {
template <std::size_t C, std::size_t S>
using projected_block = residual<sequential<conv2d<C, 3, padding<1>, stride<S>>, batch_norm<>, relu,
                                            conv2d<C, 3, padding<1>>, batch_norm<>>,
                                 sequential<conv2d<C, 1, stride<S>>, batch_norm<>>>;
template <std::size_t C>
using plain_block = residual<sequential<conv2d<C, 3, padding<1>>, batch_norm<>, relu, conv2d<C, 3, padding<1>>>>;

std::vector<double> uniform(std::size_t n, std::uint64_t s) {
    rng g(seed{s});
    std::vector<double> v(n);
    for (auto& x : v) x = g.uniform(-1, 1);
    return v;
}
}  // namespace

TEST_CASE("binding through blocks: shapes, parameters and state add up") {
    using net = network<input<3, 8, 8>, conv2d<4, 3, padding<1>>, plain_block<4>, projected_block<8, 2>, global_avg_pool,
                        dense<10>>;
    static_assert(std::is_same_v<net::output_shape, shape<10>>);
    // conv 3->4 (112) | plain: conv 4->4 (148), bn (8), conv 4->4 (148) | projected: conv 4->8 s2 (296), bn (16),
    // conv 8->8 (584), bn (16), shortcut conv 1x1 4->8 (40), bn (16) | dense 8->10 (90)
    static_assert(net::param_count == 112 + 148 + 8 + 148 + 296 + 16 + 584 + 16 + 40 + 16 + 90);
    static_assert(net::state_count == 9 + 17 + 17 + 17);   // running mean, variance and batch count of each batch norm
    static_assert(net::well_formed);
    const std::string s = net::summary();
    CHECK(s.find("(4, 8, 8) -> (8, 4, 4)") != std::string::npos);
}

TEST_CASE("sequential<L...> computes exactly what the flat list L... computes") {
    using flat = basic_network<double, input<2, 5, 5>, conv2d<3, 3>, relu, flatten, dense<4>, typenet::tanh>;
    using nested = basic_network<double, input<2, 5, 5>, sequential<conv2d<3, 3>, relu>, sequential<flatten, dense<4>>,
                                 typenet::tanh>;
    static_assert(flat::param_count == nested::param_count);
    flat a{seed{3}};
    nested b{seed{3}};   // same draws in the same order
    REQUIRE(std::equal(a.parameters().begin(), a.parameters().end(), b.parameters().begin()));
    const auto x = uniform(3 * 50, 1), dy = uniform(3 * 4, 2);
    const double* ya = a.forward(3, x.data(), mode::train);
    const double* yb = b.forward(3, x.data(), mode::train);
    CHECK(std::equal(ya, ya + 12, yb));
    std::vector<double> dxa(x.size()), dxb(x.size());
    a.backward(dy.data(), dxa.data());
    b.backward(dy.data(), dxb.data());
    CHECK(dxa == dxb);
    CHECK(std::equal(a.gradients().begin(), a.gradients().end(), b.gradients().begin()));
}

TEST_CASE("residual<Body> is Body(x) + x, and its input gradient is dBody + dy") {
    using body = sequential<conv2d<2, 3, padding<1>>, typenet::tanh>;
    using res = basic_network<double, input<2, 4, 4>, residual<body>>;
    using alone = basic_network<double, input<2, 4, 4>, body>;
    res r{seed{5}};
    alone f{seed{5}};
    const auto x = uniform(2 * 32, 3), dy = uniform(2 * 32, 4);
    const double* yr = r.forward(2, x.data(), mode::train);
    const double* yf = f.forward(2, x.data(), mode::train);
    for (std::size_t i = 0; i < x.size(); ++i) CHECK(yr[i] == doctest::Approx(yf[i] + x[i]).epsilon(1e-14));
    std::vector<double> dxr(x.size()), dxf(x.size());
    r.backward(dy.data(), dxr.data());
    f.backward(dy.data(), dxf.data());
    for (std::size_t i = 0; i < x.size(); ++i) CHECK(dxr[i] == doctest::Approx(dxf[i] + dy[i]).epsilon(1e-14));
    CHECK(std::equal(r.gradients().begin(), r.gradients().end(), f.gradients().begin()));
}

TEST_CASE("blocks with projections and batch norm pass the finite-difference check in both modes") {
    basic_network<double, input<2, 6, 6>, conv2d<3, 3, padding<1>>, relu, plain_block<3>, relu, projected_block<4, 2>,
                  relu, global_avg_pool, dense<3>>
        net{seed{2}};
    const auto train = test::gradcheck(net, 3, 7, 1e-6, mode::train);
    CHECK(train.max_rel_error < 1e-6);
    const auto eval = test::gradcheck(net, 3, 7, 1e-6, mode::eval);
    CHECK(eval.max_rel_error < 1e-6);
    CHECK(train.checked == decltype(net)::param_count + 3 * 72);
}

TEST_CASE("a block's parameter gradients do not depend on whether dx is asked for") {
    basic_network<double, input<2, 4, 4>, projected_block<3, 2>> net{seed{4}};
    const auto x = uniform(2 * 32, 5), dy = uniform(2 * 12, 6);
    const auto [with_dx, without_dx] = test::gradients_with_and_without_dx(net, 2, x, dy);
    CHECK(with_dx == without_dx);
}
