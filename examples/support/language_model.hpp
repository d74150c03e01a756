// examples/support/language_model.hpp — the character language models' shared run (char_lstm,
// char_gpt): read the corpus, train with Adam on contiguous windows, report validation bits per
// character, then sample. A recurrent model (Net::carry_size > 0) carries its state from window to
// window (truncated BPTT) and samples one character at a time; a transformer sees each window
// alone and samples from its last `context` characters.
#pragma once
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <typenet/data/text.hpp>
#include <typenet/io.hpp>
#include <typenet/train/sampling.hpp>
#include <typenet/typenet.hpp>

#include "support/cli.hpp"
#ifdef TYPENET_WITH_CUDA
#include <typenet/cuda.hpp>
#endif

namespace typenet::examples {

inline std::filesystem::path fortunes_path(const text_options& o) {
    return o.data.empty() ? std::filesystem::path("/usr/share/games/fortunes") : std::filesystem::path(o.data);
}

// Mean cross-entropy (nats per token) of `tokens` read as `batch` streams of `steps`-token windows,
// in eval mode, the recurrent state carried from window to window.
template <class Net>
double mean_loss(Net& net, const std::vector<data::token_t>& tokens, index_t batch, index_t steps) {
    constexpr std::size_t V = Net::output_shape::size;
    batch = std::min<index_t>(batch, index_t(tokens.size() / std::size_t(steps + 1)));
    data::stream_batches windows(tokens, std::size_t(batch), std::size_t(steps));
    const std::size_t n = std::size_t(batch * steps);
    std::vector<data::token_t> xi(n), yi(n);
    std::vector<float> x(n), state(std::size_t(batch) * Net::carry_size, 0.0f);
    double sum = 0;
    std::size_t count = 0;
    while (windows.next(xi, yi)) {
        std::copy(xi.begin(), xi.end(), x.begin());
        const float* y = net.forward(batch, steps, x.data(), mode::infer,
                                     Net::carry_size ? recurrent_state<float>{state.data(), state.data()}
                                                     : recurrent_state<float>{});
        sum += double(loss::cross_entropy{}(index_t(n), index_t(V), y, yi.data())) * double(n);
        count += n;
    }
    return sum / double(count);
}

// --sample characters after --prime, drawn with the options' temperature and top-k.
template <class Net>
std::string sample_text(Net& net, const data::vocabulary& vocab, const text_options& o, index_t context, rng& gen) {
    constexpr std::size_t V = Net::output_shape::size;
    std::vector<data::token_t> text;
    for (char32_t s : data::detail::decode_utf8(o.prime.empty() ? std::string("\n") : o.prime, "--prime")) {
        if (!vocab.contains(s)) {
            char code[16];
            std::snprintf(code, sizeof code, "U+%04X", unsigned(s));
            throw std::invalid_argument(std::string("--prime: the character ") + code + " is not in the corpus's vocabulary");
        }
        text.push_back(vocab.id(s));
    }
    std::vector<float> state(Net::carry_size, 0.0f), x;
    std::span<const float> logits;
    if constexpr (Net::carry_size > 0) {                      // the prime once, then a step per character
        x.assign(text.begin(), text.end());
        const float* y = net.forward(1, index_t(x.size()), x.data(), mode::infer, {state.data(), state.data()});
        logits = std::span<const float>(y + (x.size() - 1) * V, V);
    }
    for (long i = 0; i < o.sample; ++i) {
        if constexpr (Net::carry_size == 0) {                 // the last `context` characters each time
            const std::size_t w = std::min<std::size_t>(text.size(), std::size_t(context));
            x.assign(text.end() - std::ptrdiff_t(w), text.end());
            const float* y = net.forward(1, index_t(w), x.data(), mode::infer);
            logits = std::span<const float>(y + (w - 1) * V, V);
        }
        // the model has V outputs, the corpus fewer symbols: only theirs can be drawn
        const auto next = data::token_t(sample_token(logits.first(vocab.size()), o.temperature, std::size_t(o.top_k), gen));
        text.push_back(next);
        if constexpr (Net::carry_size > 0) {
            const float id = float(next);
            logits = std::span<const float>(net.forward(1, 1, &id, mode::infer, {state.data(), state.data()}), V);
        }
    }
    return vocab.decode(text);
}

// The whole run; returns the exit status.
template <class Net>
int run_language_model(const text_options& o, const std::string& title, index_t context = 0) {
    constexpr std::size_t V = Net::output_shape::size;
    set_num_threads(o.threads);
    print_kernels();
    const kernels::cpu::flush_denormals ftz;
    const auto path = fortunes_path(o);
    auto corpus = data::read_corpus(path, data::text_unit::utf8);
    if (corpus.vocab.size() > V)
        throw std::runtime_error("the corpus '" + path.string() + "' has " + std::to_string(corpus.vocab.size()) +
                                 " distinct characters; this model's vocabulary holds " + std::to_string(V));
    if (o.limit > 0 && std::size_t(o.limit) < corpus.tokens.size()) corpus.tokens.resize(std::size_t(o.limit));
    if (!o.vocab.empty()) corpus.vocab.save(o.vocab);
    auto [train, val] = data::split(corpus.tokens, o.validation);
    const index_t b = o.batch, t = o.steps;
    data::stream_batches windows(train, std::size_t(b), std::size_t(t));   // throws when too short
    std::cout << title << "\n" << Net::summary() << "corpus " << path.string() << ": " << corpus.tokens.size()
              << " characters, vocabulary " << corpus.vocab.size() << " (model " << V << "), " << train.size()
              << " train / " << val.size() << " validation\n";

    auto net = std::make_unique<Net>(seed{o.seed});
    rng gen(seed{o.seed ^ 0x5a5a5a5aull});
    const std::size_t n = std::size_t(b * t);
    std::vector<data::token_t> xi(n), yi(n);
    std::vector<float> x(n), dy(n * V), state(std::size_t(b) * Net::carry_size);
    if (val.size() <= std::size_t(t + 1))
        throw std::runtime_error("the validation text (" + std::to_string(val.size()) + " characters) is shorter than "
                                 "one window of " + std::to_string(t) + " and its target: raise --validation or --limit");
    double seconds = 0, val_loss = NAN;
    long tokens = 0, steps_done = 0;
    // The same loop for the host network and for its copy on a GPU (--device cuda); clip is
    // optim::clip_grad_norm or cuda::clip_grad_norm.
    auto fit_windows = [&](auto& model, auto& opt, auto clip) {
        bool stop = false;
        for (int epoch = 1; epoch <= o.epochs && !stop; ++epoch) {
            windows.reset();
            std::fill(state.begin(), state.end(), 0.0f);
            double loss_sum = 0;
            long batches = 0;
            while (!stop && windows.next(xi, yi)) {
                const auto t0 = std::chrono::steady_clock::now();
                std::copy(xi.begin(), xi.end(), x.begin());
                const float* y = model.forward(b, t, x.data(), mode::train,
                                               Net::carry_size ? recurrent_state<float>{state.data(), state.data()}
                                                               : recurrent_state<float>{});
                loss_sum += double(loss::cross_entropy{}(index_t(n), index_t(V), y, yi.data(), dy.data()));
                model.zero_grad();
                model.backward(dy.data());
                if (o.clip > 0) clip(model, o.clip);
                opt.step();
                seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
                tokens += long(n);
                ++batches;
                stop = o.max_steps > 0 && ++steps_done >= o.max_steps;
            }
            val_loss = mean_loss(model, val, b, t);
            std::printf("epoch %d: train loss %.4f (%.3f bits/char), validation %.3f bits/char, %.0f tokens/s\n", epoch,
                        loss_sum / double(std::max(batches, 1L)), loss_sum / double(std::max(batches, 1L)) / std::log(2.0),
                        val_loss / std::log(2.0), double(tokens) / seconds);
            std::fflush(stdout);
        }
        if (std::isnan(val_loss)) val_loss = mean_loss(model, val, b, t);    // no epoch ran
    };
    if (o.device != "cpu") {
#ifdef TYPENET_WITH_CUDA
        cuda::model<Net> gpu{*net, cuda_ordinal(o.device)};
        std::cout << "device: " << gpu.on().name() << "\n";
        cuda::adam opt(gpu, {.lr = o.lr});
        fit_windows(gpu, opt, [](auto& m, double c) { return cuda::clip_grad_norm(m, c); });
        gpu.copy_to(*net);                                  // the weights come back to be saved and sampled
#else
        throw std::runtime_error("--device " + o.device + ": this build has no CUDA backend (configure with nvcc "
                                 "present, TYPENET_CUDA=AUTO or ON)");
#endif
    } else {
        optim::adam opt(*net, {.lr = o.lr});
        fit_windows(*net, opt, [](auto& m, double c) { return optim::clip_grad_norm(m, c); });
    }
    std::printf("train tokens/s: %.0f\n", tokens ? double(tokens) / seconds : 0.0);
    std::printf("validation bits/char: %.4f\n", val_loss / std::log(2.0));
    if (!o.weights.empty()) {
        io::save(*net, o.weights);
        std::cout << "weights written to " << o.weights << "\n";
    }
    if (o.sample > 0) {
        std::cout << "sample (temperature " << o.temperature << ", top-k " << o.top_k << "):\n"
                  << sample_text(*net, corpus.vocab, o, context > 0 ? context : t, gen) << "\n";
    }
    return 0;
}

}  // namespace typenet::examples
