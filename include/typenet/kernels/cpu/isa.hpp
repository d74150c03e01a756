// kernels/cpu/isa.hpp — the instruction sets the kernels are built for, what this CPU supports,
// and which one runs. Without TYPENET_DISPATCH a kernel runs on the ISA its translation unit is
// compiled for (the -m flags: `arch` below); with it, on the best of sse2 / avx2 / avx512 that the
// CPU and OS support, chosen once per process, capped by the environment variable TYPENET_ISA
// (as oneDNN's ONEDNN_MAX_CPU_ISA): TYPENET_ISA=avx2 runs an AVX-512 machine on AVX2 kernels.
#pragma once
#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace typenet::kernels::cpu {

// Ordered: a later one can run everything an earlier one can. `native` is a build without
// runtime dispatch (or not on x86-64): the compile-time ISA, whatever it is.
enum class isa { native, sse2, avx2, avx512 };

inline const char* isa_name(isa i) {
    switch (i) {
    case isa::sse2: return "sse2";
    case isa::avx2: return "avx2";
    case isa::avx512: return "avx512";
    default: return "native";
    }
}

// Whether this CPU, and the OS's saved register state, support `i`. avx2 means AVX2 + FMA;
// avx512 means the Skylake-X set (F, CD, BW, DQ, VL). __builtin_cpu_supports checks XGETBV too.
inline bool cpu_supports(isa i) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    switch (i) {
    case isa::sse2: return true;
    case isa::avx2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case isa::avx512:
        return cpu_supports(isa::avx2) && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512cd") &&
               __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
               __builtin_cpu_supports("avx512vl");
    default: return true;
    }
#else
    return i == isa::native;
#endif
}

namespace detail {
// The best ISA the CPU supports, at most TYPENET_ISA's. An unknown TYPENET_ISA is named on
// stderr and ignored: this runs before main, where an exception would end the process.
inline isa select_isa() {
    isa best = isa::sse2;
    for (isa i : {isa::avx2, isa::avx512})
        if (cpu_supports(i)) best = i;
    const char* cap = std::getenv("TYPENET_ISA");
    if (!cap || !*cap) return best;
    for (isa i : {isa::sse2, isa::avx2, isa::avx512})
        if (std::string_view(cap) == isa_name(i)) return i < best ? i : best;
    std::fprintf(stderr, "typenet: TYPENET_ISA='%s' is not one of sse2, avx2, avx512; using %s\n", cap, isa_name(best));
    return best;
}
}  // namespace detail

// The ISA the kernels run on in this process.
inline isa active_isa() {
#if defined(TYPENET_DISPATCH)
    static const isa chosen = detail::select_isa();
    return chosen;
#else
    return isa::native;
#endif
}

}  // namespace typenet::kernels::cpu
