// bench/layers/dense_bench.cpp — dense<256> on 784 inputs at batch 64 (the MLP example's first
// layer), through network<>: forward alone, and forward + backward (dx and dw, db).
// FLOPS counts the matrix products: 2 B In Out forward, twice that again backward.
#include <benchmark/benchmark.h>

#include <cstddef>

#include "typenet/core/aligned.hpp"
#include "typenet/core/network.hpp"
#include "typenet/core/random.hpp"
#include "typenet/layers/dense.hpp"

namespace {

using namespace typenet;

constexpr index_t batch = 64;
constexpr std::size_t in = 784, out = 256;
using net_t = network<input<in>, dense<out>>;

aligned_vector<float> uniform(std::size_t n, std::uint64_t s) {
    rng g(seed{s});
    aligned_vector<float> v(n);
    for (auto& x : v) x = float(g.uniform(-1.0, 1.0));
    return v;
}

void set_rates(benchmark::State& state, double flops_per_step) {
    const double steps = double(state.iterations());
    state.counters["FLOPS"] = benchmark::Counter(flops_per_step * steps, benchmark::Counter::kIsRate);
    state.SetItemsProcessed(state.iterations() * batch);          // images/s
    state.counters["threads"] = kernels::cpu::max_threads();
}

void bm_dense_forward(benchmark::State& state) {
    net_t net{seed{1}};
    const auto x = uniform(std::size_t(batch) * in, 2);            // (B, In)
    net.reserve(batch);
    for (auto _ : state) {
        const float* y = net.forward(batch, x.data(), mode::train);  // (B, Out)
        benchmark::DoNotOptimize(y);
        benchmark::ClobberMemory();
    }
    set_rates(state, 2.0 * double(batch) * in * out);
}
BENCHMARK(bm_dense_forward)->Unit(benchmark::kMicrosecond)->UseRealTime();

void bm_dense_forward_backward(benchmark::State& state) {
    net_t net{seed{1}};
    const auto x = uniform(std::size_t(batch) * in, 2);            // (B, In)
    const auto dy = uniform(std::size_t(batch) * out, 3);          // (B, Out)
    aligned_vector<float> dx(std::size_t(batch) * in);             // (B, In)
    net.reserve(batch);
    for (auto _ : state) {
        net.zero_grad();                                           // as a training step does
        const float* y = net.forward(batch, x.data(), mode::train);
        benchmark::DoNotOptimize(y);
        net.backward(dy.data(), dx.data());
        benchmark::DoNotOptimize(dx.data());
        benchmark::ClobberMemory();
    }
    set_rates(state, 6.0 * double(batch) * in * out);
}
BENCHMARK(bm_dense_forward_backward)->Unit(benchmark::kMicrosecond)->UseRealTime();

}  // namespace
