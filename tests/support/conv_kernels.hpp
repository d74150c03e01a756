// tests/support/conv_kernels.hpp — what the convolution kernel tests share: a platform-independent
// sampler of ragged geometries, the reference results' shape, an error measure that prints the
// first mismatch, and a guard that restores the thread count.
#pragma once
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "typenet/kernels/cpu/common.hpp"

namespace typenet::test {
using kernels::cpu::index_t;

// splitmix64: the same sample of geometries on every platform.
struct draw {
    std::uint64_t state;
    std::uint64_t next() {
        std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
    }
    index_t in(index_t lo, index_t hi) { return lo + index_t(next() % std::uint64_t(hi - lo + 1)); }   // [lo, hi]
    double uniform() { return double(next() >> 11) * 0x1.0p-53 * 2 - 1; }                              // [-1, 1)
};

// y and the three gradients of a reference (direct) convolution.
struct conv_ref_result {
    std::vector<double> y, dx, dw, db;
};

// The largest relative error, printing the first element past 1e-11.
inline double max_error(const std::vector<double>& got, const std::vector<double>& expected, const char* what,
                 const std::string& config) {
    REQUIRE_MESSAGE(got.size() == expected.size(), config, " ", what);
    double e = 0;
    for (std::size_t i = 0; i < got.size(); ++i) {
        const double err = std::abs(got[i] - expected[i]) / std::max(1.0, std::abs(expected[i]));
        if (!(err <= 1e-11) && e <= 1e-11)
            MESSAGE(config, " ", what, "[", i, "]: got ", got[i], ", expected ", expected[i]);
        if (!(err <= e)) e = err;
    }
    return e;
}

inline index_t pick_divisor(index_t a, index_t b, draw& d) {   // a random common divisor of a and b
    std::vector<index_t> divs;
    for (index_t k = 1; k <= std::min(a, b); ++k)
        if (a % k == 0 && b % k == 0) divs.push_back(k);
    return divs[std::size_t(d.in(0, index_t(divs.size()) - 1))];
}

struct restore_threads {
    int saved = typenet::kernels::cpu::max_threads();
    ~restore_threads() { typenet::kernels::cpu::set_num_threads(saved); }
};

}  // namespace typenet::test
