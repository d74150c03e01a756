// The twin of conv_transpose_output_padding_too_large.cpp: output_padding 1 < stride 2, and it
// compiles; a GAN generator's upsampling, (8, 7, 7) -> (4, 14, 14).
#include <typenet/typenet.hpp>
using namespace typenet;
using net = network<input<8, 7, 7>, conv_transpose2d<4, 3, stride<2>, padding<1>, output_padding<1>>, relu>;
int main() { net model{seed{1}}; (void)model; static_assert(std::is_same_v<net::output_shape, shape<4, 14, 14>>); }
