// examples/readme.cpp — the README's first example, verbatim, so that it keeps compiling and working.
#include <typenet/typenet.hpp>
#include <iostream>
using namespace typenet;

using mlp = network<input<1, 28, 28>,
                    flatten, dense<256>, relu, dense<128>, relu, dense<10>>;

int main() {
    auto data = data::fashion_mnist();                       // Debian's dataset-fashion-mnist
    mlp model{seed{1}};                                       // 235,146 parameters, one aligned buffer
    optim::adam opt{model, {.lr = 1e-3}};
    fit(model, opt, loss::cross_entropy{}, data.train, {.epochs = 5, .batch = 64});
    std::cout << "test accuracy " << evaluate(model, data.test).accuracy << "\n";
}
