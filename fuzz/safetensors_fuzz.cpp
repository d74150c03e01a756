// fuzz/safetensors_fuzz.cpp — libFuzzer target for io::safetensors_reader (from memory): the header
// checks, read() of every tensor into floats, and io::load of a small conv network from it.
// Built and run by scripts/fuzz.sh; seeds in fuzz/corpus/safetensors/ (fuzz/make_seeds.cpp).
// Only the layer headers clang 14 compiles: activation.hpp, dropout.hpp and norm.hpp take double
// template arguments, which clang supports from version 18 only.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <span>
#include <vector>

#include "typenet/io/model.hpp"
#include "typenet/io/safetensors.hpp"
#include "typenet/layers/conv.hpp"
#include "typenet/layers/dense.hpp"
#include "typenet/layers/flatten.hpp"
#include "typenet/layers/pool.hpp"

namespace {
// As in fuzz/make_seeds.cpp.
using net = typenet::network<typenet::input<1, 8, 8>, typenet::conv2d<2, 3, typenet::padding<1>>, typenet::max_pool2d<2>,
                             typenet::flatten, typenet::dense<4>>;
const bool verbose = std::getenv("FUZZ_VERBOSE") != nullptr;   // print each input's error
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    try {
        const typenet::io::safetensors_reader r(std::span<const unsigned char>(data, size), "'fuzz input'");
        std::vector<float> dst;
        for (const auto& t : r.tensors()) {
            if (t.numel() > (std::uint64_t(1) << 20)) continue;     // a bounded allocation
            dst.assign(std::size_t(t.numel()), 0.0f);
            try {
                r.read(t, dst.data());
            } catch (const std::exception& e) {                     // F8 dtypes: not convertible
                if (verbose) std::fprintf(stderr, "read: %s\n", e.what());
            }
        }
        net model;
        typenet::io::load(model, r, {.strict = false});
        if (verbose) std::fprintf(stderr, "loaded\n");
    } catch (const std::exception& e) {
        if (verbose) std::fprintf(stderr, "%s\n", e.what());
    }
    return 0;
}
