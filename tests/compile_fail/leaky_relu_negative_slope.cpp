#include <typenet/typenet.hpp>
using namespace typenet;
using net = network<input<3>, dense<2>, leaky_relu<-0.5>>;
int main() { net model; (void)model; }
