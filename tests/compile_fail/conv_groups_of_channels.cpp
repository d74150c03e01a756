// The twin of conv_groups_divide_channels.cpp: four input channels in two groups compile.
#include <typenet/typenet.hpp>
using namespace typenet;
using net = network<input<4, 8, 8>, conv2d<4, 3, groups<2>>, relu>;
int main() { net model{seed{1}}; (void)model; static_assert(net::param_count == 4 * 2 * 9 + 4); }
