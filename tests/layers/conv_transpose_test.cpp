// tests/layers/conv_transpose_test.cpp — conv_transpose2d<Out, K, options...> against
// torch.nn.ConvTranspose2d (tests/parity/gen.py, conv_transpose2d.txt: plain; stride 2, padding 1,
// output_padding 1, a GAN generator's upsampling; dilation 2 with output_padding >= stride; groups 2
// with stride 2) and against finite differences; shapes, parameter counts and the summary at compile time.
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
#include "typenet/layers/conv_transpose.hpp"
#include "typenet/layers/dense.hpp"
#include "typenet/layers/flatten.hpp"

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
    REQUIRE(n_w + n_b == Net::param_count);
    Net net;
    test::load_parameters(net.template layer_parameters<0>(), {&f.at(name + "/w"), &f.at(name + "/b")});

    const T* y = net.forward(batch, x.data(), mode::train);   // (B, Out, OH, OW)
    test::check_close(std::span<const T>(y, dy.size()), f.at(name + "/y"), tol, name + " forward y");

    net.zero_grad();
    std::vector<T> dx(x.size(), std::numeric_limits<T>::quiet_NaN());   // NaN: every value written
    net.backward(dy.data(), dx.data());
    test::check_close(dx, f.at(name + "/dx"), tol, name + " backward dx");
    auto dp = net.template layer_gradients<0>();                       // dw (C, Out/G, K, K), db (Out)
    test::check_close(dp.first(n_w), f.at(name + "/dw"), tol, name + " backward dw");
    test::check_close(dp.subspan(n_w, n_b), f.at(name + "/db"), tol, name + " backward db");

    // A second backward after the same forward, without dx: the parameter gradients double.
    net.backward(dy.data());
    test::parity_tensor dw2 = f.at(name + "/dw"), db2 = f.at(name + "/db");
    for (auto& v : dw2.values) v *= 2;
    for (auto& v : db2.values) v *= 2;
    test::check_close(dp.first(n_w), dw2, tol, name + " dw after a second backward");
    test::check_close(dp.subspan(n_w, n_b), db2, tol, name + " db after a second backward");
}

template <class T> using plain = basic_network<T, input<2, 4, 5>, conv_transpose2d<3, 3>>;
template <class T>
using gan_up2 = basic_network<T, input<8, 7, 7>, conv_transpose2d<4, 3, stride<2>, padding<1>, output_padding<1>>>;
template <class T>
using dil2_pad1_op1 =
    basic_network<T, input<2, 4, 4>, conv_transpose2d<2, 3, dilation<2>, padding<1>, output_padding<1>>>;
template <class T>
using groups2_stride2 = basic_network<T, input<4, 3, 3>, conv_transpose2d<4, 3, groups<2>, stride<2>>>;
}  // namespace

TEST_CASE_TEMPLATE("conv_transpose2d: forward and backward match torch.nn.ConvTranspose2d", T, float, double) {
    const test::parity_file f(TYPENET_TEST_DIR "/parity/data/conv_transpose2d.txt");
    SUBCASE("C=2, 4x5, Out=3, K=3") { check_against_torch<T, plain<T>>(f, "plain", 2); }
    SUBCASE("stride 2, padding 1, output_padding 1: (8, 7, 7) -> (4, 14, 14)") {
        check_against_torch<T, gan_up2<T>>(f, "gan_up2", 1);
    }
    SUBCASE("dilation 2, padding 1, output_padding 1") {
        check_against_torch<T, dil2_pad1_op1<T>>(f, "dil2_pad1_op1", 2);
    }
    SUBCASE("groups 2, stride 2") { check_against_torch<T, groups2_stride2<T>>(f, "groups2_stride2", 2); }
}

TEST_CASE_TEMPLATE("conv_transpose2d: the output shape follows torch's formula", T, float, double) {
    // (H - 1) S - 2P + D (K - 1) + OP + 1
    static_assert(std::is_same_v<typename plain<T>::output_shape, shape<3, 6, 7>>);
    static_assert(std::is_same_v<typename gan_up2<T>::output_shape, shape<4, 14, 14>>);
    static_assert(std::is_same_v<typename dil2_pad1_op1<T>::output_shape, shape<2, 7, 7>>);
    static_assert(std::is_same_v<typename groups2_stride2<T>::output_shape, shape<4, 7, 7>>);
    static_assert(plain<T>::param_count == 2 * 3 * 9 + 3);
    static_assert(groups2_stride2<T>::param_count == 4 * 2 * 9 + 4);                  // w (C, Out/G, K, K)
    // padding that eats all but one pixel
    static_assert(std::is_same_v<typename basic_network<T, input<1, 1, 1>, conv_transpose2d<2, 3, padding<1>>>::output_shape,
                                 shape<2, 1, 1>>);
    // options in any order; conv2d with the same options maps the output back to the input's size
    using a = basic_network<T, input<4, 5, 6>, conv_transpose2d<6, 3, groups<2>, output_padding<1>, stride<2>, padding<1>>>;
    using b = basic_network<T, input<4, 5, 6>, conv_transpose2d<6, 3, padding<1>, stride<2>, groups<2>, output_padding<1>>>;
    static_assert(std::is_same_v<typename a::output_shape, typename b::output_shape>);
    static_assert(std::is_same_v<typename a::output_shape, shape<6, 10, 12>>);
    static_assert(std::is_same_v<typename basic_network<T, input<6, 10, 12>, conv2d<4, 3, padding<1>, stride<2>>>::output_shape,
                                 shape<4, 5, 6>>);
    CHECK(true);
}

TEST_CASE("conv_transpose2d: a generator's upsampling binds at compile time and names its options") {
    using up = network<input<8, 7, 7>, conv_transpose2d<4, 3, stride<2>, padding<1>, output_padding<1>>, relu,
                       conv_transpose2d<1, 3, padding<1>>, typenet::tanh>;
    static_assert(up::well_formed);
    static_assert(std::is_same_v<up::output_shape, shape<1, 14, 14>>);
    static_assert(up::param_count == (8 * 4 * 9 + 4) + (4 * 1 * 9 + 1));
    const std::string s = up::summary();
    INFO(s);
    CHECK(s.find("0  conv_transpose2d<4, 3, padding 1, stride 2, output_padding 1>  (8, 7, 7) -> (4, 14, 14)  params 292") !=
          std::string::npos);
    CHECK(s.find("2  conv_transpose2d<1, 3, padding 1>  (4, 14, 14) -> (1, 14, 14)  params 37") != std::string::npos);
    using odd = network<input<4, 3, 2>, conv_transpose2d<6, 2, stride<3>, dilation<2>, groups<2>>>;
    CHECK(odd::summary().find("conv_transpose2d<6, 2, stride 3, dilation 2, groups 2>  (4, 3, 2) -> (6, 9, 6)") !=
          std::string::npos);
}

TEST_CASE("conv_transpose2d: default init is torch's U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = Out/G K K") {
    network<input<6, 5, 5>, conv_transpose2d<12, 3, groups<3>>> net{seed{4}};   // fan_in = 12 / 3 * 9 = 36
    const auto p = net.layer_parameters<0>();
    const float bound = 1.0f / 6.0f;
    CHECK(p.size() == 6 * 4 * 9 + 12);
    float mx = 0;
    for (float v : p) mx = std::max(mx, std::abs(v));
    CHECK(mx <= bound);
    CHECK(mx > 0.9f * bound);
}

TEST_CASE("conv_transpose2d: backward matches finite differences") {
    SUBCASE("stride 2, padding 1, output_padding 1, groups 2 on (4, 5, 4)") {
        basic_network<double, input<4, 5, 4>,
                      conv_transpose2d<6, 3, stride<2>, padding<1>, output_padding<1>, groups<2>>>
            net(seed{3});
        const auto r = test::gradcheck(net, 2);
        CHECK(r.checked == (4 * 3 * 9 + 6) + 2 * 4 * 5 * 4);
        CHECK(r.max_rel_error < 1e-6);
    }
    SUBCASE("dilation 2, output_padding 1 at stride 1, then tanh and a 2x2 transposed conv with stride 3") {
        basic_network<double, input<2, 4, 3>, conv_transpose2d<3, 3, dilation<2>, output_padding<1>, padding<2>>,
                      typenet::tanh, conv_transpose2d<2, 2, stride<3>>>
            net(seed{5});
        const auto r = test::gradcheck(net, 3);
        CHECK(r.checked == (2 * 3 * 9 + 3) + (3 * 2 * 4 + 2) + 3 * 2 * 4 * 3);
        CHECK(r.max_rel_error < 1e-6);
    }
    SUBCASE("conv2d down, conv_transpose2d up, then dense") {
        basic_network<double, input<2, 6, 6>, conv2d<4, 3, stride<2>, padding<1>>, typenet::tanh,
                      conv_transpose2d<2, 3, stride<2>, padding<1>, output_padding<1>>, flatten, dense<3>>
            net(seed{6});
        static_assert(std::is_same_v<decltype(net)::output_shape, shape<3>>);
        const auto r = test::gradcheck(net, 2);
        CHECK(r.max_rel_error < 1e-6);
    }
}

TEST_CASE("conv_transpose2d: parameter gradients do not depend on whether dx is asked for") {
    basic_network<double, input<3, 4, 4>, conv_transpose2d<4, 3, stride<2>>, typenet::tanh,
                  conv_transpose2d<2, 3, padding<1>, groups<2>>>
        net(seed{9});
    rng g(seed{10});
    std::vector<double> x(2 * 3 * 4 * 4), dy(2 * 2 * 9 * 9);
    for (auto& v : x) v = g.uniform(-1, 1);
    for (auto& v : dy) v = g.uniform(-1, 1);
    const auto [with_dx, without_dx] = test::gradients_with_and_without_dx(net, 2, x, dy);
    REQUIRE(with_dx.size() == without_dx.size());
    double max_diff = 0;
    for (std::size_t i = 0; i < with_dx.size(); ++i) max_diff = std::max(max_diff, std::abs(with_dx[i] - without_dx[i]));
    CHECK(max_diff < 1e-12);
}
