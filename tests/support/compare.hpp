// tests/support/compare.hpp — the error measure the kernel tests share.
#pragma once
#include <algorithm>
#include <cmath>
#include <vector>

namespace typenet::test {

// max_i |a_i - b_i| / max(1, |b_i|): relative where values are large, absolute near zero.
template <class T>
double max_rel_diff(const std::vector<T>& a, const std::vector<T>& b) {
    double e = 0;
    for (std::size_t i = 0; i < a.size(); ++i)
        e = std::max(e, std::abs(double(a[i]) - double(b[i])) / std::max(1.0, std::abs(double(b[i]))));
    return e;
}

}  // namespace typenet::test
