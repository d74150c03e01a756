// 2x2 windows, stride 2, on a 5x5 image leave a row and a column out: must not compile, one line.
#include <typenet/typenet.hpp>
using namespace typenet;
using net = network<input<1, 5, 5>, max_pool2d<2>, flatten, dense<10>>;
int main() { net model{seed{1}}; (void)model; }
