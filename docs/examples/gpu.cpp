// docs/examples/gpu.cpp — the program of docs/gpu.md, verbatim (built where nvcc is found).
#include <typenet/cuda.hpp>
#include <typenet/io.hpp>
#include <typenet/typenet.hpp>
#include <iostream>
using namespace typenet;

using lenet = network<input<1, 28, 28>,
                      conv2d<6, 5, padding<2>>, relu, max_pool2d<2>,
                      conv2d<16, 5>, relu, max_pool2d<2>,
                      flatten, dense<120>, relu, dense<84>, relu, dense<10>>;

int main() {
    if (!cuda::available()) {                          // no GPU, or no driver: say why
        std::cout << "no GPU: " << cuda::unavailable_reason() << "\n";
        return 0;
    }
    auto data = data::fashion_mnist();
    data.train.standardize(0.2860, 0.3530);
    data.test.standardize(0.2860, 0.3530);
    lenet host{seed{1}};
    cuda::model<lenet> gpu{host};                      // GPU 0; cuda::model<lenet>{host, 1} for GPU 1
    cuda::adam opt{gpu, {.lr = 1e-3}};                 // the optimizer's state on the device too
    fit(gpu, opt, loss::cross_entropy{}, data.train, {.epochs = 10, .batch = 256});
    std::cout << "test accuracy " << evaluate(gpu, data.test).accuracy << "\n";
    gpu.copy_to(host);                                 // back, to save, export, or run on the CPU
    io::save(host, "lenet.safetensors");
}
