// A feature map fed to dense: the model must not compile, with one line saying to flatten.
#include <typenet/typenet.hpp>
using namespace typenet;
using mlp = network<input<1, 28, 28>, dense<120>, relu, dense<10>>;
int main() { mlp model{seed{1}}; (void)model; }
