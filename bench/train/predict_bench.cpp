// bench/train/predict_bench.cpp — batch-1 inference: predict() on one sample of the LeNet, MLP and
// ResNet examples' models (random weights; the arithmetic does not depend on them), as an
// application embedding a model calls it. Run with one thread, as the examples' --bench-infer:
//   OMP_NUM_THREADS=1 build/test/bench/typenet_bench_predict
// FLOPS counts the multiply-adds of the convolutions and matrix products, 2 per MAC.
#include <benchmark/benchmark.h>

#include <cstddef>
#include <span>
#include <vector>

#include "typenet/core/random.hpp"
#include "typenet/typenet.hpp"

namespace {

using namespace typenet;

using lenet = network<input<1, 28, 28>, conv2d<6, 5, padding<2>>, relu, max_pool2d<2>, conv2d<16, 5>, relu,
                      max_pool2d<2>, flatten, dense<120>, relu, dense<84>, relu, dense<10>>;
using mlp = network<input<1, 28, 28>, flatten, dense<256>, relu, dense<128>, relu, dense<10>>;
template <std::size_t C>
using basic_block = residual<sequential<conv2d<C, 3, padding<1>>, batch_norm<>, relu, conv2d<C, 3, padding<1>>, batch_norm<>>>;
template <std::size_t C>
using downsample_block = residual<sequential<conv2d<C, 3, padding<1>, stride<2>>, batch_norm<>, relu,
                                             conv2d<C, 3, padding<1>>, batch_norm<>>,
                                  sequential<conv2d<C, 1, stride<2>>, batch_norm<>>>;
using resnet = network<input<1, 28, 28>, conv2d<16, 3, padding<1>>, batch_norm<>, relu, basic_block<16>, relu,
                       basic_block<16>, relu, downsample_block<32>, relu, basic_block<32>, relu,
                       downsample_block<64>, relu, basic_block<64>, relu, global_avg_pool, dense<10>>;

template <class Net>
void bm_predict(benchmark::State& state, double macs) {
    Net net{seed{1}};
    rng g(seed{2});
    constexpr std::size_t n = Net::input_shape::size;
    std::vector<float> x(16 * n);                          // 16 different samples, in turn
    for (auto& v : x) v = float(g.uniform(-1, 1));
    std::size_t i = 0;
    for (auto _ : state) {
        const auto y = predict(net, std::span<const float, n>(x.data() + (i++ % 16) * n, n));
        benchmark::DoNotOptimize(y.data());
    }
    state.counters["FLOPS"] = benchmark::Counter(2 * macs * double(state.iterations()), benchmark::Counter::kIsRate);
}

// Multiply-adds per sample, 2 FLOP each.
// LeNet: 6*25*784 + 16*150*100 + 400*120 + 120*84 + 84*10.
void bm_predict_lenet(benchmark::State& s) { bm_predict<lenet>(s, 117600.0 + 240000 + 48000 + 10080 + 840); }
// MLP: 784*256 + 256*128 + 128*10.
void bm_predict_mlp(benchmark::State& s) { bm_predict<mlp>(s, 200704.0 + 32768 + 1280); }
// ResNet, O*(C/G)*KH*KW*OH*OW per convolution: stem 112,896; stage 1, 4 x 1,806,336; stages 2 and 3,
// each 903,168 + 100,352 (projection) + 3 x 1,806,336; the classifier 640.
void bm_predict_resnet(benchmark::State& s) { bm_predict<resnet>(s, 20183936.0); }
BENCHMARK(bm_predict_lenet)->Unit(benchmark::kMicrosecond);
BENCHMARK(bm_predict_mlp)->Unit(benchmark::kMicrosecond);
BENCHMARK(bm_predict_resnet)->Unit(benchmark::kMicrosecond);

}  // namespace
