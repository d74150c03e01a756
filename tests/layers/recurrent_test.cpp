// tests/layers/recurrent_test.cpp — rnn, lstm, gru: finite-difference gradients through time (with
// an initial state and the final state's gradient), stacking, last_step, truncated BPTT's carried
// state, and the shapes and errors of sequence networks.
#include <doctest/doctest.h>

#include <typenet/typenet.hpp>

#include "support/gradcheck.hpp"
#include "support/sequence_parity.hpp"

using namespace typenet;

using test::check_sequence_gradients;

TEST_CASE("rnn: gradients through time, from an initial state") {
    check_sequence_gradients<basic_network<double, sequence_input<3>, rnn<4>>>(2, 5);
}
TEST_CASE("lstm: gradients through time, from an initial state") {
    check_sequence_gradients<basic_network<double, sequence_input<3>, lstm<4>>>(2, 5);
}
TEST_CASE("gru: gradients through time, from an initial state") {
    check_sequence_gradients<basic_network<double, sequence_input<3>, gru<4>>>(2, 5);
}
TEST_CASE("stacked recurrent layers, a per-step dense and last_step") {
    check_sequence_gradients<basic_network<double, sequence_input<3>, lstm<4>, gru<5>, rnn<3>, dense<2>>>(2, 4);
    check_sequence_gradients<basic_network<double, sequence_input<3>, lstm<4>, last_step, dense<2>>>(3, 4);
}
TEST_CASE("embedding: gradients of its rows; ids are not differentiable") {
    check_sequence_gradients<basic_network<double, tokens, embedding<7, 3>, lstm<4>, dense<7>>>(2, 6, 7);
}

TEST_CASE("a sequence network's shapes: (B, T, in) -> (B, T, out), or (B, out) after last_step") {
    using Net = network<tokens, embedding<10, 4>, lstm<8>, dense<10>>;
    static_assert(std::is_same_v<Net::output_shape, seq<10>>);
    static_assert(Net::carry_size == 16);
    Net net(seed{1});
    xt::xtensor<float, 3> x = xt::zeros<float>({3, 5, 1});
    auto y = net.forward(x);
    CHECK(y.shape()[0] == 3);
    CHECK(y.shape()[1] == 5);
    CHECK(y.shape()[2] == 10);
    using Cls = network<sequence_input<2>, gru<6>, last_step, dense<3>>;
    Cls cls(seed{1});
    xt::xtensor<float, 3> z = xt::ones<float>({4, 7, 2});
    auto o = cls.forward(z);
    CHECK(o.shape().size() == 2);
    CHECK(o.shape()[1] == 3);
    CHECK(Net::summary().find("(T, 8)") != std::string::npos);
}

TEST_CASE("truncated BPTT: two windows with the state carried equal one window of both") {
    using Net = network<sequence_input<2>, lstm<5>, gru<3>>;
    Net net(seed{4});
    const index_t b = 2, t = 6;
    rng g(seed{9});
    std::vector<float> x(std::size_t(b * t * 2));
    for (auto& v : x) v = float(g.uniform(-1, 1));
    const float* y_all = net.forward(b, t, x.data(), mode::eval);
    const std::vector<float> whole(y_all, y_all + b * t * 3);
    std::vector<float> state(std::size_t(b) * Net::carry_size, 0.0f);
    std::vector<float> first(std::size_t(b * 4 * 2)), second(std::size_t(b * 2 * 2));
    for (index_t s = 0; s < b; ++s) {
        std::copy_n(x.begin() + s * t * 2, 4 * 2, first.begin() + s * 4 * 2);
        std::copy_n(x.begin() + s * t * 2 + 4 * 2, 2 * 2, second.begin() + s * 2 * 2);
    }
    net.forward(b, 4, first.data(), mode::eval, {state.data(), state.data()});
    const float* y2 = net.forward(b, 2, second.data(), mode::eval, {state.data(), state.data()});
    for (index_t s = 0; s < b; ++s)
        for (index_t i = 0; i < 2 * 3; ++i) CHECK(y2[s * 6 + i] == doctest::Approx(whole[std::size_t(s * t * 3 + 4 * 3 + i)]).epsilon(1e-6));
}

TEST_CASE("bad sequence input: a token outside the vocabulary, steps on a non-sequence network") {
    network<tokens, embedding<5, 2>, lstm<3>> net(seed{1});
    std::vector<float> ids{0, 1, 5, 2};
    CHECK_THROWS_WITH_AS(net.forward(2, 2, ids.data(), mode::eval),
                         "typenet: embedding: token id 5.000000 of sequence 1, step 0 is outside the vocabulary [0, 5)",
                         std::out_of_range);
    ids[2] = 1.5f;
    CHECK_THROWS_AS(net.forward(2, 2, ids.data(), mode::eval), std::out_of_range);
    network<input<3>, dense<2>> flat(seed{1});
    std::vector<float> x(6);
    CHECK_THROWS_WITH_AS(flat.forward(1, 2, x.data(), mode::eval),
                         "typenet: forward: steps = 2, but the input (3) is not a sequence; use sequence_input<...>",
                         std::invalid_argument);
}

TEST_CASE_TEMPLATE("torch parity: embedding, and two-layer rnn, lstm, gru from a given state", T, float, double) {
    test::check_sequence_parity<basic_network<T, tokens, embedding<7, 3>>>("embedding", 2, 5, false);
    test::check_sequence_parity<basic_network<T, sequence_input<3>, rnn<4>, rnn<4>>>("rnn", 2, 5);
    test::check_sequence_parity<basic_network<T, sequence_input<3>, lstm<5>, lstm<5>>>("lstm", 2, 5);
    test::check_sequence_parity<basic_network<T, sequence_input<3>, gru<4>, gru<4>>>("gru", 2, 5);
}

TEST_CASE("bidirectional: gradients of both directions and of both initial states") {
    check_sequence_gradients<basic_network<double, sequence_input<3>, bidirectional<lstm<4>>>>(2, 5);
    check_sequence_gradients<basic_network<double, sequence_input<2>, bidirectional<gru<3>>, bidirectional<rnn<2>>, last_step,
                                 dense<2>>>(2, 4);
}

TEST_CASE_TEMPLATE("torch parity: bidirectional LSTM (nn.LSTM(bidirectional=True)) from a given state", T, float, double) {
    using Net = basic_network<T, sequence_input<3>, bidirectional<lstm<4>>>;
    static_assert(std::is_same_v<typename Net::output_shape, seq<8>>);
    test::check_sequence_parity<Net>("bilstm", 2, 5);
}

TEST_CASE("flatten on a sequence flattens each step; the rows stay B * T") {
    using Net = network<sequence_input<2, 3>, flatten, gru<4>, last_step>;
    static_assert(std::is_same_v<basic_network<double, sequence_input<2, 3>, flatten>::output_shape, seq<6>>);
    Net net(seed{1});
    std::vector<float> x(2 * 5 * 6, 0.5f);
    const float* y = net.forward(2, 5, x.data(), mode::eval);
    CHECK(std::isfinite(y[7]));
    static_assert(Net::output_shape::size == 4);
}

TEST_CASE("fit and evaluate train a sequence classifier: samples of (T, D) values, one label each") {
    // Label: is the sum of the 8 steps positive. A GRU reads the steps; a pooled MLP could not see
    // their order, the GRU needs none but must carry the running sum through time.
    data::dataset<float> train{{8, 1}, {}, {}, 2}, test{{8, 1}, {}, {}, 2};
    rng g(seed{5});
    for (auto* d : {&train, &test})
        for (int i = 0; i < (d == &train ? 2000 : 500); ++i) {
            float sum = 0;
            for (int t = 0; t < 8; ++t) {
                const float v = float(g.uniform(-1, 1));
                d->x.push_back(v);
                sum += v;
            }
            d->y.push_back(sum > 0 ? 1 : 0);
        }
    using Net = network<sequence_input<1>, gru<16>, last_step, dense<2>>;
    Net net(seed{1});
    optim::adam opt(net, {.lr = 1e-2});
    fit(net, opt, loss::cross_entropy{}, train, {.epochs = 8, .batch = 32});
    const auto e = evaluate(net, test);
    CHECK(e.accuracy > 0.9);
    // samples of 7 values are no whole number of steps of 2 features
    network<sequence_input<2>, lstm<3>, last_step, dense<2>> pairs(seed{1});
    data::dataset<float> bad{{7}, {}, {}, 2};
    bad.x.assign(7, 0.0f);
    bad.y.push_back(0);
    CHECK_THROWS_WITH_AS(evaluate(pairs, bad),
                         "typenet: evaluate: samples have 7 values, the network's input (T, 2) needs a positive multiple of 2",
                         std::invalid_argument);
}
