// docs/examples/getting_started.cpp — the program of docs/getting-started.md, verbatim.
#include <typenet/typenet.hpp>
#include <iostream>
using namespace typenet;

// 1 x 28 x 28 images -> 10 classes. Every shape below is known to the compiler.
using mlp = network<input<1, 28, 28>,
                    flatten, dense<256>, relu, dense<128>, relu, dense<10>>;

int main() {
    auto data = data::fashion_mnist();            // /usr/share/datasets/fashion-mnist, or a path
    data.train.standardize(0.2860, 0.3530);       // mean and std of the training pixels
    data.test.standardize(0.2860, 0.3530);

    mlp model{seed{1}};                           // torch's default init, drawn from seed 1
    std::cout << mlp::summary();                  // layers, shapes, parameter counts

    optim::adam opt{model, {.lr = 1e-3}};
    auto history = fit(model, opt, loss::cross_entropy{.label_smoothing = 0.1}, data.train,
                       {.epochs = 5, .batch = 64, .validation = 0.1, .seed = 1},
                       [&](const epoch_stats& e) {      // after each epoch
                           std::cout << e.epoch << ": loss " << e.train.loss
                                     << ", validation accuracy " << e.validation.accuracy << "\n";
                           opt.set_lr(opt.lr() * 0.6);  // an exponential schedule
                       });
    std::cout << "test accuracy " << evaluate(model, data.test).accuracy << "\n";
}
