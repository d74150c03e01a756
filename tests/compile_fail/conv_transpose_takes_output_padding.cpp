// The twin of conv_takes_no_output_padding.cpp: the same options on conv_transpose2d compile.
#include <typenet/typenet.hpp>
using namespace typenet;
using net = network<input<1, 10, 10>, conv_transpose2d<4, 3, stride<2>, output_padding<1>>, relu>;
int main() { net model{seed{1}}; (void)model; static_assert(std::is_same_v<net::output_shape, shape<4, 22, 22>>); }
