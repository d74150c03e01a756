// docs/examples/files.cpp — the program of docs/files.md, verbatim.
#include <typenet/io.hpp>
#include <filesystem>
#include <iostream>
using namespace typenet;

using mlp = network<input<1, 28, 28>, flatten, dense<128>, relu, dense<10>>;

int main() {
    auto data = data::fashion_mnist();
    data.train.standardize(0.2860, 0.3530);
    data.test.standardize(0.2860, 0.3530);

    mlp model{seed{1}};
    optim::adam opt{model, {.lr = 1e-3}};
    fit_options o{.epochs = 3, .batch = 64, .seed = 1};
    fit_state resumed;
    if (std::filesystem::exists("mlp.ckpt")) {              // a run that was stopped: continue it exactly
        resumed = io::load_checkpoint("mlp.ckpt", model, opt);
        o.resume = &resumed;
    }
    checkpointer ck{model, opt, "mlp.ckpt"};                 // at each epoch's end, and on Ctrl-C
    fit(model, opt, loss::cross_entropy{}, data.train, o, ck);
    if (ck.interrupted()) return 130;                        // run it again to go on

    io::save(model, "mlp.safetensors");                      // PyTorch's names: 1.weight, 1.bias, 3.weight, ...
    mlp copy;
    io::load(copy, "mlp.safetensors");                       // every name, dtype and shape checked first
    io::export_header(copy, "mlp_model.hpp", "app");         // the model as C++ source: app::model, app::instance()
    std::cout << "test accuracy " << evaluate(copy, data.test).accuracy << "\n";
}
