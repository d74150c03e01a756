// A user's program: a small model learns two interleaved classes, exit 0 when it has.
#include <typenet/typenet.hpp>

#include <cmath>
#include <cstdio>

using namespace typenet;
// typenet::tanh, qualified: <cmath> puts a function ::tanh in the global namespace too.
using net = network<input<2>, dense<16>, typenet::tanh, dense<2>>;

int main() {
    data::dataset<float> d;
    d.sample_shape = {2};
    d.classes = 2;
    rng g(seed{3});
    for (int i = 0; i < 512; ++i) {                  // label: inside the circle of radius 0.6
        const double a = g.uniform(-1, 1), b = g.uniform(-1, 1);
        d.x.push_back(float(a));
        d.x.push_back(float(b));
        d.y.push_back(a * a + b * b < 0.36 ? 1 : 0);
    }
    net model{seed{1}};
    optim::adam opt{model, {.lr = 0.02}};
    fit(model, opt, loss::cross_entropy{}, d, {.epochs = 60, .batch = 32});
    const double acc = evaluate(model, d).accuracy;
    std::printf("consumer: %s accuracy %.3f, kernels %s\n", TYPENET_CONSUMER_MODE, acc, kernels::cpu::active_isa_name());
    return acc > 0.9 ? 0 : 1;
}
