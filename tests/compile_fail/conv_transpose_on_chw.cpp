// The twin of conv_transpose_needs_chw.cpp: a (C, H, W) input, and it compiles.
#include <typenet/typenet.hpp>
using namespace typenet;
using net = network<input<1, 7, 7>, conv_transpose2d<4, 3>, relu>;
int main() { net model{seed{1}}; (void)model; static_assert(std::is_same_v<net::output_shape, shape<4, 9, 9>>); }
