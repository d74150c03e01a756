// The twin of predict_wrong_sample_size.cpp: a sample of the input's size compiles.
#include <typenet/typenet.hpp>
using namespace typenet;
using mlp = network<input<1, 28, 28>, flatten, dense<10>>;
int main() {
    mlp model{seed{1}};
    const std::array<float, 28 * 28> image{};
    (void)predict(model, image);
}
