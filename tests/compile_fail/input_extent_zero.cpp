#include <typenet/typenet.hpp>
using namespace typenet;
using net = network<input<0, 3>, flatten, dense<2>>;
int main() { net model; (void)model; }
