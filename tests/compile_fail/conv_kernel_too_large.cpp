// A 7x7 kernel on a 5x5 image without padding: the model must not compile, with one line.
#include <typenet/typenet.hpp>
using namespace typenet;
using net = network<input<1, 5, 5>, conv2d<4, 7>, flatten, dense<10>>;
int main() { net model{seed{1}}; (void)model; }
