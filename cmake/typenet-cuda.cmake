# typenet_enable_cuda(<target> [PRIVATE|PUBLIC|INTERFACE]): <target> may include <typenet/cuda.hpp>
# and run models on an NVIDIA GPU. It compiles src/cuda/*.cu with nvcc once per build tree into the
# static library typenet_cuda (cuBLAS, and cuDNN where found), links it, and defines
# TYPENET_WITH_CUDA. The target's own sources stay C++ compiled by the C++ compiler: the library's
# interface (typenet/kernels/cuda/api.hpp) names no CUDA type.
#
# The CUDA language must be enabled first (enable_language(CUDA), or project(... CUDA)); the GPU
# architectures come from CMAKE_CUDA_ARCHITECTURES (typenet's own build: 90, the H100's, unless set).
# It returns FALSE in <target>_CUDA when CUDA is not usable, so callers can carry on without it.
set_property(GLOBAL PROPERTY TYPENET_CUDA_SOURCE_DIR "${TYPENET_CUDA_SOURCE_DIR}")

function(typenet_enable_cuda target)
    set(scope PRIVATE)
    if(ARGC GREATER 1)
        set(scope ${ARGV1})
    endif()
    get_property(languages GLOBAL PROPERTY ENABLED_LANGUAGES)
    if(NOT "CUDA" IN_LIST languages)
        message(FATAL_ERROR "typenet_enable_cuda(${target}): enable the CUDA language first (enable_language(CUDA))")
    endif()
    if(NOT TARGET typenet_cuda)
        find_package(CUDAToolkit REQUIRED)
        get_property(dir GLOBAL PROPERTY TYPENET_CUDA_SOURCE_DIR)
        add_library(typenet_cuda STATIC ${dir}/context.cu ${dir}/elementwise.cu ${dir}/norm_optim.cu ${dir}/sequence.cu
                                         ${dir}/attention.cu)
        target_link_libraries(typenet_cuda PUBLIC typenet::typenet CUDA::cudart CUDA::cublas)
        target_compile_features(typenet_cuda PUBLIC cxx_std_20)
        set_target_properties(typenet_cuda PROPERTIES POSITION_INDEPENDENT_CODE ON)
        # -std=c++20 by hand: CMake 3.25 has no CUDA_STANDARD 20 for nvcc.
        target_compile_options(typenet_cuda PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:-std=c++20 --expt-relaxed-constexpr>)
        # cuDNN: Debian's or the toolkit's (/usr/local/cuda ships it); without it, or with
        # TYPENET_CUDA_CUDNN=OFF, convolutions run as im2col + cuBLAS.
        option(TYPENET_CUDA_CUDNN "typenet_cuda: convolutions through cuDNN where it is found" ON)
        find_path(TYPENET_CUDNN_INCLUDE cudnn.h HINTS ${CUDAToolkit_INCLUDE_DIRS})
        find_library(TYPENET_CUDNN_LIBRARY cudnn HINTS ${CUDAToolkit_LIBRARY_DIR})
        if(TYPENET_CUDA_CUDNN AND TYPENET_CUDNN_INCLUDE AND TYPENET_CUDNN_LIBRARY)
            target_include_directories(typenet_cuda SYSTEM PRIVATE ${TYPENET_CUDNN_INCLUDE})
            target_link_libraries(typenet_cuda PRIVATE ${TYPENET_CUDNN_LIBRARY})
            target_compile_definitions(typenet_cuda PRIVATE TYPENET_CUDNN)
            message(STATUS "typenet: CUDA backend with cuDNN (${TYPENET_CUDNN_LIBRARY})")
        else()
            message(STATUS "typenet: CUDA backend without cuDNN: convolutions run as im2col + cuBLAS")
        endif()
        target_compile_definitions(typenet_cuda INTERFACE TYPENET_WITH_CUDA)
    endif()
    target_link_libraries(${target} ${scope} typenet_cuda)
endfunction()
