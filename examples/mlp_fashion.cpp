// examples/mlp_fashion.cpp — an MLP 784-256-128-10 trained on Fashion-MNIST (the type:
// examples::mlp in examples/models.hpp). Recipe (the defaults): inputs standardized, Adam lr 1e-3
// decayed x0.6 per epoch, batch 64, cross-entropy with label smoothing 0.1, 5 epochs: 89.0 % test
// accuracy (seed 1).
//   mlp_fashion [--epochs --batch --lr --lr-decay --optimizer --threads --limit --seed --data DIR
//                --save PATH --resume PATH ...]
#include "models.hpp"
#include "support/classifier.hpp"

using namespace typenet;

int main(int argc, char** argv) {
    examples::run_options defaults;
    defaults.epochs = 5;
    defaults.lr_decay = 0.6;
    defaults.label_smoothing = 0.1;
    return examples::run_classifier<examples::mlp>(argc, argv, "Train an MLP 784-256-128-10 on Fashion-MNIST", defaults);
}
