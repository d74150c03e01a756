// examples/lenet_fashion.cpp — LeNet-5 trained on Fashion-MNIST.
// conv 6@5x5 (padding 2), max pool, conv 16@5x5, max pool, dense 120, 84, 10; ReLU between.
// Recipe (the defaults): inputs standardized, Adam lr 2e-3 decayed x0.7 per epoch, batch 64,
// cross-entropy with label smoothing 0.1, 10 epochs: 90.9, 90.5, 90.6 % test accuracy (seeds 1-3).
//   lenet_fashion [--epochs --batch --lr --lr-decay --optimizer --threads --limit --seed --data DIR]
#include "support/classifier.hpp"

using namespace typenet;

using lenet = network<input<1, 28, 28>,
                      conv2d<6, 5, padding<2>>, relu, max_pool2d<2>,
                      conv2d<16, 5>, relu, max_pool2d<2>,
                      flatten, dense<120>, relu, dense<84>, relu, dense<10>>;

int main(int argc, char** argv) {
    examples::run_options defaults;
    defaults.epochs = 10;
    defaults.lr = 2e-3;
    defaults.lr_decay = 0.7;
    defaults.label_smoothing = 0.1;
    return examples::run_classifier<lenet>(argc, argv, "Train LeNet-5 on Fashion-MNIST", defaults);
}
