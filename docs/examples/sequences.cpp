// docs/examples/sequences.cpp — docs/sequences.md's program (CI builds it and runs it).
#include <typenet/data/text.hpp>
#include <typenet/train/sampling.hpp>
#include <typenet/typenet.hpp>
#include <iostream>
using namespace typenet;

constexpr std::size_t V = 32;                                 // token ids in [0, 32)
using char_model = network<tokens, embedding<V, 16>, lstm<64>, dense<V>>;

int main() {
    std::string text;
    for (int i = 0; i < 100; ++i) text += "the quick brown fox jumps over the lazy dog. ";
    const data::vocabulary vocab(data::text_unit::bytes, {text.begin(), text.end()});
    std::vector<data::token_t> ids;
    for (char c : text) ids.push_back(vocab.id(char32_t(c)));

    char_model model{seed{1}};
    optim::adam opt{model, {.lr = 1e-2}};
    const index_t B = 8, T = 32;                              // 8 streams, windows of 32 steps
    data::stream_batches windows(ids, B, T);
    std::vector<data::token_t> x(B * T), y(B * T);            // y: x one step on
    std::vector<float> xf(B * T), dy(B * T * V), state(B * char_model::carry_size);
    for (int epoch = 1; epoch <= 8; ++epoch) {
        windows.reset();
        std::fill(state.begin(), state.end(), 0.0f);          // each epoch starts the streams afresh
        float loss = 0;
        while (windows.next(x, y)) {
            std::copy(x.begin(), x.end(), xf.begin());
            // (B, T) ids -> (B, T, V) logits; the LSTM's state carried from window to window
            const float* logits = model.forward(B, T, xf.data(), mode::train, {state.data(), state.data()});
            loss = loss::cross_entropy{}(B * T, V, logits, y.data(), dy.data());
            model.zero_grad();
            model.backward(dy.data());
            optim::clip_grad_norm(model, 1.0);
            opt.step();
        }
        std::cout << "epoch " << epoch << ": loss " << loss << "\n";
    }

    rng gen{seed{2}};                                         // sampling: one step at a time
    std::vector<float> h(char_model::carry_size, 0.0f);
    std::string out = "the";
    const float* logits = nullptr;
    for (char c : out) {
        const float id = float(vocab.id(char32_t(c)));
        logits = model.forward(1, 1, &id, mode::infer, {h.data(), h.data()});
    }
    for (int i = 0; i < 60; ++i) {
        const auto next = sample_token(std::span(logits, vocab.size()), 0.5, 3, gen);   // the text's symbols
        out += char(vocab.symbol(data::token_t(next)));
        const float id = float(next);
        logits = model.forward(1, 1, &id, mode::infer, {h.data(), h.data()});
    }
    std::cout << out << "\n";
}
