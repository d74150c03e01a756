// A user's program on a GPU: the consumer's model trained with typenet/cuda.hpp; without a GPU it
// says why and exits 0 (the build, link and the error path are what this checks there).
#include <typenet/cuda.hpp>
#include <typenet/typenet.hpp>

#include <cstdio>

using namespace typenet;
using net = network<input<2>, dense<16>, typenet::tanh, dense<2>>;

int main() {
    net model{seed{1}};
    if (!cuda::available()) {
        try {
            cuda::model<net> gpu{model};
            return 1;                                    // a model on no device must not be made
        } catch (const cuda::cuda_error& e) {
            std::printf("consumer_cuda: no GPU (%s): %s\n", cuda::unavailable_reason().c_str(), e.what());
            return 0;
        }
    }
    data::dataset<float> d;
    d.sample_shape = {2};
    d.classes = 2;
    rng g(seed{3});
    for (int i = 0; i < 512; ++i) {
        const double a = g.uniform(-1, 1), b = g.uniform(-1, 1);
        d.x.push_back(float(a));
        d.x.push_back(float(b));
        d.y.push_back(a * a + b * b < 0.36 ? 1 : 0);
    }
    cuda::model<net> gpu{model};
    cuda::adam opt{gpu, {.lr = 0.02}};
    fit(gpu, opt, loss::cross_entropy{}, d, {.epochs = 60, .batch = 32});
    const double acc = evaluate(gpu, d).accuracy;
    std::printf("consumer_cuda: %s, accuracy %.3f\n", gpu.on().name().c_str(), acc);
    return acc > 0.9 ? 0 : 1;
}
