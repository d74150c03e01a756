// examples/resnet_fashion.cpp — a small ResNet trained on Fashion-MNIST (the type: examples::resnet
// in examples/models.hpp): a 3x3 stem, three stages of two basic blocks (16, 32, 64 channels; the
// second and third stage halve the resolution with a projected shortcut), global average pooling,
// a linear classifier. The whole network is one type.
//   resnet_fashion [--epochs --batch --lr --lr-decay --optimizer --threads --limit --seed --data DIR
//                   --save PATH --resume PATH ...]
#include "models.hpp"
#include "support/classifier.hpp"

using namespace typenet;

int main(int argc, char** argv) {
    examples::run_options defaults;
    defaults.epochs = 15;
    defaults.lr = 2e-3;
    defaults.lr_decay = 0.8;
    defaults.label_smoothing = 0.1;
    return examples::run_classifier<examples::resnet>(argc, argv, "Train a small ResNet on Fashion-MNIST", defaults);
}
