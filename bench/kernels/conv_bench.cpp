// bench/kernels/conv_bench.cpp — kernels::cpu::conv2d_forward (the direct kernel where it wins),
// conv2d_forward_columns (im2col + GEMM) and conv2d_backward (with dx) on every convolution shape
// of the LeNet and ResNet examples, batch 64. Counter FLOPS = 2 B O (C/G) KH KW
// OH OW per forward, twice that per backward (dw and dx), over wall-clock time. Threads:
// OMP_NUM_THREADS. Run e.g.
//   OMP_NUM_THREADS=1 build/test/bench/typenet_bench_conv --benchmark_min_time=0.2
#include <benchmark/benchmark.h>

#include <cstddef>
#include <string>

#include "typenet/core/aligned.hpp"
#include "typenet/core/random.hpp"
#include "typenet/kernels/cpu/conv.hpp"
#include "typenet/kernels/cpu/conv_direct.hpp"

namespace {

using typenet::kernels::cpu::conv2d_geometry;
using typenet::kernels::cpu::index_t;

constexpr index_t batch = 64;

typenet::aligned_vector<float> uniform(std::size_t n, std::uint64_t s) {
    typenet::rng g(typenet::seed{s});
    typenet::aligned_vector<float> v(n);
    for (auto& x : v) x = float(g.uniform(-1.0, 1.0));
    return v;
}

struct conv_buffers {
    typenet::aligned_vector<float> x, w, bias, y, dy, dx, dw, db;
    explicit conv_buffers(const conv2d_geometry& g)
        : x(uniform(std::size_t(batch * g.c * g.h * g.w), 1)),
          w(uniform(std::size_t(g.o * g.col_rows() / g.groups), 2)),
          bias(uniform(std::size_t(g.o), 3)),
          y(std::size_t(batch * g.o * g.oh() * g.ow())),
          dy(uniform(y.size(), 4)),
          dx(x.size()),
          dw(w.size()),
          db(bias.size()) {}
};

double forward_flops(const conv2d_geometry& g) {
    return 2.0 * double(batch * g.o * (g.col_rows() / g.groups) * g.oh() * g.ow());
}

void report(benchmark::State& state, double flops_per_call) {
    state.counters["FLOPS"] =
        benchmark::Counter(flops_per_call * double(state.iterations()), benchmark::Counter::kIsRate);
    state.counters["threads"] = typenet::kernels::cpu::max_threads();
}

void bm_forward(benchmark::State& state, conv2d_geometry g) {
    conv_buffers m(g);
    for (auto _ : state) {
        typenet::kernels::cpu::conv2d_forward(g, batch, m.x.data(), m.w.data(), m.bias.data(), m.y.data());
        benchmark::ClobberMemory();
    }
    report(state, forward_flops(g));
}

// im2col + GEMM alone, where conv2d_forward would take the direct kernel too.
void bm_forward_columns(benchmark::State& state, conv2d_geometry g) {
    conv_buffers m(g);
    for (auto _ : state) {
        typenet::kernels::cpu::conv2d_forward_columns(g, batch, m.x.data(), m.w.data(), m.bias.data(), m.y.data());
        benchmark::ClobberMemory();
    }
    report(state, forward_flops(g));
}

void bm_backward(benchmark::State& state, conv2d_geometry g) {
    conv_buffers m(g);
    for (auto _ : state) {
        typenet::kernels::cpu::conv2d_backward(g, batch, m.x.data(), m.w.data(), m.dy.data(), m.dx.data(),
                                               m.dw.data(), m.db.data());
        benchmark::ClobberMemory();
    }
    report(state, 2 * forward_flops(g));
}

// Inference: one sample at a time, im2col + GEMM against the direct kernel (stride 1 shapes only).
void bm_forward_one(benchmark::State& state, conv2d_geometry g) {
    conv_buffers m(g);
    index_t i = 0;
    for (auto _ : state) {
        const index_t b = i++ % batch;
        typenet::kernels::cpu::conv2d_forward_columns(g, 1, m.x.data() + b * g.c * g.h * g.w, m.w.data(),
                                                      m.bias.data(), m.y.data());
        benchmark::ClobberMemory();
    }
    report(state, forward_flops(g) / double(batch));
}
void bm_direct_one(benchmark::State& state, conv2d_geometry g) {
    conv_buffers m(g);
    const typenet::kernels::cpu::conv_direct_geometry d = typenet::kernels::cpu::conv_direct_geometry_of(g);
    typenet::aligned_vector<float> xp(std::size_t(d.padded_size(typenet::kernels::cpu::active_direct_sizes<float>().w)));
    index_t i = 0;
    for (auto _ : state) {
        const index_t b = i++ % batch;
        typenet::kernels::cpu::conv2d_direct_forward(d, m.x.data() + b * g.c * g.h * g.w, m.w.data(), m.bias.data(),
                                                     m.y.data(), xp.data());
        benchmark::ClobberMemory();
    }
    report(state, forward_flops(g) / double(batch));
}

// {c, h, w, o, kh, kw, stride, pad, dilation, groups}
struct named_geometry {
    const char* name;
    conv2d_geometry g;
};
const named_geometry shapes[] = {
    {"lenet_c1_1x28x28_6k5p2", {1, 28, 28, 6, 5, 5, 1, 2, 1, 1}},
    {"lenet_c2_6x14x14_16k5", {6, 14, 14, 16, 5, 5, 1, 0, 1, 1}},
    {"resnet_stem_1x28x28_16k3", {1, 28, 28, 16, 3, 3, 1, 1, 1, 1}},
    {"resnet_s1_16x28x28_16k3", {16, 28, 28, 16, 3, 3, 1, 1, 1, 1}},
    {"resnet_s2down_16x28x28_32k3s2", {16, 28, 28, 32, 3, 3, 2, 1, 1, 1}},
    {"resnet_s2proj_16x28x28_32k1s2", {16, 28, 28, 32, 1, 1, 2, 0, 1, 1}},
    {"resnet_s2_32x14x14_32k3", {32, 14, 14, 32, 3, 3, 1, 1, 1, 1}},
    {"resnet_s3down_32x14x14_64k3s2", {32, 14, 14, 64, 3, 3, 2, 1, 1, 1}},
    {"resnet_s3proj_32x14x14_64k1s2", {32, 14, 14, 64, 1, 1, 2, 0, 1, 1}},
    {"resnet_s3_64x7x7_64k3", {64, 7, 7, 64, 3, 3, 1, 1, 1, 1}},
};

const bool registered = [] {
    for (const auto& s : shapes) {
        benchmark::RegisterBenchmark((std::string("conv_forward/") + s.name).c_str(), bm_forward, s.g)
            ->Unit(benchmark::kMicrosecond)->UseRealTime();
        benchmark::RegisterBenchmark((std::string("conv_forward_columns/") + s.name).c_str(), bm_forward_columns, s.g)
            ->Unit(benchmark::kMicrosecond)->UseRealTime();
        benchmark::RegisterBenchmark((std::string("conv_backward/") + s.name).c_str(), bm_backward, s.g)
            ->Unit(benchmark::kMicrosecond)->UseRealTime();
        if (s.g.stride != 1 || s.g.dilation != 1 || s.g.groups != 1) continue;
        benchmark::RegisterBenchmark((std::string("conv_forward_batch1/") + s.name).c_str(), bm_forward_one, s.g)
            ->Unit(benchmark::kMicrosecond)->UseRealTime();
        benchmark::RegisterBenchmark((std::string("conv_direct_batch1/") + s.name).c_str(), bm_direct_one, s.g)
            ->Unit(benchmark::kMicrosecond)->UseRealTime();
    }
    return true;
}();

}  // namespace
