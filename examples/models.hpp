// examples/models.hpp — the examples' Fashion-MNIST classifiers, each one type. The examples train
// them; tests/io checks them against PyTorch's nn.Sequential of the same layers (scripts/
// torch_models.py), and examples/embedded runs an exported LeNet.
#pragma once
#include <typenet/typenet.hpp>

namespace typenet::examples {

// An MLP 784-256-128-10 (examples/mlp_fashion.cpp).
using mlp = network<input<1, 28, 28>,
                    flatten, dense<256>, relu, dense<128>, relu, dense<10>>;

// LeNet-5 (examples/lenet_fashion.cpp): conv 6@5x5 (padding 2), max pool, conv 16@5x5, max pool,
// dense 120, 84, 10; ReLU between.
using lenet = network<input<1, 28, 28>,
                      conv2d<6, 5, padding<2>>, relu, max_pool2d<2>,
                      conv2d<16, 5>, relu, max_pool2d<2>,
                      flatten, dense<120>, relu, dense<84>, relu, dense<10>>;

// A small ResNet (examples/resnet_fashion.cpp). x + f(x): two 3x3 convolutions with batch norm,
// ReLU between.
template <std::size_t C>
using basic_block = residual<sequential<conv2d<C, 3, padding<1>>, batch_norm<>, relu,
                                        conv2d<C, 3, padding<1>>, batch_norm<>>>;

// The same at stride 2 with C channels out: the shortcut is projected by a strided 1x1 convolution.
template <std::size_t C>
using downsample_block = residual<sequential<conv2d<C, 3, padding<1>, stride<2>>, batch_norm<>, relu,
                                             conv2d<C, 3, padding<1>>, batch_norm<>>,
                                  sequential<conv2d<C, 1, stride<2>>, batch_norm<>>>;

// A 3x3 stem, three stages of two blocks (16, 32, 64 channels; the second and third halve the
// resolution), global average pooling, a linear classifier.
using resnet = network<input<1, 28, 28>,
                       conv2d<16, 3, padding<1>>, batch_norm<>, relu,
                       basic_block<16>, relu, basic_block<16>, relu,               // (16, 28, 28)
                       downsample_block<32>, relu, basic_block<32>, relu,          // (32, 14, 14)
                       downsample_block<64>, relu, basic_block<64>, relu,          // (64, 7, 7)
                       global_avg_pool, dense<10>>;

// ---- sequence models (examples/char_lstm.cpp, char_gpt.cpp) -----------------------------------------
// Characters as ids in [0, 128): the fortunes corpus has 113 distinct ones.
inline constexpr std::size_t text_vocabulary = 128;

// embedding 64, one LSTM layer of 256, a dense read-out at every step.
using char_lstm = network<tokens, embedding<text_vocabulary, 64>, lstm<256>, dense<text_vocabulary>>;

// GPT: token and positional embeddings (128 wide, context 128), four pre-norm blocks of four heads,
// a final layer norm, a dense read-out at every step.
inline constexpr std::size_t gpt_context = 128;
using char_gpt = network<tokens, embedding<text_vocabulary, 128>, positional_embedding<gpt_context>,
                         transformer_block<4>, transformer_block<4>, transformer_block<4>, transformer_block<4>,
                         layer_norm<>, dense<text_vocabulary>>;

// An encoder-decoder (examples/seq2seq.cpp): the 26 letters, <go> and <eos>; the decoder starts from
// the encoder's final LSTM state (their carry sizes match).
inline constexpr std::size_t seq2seq_vocabulary = 28;
using seq2seq_encoder = network<tokens, embedding<seq2seq_vocabulary, 32>, lstm<256>>;
using seq2seq_decoder = network<tokens, embedding<seq2seq_vocabulary, 32>, lstm<256>, dense<seq2seq_vocabulary>>;

}  // namespace typenet::examples
