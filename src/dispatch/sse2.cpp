// src/dispatch/sse2.cpp — typenet's kernels for SSE2, the x86-64 baseline every such CPU has, for
// runtime dispatch (kernels/cpu/dispatch.hpp). Compiled with no ISA flags.
#if !defined(__SSE2__)
#error "typenet: src/dispatch/sse2.cpp is for x86-64"
#endif
#include <typenet/kernels/cpu/dispatch_table.hpp>

namespace typenet::kernels::cpu {
template <> const kernel_table<float>& table_for<float, isa::sse2>() { return make_kernel_table<float, xsimd::sse2>(isa::sse2); }
template <> const kernel_table<double>& table_for<double, isa::sse2>() { return make_kernel_table<double, xsimd::sse2>(isa::sse2); }
}  // namespace typenet::kernels::cpu
