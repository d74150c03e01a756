// tests/support/data.hpp — small synthetic data sets the training tests share.
#pragma once
#include <cstdint>

#include "typenet/core/random.hpp"
#include "typenet/data/dataset.hpp"

namespace typenet::test {

// Two classes of points in [-1, 1]^2: inside / outside the circle of radius 0.6 (not linearly
// separable, so a hidden layer has to learn something).
inline data::dataset<float> circle(int n, std::uint64_t s) {
    data::dataset<float> d;
    d.sample_shape = {2};
    d.classes = 2;
    rng g(seed{s});
    for (int i = 0; i < n; ++i) {
        const double a = g.uniform(-1, 1), b = g.uniform(-1, 1);
        d.x.push_back(float(a));
        d.x.push_back(float(b));
        d.y.push_back(a * a + b * b < 0.36 ? 1 : 0);
    }
    return d;
}

}  // namespace typenet::test
