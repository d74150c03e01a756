// fuzz/checkpoint_fuzz.cpp — libFuzzer target for io::load_checkpoint (metadata, rng states,
// fit.order, optimizer buffers, then the model's tensors). It reads a path, so each input is written
// to a memfd and read back through /proc/self/fd/N. Built and run by scripts/fuzz.sh; seeds in
// fuzz/corpus/checkpoint/ (fuzz/make_seeds.cpp). No batch_norm or relu in the network: clang 14
// cannot compile layers/norm.hpp and layers/activation.hpp (double template arguments, clang 18+).
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

#include "typenet/layers/dense.hpp"
#include "typenet/optim/optimizers.hpp"
#include "typenet/train/checkpoint.hpp"

namespace {
// As in fuzz/make_seeds.cpp.
using net = typenet::network<typenet::input<2>, typenet::dense<4>, typenet::dense<2>>;
const bool verbose = std::getenv("FUZZ_VERBOSE") != nullptr;   // print each input's error

int input_fd() {
    static const int fd = [] {
        const int f = ::memfd_create("checkpoint_fuzz", 0);
        if (f < 0) std::abort();
        return f;
    }();
    return fd;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const int fd = input_fd();
    if (::ftruncate(fd, 0) != 0) std::abort();
    for (std::size_t at = 0; at < size;) {
        const ssize_t n = ::pwrite(fd, data + at, size - at, off_t(at));
        if (n <= 0) std::abort();
        at += std::size_t(n);
    }
    static const std::string path = "/proc/self/fd/" + std::to_string(fd);
    try {
        net model;
        typenet::optim::adam<net> opt{model};
        const typenet::fit_state st = typenet::io::load_checkpoint(path, model, opt);
        if (verbose) std::fprintf(stderr, "loaded: epoch %d, sample %zu of %zu\n", st.epoch, st.next, st.order.size());
    } catch (const std::exception& e) {
        if (verbose) std::fprintf(stderr, "%s\n", e.what());
    }
    // A reader that leaks its file shows as a lowest free descriptor that keeps growing.
    const int probe = ::open("/dev/null", O_RDONLY);
    ::close(probe);
    static const int first_probe = probe;
    if (probe > first_probe + 16) {
        std::fprintf(stderr, "checkpoint_fuzz: file descriptors leak (lowest free %d, was %d)\n", probe, first_probe);
        std::abort();
    }
    return 0;
}
