// A mistake deep in the list is reported once, at its position (5), and nothing after it.
#include <typenet/typenet.hpp>
using namespace typenet;
using net = network<input<4, 4>, flatten, dense<8>, relu, dense<8>, gelu, dense<10, init::kaiming_normal>, relu>;
using bad = network<input<4, 4>, relu, relu, relu, relu, relu, dense<10>, relu, dense<3>>;
int main() { net ok; bad model; (void)ok; (void)model; }
