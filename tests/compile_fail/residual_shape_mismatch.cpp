// A residual block whose body changes the shape needs a projection shortcut: one line says so.
#include <typenet/typenet.hpp>
using namespace typenet;
using net = network<input<3, 8, 8>, residual<sequential<conv2d<6, 3, padding<1>>, relu>>, flatten, dense<10>>;
int main() { net model{seed{1}}; (void)model; }
