// tests/train/allocation_test.cpp — a steady-state training step (forward, loss, backward, optimizer
// step) allocates nothing: every operator new and every malloc-family call is counted, and steps
// 2..N of a LeNet, a ResNet-style model (residual blocks, batch norm, dropout) and an MLP, with one
// thread and with two, must add none. Also inside fit(), read from its per-step callback, and in
// predict() after its first call.
// The counting replaces the global allocation functions of this executable, which AddressSanitizer
// replaces as well: under ASan the counters are not installed and the checks are skipped.
#include <doctest/doctest.h>

#include <array>
#include <atomic>
#include <cmath>
#include <cstddef>
#include <cstdlib>
#include <new>
#include <span>
#include <vector>

#include "typenet/typenet.hpp"

#include "support/allocation_counter.hpp"

namespace {
using namespace typenet;

using lenet = network<input<1, 28, 28>, conv2d<6, 5, padding<2>>, relu, max_pool2d<2>, conv2d<16, 5>, relu,
                      max_pool2d<2>, flatten, dense<120>, relu, dense<84>, relu, dense<10>>;
template <std::size_t C>
using block = residual<sequential<conv2d<C, 3, padding<1>>, batch_norm<>, relu, conv2d<C, 3, padding<1>>, batch_norm<>>>;
using small_resnet = network<input<1, 12, 12>, conv2d<8, 3, padding<1>>, batch_norm<>, relu, block<8>, relu,
                             residual<sequential<conv2d<16, 3, padding<1>, stride<2>>, batch_norm<>, relu,
                                                 conv2d<16, 3, padding<1>>, batch_norm<>>,
                                      sequential<conv2d<16, 1, stride<2>>, batch_norm<>>>,
                             relu, global_avg_pool, dropout<0.2>, dense<10>>;
using mlp = network<input<1, 28, 28>, flatten, dense<256>, relu, dense<128>, relu, dense<10>>;

// Random inputs and labels for `batch` samples of Net.
template <class Net>
struct batch_data {
    std::vector<float> x;
    std::vector<int> y;
    explicit batch_data(index_t batch) {
        rng g(seed{5});
        x.resize(std::size_t(batch) * Net::input_shape::size);
        for (auto& v : x) v = float(g.uniform(-1, 1));
        for (index_t i = 0; i < batch; ++i) y.push_back(int(g.uniform(0, 10)) % 10);
    }
};

// Allocations made by steps 2..steps of plain training with Adam.
template <class Net>
long allocations_in_steady_steps(index_t batch, int steps) {
    Net net{seed{1}};
    optim::adam opt{net, {.lr = 1e-3}};
    loss::cross_entropy loss;
    batch_data<Net> d(batch);
    std::vector<float> dy(std::size_t(batch) * Net::output_shape::size);
    long before = 0;
    for (int s = 1; s <= steps; ++s) {
        if (s == 2) before = allocations.load();
        opt.zero_grad();
        const float* y = net.forward(batch, d.x.data(), mode::train);
        loss(batch, index_t(Net::output_shape::size), y, d.y.data(), dy.data());
        net.backward(dy.data());
        opt.step();
    }
    return allocations.load() - before;
}

struct restore_threads {
    int saved = kernels::cpu::max_threads();
    ~restore_threads() { set_num_threads(saved); }
};
}  // namespace

TEST_CASE("a steady-state training step allocates nothing") {
    if (!TYPENET_TEST_COUNTS_ALLOCATIONS) {
        MESSAGE("skipped: AddressSanitizer replaces the allocation functions this test counts");
        return;
    }
    // The counters work: a vector of 100 floats is one allocation, malloc and aligned_alloc (what
    // the kernels' scratch uses) one each. The pointers escape, so the calls cannot be elided.
    const long start = allocations.load();
    { std::vector<float> v(100); }
    REQUIRE(allocations.load() - start == 1);
    escape = std::malloc(10);
    std::free(escape);
    escape = std::aligned_alloc(64, 128);
    std::free(escape);
    REQUIRE(allocations.load() - start == 3);

    const restore_threads restore;
    for (int threads : {1, 2}) {
        CAPTURE(threads);
        set_num_threads(threads);
        CHECK(allocations_in_steady_steps<lenet>(32, 5) == 0);
        CHECK(allocations_in_steady_steps<small_resnet>(16, 5) == 0);
        CHECK(allocations_in_steady_steps<mlp>(64, 5) == 0);
    }
}

TEST_CASE("predict allocates nothing after the first call") {
    if (!TYPENET_TEST_COUNTS_ALLOCATIONS) {
        MESSAGE("skipped: AddressSanitizer replaces the allocation functions this test counts");
        return;
    }
    lenet net{seed{1}};
    small_resnet res{seed{1}};
    batch_data<lenet> d(3);
    std::array<float, 144> sample{};
    float sum = predict(net, std::span<const float, 784>(d.x.data(), 784))[0] + predict(res, sample)[0];
    const long before = allocations.load();
    for (int i = 0; i < 3; ++i) {
        sum += predict(net, std::span<const float, 784>(d.x.data() + i * 784, 784))[0];
        sum += predict(res, sample)[1];
    }
    CHECK(allocations.load() - before == 0);
    CHECK(std::isfinite(sum));
}

TEST_CASE("fit's steps allocate nothing after the first") {
    if (!TYPENET_TEST_COUNTS_ALLOCATIONS) {
        MESSAGE("skipped: AddressSanitizer replaces the allocation functions this test counts");
        return;
    }
    data::dataset<float> d;
    d.sample_shape = {1, 12, 12};
    d.classes = 10;
    rng g(seed{3});
    for (int i = 0; i < 16 * 6; ++i) {
        for (int j = 0; j < 144; ++j) d.x.push_back(float(g.uniform(-1, 1)));
        d.y.push_back(i % 10);
    }
    small_resnet net{seed{2}};
    optim::adam opt{net, {.lr = 1e-3}};
    std::vector<long> at_step;
    at_step.reserve(64);
    fit(net, opt, loss::cross_entropy{}, d, {.epochs = 2, .batch = 16},
        [&](const step_stats&) { at_step.push_back(allocations.load()); });
    REQUIRE(at_step.size() == 12);
    // Within an epoch, from the second step on (an epoch's end allocates its history entry).
    for (std::size_t i = 2; i < 6; ++i) CHECK(at_step[i] - at_step[i - 1] == 0);
    for (std::size_t i = 7; i < 12; ++i) CHECK(at_step[i] - at_step[i - 1] == 0);
}
