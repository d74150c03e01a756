// src/dispatch/avx512.cpp — typenet's kernels for AVX-512 (F, CD, BW, DQ, VL: Skylake-X, Ice Lake,
// Sapphire Rapids, Zen 4), for runtime dispatch (kernels/cpu/dispatch.hpp). Compile with
// -mavx512f -mavx512cd -mavx512bw -mavx512dq -mavx512vl -mavx2 -mfma: typenet_enable_dispatch()
// in CMake does.
#if !defined(__AVX512F__) || !defined(__AVX512CD__) || !defined(__AVX512BW__) || !defined(__AVX512DQ__) || \
    !defined(__AVX512VL__) || !defined(__FMA__)
#error "typenet: compile src/dispatch/avx512.cpp with -mavx512f -mavx512cd -mavx512bw -mavx512dq -mavx512vl -mavx2 -mfma"
#endif
#include <typenet/kernels/cpu/dispatch_table.hpp>

namespace typenet::kernels::cpu {
template <> const kernel_table<float>& table_for<float, isa::avx512>() { return make_kernel_table<float, xsimd::avx512bw>(isa::avx512); }
template <> const kernel_table<double>& table_for<double, isa::avx512>() { return make_kernel_table<double, xsimd::avx512bw>(isa::avx512); }
}  // namespace typenet::kernels::cpu
