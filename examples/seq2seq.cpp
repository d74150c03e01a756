// examples/seq2seq.cpp — an LSTM encoder-decoder that learns to spell English words backwards
// ("network" -> "krowten"), on the Debian word list (/usr/share/dict/american-english: the
// lower-case words of 3 to 10 letters). Two networks, two types: the encoder reads the word and
// hands its final LSTM state to the decoder, which writes the reversed word one letter at a time.
// Training uses teacher forcing (the decoder reads the true previous letter) and the gradient of
// the decoder's initial state flows back into the encoder; at test the decoder is greedy (it reads
// its own previous letter). Words are held out by word: the test words were never seen.
//   seq2seq [--epochs 6] [--batch 64] [--lr 2e-3] [--validation 0.1] [--limit N words]
// Prints 'train tokens/s: X', 'validation bits/char: Y' and 'held-out exact match: Z %'.
#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <exception>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <typenet/typenet.hpp>

#include "models.hpp"
#include "support/cli.hpp"

namespace {
using namespace typenet;
using examples::seq2seq_vocabulary;
constexpr int go = 26, eos = 27;                     // ids past the 26 letters
constexpr std::size_t min_len = 3, max_len = 10;
using encoder_t = examples::seq2seq_encoder;
using decoder_t = examples::seq2seq_decoder;
static_assert(encoder_t::carry_size == decoder_t::carry_size, "the decoder starts from the encoder's final state");

std::vector<std::string> read_words(const std::string& path) {
    std::ifstream f(path);
    if (!f) throw std::runtime_error("cannot open the word list '" + path + "' (Debian package wamerican; or --data FILE)");
    std::vector<std::string> words;
    for (std::string w; std::getline(f, w);)
        if (w.size() >= min_len && w.size() <= max_len &&
            std::all_of(w.begin(), w.end(), [](char c) { return c >= 'a' && c <= 'z'; }))
            words.push_back(w);
    if (words.empty())
        throw std::runtime_error("the word list '" + path + "' holds no lower-case words of " + std::to_string(min_len) +
                                 " to " + std::to_string(max_len) + " letters");
    return words;
}

// A batch of words of one length L: encoder input (B, L), decoder input <go> + reversed (B, L + 1)
// and its targets reversed + <eos> (B, L + 1): the decoder reads each letter before it predicts the next.
struct batch_data {
    index_t b = 0, len = 0;
    std::vector<float> enc, dec;
    std::vector<loss::label_t> target;
};
batch_data make_batch(const std::vector<const std::string*>& words) {
    batch_data d;
    d.b = index_t(words.size());
    d.len = index_t(words[0]->size());
    for (const auto* w : words) {
        for (char c : *w) d.enc.push_back(float(c - 'a'));
        d.dec.push_back(float(go));
        for (auto it = w->rbegin(); it != w->rend(); ++it) {
            d.dec.push_back(float(*it - 'a'));
            d.target.push_back(*it - 'a');
        }
        d.target.push_back(eos);
    }
    return d;
}

// Words grouped by length, cut into batches (no padding: every sequence of a batch has one length).
std::vector<batch_data> batches_of(std::vector<const std::string*> words, std::size_t batch, rng* shuffle) {
    if (shuffle)
        for (std::size_t i = words.size(); i > 1; --i) std::swap(words[i - 1], words[std::size_t(shuffle->uniform() * double(i))]);
    std::map<std::size_t, std::vector<const std::string*>> by_len;
    for (const auto* w : words) by_len[w->size()].push_back(w);
    std::vector<batch_data> out;
    for (auto& [len, ws] : by_len)
        for (std::size_t i = 0; i < ws.size(); i += batch)
            out.push_back(make_batch({ws.begin() + std::ptrdiff_t(i), ws.begin() + std::ptrdiff_t(std::min(ws.size(), i + batch))}));
    if (shuffle)
        for (std::size_t i = out.size(); i > 1; --i) std::swap(out[i - 1], out[std::size_t(shuffle->uniform() * double(i))]);
    return out;
}

// Greedy decoding of a batch: the letters up to <eos> (at most len + 1 steps).
std::vector<std::string> decode(encoder_t& enc, decoder_t& dec, const batch_data& d) {
    std::vector<float> state(std::size_t(d.b) * encoder_t::carry_size);
    enc.forward(d.b, d.len, d.enc.data(), mode::infer, {nullptr, state.data()});
    std::vector<float> x(std::size_t(d.b), float(go));
    std::vector<std::string> out(std::size_t(d.b));
    std::vector<bool> done(std::size_t(d.b), false);
    for (index_t t = 0; t <= d.len; ++t) {
        const float* y = dec.forward(d.b, 1, x.data(), mode::infer, {state.data(), state.data()});
        for (index_t i = 0; i < d.b; ++i) {
            const float* row = y + i * index_t(seq2seq_vocabulary);
            const auto id = int(std::max_element(row, row + seq2seq_vocabulary) - row);
            x[std::size_t(i)] = float(id);
            if (done[std::size_t(i)] || id == eos) done[std::size_t(i)] = true;
            else out[std::size_t(i)] += id < 26 ? char('a' + id) : '?';
        }
    }
    return out;
}

int run(const examples::text_options& o) {
    set_num_threads(o.threads);
    examples::print_kernels();
    const kernels::cpu::flush_denormals ftz;
    const std::string path = o.data.empty() ? "/usr/share/dict/american-english" : o.data;
    auto words = read_words(path);
    rng gen(seed{o.seed});
    for (std::size_t i = words.size(); i > 1; --i) std::swap(words[i - 1], words[std::size_t(gen.uniform() * double(i))]);
    if (o.limit > 0 && std::size_t(o.limit) < words.size()) words.resize(std::size_t(o.limit));
    const auto n_test = std::size_t(double(words.size()) * o.validation);
    if (n_test == 0 || n_test == words.size())
        throw std::runtime_error(std::to_string(words.size()) + " words leave no held-out or no training words at "
                                 "--validation " + std::to_string(o.validation));
    std::vector<const std::string*> train, test;
    for (std::size_t i = 0; i < words.size(); ++i) (i < n_test ? test : train).push_back(&words[i]);
    std::cout << "seq2seq: reverse English words, LSTM encoder-decoder\nencoder\n" << encoder_t::summary() << "decoder\n"
              << decoder_t::summary() << "words from " << path << ": " << train.size() << " train, " << test.size()
              << " held out (" << min_len << "-" << max_len << " letters)\n";

    auto enc = std::make_unique<encoder_t>(seed{o.seed});
    auto dec = std::make_unique<decoder_t>(seed{o.seed + 1});
    optim::adam opt_e(*enc, {.lr = o.lr});
    optim::adam opt_d(*dec, {.lr = o.lr});
    constexpr std::size_t V = seq2seq_vocabulary, C = encoder_t::carry_size;
    std::vector<float> state, dstate, dy, dy_enc;
    double seconds = 0;
    long tokens = 0, steps_done = 0;
    bool stop = false;
    const auto test_batches = batches_of(test, 256, nullptr);
    auto evaluate = [&](double& bits, double& exact) {
        double loss_sum = 0, count = 0, right = 0;
        for (const auto& d : test_batches) {
            state.assign(std::size_t(d.b) * C, 0.0f);
            enc->forward(d.b, d.len, d.enc.data(), mode::infer, {nullptr, state.data()});
            const float* y = dec->forward(d.b, d.len + 1, d.dec.data(), mode::infer, {state.data(), nullptr});
            const auto rows = index_t(d.target.size());
            loss_sum += double(loss::cross_entropy{}(rows, index_t(V), y, d.target.data())) * double(rows);
            count += double(rows);
            const auto got = decode(*enc, *dec, d);
            for (index_t i = 0; i < d.b; ++i) {
                std::string want;
                for (index_t t = 0; t < d.len; ++t) want += char('a' + d.target[std::size_t(i * (d.len + 1) + t)]);
                right += got[std::size_t(i)] == want;
            }
        }
        bits = loss_sum / count / std::log(2.0);
        exact = 100.0 * right / double(test.size());
    };
    double bits = 0, exact = 0;
    for (int epoch = 1; epoch <= o.epochs && !stop; ++epoch) {
        double loss_sum = 0;
        long n_batches = 0;
        for (const auto& d : batches_of(train, std::size_t(o.batch), &gen)) {
            const auto t0 = std::chrono::steady_clock::now();
            const std::size_t b = std::size_t(d.b), rows = d.target.size();
            state.assign(b * C, 0.0f);
            dstate.assign(b * C, 0.0f);
            dy.resize(rows * V);
            dy_enc.assign(std::size_t(d.b * d.len) * encoder_t::output_shape::size, 0.0f);
            enc->forward(d.b, d.len, d.enc.data(), mode::train, {nullptr, state.data()});
            const float* y = dec->forward(d.b, d.len + 1, d.dec.data(), mode::train, {state.data(), nullptr});
            loss_sum += double(loss::cross_entropy{}(index_t(rows), index_t(V), y, d.target.data(), dy.data()));
            enc->zero_grad();
            dec->zero_grad();
            dec->backward(dy.data(), nullptr, {nullptr, dstate.data()});         // dL/d(decoder's initial state)
            enc->backward(dy_enc.data(), nullptr, {dstate.data(), nullptr});     // ... is dL/d(encoder's final state)
            if (o.clip > 0) {
                optim::clip_grad_norm(*enc, o.clip);
                optim::clip_grad_norm(*dec, o.clip);
            }
            opt_e.step();
            opt_d.step();
            seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            tokens += long(d.enc.size() + d.dec.size());
            ++n_batches;
            if (o.max_steps > 0 && ++steps_done >= o.max_steps) {
                stop = true;
                break;
            }
        }
        evaluate(bits, exact);
        std::printf("epoch %d: train loss %.4f, held-out %.4f bits/char, exact match %.2f %%, %.0f tokens/s\n", epoch,
                    loss_sum / double(std::max(n_batches, 1L)), bits, exact, double(tokens) / seconds);
        std::fflush(stdout);
        opt_e.set_lr(opt_e.lr() * 0.85);
        opt_d.set_lr(opt_d.lr() * 0.85);
    }
    if (o.epochs == 0) evaluate(bits, exact);
    std::printf("train tokens/s: %.0f\n", tokens ? double(tokens) / seconds : 0.0);
    std::printf("validation bits/char: %.4f\n", bits);
    std::printf("held-out exact match: %.2f %%\n", exact);
    const auto& sample = test_batches.back();   // the longest words
    const auto got = decode(*enc, *dec, sample);
    std::cout << "samples (held-out words):\n";
    for (index_t i = 0; i < std::min<index_t>(sample.b, 8); ++i) {
        std::string word;
        for (index_t t = 0; t < sample.len; ++t) word += char('a' + int(sample.enc[std::size_t(i * sample.len + t)]));
        std::cout << "  " << word << " -> " << got[std::size_t(i)] << "\n";
    }
    return 0;
}
}  // namespace

int main(int argc, char** argv) {
    examples::text_options defaults;
    defaults.epochs = 6;
    defaults.batch = 64;
    defaults.lr = 2e-3;
    defaults.sample = 0;
    const auto o = examples::parse_text(argc, argv, "LSTM encoder-decoder: English words spelled backwards", defaults);
    try {
        return run(o);
    } catch (const std::exception& e) {
        std::cerr << "seq2seq: " << e.what() << "\n";
        return 1;
    }
}
