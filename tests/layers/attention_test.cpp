// tests/layers/attention_test.cpp — causal self-attention, positional embedding, layer_norm on
// sequences and the transformer block: finite-difference gradients, causality, context errors.
#include <doctest/doctest.h>

#include <typenet/typenet.hpp>

#include "support/gradcheck.hpp"
#include "support/sequence_parity.hpp"

using namespace typenet;

using test::check_sequence_gradients;

TEST_CASE("causal_self_attention: gradients, one head and several") {
    check_sequence_gradients<basic_network<double, sequence_input<4>, causal_self_attention<1>>>(2, 5);
    check_sequence_gradients<basic_network<double, sequence_input<6>, causal_self_attention<3>>>(2, 4);
}
TEST_CASE("positional_embedding and layer_norm on a sequence: gradients") {
    check_sequence_gradients<basic_network<double, sequence_input<4>, positional_embedding<6>, layer_norm<>>>(2, 5);
}
TEST_CASE("transformer_block: gradients of the whole block") {
    check_sequence_gradients<basic_network<double, tokens, embedding<5, 4>, positional_embedding<8>, transformer_block<2, 2>,
                                 layer_norm<>, dense<5>>>(2, 4, 5);
    check_sequence_gradients<basic_network<double, sequence_input<4>, transformer_block<2, 2>>>(1, 3);
}

TEST_CASE("attention is causal: a later step does not change an earlier output") {
    using Net = network<sequence_input<4>, causal_self_attention<2>, transformer_block<2>>;
    Net net(seed{2});
    rng g(seed{1});
    std::vector<float> x(2 * 6 * 4);
    for (auto& v : x) v = float(g.uniform(-1, 1));
    const float* y = net.forward(2, 6, x.data(), mode::eval);
    const std::vector<float> before(y, y + x.size());
    x[5 * 4 + 1] += 1.0f;                       // sequence 0, step 5
    y = net.forward(2, 6, x.data(), mode::eval);
    for (std::size_t i = 0; i < 5 * 4; ++i) CHECK(y[i] == before[i]);
    CHECK(y[5 * 4 + 1] != before[5 * 4 + 1]);
    for (std::size_t i = 6 * 4; i < x.size(); ++i) CHECK(y[i] == before[i]);   // sequence 1 untouched
}

TEST_CASE("a sequence longer than the context is an error naming both") {
    network<tokens, embedding<5, 4>, positional_embedding<8>, transformer_block<2>> net(seed{1});
    std::vector<float> ids(9, 1.0f);
    CHECK_NOTHROW(net.forward(1, 8, ids.data(), mode::eval));
    CHECK_THROWS_WITH_AS(net.forward(1, 9, ids.data(), mode::eval),
                         "typenet: positional_embedding: a sequence of 9 steps is longer than the model's context of 8",
                         std::invalid_argument);
}

TEST_CASE_TEMPLATE("torch parity: causal attention (nn.MultiheadAttention, causal mask) and the block", T, float,
                   double) {
    test::check_sequence_parity<basic_network<T, sequence_input<6>, causal_self_attention<3>>>("attention", 2, 5);
    test::check_sequence_parity<basic_network<T, sequence_input<8>, transformer_block<2, 4>>>("block", 2, 5);
}

TEST_CASE("causal_self_attention past one block of 32 steps: gradients, and the output against plain loops") {
    check_sequence_gradients<basic_network<double, sequence_input<4>, causal_self_attention<2>>>(1, 70);
    using Net = basic_network<double, sequence_input<6>, causal_self_attention<3>>;
    Net net(seed{3});
    const index_t batch = 2, steps = 75, d = 6, heads = 3, dh = 2;
    rng g(seed{4});
    std::vector<double> x(std::size_t(batch * steps * d));
    for (auto& v : x) v = g.uniform(-1, 1);
    for (auto& v : net.parameters()) v = g.uniform(-0.5, 0.5);
    const double* y = net.forward(batch, steps, x.data(), mode::eval);
    const double* w = net.parameters().data();        // in_proj (3d, d), bias (3d), out_proj (d, d), bias (d)
    for (index_t b = 0; b < batch; ++b) {
        std::vector<double> qkv(std::size_t(steps * 3 * d)), att(std::size_t(steps * d));
        for (index_t t = 0; t < steps; ++t)
            for (index_t o = 0; o < 3 * d; ++o) {
                double s = w[3 * d * d + o];
                for (index_t i = 0; i < d; ++i) s += w[o * d + i] * x[std::size_t((b * steps + t) * d + i)];
                qkv[std::size_t(t * 3 * d + o)] = s;
            }
        for (index_t h = 0; h < heads; ++h)
            for (index_t i = 0; i < steps; ++i) {
                std::vector<double> e(std::size_t(i + 1));
                double mx = -1e300, sum = 0;
                for (index_t j = 0; j <= i; ++j) {
                    double s = 0;
                    for (index_t c = 0; c < dh; ++c) s += qkv[std::size_t(i * 3 * d + h * dh + c)] * qkv[std::size_t(j * 3 * d + d + h * dh + c)];
                    e[std::size_t(j)] = s / std::sqrt(double(dh));
                    mx = std::max(mx, e[std::size_t(j)]);
                }
                for (auto& v : e) sum += (v = std::exp(v - mx));
                for (index_t c = 0; c < dh; ++c) {
                    double o = 0;
                    for (index_t j = 0; j <= i; ++j) o += e[std::size_t(j)] / sum * qkv[std::size_t(j * 3 * d + 2 * d + h * dh + c)];
                    att[std::size_t(i * d + h * dh + c)] = o;
                }
            }
        const double* wo = w + 3 * d * d + 3 * d;
        for (index_t t = 0; t < steps; ++t)
            for (index_t o = 0; o < d; ++o) {
                double s = wo[d * d + o];
                for (index_t i = 0; i < d; ++i) s += wo[o * d + i] * att[std::size_t(t * d + i)];
                CHECK(y[(b * steps + t) * d + o] == doctest::Approx(s).epsilon(1e-12));
            }
    }
}
