// Three input channels in two groups: the model must not compile, with one line.
#include <typenet/typenet.hpp>
using namespace typenet;
using net = network<input<3, 8, 8>, conv2d<4, 3, groups<2>>, relu>;
int main() { net model{seed{1}}; (void)model; }
