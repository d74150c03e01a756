// bench/kernels/gemm_bench.cpp — kernels::cpu::gemm: square sizes, the three products of the
// MLP example's first dense layer (784 -> 256 at batch 64) with the strides dense.hpp passes, and
// LeNet's. Counter FLOPS = 2 M N K per call over wall-clock time (UseRealTime: the kernels run
// OpenMP threads, which the calling thread's CPU time would not see). Threads: OMP_NUM_THREADS.
// Built a second time with TYPENET_BENCH_OPENBLAS as typenet_bench_gemm_openblas, the same
// products through OpenBLAS's cblas_sgemm (threads: OPENBLAS_NUM_THREADS): scripts/bench-compare
// runs both and prints the ratios.
#include <benchmark/benchmark.h>

#include <cstddef>
#include <vector>

#include "typenet/core/aligned.hpp"
#include "typenet/core/random.hpp"
#include "typenet/kernels/cpu/gemm.hpp"
#if defined(TYPENET_BENCH_OPENBLAS)
#include <cblas.h>
#endif

namespace {

using typenet::kernels::cpu::index_t;

typenet::aligned_vector<float> uniform(std::size_t n, std::uint64_t s) {
    typenet::rng g(typenet::seed{s});
    typenet::aligned_vector<float> v(n);
    for (auto& x : v) x = float(g.uniform(-1.0, 1.0));
    return v;
}

// C (m, n) := A (m, k) B (k, n) + beta C; A and B as (row stride, column stride).
void run_gemm(benchmark::State& state, index_t m, index_t n, index_t k, bool a_transposed, bool b_transposed,
              float beta) {
    const auto a = uniform(std::size_t(m * k), 1);             // (m, k), or (k, m) stored when transposed
    const auto b = uniform(std::size_t(k * n), 2);             // (k, n), or (n, k) stored when transposed
    auto c = uniform(std::size_t(m * n), 3);                   // (m, n)
    const index_t rsa = a_transposed ? 1 : k, csa = a_transposed ? m : 1;
    const index_t rsb = b_transposed ? 1 : n, csb = b_transposed ? k : 1;
    for (auto _ : state) {
#if defined(TYPENET_BENCH_OPENBLAS)
        (void)rsa, (void)csa, (void)rsb, (void)csb;   // cblas takes leading dimensions and flags instead
        cblas_sgemm(CblasRowMajor, a_transposed ? CblasTrans : CblasNoTrans, b_transposed ? CblasTrans : CblasNoTrans,
                    int(m), int(n), int(k), 1.0f, a.data(), int(a_transposed ? m : k), b.data(),
                    int(b_transposed ? k : n), beta, c.data(), int(n));
#else
        typenet::kernels::cpu::gemm(m, n, k, a.data(), rsa, csa, b.data(), rsb, csb, beta, c.data(), n);
#endif
        benchmark::DoNotOptimize(c.data());
        benchmark::ClobberMemory();
    }
    const double flops = 2.0 * double(m) * double(n) * double(k);
    state.counters["FLOPS"] = benchmark::Counter(flops * double(state.iterations()), benchmark::Counter::kIsRate);
#if defined(TYPENET_BENCH_OPENBLAS)
    state.counters["threads"] = openblas_get_num_threads();
#else
    state.counters["threads"] = typenet::kernels::cpu::max_threads();
#endif
}

void bm_gemm_square(benchmark::State& state) {
    const index_t s = state.range(0);
    run_gemm(state, s, s, s, false, false, 0.0f);
}
BENCHMARK(bm_gemm_square)->Arg(64)->Arg(128)->Arg(256)->Arg(512)->Arg(1024)->Unit(benchmark::kMicrosecond)->UseRealTime();

// dense<256> on 784 inputs, batch 64 (layers/dense.hpp):
//   forward  y  (64, 256) += x (64, 784) w^T (784, 256)   M N K = 64 256 784, B transposed, beta 1
//   backward dx (64, 784)  = dy (64, 256) w (256, 784)    M N K = 64 784 256, beta 0
//   backward dw (256, 784) += dy^T (256, 64) x (64, 784)  M N K = 256 784 64, A transposed, beta 1
void bm_gemm_dense_forward(benchmark::State& state) { run_gemm(state, 64, 256, 784, false, true, 1.0f); }
void bm_gemm_dense_dx(benchmark::State& state) { run_gemm(state, 64, 784, 256, false, false, 0.0f); }
void bm_gemm_dense_dw(benchmark::State& state) { run_gemm(state, 256, 784, 64, true, false, 1.0f); }
BENCHMARK(bm_gemm_dense_forward)->Name("bm_gemm_64x256x784_bT")->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(bm_gemm_dense_dx)->Name("bm_gemm_64x784x256")->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(bm_gemm_dense_dw)->Name("bm_gemm_256x784x64_aT")->Unit(benchmark::kMicrosecond)->UseRealTime();

// LeNet, batch 64: the second convolution per sample, y (16, 100) = w (16, 150) col (150, 100), and
// its first dense layer, y (64, 120) = x (64, 400) w^T.
void bm_gemm_lenet_conv2(benchmark::State& state) { run_gemm(state, 16, 100, 150, false, false, 1.0f); }
void bm_gemm_lenet_dense(benchmark::State& state) { run_gemm(state, 64, 120, 400, false, true, 1.0f); }
BENCHMARK(bm_gemm_lenet_conv2)->Name("bm_gemm_16x100x150")->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(bm_gemm_lenet_dense)->Name("bm_gemm_64x120x400_bT")->Unit(benchmark::kMicrosecond)->UseRealTime();

// The char-GPT's dense products (examples/char_gpt.cpp: batch 32 x context 128 = 4096 rows, width
// 128, MLP 512): forward x w^T (B transposed), backward dx = dy w and dw += dy^T x (A transposed),
// for the attention's in-projection (384), the MLP's two layers (512 and back) and the 128-wide
// products (out-projection, read-out).
template <index_t M, index_t N, index_t K, bool AT, bool BT>
void bm_gemm_gpt(benchmark::State& state) { run_gemm(state, M, N, K, AT, BT, AT ? 1.0f : 0.0f); }
BENCHMARK(bm_gemm_gpt<4096, 384, 128, false, true>)->Name("bm_gemm_4096x384x128_bT")->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(bm_gemm_gpt<4096, 512, 128, false, true>)->Name("bm_gemm_4096x512x128_bT")->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(bm_gemm_gpt<4096, 128, 512, false, true>)->Name("bm_gemm_4096x128x512_bT")->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(bm_gemm_gpt<4096, 128, 128, false, true>)->Name("bm_gemm_4096x128x128_bT")->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(bm_gemm_gpt<4096, 128, 384, false, false>)->Name("bm_gemm_4096x128x384")->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(bm_gemm_gpt<4096, 512, 128, false, false>)->Name("bm_gemm_4096x512x128")->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(bm_gemm_gpt<4096, 128, 512, false, false>)->Name("bm_gemm_4096x128x512")->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(bm_gemm_gpt<384, 128, 4096, true, false>)->Name("bm_gemm_384x128x4096_aT")->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(bm_gemm_gpt<512, 128, 4096, true, false>)->Name("bm_gemm_512x128x4096_aT")->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(bm_gemm_gpt<128, 512, 4096, true, false>)->Name("bm_gemm_128x512x4096_aT")->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(bm_gemm_gpt<128, 128, 4096, true, false>)->Name("bm_gemm_128x128x4096_aT")->Unit(benchmark::kMicrosecond)->UseRealTime();

}  // namespace
