// src/dispatch/avx2.cpp — typenet's kernels for AVX2 + FMA (Haswell, Zen 1-3 and later), for
// runtime dispatch (kernels/cpu/dispatch.hpp). Compile with -mavx2 -mfma: typenet_enable_dispatch()
// in CMake does.
#if !defined(__AVX2__) || !defined(__FMA__)
#error "typenet: compile src/dispatch/avx2.cpp with -mavx2 -mfma"
#endif
#include <typenet/kernels/cpu/dispatch_table.hpp>

namespace typenet::kernels::cpu {
using avx2_arch = xsimd::fma3<xsimd::avx2>;
template <> const kernel_table<float>& table_for<float, isa::avx2>() { return make_kernel_table<float, avx2_arch>(isa::avx2); }
template <> const kernel_table<double>& table_for<double, isa::avx2>() { return make_kernel_table<double, avx2_arch>(isa::avx2); }
}  // namespace typenet::kernels::cpu
