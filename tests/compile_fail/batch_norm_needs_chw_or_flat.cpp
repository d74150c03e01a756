// batch_norm on a rank-2 input (neither (C, H, W) nor flat): the model must not compile, with one line.
#include <typenet/typenet.hpp>
using namespace typenet;
using net = network<input<3, 4>, batch_norm<>, relu>;
int main() { net model{seed{1}}; (void)model; }
