// core/init.hpp — weight initialisers, drawn from the network's seeded generator.
// fan_in / fan_out as torch.nn.init computes them for a (out, in, k...) weight.
#pragma once
#include <cmath>
#include <cstddef>

#include "typenet/core/random.hpp"

namespace typenet::init {

// torch.nn.Linear / Conv2d default: kaiming_uniform(a = sqrt 5), i.e. U(-1/sqrt(fan_in), +).
struct torch_default {
    template <class T> static void weight(T* w, std::size_t n, std::size_t fan_in, std::size_t, rng& g) {
        const double b = 1.0 / std::sqrt(double(fan_in));
        for (std::size_t i = 0; i < n; ++i) w[i] = T(g.uniform(-b, b));
    }
};
// He et al. 2015 for ReLU nets: N(0, 2 / fan_in).
struct kaiming_normal {
    template <class T> static void weight(T* w, std::size_t n, std::size_t fan_in, std::size_t, rng& g) {
        const double s = std::sqrt(2.0 / double(fan_in));
        for (std::size_t i = 0; i < n; ++i) w[i] = T(s * g.normal());
    }
};
// U(-b, b), b = sqrt(6 / fan_in): the uniform twin of kaiming_normal.
struct kaiming_uniform {
    template <class T> static void weight(T* w, std::size_t n, std::size_t fan_in, std::size_t, rng& g) {
        const double b = std::sqrt(6.0 / double(fan_in));
        for (std::size_t i = 0; i < n; ++i) w[i] = T(g.uniform(-b, b));
    }
};
// Glorot & Bengio 2010: U(-b, b), b = sqrt(6 / (fan_in + fan_out)).
struct xavier_uniform {
    template <class T> static void weight(T* w, std::size_t n, std::size_t fan_in, std::size_t fan_out, rng& g) {
        const double b = std::sqrt(6.0 / double(fan_in + fan_out));
        for (std::size_t i = 0; i < n; ++i) w[i] = T(g.uniform(-b, b));
    }
};
// N(0, 2 / (fan_in + fan_out)).
struct xavier_normal {
    template <class T> static void weight(T* w, std::size_t n, std::size_t fan_in, std::size_t fan_out, rng& g) {
        const double s = std::sqrt(2.0 / double(fan_in + fan_out));
        for (std::size_t i = 0; i < n; ++i) w[i] = T(s * g.normal());
    }
};

// Biases as torch does for every initialiser: U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
template <class T> void bias(T* b, std::size_t n, std::size_t fan_in, rng& g) {
    const double r = 1.0 / std::sqrt(double(fan_in));
    for (std::size_t i = 0; i < n; ++i) b[i] = T(g.uniform(-r, r));
}

template <class I>
concept initializer = requires(float* w, rng& g) { I::weight(w, std::size_t{}, std::size_t{}, std::size_t{}, g); };

}  // namespace typenet::init
