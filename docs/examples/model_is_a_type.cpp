// docs/examples/model_is_a_type.cpp — the code of docs/model-is-a-type.md, verbatim.
#include <typenet/typenet.hpp>
#include <type_traits>
using namespace typenet;
using mlp = network<input<1, 28, 28>, flatten, dense<256>, relu, dense<128>, relu, dense<10>>;
static_assert(std::is_same_v<mlp::output_shape, shape<10>>);
static_assert(mlp::param_count == 784 * 256 + 256 + 256 * 128 + 128 + 128 * 10 + 10);
static_assert(mlp::workspace_per_sample == 784 + 784 + 256 + 256 + 128 + 128 + 10 + 2 * 784);
int main() {}
