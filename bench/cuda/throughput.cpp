// bench/cuda/throughput.cpp — the CUDA backend's throughput, side by side with the CPU backend in
// one run: SGEMM and the ResNet's convolutions as a fraction of the GPU's fp32 peak, then training
// steps of LeNet (batch 256), the ResNet (batch 128), the char-LSTM (32 x 64) and the char-GPT
// (32 x 128) per second on the GPU and on the CPU's threads, with their ratio. Inputs stay on the
// device (forward_device), so the figures are the backend's, not the PCIe bus's.
//   build/.../typenet_bench_cuda_throughput [--quick]
// Without a GPU it says so and exits 0.
#include <typenet/cuda.hpp>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <vector>

#include "models.hpp"

using namespace typenet;
namespace k = typenet::kernels::cuda;

namespace {

using clock_type = std::chrono::steady_clock;

// Seconds per call of f: one warm-up call, then calls until `budget` seconds have passed (at least
// 3); sync ends each timed batch so queued GPU work is counted.
double seconds_per_call(const std::function<void()>& f, const std::function<void()>& sync, double budget) {
    f();
    sync();
    int calls = 0;
    const auto t0 = clock_type::now();
    double elapsed = 0;
    while (calls < 3 || elapsed < budget) {
        f();
        ++calls;
        if (calls % 4 == 0 || calls < 4) {
            sync();
            elapsed = std::chrono::duration<double>(clock_type::now() - t0).count();
        }
    }
    sync();
    return std::chrono::duration<double>(clock_type::now() - t0).count() / calls;
}

std::vector<float> uniform(std::size_t n, std::uint64_t s) {
    rng g(seed{s});
    std::vector<float> v(n);
    for (auto& x : v) x = float(g.uniform(-1, 1));
    return v;
}

void sgemm(const cuda::device& dev, double peak, double budget) {
    std::printf("\nSGEMM (cuBLAS, fp32 without TF32), C = A B, square\n%8s %12s %10s\n", "n", "TFLOP/s", "of peak");
    for (index_t n : {1024, 2048, 4096, 8192}) {
        cuda::device_buffer<float> a(dev, std::size_t(n * n)), b(dev, std::size_t(n * n)), c(dev, std::size_t(n * n));
        a.zero(); b.zero(); c.zero();
        const double s = seconds_per_call(
            [&] { k::gemm(dev.context(), false, false, n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f, c.data(), n); },
            [&] { dev.synchronize(); }, budget);
        const double tf = 2.0 * double(n) * double(n) * double(n) / s / 1e12;
        std::printf("%8ld %12.1f %9.0f%%\n", long(n), tf, 100 * tf / peak);
    }
}

template <class Layer, class In>
void conv_layer(const cuda::device& dev, const char* name, index_t batch, double peak, double budget) {
    using L = typename Layer::template bound<In>;
    const k::conv_shape g = cuda::detail::device_layer<Layer, In>::g;
    const std::size_t nx = std::size_t(batch) * In::size, ny = std::size_t(batch) * L::output_shape::size;
    cuda::device_buffer<float> x(dev, nx), y(dev, ny), dx(dev, nx), w(dev, L::param_count), dw(dev, L::param_count);
    x.zero(); y.zero(); w.zero(); dw.zero();
    const double s = seconds_per_call(
        [&] {
            k::conv2d_forward(dev.context(), g, batch, x.data(), w.data(), w.data() + (L::param_count - g.out), y.data());
            k::conv2d_backward(dev.context(), g, batch, x.data(), w.data(), y.data(), dx.data(), dw.data(),
                               dw.data() + (L::param_count - g.out));
        },
        [&] { dev.synchronize(); }, budget);
    const double flop = 3 * 2.0 * double(batch) * double(L::output_shape::size) * double(g.c / g.groups * g.k * g.k);
    std::printf("%-34s %10.1f %9.0f%% %10.3f ms\n", name, flop / s / 1e12, 100 * flop / s / 1e12 / peak, 1e3 * s);
}

// Steps per second of forward, backward (dy = y: a stand-in gradient of the right shape) and Adam,
// on the GPU (inputs on the device) and on the CPU.
template <class Net>
void train_steps(const cuda::device& dev, const char* name, index_t batch, index_t steps, const char* unit,
                 double budget) {
    const std::size_t nx = std::size_t(batch * steps) * Net::input_shape::size;
    std::vector<float> x = uniform(nx, 1);
    if constexpr (std::is_same_v<typename Net::input_shape, seq<1>>)
        for (std::size_t i = 0; i < nx; ++i) x[i] = float(i * 7 % 100);
    auto host = std::make_unique<Net>(seed{1});
    cuda::model<Net> gpu{*host, dev};
    cuda::adam gopt{gpu, {.lr = 1e-4}};
    cuda::device_buffer<float> xd(dev, nx);
    xd.upload(x.data(), nx);
    const double g = seconds_per_call(
        [&] {
            gopt.zero_grad();
            const float* y = gpu.forward_device(batch, steps, xd.data(), mode::train);
            gpu.backward_device(y);
            gopt.step();
        },
        [&] { gpu.synchronize(); }, budget);
    optim::adam copt{*host, {.lr = 1e-4}};
    const double c = seconds_per_call(
        [&] {
            copt.zero_grad();
            const float* y = host->forward(batch, steps, x.data(), mode::train);
            host->backward(y);
            copt.step();
        },
        [] {}, budget);
    const double items = double(batch * steps);
    std::printf("%-26s %14.0f %14.0f %9.1fx   %s/s\n", name, items / g, items / c, c / g, unit);
}

}  // namespace

int main(int argc, char** argv) {
    const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
    if (!cuda::available()) {
        std::printf("SKIPPED: no GPU: %s\n", cuda::unavailable_reason().c_str());
        return 0;
    }
    const double budget = quick ? 0.2 : 1.0;
    const cuda::device dev(0);
    const double peak = k::fp32_peak_tflops(dev.context());
    std::printf("GPU: %s, fp32 peak %.1f TFLOP/s (SMs x lanes x 2 x boost clock); convolutions: %s\n",
                dev.name().c_str(), peak, k::conv2d_engine());
    std::printf("CPU: %d threads, kernels %s\n", kernels::cpu::max_threads(), kernels::cpu::active_isa_name());
    sgemm(dev, peak, budget);
    std::printf("\nconvolution forward + backward (cuDNN or im2col), batch 256\n%-34s %10s %10s %13s\n", "layer",
                "TFLOP/s", "of peak", "per step");
    conv_layer<conv2d<6, 5, padding<2>>, shape<1, 28, 28>>(dev, "LeNet conv1 1->6 5x5 28x28", 256, peak, budget);
    conv_layer<conv2d<16, 5>, shape<6, 14, 14>>(dev, "LeNet conv2 6->16 5x5 14x14", 256, peak, budget);
    conv_layer<conv2d<16, 3, padding<1>>, shape<16, 28, 28>>(dev, "ResNet 16->16 3x3 28x28", 256, peak, budget);
    conv_layer<conv2d<32, 3, padding<1>, stride<2>>, shape<16, 28, 28>>(dev, "ResNet 16->32 3x3 /2", 256, peak, budget);
    conv_layer<conv2d<64, 3, padding<1>>, shape<64, 7, 7>>(dev, "ResNet 64->64 3x3 7x7", 256, peak, budget);
    std::printf("\ntraining steps (forward, backward, Adam)\n%-26s %14s %14s %10s\n", "model", "GPU", "CPU", "GPU/CPU");
    train_steps<examples::lenet>(dev, "LeNet, batch 256", 256, 1, "images", budget);
    train_steps<examples::mlp>(dev, "MLP, batch 256", 256, 1, "images", budget);
    train_steps<examples::resnet>(dev, "ResNet, batch 128", 128, 1, "images", budget);
    train_steps<examples::char_lstm>(dev, "char-LSTM, 32 x 64", 32, 64, "tokens", budget);
    train_steps<examples::char_gpt>(dev, "char-GPT, 32 x 128", 32, 128, "tokens", budget);
    return 0;
}
