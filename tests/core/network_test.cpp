// tests/core/network_test.cpp — binding, sizes, the parameter buffer, seeds, shape checks at run time.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <span>
#include <vector>
#include <cstring>
#include <xtensor/xtensor.hpp>

#include "support/gradcheck.hpp"
#include "typenet/typenet.hpp"

using namespace typenet;

using lenet_head = network<input<16, 5, 5>, flatten, dense<120>, relu, dense<84>, relu, dense<10>>;

TEST_CASE("binding infers every shape and parameter count at compile time") {
    static_assert(std::is_same_v<lenet_head::input_shape, shape<16, 5, 5>>);
    static_assert(std::is_same_v<lenet_head::output_shape, shape<10>>);
    static_assert(lenet_head::depth == 6);
    static_assert(lenet_head::param_count == 400 * 120 + 120 + 120 * 84 + 84 + 84 * 10 + 10);
    static_assert(lenet_head::well_formed);
    // activations (input 400, 400, 120, 120, 84, 84, 10) + two gradient buffers of the largest (400)
    static_assert(lenet_head::workspace_per_sample == 400 + 400 + 120 + 120 + 84 + 84 + 10 + 2 * 400);
    static_assert(shape<2, 3, 4>::size == 24 && shape<2, 3, 4>::rank == 3);
    CHECK(shape<16, 5, 5>::str() == "(16, 5, 5)");
}

TEST_CASE("summary lists each layer with its shapes and parameters") {
    const std::string s = lenet_head::summary();
    CHECK(s.find("input (16, 5, 5)") != std::string::npos);
    CHECK(s.find("1  dense<120>  (400) -> (120)  params 48120") != std::string::npos);
    CHECK(s.find("parameters: 59134") != std::string::npos);
}

TEST_CASE("the same seed gives the same parameters; another seed others") {
    lenet_head a{seed{5}}, b{seed{5}}, c{seed{6}};
    CHECK(std::equal(a.parameters().begin(), a.parameters().end(), b.parameters().begin()));
    CHECK(!std::equal(a.parameters().begin(), a.parameters().end(), c.parameters().begin()));
    // torch's default: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for the first layer's weights
    const auto w = a.layer_parameters<1>();
    const float bound = 1.0f / std::sqrt(400.0f);
    CHECK(std::all_of(w.begin(), w.end(), [&](float v) { return std::abs(v) <= bound; }));
    CHECK(*std::max_element(w.begin(), w.end()) > 0.9f * bound);
    CHECK(a.layer_parameters<0>().empty());
    CHECK(a.layer_parameters<1>().size() == 48120);
    CHECK(reinterpret_cast<std::uintptr_t>(a.parameters().data()) % 64 == 0);
}

TEST_CASE("initializers draw at the scale they promise") {
    using he = network<input<1000>, dense<100, init::kaiming_normal>>;
    using glorot = network<input<1000>, dense<100, init::xavier_uniform>>;
    he h{seed{1}};
    glorot x{seed{1}};
    auto stddev = [](std::span<float> w) {
        double s = 0;
        for (float v : w) s += double(v) * v;
        return std::sqrt(s / double(w.size()));
    };
    CHECK(stddev(h.layer_parameters<0>().first(100000)) == doctest::Approx(std::sqrt(2.0 / 1000)).epsilon(0.02));
    CHECK(stddev(x.layer_parameters<0>().first(100000)) == doctest::Approx(std::sqrt(2.0 / 1100)).epsilon(0.02));
}

TEST_CASE("forward is deterministic, batch-independent, and backward accumulates") {
    lenet_head net{seed{1}};
    std::vector<float> x(3 * 400);
    rng g(seed{2});
    for (auto& v : x) v = float(g.uniform(-1, 1));
    const float* y3 = net.forward(3, x.data());
    std::vector<float> all(y3, y3 + 30);
    for (int b = 0; b < 3; ++b) {                     // one sample at a time gives the same rows
        const float* y1 = net.forward(1, x.data() + b * 400);
        for (int j = 0; j < 10; ++j) CHECK(y1[j] == doctest::Approx(all[std::size_t(b * 10 + j)]).epsilon(1e-6));
    }
    std::vector<float> dy(30, 1.0f);
    net.zero_grad();
    net.forward(3, x.data(), mode::train);
    net.backward(dy.data());
    std::vector<float> once(net.gradients().begin(), net.gradients().end());
    net.backward(dy.data());                          // += : twice the gradient
    for (std::size_t i = 0; i < once.size(); i += 97) CHECK(net.gradients()[i] == doctest::Approx(2 * once[i]));
    net.zero_grad();
    CHECK(std::all_of(net.gradients().begin(), net.gradients().end(), [](float v) { return v == 0; }));
}

TEST_CASE("predict: one sample in eval mode, from an array, a span or a vector") {
    // Dropout and batch norm make eval mode visible: predict must equal the batched eval forward.
    using net_t = network<input<2, 6, 6>, conv2d<4, 3, padding<1>>, batch_norm<>, relu, max_pool2d<2>, flatten,
                          dropout<0.5>, dense<5>>;
    net_t net{seed{4}};
    rng g(seed{5});
    std::vector<float> x(3 * 72);
    for (auto& v : x) v = float(g.uniform(-1, 1));
    net.forward(3, x.data(), mode::train);             // moves the running statistics off their start
    const float* y = net.forward(3, x.data(), mode::eval);
    const std::vector<float> batched(y, y + 15);
    for (int b = 0; b < 3; ++b) {
        std::array<float, 72> a{};
        std::copy_n(x.begin() + b * 72, 72, a.begin());
        const std::span<const float, 5> from_array = predict(net, a);
        for (int j = 0; j < 5; ++j) CHECK(from_array[std::size_t(j)] == doctest::Approx(batched[std::size_t(b * 5 + j)]).epsilon(1e-6));
        const std::vector<float> v(a.begin(), a.end());
        const auto from_vector = predict(net, v);
        const auto from_span = predict(net, std::span<const float>(v));
        CHECK(std::equal(from_vector.begin(), from_vector.end(), from_array.begin()));
        CHECK(std::equal(from_span.begin(), from_span.end(), from_array.begin()));
    }
    const std::vector<float> short_sample(71);
    CHECK_THROWS_WITH_AS(predict(net, short_sample),
                         "typenet: predict: the sample has 71 values, the network's input (2, 6, 6) needs 72",
                         std::invalid_argument);
}

TEST_CASE("the xtensor face checks shapes and names them") {
    lenet_head net;
    xt::xtensor<float, 4> ok = xt::zeros<float>({2, 16, 5, 5});
    auto y = net.forward(ok);
    CHECK(y.shape()[0] == 2);
    CHECK(y.shape()[1] == 10);
    xt::xtensor<float, 3> wrong = xt::zeros<float>({2, 5, 5});
    try {
        net.forward(wrong);
        FAIL("forward accepted a wrong shape");
    } catch (const std::invalid_argument& e) {
        CHECK(std::string(e.what()) == "typenet: forward: x has shape (2, 5, 5), the network needs (B, 16, 5, 5) with B >= 1, row-major");
    }
    xt::xtensor<float, 4> empty = xt::zeros<float>({0, 16, 5, 5});
    CHECK_THROWS_AS(net.forward(empty), std::invalid_argument);
    xt::xtensor<float, 2> dy = xt::zeros<float>({3, 10});
    CHECK_THROWS_WITH_AS(net.backward(dy), "typenet: backward: dy has batch 3, the last forward had 2", std::invalid_argument);
    CHECK_THROWS_AS(net.forward(0, ok.data()), std::invalid_argument);
}

TEST_CASE("backward before any forward is an error, not garbage") {
    lenet_head net;
    std::vector<float> dy(10);
    CHECK_THROWS_AS(net.backward(dy.data()), std::logic_error);
}

TEST_CASE("a deep stack passes the finite-difference check end to end") {
    basic_network<double, input<2, 3>, flatten, dense<5>, typenet::tanh, dense<4, init::xavier_normal>, gelu, dense<3>, sigmoid,
                  dense<4>, leaky_relu<0.1>, dense<2>, log_softmax> net{seed{3}};
    const auto r = test::gradcheck(net, 3);
    CHECK(r.max_rel_error < 1e-6);
    CHECK(r.checked == decltype(net)::param_count + 3 * 6);
}
