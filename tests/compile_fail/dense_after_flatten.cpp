// The twin of dense_needs_flat.cpp: flatten first, and it compiles.
#include <typenet/typenet.hpp>
using namespace typenet;
using mlp = network<input<1, 28, 28>, flatten, dense<120>, relu, dense<10>>;
int main() { mlp model{seed{1}}; (void)model; static_assert(mlp::param_count == 784 * 120 + 120 + 120 * 10 + 10); }
