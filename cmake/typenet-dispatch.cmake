# typenet_enable_dispatch(<target> [PRIVATE|PUBLIC|INTERFACE]): typenet's kernels in <target> pick the instruction set at run
# time (sse2, avx2 + fma, avx512), so one binary built for generic x86-64 runs the best kernels the
# CPU has. It compiles src/dispatch/{sse2,avx2,avx512}.cpp once per build tree, each with its ISA's
# flags, into the static library typenet_dispatch, links it, and defines TYPENET_DISPATCH.
# Elsewhere than x86-64 with GCC or Clang it does nothing: the kernels use the target's own flags.
set_property(GLOBAL PROPERTY TYPENET_DISPATCH_SOURCE_DIR "${TYPENET_DISPATCH_SOURCE_DIR}")

function(typenet_enable_dispatch target)
    set(scope PRIVATE)
    if(ARGC GREATER 1)
        set(scope ${ARGV1})
    endif()
    if(NOT CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|AMD64|amd64)$" OR NOT CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
        return()
    endif()
    if(NOT TARGET typenet_dispatch)
        get_property(dir GLOBAL PROPERTY TYPENET_DISPATCH_SOURCE_DIR)
        add_library(typenet_dispatch STATIC ${dir}/sse2.cpp ${dir}/avx2.cpp ${dir}/avx512.cpp)
        set_source_files_properties(${dir}/avx2.cpp PROPERTIES COMPILE_OPTIONS "-mavx2;-mfma")
        set_source_files_properties(${dir}/avx512.cpp PROPERTIES COMPILE_OPTIONS
            "-mavx512f;-mavx512cd;-mavx512bw;-mavx512dq;-mavx512vl;-mavx2;-mfma")
        target_link_libraries(typenet_dispatch PUBLIC typenet::typenet)
        target_compile_definitions(typenet_dispatch INTERFACE TYPENET_DISPATCH)
    endif()
    target_link_libraries(${target} ${scope} typenet_dispatch)
endfunction()
