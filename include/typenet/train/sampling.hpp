// train/sampling.hpp — drawing the next token of a language model from its logits: temperature and
// top-k, from the caller's seeded generator (the same seed gives the same text).
//   const float* y = net.forward(1, 1, &x, mode::infer, {h.data(), h.data()});
//   x = float(sample_token(std::span(y, V), 0.8, 10, gen));
#pragma once
#include <algorithm>
#include <cmath>
#include <numeric>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "typenet/core/random.hpp"
#include "typenet/core/shape.hpp"

namespace typenet {

// An id drawn with probability softmax(logits / temperature) among the top_k largest logits (0 or
// >= size: all of them). temperature must be > 0; small values approach the argmax.
template <class T>
index_t sample_token(std::span<const T> logits, double temperature, std::size_t top_k, rng& gen) {
    if (logits.empty()) throw std::invalid_argument("typenet: sample_token: no logits");
    if (!(temperature > 0.0))
        throw std::invalid_argument("typenet: sample_token: temperature must be > 0, got " + std::to_string(temperature));
    const std::size_t n = logits.size(), k = top_k == 0 || top_k > n ? n : top_k;
    std::vector<index_t> ids(n);
    std::iota(ids.begin(), ids.end(), index_t(0));
    std::partial_sort(ids.begin(), ids.begin() + std::ptrdiff_t(k), ids.end(),
                      [&](index_t a, index_t b) { return logits[std::size_t(a)] > logits[std::size_t(b)]; });
    const double top = double(logits[std::size_t(ids[0])]);
    std::vector<double> w(k);
    double sum = 0;
    for (std::size_t i = 0; i < k; ++i) sum += (w[i] = std::exp((double(logits[std::size_t(ids[i])]) - top) / temperature));
    if (!std::isfinite(sum)) throw std::invalid_argument("typenet: sample_token: the logits are not finite");
    double u = gen.uniform() * sum;
    for (std::size_t i = 0; i < k; ++i) {
        if (u < w[i]) return ids[i];
        u -= w[i];
    }
    return ids[k - 1];
}

}  // namespace typenet
