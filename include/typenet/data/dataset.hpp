// data/dataset.hpp — samples in memory: x (N, sample...) as scalars, targets (N) class labels.
#pragma once
#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "typenet/core/aligned.hpp"

namespace typenet::data {

template <class T = float, class Target = std::int32_t>
struct dataset {
    using scalar = T;
    using target_type = Target;
    std::vector<std::size_t> sample_shape;   // per-sample extents, e.g. (1, 28, 28)
    aligned_vector<T> x;                      // (N, sample...)
    std::vector<Target> y;                    // (N) labels
    std::size_t classes = 0;                  // labels lie in [0, classes) when > 0

    std::size_t sample_size() const {
        std::size_t n = 1;
        for (auto e : sample_shape) n *= e;
        return n;
    }
    std::size_t size() const { return y.size(); }
    bool empty() const { return y.empty(); }

    // Samples [first, first + count), copied.
    dataset slice(std::size_t first, std::size_t count) const {
        if (first > size() || count > size() - first)
            throw std::out_of_range("typenet: dataset::slice: [" + std::to_string(first) + ", " +
                                    std::to_string(first + count) + ") is outside the " + std::to_string(size()) +
                                    " samples");
        const std::size_t s = sample_size();
        dataset d{sample_shape, {}, {}, classes};
        d.x.assign(x.begin() + std::ptrdiff_t(first * s), x.begin() + std::ptrdiff_t((first + count) * s));
        d.y.assign(y.begin() + std::ptrdiff_t(first), y.begin() + std::ptrdiff_t(first + count));
        return d;
    }
    // The first `count` samples (all when count >= size): a --limit.
    dataset head(std::size_t count) const { return slice(0, std::min(count, size())); }

    // x := (x - mean) / stddev, every value (torchvision's Normalize with one channel).
    dataset& standardize(double mean, double stddev) {
        if (!(stddev > 0.0))
            throw std::invalid_argument("typenet: dataset::standardize: stddev must be > 0, got " + std::to_string(stddev));
        const T m = T(mean), inv = T(1.0 / stddev);
        for (auto& v : x) v = (v - m) * inv;
        return *this;
    }
};

}  // namespace typenet::data
