// A fixed-size sample of the wrong size given to predict: one line naming what predict needs.
#include <typenet/typenet.hpp>
using namespace typenet;
using mlp = network<input<1, 28, 28>, flatten, dense<10>>;
int main() {
    mlp model{seed{1}};
    const std::array<float, 28 * 27> image{};
    (void)predict(model, image);
}
