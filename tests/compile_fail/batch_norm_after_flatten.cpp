// The twin of batch_norm_needs_chw_or_flat.cpp: flatten first (or a (C, H, W) input), and it compiles.
#include <typenet/typenet.hpp>
using namespace typenet;
using net = network<input<3, 4>, flatten, batch_norm<>, relu>;
using chw = network<input<3, 4, 5>, batch_norm<0.3>, flatten, dense<2>>;
int main() {
    net model{seed{1}};
    chw model2{seed{2}};
    (void)model; (void)model2;
    static_assert(net::param_count == 2 * 12 && net::state_count == 2 * 12 + 1);
    static_assert(chw::state_count == 2 * 3 + 1);   // + num_batches_tracked
}
