// The twin of conv_kernel_too_large.cpp: padding 1 makes the image 7x7, and it compiles.
#include <typenet/typenet.hpp>
using namespace typenet;
using net = network<input<1, 5, 5>, conv2d<4, 7, padding<1>>, flatten, dense<10>>;
int main() { net model{seed{1}}; (void)model; static_assert(net::param_count == 4 * 49 + 4 + 4 * 10 + 10); }
