// conv_transpose2d on a flat input: the model must not compile, with one line.
#include <typenet/typenet.hpp>
using namespace typenet;
using net = network<input<100>, dense<49>, conv_transpose2d<4, 3>, relu>;
int main() { net model{seed{1}}; (void)model; }
