// conv_transpose2d with output_padding not below stride (nor dilation): torch rejects it at run
// time; typenet at compile time, with one line.
#include <typenet/typenet.hpp>
using namespace typenet;
using net = network<input<8, 7, 7>, conv_transpose2d<4, 3, stride<2>, padding<1>, output_padding<2>>, relu>;
int main() { net model{seed{1}}; (void)model; }
