// core/random.hpp — a seeded generator whose streams are the same on every platform and compiler.
// std::normal_distribution and friends are implementation-defined, so we draw our own.
#pragma once
#include <array>
#include <bit>
#include <cmath>
#include <cstdint>
#include <numbers>

namespace typenet {

struct seed { std::uint64_t value = 0; };

// xoshiro256** (Blackman & Vigna), state filled by splitmix64 from the seed.
class rng {
public:
    // Everything that decides the next draws: saved and restored by checkpoints.
    struct state_type {
        std::uint64_t words[4]{};
        double spare = 0;               // normal()'s second value, when has_spare
        bool has_spare = false;
        bool operator==(const state_type&) const = default;
        // As six words (xoshiro's four, the spare's bits, the flag): how checkpoints and ranks carry it.
        std::array<std::uint64_t, 6> pack() const {
            return {words[0], words[1], words[2], words[3], std::bit_cast<std::uint64_t>(spare), has_spare ? 1u : 0u};
        }
        static state_type unpack(const std::array<std::uint64_t, 6>& w) {
            return {{w[0], w[1], w[2], w[3]}, std::bit_cast<double>(w[4]), w[5] != 0};
        }
    };
    explicit rng(seed s = {}) { reseed(s); }
    state_type state() const { return {{state_[0], state_[1], state_[2], state_[3]}, spare_, has_spare_}; }
    void set_state(const state_type& s) {
        for (int i = 0; i < 4; ++i) state_[i] = s.words[i];
        spare_ = s.spare;
        has_spare_ = s.has_spare;
    }
    void reseed(seed s) {
        std::uint64_t x = s.value;
        for (auto& w : state_) {
            x += 0x9e3779b97f4a7c15ull;
            std::uint64_t z = x;
            z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
            z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
            w = z ^ (z >> 31);
        }
        has_spare_ = false;
    }
    std::uint64_t next() {
        const std::uint64_t result = rotl(state_[1] * 5, 7) * 9;
        const std::uint64_t t = state_[1] << 17;
        state_[2] ^= state_[0];
        state_[3] ^= state_[1];
        state_[1] ^= state_[2];
        state_[0] ^= state_[3];
        state_[2] ^= t;
        state_[3] = rotl(state_[3], 45);
        return result;
    }
    double uniform() { return double(next() >> 11) * 0x1.0p-53; }              // [0, 1)
    double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
    std::uint64_t below(std::uint64_t n) {                                     // [0, n), unbiased
        const std::uint64_t limit = ~std::uint64_t{0} - (~std::uint64_t{0} % n);
        std::uint64_t r;
        do r = next(); while (r >= limit);
        return r % n;
    }
    double normal() {                                                          // N(0, 1), Box-Muller
        if (has_spare_) { has_spare_ = false; return spare_; }
        double u1;
        do u1 = uniform(); while (u1 <= 0.0);
        const double u2 = uniform();
        const double r = std::sqrt(-2.0 * std::log(u1));
        spare_ = r * std::sin(2.0 * std::numbers::pi * u2);
        has_spare_ = true;
        return r * std::cos(2.0 * std::numbers::pi * u2);
    }
    template <class It> void shuffle(It first, It last) {                      // Fisher-Yates
        for (auto n = last - first; n > 1; --n) {
            auto j = static_cast<decltype(n)>(below(static_cast<std::uint64_t>(n)));
            std::swap(first[n - 1], first[j]);
        }
    }

private:
    static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
    std::uint64_t state_[4]{};
    double spare_ = 0;
    bool has_spare_ = false;
};

}  // namespace typenet
