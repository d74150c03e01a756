// An LSTM on a flat input (not a sequence): one line saying what it needs.
#include <typenet/typenet.hpp>
using namespace typenet;
using net = network<input<8>, lstm<16>, dense<2>>;
int main() { net m{seed{1}}; (void)m; }
