// The twin of pool_must_tile.cpp: 3x3 windows with stride 2 tile a 5x5 image, and it compiles.
#include <typenet/typenet.hpp>
using namespace typenet;
using net = network<input<1, 5, 5>, max_pool2d<3, 2>, flatten, dense<10>>;
int main() { net model{seed{1}}; (void)model; static_assert(std::is_same_v<net::output_shape, shape<10>>); }
