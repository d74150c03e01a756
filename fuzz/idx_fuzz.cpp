// fuzz/idx_fuzz.cpp — libFuzzer target for data::parse_idx, the IDX parser behind read_idx (header,
// rank, big-endian extents, data size), with any rank and with rank 3 required. Built and run by
// scripts/fuzz.sh; seeds in fuzz/corpus/idx/ (fuzz/make_seeds.cpp).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <vector>

#include "typenet/data/idx.hpp"

namespace {
const bool verbose = std::getenv("FUZZ_VERBOSE") != nullptr;   // print each input's error
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::vector<std::uint8_t> bytes(data, data + size);
    for (std::size_t rank : {std::size_t(0), std::size_t(3)}) {
        try {
            const auto a = typenet::data::parse_idx(bytes, "'fuzz input'", rank);
            std::size_t n = 1;
            for (auto e : a.extents) n *= e;
            if (n != a.values.size()) __builtin_trap();                  // extents and values must agree
            if (verbose) std::fprintf(stderr, "rank %zu: %zu values\n", a.extents.size(), n);
        } catch (const std::exception& e) {
            if (verbose) std::fprintf(stderr, "%s\n", e.what());
        }
    }
    return 0;
}
