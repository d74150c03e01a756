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
