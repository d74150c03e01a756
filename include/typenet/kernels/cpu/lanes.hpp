// kernels/cpu/lanes.hpp — one loop body for SIMD batches and a scalar tail, for pointwise kernels
// over several arrays at once (a recurrent cell's gates): the body is a generic lambda over the
// value type V, which is xsimd::batch<T> for the full batches and T for the tail.
//   for_lanes<T>(n, [&](auto v, index_t j) {
//       using V = decltype(v);
//       store(y + j, sigmoid_of(load<V>(x + j)));
//   });
#pragma once
#include <cmath>
#include <type_traits>

#include "typenet/kernels/cpu/common.hpp"

namespace typenet::kernels::cpu {

template <class V, class T> inline V load(const T* p) {
    if constexpr (std::is_floating_point_v<V>) return *p; else return V::load_unaligned(p);
}
template <class T, class V> inline void store(T* p, const V& v) {
    if constexpr (std::is_floating_point_v<V>) *p = v; else v.store_unaligned(p);
}
template <class V> inline V sigmoid_of(const V& x) {
    if constexpr (std::is_floating_point_v<V>) return V(1) / (V(1) + std::exp(-x));
    else return V(1) / (V(1) + xsimd::exp(-x));
}
template <class V> inline V tanh_of(const V& x) {
    if constexpr (std::is_floating_point_v<V>) return std::tanh(x); else return xsimd::tanh(x);
}

// f(V{}, j) for j = 0, w, 2w, ... over full batches of w = batch<T>::size, then f(T{}, j) for each
// j of the tail. noipa: the body (f) is inlined here, but a caller's constant n is not propagated
// in, where g++ 12 warns about the tail loop (-Waggressive-loop-optimizations) without cause.
template <class T, class Arch = arch, class F>
[[gnu::noipa]] inline void for_lanes(index_t n, F f) {
    using batch = xsimd::batch<T, Arch>;
    constexpr index_t w = batch::size;
    index_t j = 0;
    for (; j + w <= n; j += w) f(batch{}, j);
    for (; j < n; ++j) f(T{}, j);
}

}  // namespace typenet::kernels::cpu
