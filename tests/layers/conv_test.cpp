// tests/layers/conv_test.cpp — conv2d<Out, K, options...> against torch.nn.Conv2d (tests/parity/gen.py,
// conv2d.txt: plain, padding + stride, dilation, groups, LeNet's 5x5) and against finite differences;
// shapes, parameter counts and the summary at compile time.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "support/gradcheck.hpp"
#include "support/parity.hpp"
#include "typenet/core/network.hpp"
#include "typenet/layers/activation.hpp"
#include "typenet/layers/conv.hpp"
#include "typenet/layers/dense.hpp"
#include "typenet/layers/flatten.hpp"
#include "typenet/layers/pool.hpp"

namespace {
using namespace typenet;

template <class T, class Net>
void check_against_torch(const test::parity_file& f, const std::string& name, index_t batch) {
    const double tol = test::parity_tol<T>;
    const auto x = f.at(name + "/x").as<T>();     // (B, C, H, W)
    const auto dy = f.at(name + "/dy").as<T>();   // (B, Out, OH, OW)
    const std::size_t n_w = f.at(name + "/w").size(), n_b = f.at(name + "/b").size();
    REQUIRE(x.size() == std::size_t(batch) * Net::input_shape::size);
    REQUIRE(dy.size() == std::size_t(batch) * Net::output_shape::size);
    Net net;
    test::load_parameters(net.template layer_parameters<0>(), {&f.at(name + "/w"), &f.at(name + "/b")});

    const T* y = net.forward(batch, x.data(), mode::train);   // (B, Out, OH, OW)
    test::check_close(std::span<const T>(y, dy.size()), f.at(name + "/y"), tol, name + " forward y");

    net.zero_grad();
    std::vector<T> dx(x.size(), std::numeric_limits<T>::quiet_NaN());   // NaN: every value written
    net.backward(dy.data(), dx.data());
    test::check_close(dx, f.at(name + "/dx"), tol, name + " backward dx");
    auto dp = net.template layer_gradients<0>();                       // dw (Out, C/G, K, K), db (Out)
    test::check_close(dp.first(n_w), f.at(name + "/dw"), tol, name + " backward dw");
    test::check_close(dp.subspan(n_w, n_b), f.at(name + "/db"), tol, name + " backward db");

    // A second backward after the same forward (network_test's contract: gradients accumulate), this
    // time without dx: the parameter gradients double and must not depend on the first pass's dx.
    net.backward(dy.data());
    test::parity_tensor dw2 = f.at(name + "/dw"), db2 = f.at(name + "/db");
    for (auto& v : dw2.values) v *= 2;
    for (auto& v : db2.values) v *= 2;
    test::check_close(dp.first(n_w), dw2, tol, name + " dw after a second backward");
    test::check_close(dp.subspan(n_w, n_b), db2, tol, name + " db after a second backward");
}

template <class T> using plain = basic_network<T, input<3, 7, 7>, conv2d<4, 3>>;
template <class T> using pad2_stride2 = basic_network<T, input<3, 7, 7>, conv2d<4, 3, padding<2>, stride<2>>>;
template <class T> using dil2_pad1 = basic_network<T, input<3, 7, 7>, conv2d<4, 3, dilation<2>, padding<1>>>;
template <class T> using groups2 = basic_network<T, input<4, 7, 7>, conv2d<6, 3, groups<2>>>;
template <class T> using k5_pad2 = basic_network<T, input<1, 8, 8>, conv2d<2, 5, padding<2>>>;
}  // namespace

TEST_CASE_TEMPLATE("conv2d: forward and backward match torch.nn.Conv2d", T, float, double) {
    const test::parity_file f(TYPENET_TEST_DIR "/parity/data/conv2d.txt");
    SUBCASE("C=3, 7x7, Out=4, K=3") { check_against_torch<T, plain<T>>(f, "plain", 2); }
    SUBCASE("padding 2, stride 2") { check_against_torch<T, pad2_stride2<T>>(f, "pad2_stride2", 2); }
    SUBCASE("dilation 2, padding 1") { check_against_torch<T, dil2_pad1<T>>(f, "dil2_pad1", 2); }
    SUBCASE("groups 2, C=4, Out=6") { check_against_torch<T, groups2<T>>(f, "groups2", 2); }
    SUBCASE("K=5, padding 2 on 1x8x8") { check_against_torch<T, k5_pad2<T>>(f, "k5_pad2", 2); }
}

TEST_CASE_TEMPLATE("conv2d: the output shape follows torch's formula", T, float, double) {
    static_assert(std::is_same_v<typename plain<T>::output_shape, shape<4, 5, 5>>);
    static_assert(std::is_same_v<typename pad2_stride2<T>::output_shape, shape<4, 5, 5>>);   // (7 + 4 - 3) / 2 + 1
    static_assert(std::is_same_v<typename dil2_pad1<T>::output_shape, shape<4, 5, 5>>);      // 7 + 2 - 5 + 1
    static_assert(std::is_same_v<typename groups2<T>::output_shape, shape<6, 5, 5>>);
    static_assert(std::is_same_v<typename k5_pad2<T>::output_shape, shape<2, 8, 8>>);
    static_assert(plain<T>::param_count == 4 * 3 * 9 + 4);
    static_assert(groups2<T>::param_count == 6 * 2 * 9 + 6);                                   // w (Out, C/G, K, K)
    // stride that does not divide: floor, as torch
    static_assert(std::is_same_v<typename basic_network<T, input<2, 8, 9>, conv2d<3, 3, stride<3>>>::output_shape,
                                 shape<3, 2, 3>>);
    // the kernel exactly as large as the padded input: one output pixel
    static_assert(std::is_same_v<typename basic_network<T, input<1, 3, 3>, conv2d<2, 5, padding<1>>>::output_shape,
                                 shape<2, 1, 1>>);
    // options in any order
    static_assert(std::is_same_v<typename basic_network<T, input<4, 9, 8>, conv2d<6, 3, groups<2>, stride<2>, padding<1>>>::output_shape,
                                 typename basic_network<T, input<4, 9, 8>, conv2d<6, 3, padding<1>, stride<2>, groups<2>>>::output_shape>);
    static_assert(std::is_same_v<typename basic_network<T, input<4, 9, 8>, conv2d<6, 3, padding<1>, stride<2>, groups<2>>>::output_shape,
                                 shape<6, 5, 4>>);
    CHECK(true);
}

TEST_CASE("conv2d: LeNet binds at compile time, 61706 parameters") {
    using lenet = network<input<1, 28, 28>, conv2d<6, 5, padding<2>>, relu, max_pool2d<2>, conv2d<16, 5>, relu,
                          max_pool2d<2>, flatten, dense<120>, relu, dense<84>, relu, dense<10>>;
    static_assert(lenet::well_formed);
    static_assert(lenet::param_count == 61706);
    static_assert(lenet::depth == 12);
    static_assert(std::is_same_v<lenet::output_shape, shape<10>>);
    const std::string s = lenet::summary();
    INFO(s);
    CHECK(s.find("0  conv2d<6, 5, padding 2>  (1, 28, 28) -> (6, 28, 28)  params 156") != std::string::npos);
    CHECK(s.find("2  max_pool2d<2>  (6, 28, 28) -> (6, 14, 14)  params 0") != std::string::npos);
    CHECK(s.find("3  conv2d<16, 5>  (6, 14, 14) -> (16, 10, 10)  params 2416") != std::string::npos);
    CHECK(s.find("5  max_pool2d<2>  (16, 10, 10) -> (16, 5, 5)  params 0") != std::string::npos);
    CHECK(s.find("6  flatten  (16, 5, 5) -> (400)") != std::string::npos);
    CHECK(s.find("parameters: 61706") != std::string::npos);
    using odd = network<input<4, 9, 8>, conv2d<6, 3, stride<2>, padding<1>, dilation<2>, groups<2>>>;
    CHECK(odd::summary().find("conv2d<6, 3, padding 1, stride 2, dilation 2, groups 2>  (4, 9, 8) -> (6, 4, 3)") !=
          std::string::npos);
}

TEST_CASE("conv2d: default init is torch's U(-1/sqrt(fan_in), 1/sqrt(fan_in))") {
    network<input<6, 5, 5>, conv2d<42, 3, groups<3>>> net{seed{4}};   // fan_in = 6 / 3 * 9 = 18
    const auto p = net.layer_parameters<0>();
    const float bound = 1.0f / std::sqrt(18.0f);
    CHECK(p.size() == 42 * 18 + 42);
    float mx = 0;
    for (float v : p) mx = std::max(mx, std::abs(v));
    CHECK(mx <= bound);
    CHECK(mx > 0.95f * bound);
}

TEST_CASE("conv2d: backward matches finite differences") {
    SUBCASE("padding 1, stride 2, groups 2 on (4, 9, 8)") {
        basic_network<double, input<4, 9, 8>, conv2d<6, 3, padding<1>, stride<2>, groups<2>>> net(seed{3});
        const auto r = test::gradcheck(net, 2);
        CHECK(r.checked == (6 * 2 * 9 + 6) + 2 * 4 * 9 * 8);
        CHECK(r.max_rel_error < 1e-6);
    }
    SUBCASE("dilation 2, padding 2, then tanh and a 1x1 conv with stride 3") {
        basic_network<double, input<2, 7, 6>, conv2d<3, 3, dilation<2>, padding<2>>, typenet::tanh, conv2d<4, 1, stride<3>>>
            net(seed{5});
        const auto r = test::gradcheck(net, 3);
        CHECK(r.checked == (3 * 2 * 9 + 3) + (4 * 3 + 4) + 3 * 2 * 7 * 6);
        CHECK(r.max_rel_error < 1e-6);
    }
    SUBCASE("a kernel larger than the image (padding 2), one output pixel, 4 groups, then dense") {
        basic_network<double, input<4, 2, 3>, conv2d<8, 5, padding<2>, groups<4>, stride<4>>, flatten, dense<3>>
            net(seed{6});
        static_assert(std::is_same_v<decltype(net)::output_shape, shape<3>>);
        const auto r = test::gradcheck(net, 2);
        CHECK(r.max_rel_error < 1e-6);
    }
    SUBCASE("stacked: conv, tanh, max_pool2d, conv with groups") {
        basic_network<double, input<2, 8, 8>, conv2d<4, 3, padding<1>>, typenet::tanh, max_pool2d<2>, conv2d<4, 2, groups<2>>>
            net(seed{7});
        const auto r = test::gradcheck(net, 2);
        CHECK(r.max_rel_error < 1e-6);
    }
}

TEST_CASE("conv2d: parameter gradients do not depend on whether dx is asked for") {
    // conv2d second: its dx always goes to the network's buffer; then first: dx null on the second pass.
    basic_network<double, input<3, 6, 6>, conv2d<4, 3, padding<1>>, typenet::tanh, conv2d<2, 3, stride<2>>> net(seed{9});
    rng g(seed{10});
    std::vector<double> x(2 * 3 * 6 * 6), dy(2 * 2 * 3 * 3);
    for (auto& v : x) v = g.uniform(-1, 1);
    for (auto& v : dy) v = g.uniform(-1, 1);
    const auto [with_dx, without_dx] = test::gradients_with_and_without_dx(net, 2, x, dy);
    REQUIRE(with_dx.size() == without_dx.size());
    double max_diff = 0;
    for (std::size_t i = 0; i < with_dx.size(); ++i) max_diff = std::max(max_diff, std::abs(with_dx[i] - without_dx[i]));
    CHECK(max_diff < 1e-12);
}

TEST_CASE_TEMPLATE("conv2d: mode::infer equals mode::eval, and backward after it is refused", T, float, double) {
    // Stride 1 at 28 and 14 columns takes the direct kernel; stride 2 takes im2col, and so do 7
    // columns where a vector holds 16 lanes (conv_direct_wins), in every mode.
    using net_t = basic_network<T, input<3, 28, 28>, conv2d<5, 3, padding<1>>, relu, conv2d<6, 5, padding<2>>,
                                conv2d<8, 3, padding<1>, stride<2>>, conv2d<7, 2, padding<1>>,
                                conv2d<4, 3, padding<1>, stride<2>>, conv2d<3, 3, padding<1>>>;
    CHECK(kernels::cpu::conv_direct_wins<T>(kernels::cpu::conv2d_geometry{3, 28, 28, 5, 3, 3, 1, 1, 1, 1}));
    CHECK(!kernels::cpu::conv_direct_wins<T>(kernels::cpu::conv2d_geometry{5, 28, 28, 6, 3, 3, 2, 1, 1, 1}));
    net_t net{seed{3}};
    rng g(seed{4});
    std::vector<T> x(5 * 3 * 28 * 28);
    for (auto& v : x) v = T(g.uniform(-1, 1));
    constexpr std::size_t out = net_t::output_shape::size;
    const T* ye = net.forward(5, x.data(), mode::eval);
    const std::vector<T> eval(ye, ye + 5 * out);
    const T* yi = net.forward(5, x.data(), mode::infer);
    double err = 0;
    for (std::size_t i = 0; i < eval.size(); ++i)
        err = std::max(err, std::abs(double(yi[i]) - double(eval[i])) / std::max(1.0, std::abs(double(eval[i]))));
    CHECK(err <= (std::is_same_v<T, float> ? 1e-5 : 1e-12));
    std::vector<T> dy(5 * out, T(1));
    CHECK_THROWS_WITH_AS(net.backward(dy.data()),
                         "typenet: backward: the last forward ran in mode::infer, which keeps nothing for backward; "
                         "run it in mode::eval or mode::train",
                         std::logic_error);
}
