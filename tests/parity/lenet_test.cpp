// tests/parity/lenet_test.cpp — LeNet-5 trained for 50 SGD steps (lr 0.05, momentum 0.9, batch 8,
// cross-entropy) against the same run in torch (tests/parity/gen.py, lenet.txt): the loss of every
// step and checksums of the final parameters. The initial parameters and the inputs are too big to
// store; both sides draw them from the same integer hash (hash_uniform below and in gen.py), and
// checksums in lenet.txt prove they agree before training starts.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <span>
#include <string>
#include <vector>

#include "support/parity.hpp"
#include "typenet/core/network.hpp"
#include "typenet/layers/activation.hpp"
#include "typenet/layers/conv.hpp"
#include "typenet/layers/dense.hpp"
#include "typenet/layers/flatten.hpp"
#include "typenet/layers/pool.hpp"
#include "typenet/losses/losses.hpp"
#include "typenet/optim/optimizers.hpp"

namespace {
using namespace typenet;
constexpr index_t steps = 50, batch = 8, pixels = 28 * 28, classes = 10;

template <class T>
using lenet = basic_network<T, input<1, 28, 28>, conv2d<6, 5, padding<2>>, relu, max_pool2d<2>, conv2d<16, 5>, relu,
                            max_pool2d<2>, flatten, dense<120>, relu, dense<84>, relu, dense<10>>;

std::uint64_t splitmix64(std::uint64_t z) {
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
// gen.py's hash_uniform(stream, n)[i]: exact in double, the same bits in both languages.
double hash_uniform(std::uint64_t stream, std::uint64_t i) {
    return double(splitmix64((stream << 32) + i) >> 11) * 0x1.0p-53;
}

// Parameter tensor j (w then b of each layer, in order) of fan_in: U(-1/sqrt(fan_in), +) as torch's
// default init, drawn as bound * (2 u - 1) from stream j + 1. Computed in double, then rounded to T.
template <class T>
void fill_tensor(std::span<T> dst, std::uint64_t j, std::size_t fan_in) {
    const double bound = 1.0 / std::sqrt(double(fan_in));
    for (std::size_t i = 0; i < dst.size(); ++i) dst[i] = T(bound * (2 * hash_uniform(j + 1, i) - 1));
}
template <std::size_t I, class T>
void fill_layer(lenet<T>& net, std::uint64_t j, std::size_t out, std::size_t fan_in) {
    auto p = net.template layer_parameters<I>();   // w (out, fan_in) then b (out)
    REQUIRE(p.size() == out * fan_in + out);
    fill_tensor(p.first(out * fan_in), j, fan_in);
    fill_tensor(p.subspan(out * fan_in), j + 1, fan_in);
}
template <class T>
void init_like_gen_py(lenet<T>& net) {
    fill_layer<0>(net, 0, 6, 1 * 5 * 5);
    fill_layer<3>(net, 2, 16, 6 * 5 * 5);
    fill_layer<7>(net, 4, 120, 400);
    fill_layer<9>(net, 6, 84, 120);
    fill_layer<11>(net, 8, 10, 84);
}

// Per-tensor sums (Power = 1) or sums of squares (Power = 2), in gen.py's order: (10).
template <int Power, class T>
std::vector<double> tensor_sums(lenet<T>& net) {
    std::vector<double> out;
    auto add = [&](std::span<T> p, std::size_t out_ch) {
        const std::size_t nw = p.size() - out_ch;
        for (auto part : {p.first(nw), p.subspan(nw)}) {
            double s = 0;
            for (T v : part) s += Power == 1 ? double(v) : double(v) * double(v);
            out.push_back(s);
        }
    };
    add(net.template layer_parameters<0>(), 6);
    add(net.template layer_parameters<3>(), 16);
    add(net.template layer_parameters<7>(), 120);
    add(net.template layer_parameters<9>(), 84);
    add(net.template layer_parameters<11>(), 10);
    return out;
}
}  // namespace

TEST_CASE_TEMPLATE("lenet: 50 SGD steps follow torch's loss", T, float, double) {
    const test::parity_file f(TYPENET_TEST_DIR "/parity/data/lenet.txt");
    static_assert(lenet<T>::param_count == 61706);
    lenet<T> net;
    init_like_gen_py(net);
    {
        const auto sums0 = tensor_sums<1>(net);   // the parameters torch starts from
        test::check_close(sums0, f.at("param_sums0"), sizeof(T) == 4 ? 1e-5 : 1e-12, "initial parameter sums");
    }
    std::vector<T> x(std::size_t(steps * batch * pixels));   // (steps, B, 1, 28, 28) in [0, 1)
    double x_sum = 0;
    for (std::size_t i = 0; i < x.size(); ++i) {
        const double u = hash_uniform(100, i);
        x[i] = T(u);
        x_sum += u;
    }
    const double x_sum_torch = f.at("x_sum").scalar();
    CHECK_MESSAGE(std::abs(x_sum - x_sum_torch) <= 1e-12 * x_sum_torch, "input sum ", x_sum, ", torch's ", x_sum_torch);
    const auto& labels_f = f.at("labels");                  // (steps, B)
    REQUIRE(labels_f.size() == std::size_t(steps * batch));
    std::vector<loss::label_t> labels;
    for (double v : labels_f.values) labels.push_back(loss::label_t(v));
    for (std::size_t i = 0; i < labels.size(); ++i)
        REQUIRE(labels[i] == loss::label_t(std::floor(hash_uniform(101, i) * 10)));

    optim::sgd opt(net, {.lr = 0.05, .momentum = 0.9});
    const loss::cross_entropy ce{};
    const auto& expected = f.at("loss");                    // (steps): each step's loss, before its update
    REQUIRE(expected.size() == std::size_t(steps));
    std::vector<double> got;
    std::vector<T> dlogits(std::size_t(batch * classes));   // (B, 10)
    for (index_t s = 0; s < steps; ++s) {
        const T* logits = net.forward(batch, x.data() + s * batch * pixels, mode::train);   // (B, 10)
        const T l = ce(batch, classes, logits, labels.data() + s * batch, dlogits.data());
        got.push_back(double(l));
        opt.zero_grad();
        net.backward(dlogits.data());
        opt.step();
    }
    // Absolute: the losses are near 2.3, so check_close's max(1, |expected|) scale is ~2.3.
    const double tol = sizeof(T) == 4 ? 1e-3 : 1e-8;
    double max_err = 0;
    std::size_t bad = 0;
    for (std::size_t s = 0; s < got.size(); ++s) {
        const double err = std::abs(got[s] - expected.values[s]);
        if (!(err <= tol) && bad++ < 8) MESSAGE("step ", s, ": loss ", got[s], ", torch ", expected.values[s]);
        if (!(err <= max_err)) max_err = err;
    }
    INFO("max |loss - torch's| over ", steps, " steps: ", max_err);
    CHECK(bad == 0);
    if (sizeof(T) == 8) {   // float drifts too far after 50 steps for a parameter checksum to mean much
        test::check_close(tensor_sums<1>(net), f.at("param_sums"), 1e-8, "final parameter sums");
        test::check_close(tensor_sums<2>(net), f.at("param_sq_sums"), 1e-8, "final parameter sums of squares");
    }
}
