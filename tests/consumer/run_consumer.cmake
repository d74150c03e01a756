# Builds and runs tests/consumer/project against typenet as a user would get it.
#   MODE=install:      cmake --install into a temp prefix, then find_package(typenet) and pkg-config
#   MODE=subdirectory: add_subdirectory(<typenet source>)
set(work ${WORK_DIR}/${MODE})
file(REMOVE_RECURSE ${work})
file(MAKE_DIRECTORY ${work})
include(${CMAKE_CURRENT_LIST_DIR}/../support/run_checked.cmake)

set(common -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER=${CXX} -DTYPENET_CONSUMER_MODE=${MODE})
if(CUDA_COMPILER)   # the CUDA backend too, as a user with nvcc builds it
    list(APPEND common -DCMAKE_CUDA_COMPILER=${CUDA_COMPILER})
endif()
if(MODE STREQUAL "install")
    set(prefix ${work}/prefix)
    # Configure a fresh typenet build tree (the same sources), install it, then consume it.
    run(${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${work}/typenet-build -DTYPENET_BUILD_TESTS=OFF
        -DTYPENET_BUILD_EXAMPLES=OFF -DTYPENET_BUILD_BENCH=OFF -DCMAKE_INSTALL_PREFIX=${prefix})
    run(${CMAKE_COMMAND} --install ${work}/typenet-build)
    run(${CMAKE_COMMAND} -S ${SOURCE_DIR}/tests/consumer/project -B ${work}/build ${common}
        -DCMAKE_PREFIX_PATH=${prefix})
    run(${CMAKE_COMMAND} --build ${work}/build)
    run(${work}/build/consumer)
    run(${work}/build/consumer_dispatch)
    if(CUDA_COMPILER)
        run(${work}/build/consumer_cuda)
    endif()
    # pkg-config: one compiler line.
    find_program(PKG_CONFIG pkg-config)
    if(PKG_CONFIG)
        set(ENV{PKG_CONFIG_PATH} ${prefix}/share/pkgconfig)
        execute_process(COMMAND ${PKG_CONFIG} --cflags --libs typenet OUTPUT_VARIABLE pc RESULT_VARIABLE rc
                        OUTPUT_STRIP_TRAILING_WHITESPACE)
        if(NOT rc EQUAL 0)
            message(FATAL_ERROR "pkg-config --cflags --libs typenet failed")
        endif()
        separate_arguments(pc UNIX_COMMAND "${pc}")
        run(${CXX} -O2 -DTYPENET_CONSUMER_MODE="pkg-config" ${SOURCE_DIR}/tests/consumer/project/main.cpp ${pc}
            -o ${work}/consumer-pc)
        run(${work}/consumer-pc)
    endif()
else()
    run(${CMAKE_COMMAND} -S ${SOURCE_DIR}/tests/consumer/project -B ${work}/build ${common}
        -DTYPENET_SOURCE_DIR=${SOURCE_DIR})
    run(${CMAKE_COMMAND} --build ${work}/build)
    run(${work}/build/consumer)
    run(${work}/build/consumer_dispatch)
    if(CUDA_COMPILER)
        run(${work}/build/consumer_cuda)
    endif()
endif()
