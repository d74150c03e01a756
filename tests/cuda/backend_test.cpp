// tests/cuda/backend_test.cpp — the CUDA backend against the CPU one: every supported layer's
// forward and backward (train and eval), the optimizers' steps, 20 training steps of LeNet and the
// ResNet, and fit on a device model. fp32 on both sides: within 1e-4 relative.
// Without a GPU this program prints why and exits 77, which ctest reports as skipped.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <typenet/cuda.hpp>

#include <cmath>
#include <cstdio>
#include <vector>

#include "models.hpp"
#include "support/compare.hpp"
#include "support/data.hpp"

using namespace typenet;

namespace {

std::vector<float> random_values(std::size_t n, std::uint64_t s, float scale = 1.0f) {
    rng g(seed{s});
    std::vector<float> v(n);
    for (auto& x : v) x = scale * float(2.0 * g.uniform() - 1.0);
    return v;
}

// ||a - b|| / max(||b||, tiny): the whole vector's relative error.
double norm_rel_diff(const std::vector<float>& a, const std::vector<float>& b) {
    double d = 0, n = 0;
    for (std::size_t i = 0; i < a.size(); ++i) {
        d += (double(a[i]) - double(b[i])) * (double(a[i]) - double(b[i]));
        n += double(b[i]) * double(b[i]);
    }
    return std::sqrt(d) / std::max(std::sqrt(n), 1e-30);
}

// Net on the CPU and on the GPU, from the same parameters: forward, backward with the same dy, then
// outputs, input gradients, parameter gradients and state compared.
template <class Net>
void compare_backends(index_t batch, mode m, double tol = 1e-4) {
    CAPTURE(Net::summary());
    CAPTURE(int(m));
    Net host{seed{7}};
    cuda::model<Net> gpu{host};
    const std::size_t nin = std::size_t(batch) * Net::input_shape::size, nout = std::size_t(batch) * Net::output_shape::size;
    const auto x = random_values(nin, 11);
    const float* yc = host.forward(batch, x.data(), m);
    const std::vector<float> y_cpu(yc, yc + nout);
    const float* yg = gpu.forward(batch, 1, x.data(), m);
    const std::vector<float> y_gpu(yg, yg + nout);
    CHECK(test::max_rel_diff(y_gpu, y_cpu) <= tol);
    if (m == mode::infer) return;

    const auto dy = random_values(nout, 13);
    std::vector<float> dx_cpu(nin), dx_gpu(nin);
    host.zero_grad();
    host.backward(dy.data(), dx_cpu.data());
    gpu.backward(dy.data(), dx_gpu.data());
    CHECK(test::max_rel_diff(dx_gpu, dx_cpu) <= tol);
    std::vector<float> g_gpu(Net::param_count);
    gpu.gradients_to(g_gpu);
    const std::vector<float> g_cpu(host.gradients().begin(), host.gradients().end());
    CHECK(test::max_rel_diff(g_gpu, g_cpu) <= tol);
    // Parameter gradients accumulate: a second backward of the same pass doubles them.
    host.backward(dy.data());
    gpu.backward(dy.data());
    gpu.gradients_to(g_gpu);
    const std::vector<float> g2_cpu(host.gradients().begin(), host.gradients().end());
    CHECK(test::max_rel_diff(g_gpu, g2_cpu) <= tol);
    for (std::size_t i = 0; i < g_cpu.size(); ++i) CHECK(g2_cpu[i] == doctest::Approx(2 * g_cpu[i]).epsilon(1e-5));

    Net back{seed{99}};
    gpu.copy_to(back);
    const std::vector<float> p0(host.parameters().begin(), host.parameters().end());
    const std::vector<float> p1(back.parameters().begin(), back.parameters().end());
    CHECK(p0 == p1);   // forward and backward change no parameter
    if constexpr (Net::state_count > 0) {
        const std::vector<float> s0(host.state().begin(), host.state().end());
        const std::vector<float> s1(back.state().begin(), back.state().end());
        CHECK(test::max_rel_diff(s1, s0) <= tol);
    }
}

template <class Net>
void compare_all_modes(index_t batch) {
    compare_backends<Net>(batch, mode::train);
    compare_backends<Net>(batch, mode::eval);
    compare_backends<Net>(batch, mode::infer);
}

}  // namespace

TEST_CASE("dense, activations and softmax on the GPU match the CPU") {
    compare_all_modes<network<input<37>, dense<19>, relu, dense<23>, typenet::tanh, dense<11>, sigmoid, dense<9>>>(5);
    compare_all_modes<network<input<37>, dense<64>, gelu, dense<33>, leaky_relu<0.2>, dense<10>, softmax>>(67);
    compare_all_modes<network<input<3, 4, 5>, flatten, dense<8>, log_softmax>>(3);
    compare_all_modes<network<input<3, 4, 5>, identity, log_softmax>>(2);
}

TEST_CASE("conv2d on the GPU matches the CPU: padding, stride, dilation, groups, 1x1") {
    compare_all_modes<network<input<1, 28, 28>, conv2d<6, 5, padding<2>>>>(4);
    compare_all_modes<network<input<3, 17, 13>, conv2d<8, 3, stride<2>, padding<1>>>>(3);
    compare_all_modes<network<input<4, 15, 15>, conv2d<6, 3, dilation<2>, groups<2>>>>(2);
    compare_all_modes<network<input<16, 7, 7>, conv2d<32, 1, stride<2>>>>(5);
    compare_all_modes<network<input<2, 9, 9>, conv2d<3, 3>, relu, conv2d<4, 3, padding<1>>>>(1);
}

TEST_CASE("conv_transpose2d on the GPU matches the CPU: stride, padding, output padding, dilation, groups") {
    compare_all_modes<network<input<4, 7, 7>, conv_transpose2d<3, 3, stride<2>, padding<1>, output_padding<1>>>>(3);
    compare_all_modes<network<input<4, 5, 6>, conv_transpose2d<6, 4, stride<2>, groups<2>>>>(2);
    compare_all_modes<network<input<2, 6, 6>, conv_transpose2d<3, 3, dilation<2>, padding<2>>>>(2);
    compare_all_modes<network<input<2, 4, 4>, conv_transpose2d<4, 4, stride<2>, padding<1>>, relu,
                              conv_transpose2d<1, 4, stride<2>, padding<1>>>>(4);
}

TEST_CASE("pooling on the GPU matches the CPU") {
    compare_all_modes<network<input<3, 12, 12>, max_pool2d<2>>>(4);
    compare_all_modes<network<input<3, 11, 11>, max_pool2d<3, 2>>>(3);    // overlapping windows
    compare_all_modes<network<input<3, 12, 8>, avg_pool2d<2>>>(4);
    compare_all_modes<network<input<2, 11, 11>, avg_pool2d<3, 2>>>(2);
    compare_all_modes<network<input<5, 7, 6>, global_avg_pool, dense<3>>>(6);
}

TEST_CASE("batch norm on the GPU matches the CPU, running statistics included") {
    compare_all_modes<network<input<4, 6, 6>, batch_norm<>>>(8);
    compare_all_modes<network<input<12>, dense<16>, batch_norm<0.2>, relu, dense<4>>>(9);
}

TEST_CASE("residual blocks and sequential on the GPU match the CPU") {
    compare_all_modes<network<input<4, 8, 8>, examples::basic_block<4>, relu>>(3);
    compare_all_modes<network<input<4, 8, 8>, examples::downsample_block<8>, relu, global_avg_pool, dense<3>>>(3);
    compare_all_modes<network<input<10>, sequential<dense<8>, relu>, residual<sequential<dense<8>, typenet::tanh>>>>(4);
}

TEST_CASE("dropout<0> on the GPU trains as the identity") {
    compare_all_modes<network<input<50>, dense<20>, dropout<0.0>, relu, dense<3>>>(4);
}

TEST_CASE("dropout on the GPU: the identity out of training; in training a mask that backward follows") {
    using net = network<input<1000>, dropout<0.3>>;
    compare_backends<net>(4, mode::eval);
    compare_backends<net>(4, mode::infer);
    net host{seed{1}};
    cuda::model<net> gpu{host};
    const auto x = random_values(4000, 3);
    const float* y = gpu.forward(4, 1, x.data(), mode::train);
    std::size_t zeros = 0;
    for (std::size_t i = 0; i < x.size(); ++i) {
        if (y[i] == 0.0f) ++zeros;
        else CHECK(y[i] == doctest::Approx(x[i] / 0.7f).epsilon(1e-6));
    }
    CHECK(std::abs(double(zeros) / 4000.0 - 0.3) < 0.03);   // 1,200 expected, sd 29
    std::vector<float> y0(y, y + 4000), dx(4000);
    const std::vector<float> ones(4000, 1.0f);
    gpu.backward(ones.data(), dx.data());
    for (std::size_t i = 0; i < x.size(); ++i) CHECK((dx[i] == 0.0f) == (y0[i] == 0.0f && x[i] != 0.0f));
    const float* y2 = gpu.forward(4, 1, x.data(), mode::train);   // a new mask each step
    CHECK(!std::equal(y0.begin(), y0.end(), y2));
}

namespace {
// steps optimizer steps on the CPU and on the GPU from the same model and batches; parameters
// compared after.
// resync: the GPU model takes the CPU's parameters and state before each step, and each step is
// compared on its own. A ResNet's training is chaotic: two correct CPU builds (TYPENET_ISA=sse2 and
// avx512, the same seeds) drift apart from rounding alone, 2e-4 after 3 steps of this recipe and
// 4e-2 after 20, so 20 free steps would compare the chaos, not the backends.
template <class Net, class HostOpt, class DeviceOpt>
void compare_training(int steps, index_t batch, HostOpt& host_opt, Net& host, DeviceOpt& dev_opt, cuda::model<Net>& gpu,
                      double tol, bool resync = false) {
    constexpr std::size_t c = Net::output_shape::size;
    const loss::cross_entropy ce{};
    for (int s = 0; s < steps; ++s) {
        if (resync) gpu.copy_from(host);
        const auto x = random_values(std::size_t(batch) * Net::input_shape::size, 100 + std::uint64_t(s));
        std::vector<loss::label_t> t(static_cast<std::size_t>(batch));
        for (std::size_t i = 0; i < t.size(); ++i) t[i] = loss::label_t((i * 7 + std::size_t(s)) % c);
        std::vector<float> dy(std::size_t(batch) * c);
        host_opt.zero_grad();
        const float lc = ce(batch, index_t(c), host.forward(batch, x.data(), mode::train), t.data(), dy.data());
        host.backward(dy.data());
        host_opt.step();
        dev_opt.zero_grad();
        const float lg = ce(batch, index_t(c), gpu.forward(batch, 1, x.data(), mode::train), t.data(), dy.data());
        gpu.backward(dy.data());
        dev_opt.step();
        CHECK(lg == doctest::Approx(lc).epsilon(1e-4));
        if (resync || s == steps - 1) {
            Net back{seed{5}};
            gpu.copy_to(back);
            const std::vector<float> p_cpu(host.parameters().begin(), host.parameters().end());
            const std::vector<float> p_gpu(back.parameters().begin(), back.parameters().end());
            CHECK(norm_rel_diff(p_gpu, p_cpu) <= tol);
            if constexpr (Net::state_count > 0) {
                const std::vector<float> s_cpu(host.state().begin(), host.state().end());
                const std::vector<float> s_gpu(back.state().begin(), back.state().end());
                CHECK(norm_rel_diff(s_gpu, s_cpu) <= tol);
            }
        }
    }
}
}  // namespace

TEST_CASE("20 training steps of LeNet (free) and of the ResNet (step by step) on the GPU follow the CPU") {
    {
        examples::lenet host{seed{1}};
        cuda::model<examples::lenet> gpu{host};
        optim::adam hopt{host, {.lr = 1e-3}};
        cuda::adam dopt{gpu, {.lr = 1e-3}};
        compare_training(20, 64, hopt, host, dopt, gpu, 1e-4);
    }
    {
        examples::resnet host{seed{1}};
        cuda::model<examples::resnet> gpu{host};
        optim::sgd hopt{host, {.lr = 0.05, .momentum = 0.9, .weight_decay = 5e-4, .nesterov = true}};
        cuda::sgd dopt{gpu, {.lr = 0.05, .momentum = 0.9, .weight_decay = 5e-4, .nesterov = true}};
        compare_training(20, 32, hopt, host, dopt, gpu, 1e-4, true);
    }
}

TEST_CASE("sgd, adamw and rmsprop on the GPU take the CPU's steps") {
    using net = network<input<20>, dense<16>, relu, dense<5>>;
    {
        net host{seed{2}};
        cuda::model<net> gpu{host};
        optim::sgd hopt{host, {.lr = 0.1, .momentum = 0.8, .dampening = 0.1}};
        cuda::sgd dopt{gpu, {.lr = 0.1, .momentum = 0.8, .dampening = 0.1}};
        compare_training(10, 8, hopt, host, dopt, gpu, 1e-5);
    }
    {
        net host{seed{2}};
        cuda::model<net> gpu{host};
        optim::adamw hopt{host, {.lr = 1e-2, .weight_decay = 0.1}};
        cuda::adamw dopt{gpu, {.lr = 1e-2, .weight_decay = 0.1}};
        compare_training(10, 8, hopt, host, dopt, gpu, 1e-5);
    }
    for (bool centered : {false, true}) {
        net host{seed{2}};
        cuda::model<net> gpu{host};
        optim::rmsprop hopt{host, {.lr = 1e-2, .weight_decay = 1e-3, .momentum = 0.5, .centered = centered}};
        cuda::rmsprop dopt{gpu, {.lr = 1e-2, .weight_decay = 1e-3, .momentum = 0.5, .centered = centered}};
        compare_training(10, 8, hopt, host, dopt, gpu, 1e-5);
    }
}

TEST_CASE("fit and evaluate train a device model") {
    auto data = test::circle(2000, 3);
    using net = network<input<2>, dense<32>, relu, dense<32>, relu, dense<2>>;
    net host{seed{4}};
    cuda::model<net> gpu{host};
    cuda::adam opt{gpu, {.lr = 1e-2}};
    const auto before = evaluate(gpu, data);
    const auto history = fit(gpu, opt, loss::cross_entropy{}, data, {.epochs = 5, .batch = 64, .validation = 0.1});
    REQUIRE(history.size() == 5);
    const auto after = evaluate(gpu, data);
    CHECK(after.loss < before.loss);
    CHECK(after.accuracy > 0.95);
    gpu.copy_to(host);   // the trained weights evaluate the same on the CPU
    const auto on_cpu = evaluate(host, data);
    CHECK(on_cpu.accuracy == doctest::Approx(after.accuracy).epsilon(1e-3));
}

namespace {
// A sequence model on both backends: B sequences of T steps (token ids when the input is tokens),
// with recurrent state carried in and out and its gradients, when the model has any.
template <class Net>
void compare_sequences(index_t batch, index_t steps, double tol = 1e-4, bool with_state = true) {
    CAPTURE(Net::summary());
    Net host{seed{7}};
    cuda::model<Net> gpu{host};
    const std::size_t rows = std::size_t(batch * steps);
    const std::size_t nin = rows * Net::input_shape::size;
    const std::size_t nout = (is_sequence<typename Net::output_shape> ? rows : std::size_t(batch)) * Net::output_shape::size;
    std::vector<float> x = random_values(nin, 21);
    if constexpr (std::is_same_v<typename Net::input_shape, seq<1>>)
        for (std::size_t i = 0; i < nin; ++i) x[i] = float((i * 37 + 5) % 29);   // ids of a 29-word vocabulary
    const std::size_t cs = with_state ? Net::carry_size : 0;   // 0: no state in or out (zeros)
    const std::size_t nc = std::size_t(batch) * cs;
    const auto c0 = random_values(nc, 23, 0.5f);
    std::vector<float> c_cpu(nc), c_gpu(nc);
    const float* yc = host.forward(batch, steps, x.data(), mode::train,
                                   cs ? recurrent_state<float>{c0.data(), c_cpu.data()} : recurrent_state<float>{});
    const std::vector<float> y_cpu(yc, yc + nout);
    const float* yg = gpu.forward(batch, steps, x.data(), mode::train,
                                  cs ? recurrent_state<float>{c0.data(), c_gpu.data()} : recurrent_state<float>{});
    const std::vector<float> y_gpu(yg, yg + nout);
    CHECK(test::max_rel_diff(y_gpu, y_cpu) <= tol);
    CHECK(test::max_rel_diff(c_gpu, c_cpu) <= tol);

    const auto dy = random_values(nout, 25);
    const auto dcout = random_values(nc, 27);
    std::vector<float> dx_cpu(nin), dx_gpu(nin), dc_cpu(nc), dc_gpu(nc);
    host.zero_grad();
    host.backward(dy.data(), dx_cpu.data(), cs ? recurrent_gradients<float>{dcout.data(), dc_cpu.data()} : recurrent_gradients<float>{});
    gpu.backward(dy.data(), dx_gpu.data(), cs ? recurrent_gradients<float>{dcout.data(), dc_gpu.data()} : recurrent_gradients<float>{});
    CHECK(test::max_rel_diff(dx_gpu, dx_cpu) <= tol);
    CHECK(test::max_rel_diff(dc_gpu, dc_cpu) <= tol);
    std::vector<float> g_gpu(Net::param_count);
    gpu.gradients_to(g_gpu);
    const std::vector<float> g_cpu(host.gradients().begin(), host.gradients().end());
    CHECK(test::max_rel_diff(g_gpu, g_cpu) <= tol);
}
}  // namespace

TEST_CASE("sequence layers on the GPU match the CPU: embedding, lstm, layer norm, positions, last step") {
    compare_sequences<network<tokens, embedding<29, 12>, lstm<16>, dense<29>>>(3, 7);
    compare_sequences<network<tokens, embedding<29, 12>, lstm<16>, lstm<8>, last_step, dense<4>>>(2, 5);
    compare_sequences<network<sequence_input<6>, lstm<33>, layer_norm<>, dense<5>>>(4, 1);
    compare_sequences<network<tokens, embedding<29, 16>, positional_embedding<8>, layer_norm<>, dense<29>>>(3, 8);
    compare_sequences<network<sequence_input<5>, dense<7>, gelu, last_step>>(2, 3);
    compare_sequences<network<sequence_input<12>, causal_self_attention<3>>>(2, 9);
    compare_sequences<network<sequence_input<6>, gru<10>, rnn<7>, dense<3>>>(3, 6);
    compare_sequences<network<tokens, embedding<29, 8>, gru<12>, last_step, dense<2>>>(4, 5);
    compare_sequences<network<sequence_input<5>, bidirectional<lstm<6>>, bidirectional<gru<4>>, dense<3>>>(2, 7);
    compare_sequences<network<tokens, embedding<29, 6>, bidirectional<rnn<5>>, last_step, dense<2>>>(3, 4);
    // no recurrent state: zeros at the first step, no gradient of the final state
    compare_sequences<network<sequence_input<6>, lstm<9>, gru<10>, rnn<7>, dense<3>>>(3, 6, 1e-4, false);
    // rows longer than a block's threads: a 257-step causal softmax, a 300-wide layer norm
    compare_sequences<network<sequence_input<8>, positional_embedding<300>, causal_self_attention<2>>>(2, 257);
    compare_sequences<network<sequence_input<300>, layer_norm<>, dense<4>>>(3, 5);
    compare_sequences<network<tokens, embedding<29, 16>, positional_embedding<40>, transformer_block<4>, layer_norm<>,
                              dense<29>>>(3, 37);
}

namespace {
// 20 steps of a character model on both backends, b sequences of t steps, each step's loss (and
// gradient norm, clipped at 1) compared. A recurrent model carries its state from step to step
// (truncated BPTT) and runs free: its parameters are compared at the end. A transformer's training
// amplifies rounding as the ResNet's does, so resync gives the GPU the CPU's parameters before each
// step and compares them after each.
template <class Net, class HostOpt, class DeviceOpt>
void compare_language_model(HostOpt& hopt, Net& host, DeviceOpt& dopt, cuda::model<Net>& gpu, index_t b, index_t t,
                            bool resync) {
    constexpr index_t v = index_t(Net::output_shape::size);
    std::vector<float> h_cpu(std::size_t(b) * Net::carry_size), h_gpu(h_cpu.size());
    auto state = [](std::vector<float>& h) {
        return Net::carry_size ? recurrent_state<float>{h.data(), h.data()} : recurrent_state<float>{};
    };
    const loss::cross_entropy ce{};
    auto compare_parameters = [&] {
        Net back{seed{5}};
        gpu.copy_to(back);
        const std::vector<float> p_cpu(host.parameters().begin(), host.parameters().end());
        const std::vector<float> p_gpu(back.parameters().begin(), back.parameters().end());
        CHECK(norm_rel_diff(p_gpu, p_cpu) <= 1e-4);
    };
    for (int s = 0; s < 20; ++s) {
        if (resync) gpu.copy_from(host);
        std::vector<float> x(std::size_t(b * t));
        std::vector<loss::label_t> y(x.size());
        for (std::size_t i = 0; i < x.size(); ++i) {
            x[i] = float((i * 13 + std::size_t(s) * 7) % 100);
            y[i] = loss::label_t((i * 13 + std::size_t(s) * 7 + 1) % 100);
        }
        std::vector<float> dy(x.size() * std::size_t(v));
        hopt.zero_grad();
        const float lc = ce(b * t, v, host.forward(b, t, x.data(), mode::train, state(h_cpu)), y.data(), dy.data());
        host.backward(dy.data());
        const double nc = optim::clip_grad_norm(host, 1.0);
        hopt.step();
        dopt.zero_grad();
        const float lg = ce(b * t, v, gpu.forward(b, t, x.data(), mode::train, state(h_gpu)), y.data(), dy.data());
        gpu.backward(dy.data());
        const double ng = cuda::clip_grad_norm(gpu, 1.0);
        dopt.step();
        CHECK(lg == doctest::Approx(lc).epsilon(1e-4));
        CHECK(ng == doctest::Approx(nc).epsilon(1e-4));
        if (resync) compare_parameters();
    }
    CHECK(test::max_rel_diff(h_gpu, h_cpu) <= 1e-4);
    compare_parameters();
}
}  // namespace

TEST_CASE("20 training steps of the char-GPT on the GPU follow the CPU (step by step)") {
    using net = examples::char_gpt;
    net host{seed{3}};
    cuda::model<net> gpu{host};
    optim::adamw hopt{host, {.lr = 1e-3}};
    cuda::adamw dopt{gpu, {.lr = 1e-3}};
    compare_language_model(hopt, host, dopt, gpu, 4, 64, true);
}

TEST_CASE("20 truncated-BPTT steps of the char-LSTM on the GPU follow the CPU, clipping included") {
    using net = examples::char_lstm;
    net host{seed{3}};
    cuda::model<net> gpu{host};
    optim::adam hopt{host, {.lr = 2e-3}};
    cuda::adam dopt{gpu, {.lr = 2e-3}};
    compare_language_model(hopt, host, dopt, gpu, 8, 16, false);
}

TEST_CASE("a token outside the vocabulary is the CPU's error on the GPU too") {
    using net = network<tokens, embedding<10, 4>, dense<10>>;
    net host;
    cuda::model<net> gpu{host};
    const std::vector<float> x = {1, 2, 10, 3};
    CHECK_THROWS_WITH_AS(gpu.forward(2, 2, x.data(), mode::eval),
                         doctest::Contains("token id 10.000000 of sequence 1, step 0 is outside the vocabulary [0, 10)"),
                         std::out_of_range);
}

TEST_CASE("bad use of a device model is a clear error") {
    using net = network<input<4>, dense<2>>;
    net host;
    cuda::model<net> gpu{host};
    const std::vector<float> x(8, 1.0f), dy(4, 1.0f);
    CHECK_THROWS_WITH_AS(gpu.backward(dy.data()), doctest::Contains("call forward first"), std::logic_error);
    CHECK_THROWS_WITH_AS(gpu.forward(0, 1, x.data(), mode::eval), doctest::Contains("batch size must be > 0"),
                         std::invalid_argument);
    gpu.forward(2, 1, x.data(), mode::infer);
    CHECK_THROWS_WITH_AS(gpu.backward(dy.data()), doctest::Contains("mode::infer"), std::logic_error);
    std::vector<float> g(3);
    CHECK_THROWS_WITH_AS(gpu.gradients_to(g), doctest::Contains("needs 10 values"), std::invalid_argument);
    CHECK_THROWS_AS(cuda::model<net>(host, cuda::device_count()), cuda::cuda_error);   // one past the last GPU
}

int main(int argc, char** argv) {
    if (!cuda::available()) {
        std::printf("SKIPPED: the CUDA backend tests need a GPU: %s\n", cuda::unavailable_reason().c_str());
        return 77;
    }
    std::printf("GPU: %s, convolutions: %s\n", cuda::device(0).name().c_str(), kernels::cuda::conv2d_engine());
    doctest::Context ctx(argc, argv);
    return ctx.run();
}
