// output_padding<P> belongs to conv_transpose2d; conv2d rejects it with one line.
#include <typenet/typenet.hpp>
using namespace typenet;
using net = network<input<1, 10, 10>, conv2d<4, 3, stride<2>, output_padding<1>>, relu>;
int main() { net model{seed{1}}; (void)model; }
