// examples/resnet_fashion.cpp — a small ResNet trained on Fashion-MNIST: a 3x3 stem, three stages
// of two basic blocks (16, 32, 64 channels; the second and third stage halve the resolution with a
// projected shortcut), global average pooling, a linear classifier. The whole network is one type.
//   resnet_fashion [--epochs --batch --lr --lr-decay --optimizer --threads --limit --seed --data DIR]
#include "support/classifier.hpp"

using namespace typenet;

// x + f(x): two 3x3 convolutions with batch norm, ReLU between.
template <std::size_t C>
using basic_block = residual<sequential<conv2d<C, 3, padding<1>>, batch_norm<>, relu,
                                        conv2d<C, 3, padding<1>>, batch_norm<>>>;

// The same at stride 2 with C channels out: the shortcut is projected by a strided 1x1 convolution.
template <std::size_t C>
using downsample_block = residual<sequential<conv2d<C, 3, padding<1>, stride<2>>, batch_norm<>, relu,
                                             conv2d<C, 3, padding<1>>, batch_norm<>>,
                                  sequential<conv2d<C, 1, stride<2>>, batch_norm<>>>;

using resnet = network<input<1, 28, 28>,
                       conv2d<16, 3, padding<1>>, batch_norm<>, relu,
                       basic_block<16>, relu, basic_block<16>, relu,               // (16, 28, 28)
                       downsample_block<32>, relu, basic_block<32>, relu,          // (32, 14, 14)
                       downsample_block<64>, relu, basic_block<64>, relu,          // (64, 7, 7)
                       global_avg_pool, dense<10>>;

int main(int argc, char** argv) {
    examples::run_options defaults;
    defaults.epochs = 15;
    defaults.lr = 2e-3;
    defaults.lr_decay = 0.8;
    defaults.label_smoothing = 0.1;
    return examples::run_classifier<resnet>(argc, argv, "Train a small ResNet on Fashion-MNIST", defaults);
}
