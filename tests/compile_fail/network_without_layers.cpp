#include <typenet/typenet.hpp>
using namespace typenet;
using net = network<input<3>>;
int main() { net model; (void)model; }
