// tests/cuda/no_device_test.cpp — what a program built with the CUDA backend does on a machine
// without a GPU (or without a driver): it says so, in CUDA's words, and throws; it never crashes.
#include <doctest/doctest.h>

#include <typenet/cuda.hpp>

using namespace typenet;

TEST_CASE("without a GPU: no devices, the reason in words, and a clear error on use") {
    if (cuda::available()) {
        MESSAGE("a GPU is present (" << cuda::device(0).name() << "): tests/cuda/backend_test covers it");
        CHECK(cuda::device_count() > 0);
        CHECK(cuda::unavailable_reason().empty());
        return;
    }
    CHECK(cuda::device_count() == 0);
    const std::string why = cuda::unavailable_reason();
    CHECK(!why.empty());
    using net = network<input<4>, dense<2>>;
    net host;
    CHECK_THROWS_WITH_AS(cuda::model<net>{host}, doctest::Contains("device 0 asked for, 0 present"), cuda::cuda_error);
    CHECK_THROWS_WITH_AS(cuda::device{}, doctest::Contains(why.c_str()), cuda::cuda_error);
}
