// bench/train/mlp_step_bench.cpp — one training step of the MLP example (784-256-128-10, batch 64,
// Adam, cross-entropy with label smoothing 0.1) as fit() runs it: zero_grad, forward in train mode,
// loss value and gradient, backward, optimizer step; FTZ/DAZ on, as fit() sets them.
// FLOPS counts the matrix products only: 6 B (784*256 + 256*128 + 128*10) per step.
#include <benchmark/benchmark.h>

#include <cstddef>
#include <vector>

#include "typenet/core/aligned.hpp"
#include "typenet/core/network.hpp"
#include "typenet/core/random.hpp"
#include "typenet/kernels/cpu/common.hpp"
#include "typenet/layers/activation.hpp"
#include "typenet/layers/dense.hpp"
#include "typenet/losses/losses.hpp"
#include "typenet/optim/optimizers.hpp"

namespace {

using namespace typenet;

using mlp = network<input<784>, dense<256>, relu, dense<128>, relu, dense<10>>;
constexpr index_t batch = 64, classes = 10;

void bm_mlp_train_step(benchmark::State& state) {
    const kernels::cpu::flush_denormals ftz;                       // as fit() does
    mlp net{seed{1}};
    optim::adam opt{net, {.lr = 1e-3}};
    const loss::cross_entropy ce{0.1};
    rng g(seed{2});
    constexpr auto b = static_cast<std::size_t>(batch), c = static_cast<std::size_t>(classes);
    aligned_vector<float> x(b * 784);                              // (B, 784)
    for (auto& v : x) v = float(g.uniform(-1.0, 1.0));
    std::vector<loss::label_t> t(b);                               // (B)
    for (auto& l : t) l = loss::label_t(g.next() % c);
    aligned_vector<float> dy(b * c);                               // (B, 10)
    net.reserve(batch);
    for (auto _ : state) {
        opt.zero_grad();
        const float* y = net.forward(batch, x.data(), mode::train);   // (B, 10)
        const float l = ce(batch, classes, y, t.data(), dy.data());
        benchmark::DoNotOptimize(l);
        net.backward(dy.data());
        opt.step();
        benchmark::ClobberMemory();
    }
    const double flops = 6.0 * double(batch) * (784.0 * 256 + 256.0 * 128 + 128.0 * 10);
    state.counters["FLOPS"] = benchmark::Counter(flops * double(state.iterations()), benchmark::Counter::kIsRate);
    state.SetItemsProcessed(state.iterations() * batch);          // images/s
    state.counters["threads"] = kernels::cpu::max_threads();
}
BENCHMARK(bm_mlp_train_step)->Unit(benchmark::kMicrosecond)->UseRealTime();

}  // namespace
