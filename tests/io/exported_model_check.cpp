// tests/io/exported_model_check.cpp — the header io::export_header wrote for examples/embedded (at
// build time, from lenet_fashion --export-header): its alias is the LeNet type itself, the compiled-in
// model computes bit for bit what the trained model does (loaded from the weights written in the
// same run), and predict on it allocates nothing.
#include <doctest/doctest.h>

#include <type_traits>
#include <typenet/io/model.hpp>

#include "lenet_model.hpp"
#include "models.hpp"
#include "support/allocation_counter.hpp"

using namespace typenet;

static_assert(std::is_same_v<trained::model, examples::lenet>, "the exported alias must be the model's own type");

TEST_CASE("the exported LeNet computes bit for bit what the trained one does, and predict allocates nothing") {
    examples::lenet in_memory;
    io::load(in_memory, std::string(TYPENET_EMBEDDED_DIR) + "/lenet.safetensors");
    CHECK(std::equal(trained::parameters.begin(), trained::parameters.end(), in_memory.parameters().begin()));
    const auto test = data::fashion_mnist().test;
    auto& compiled_in = trained::instance();
    for (std::size_t i = 0; i < 200; ++i) {
        std::array<float, 784> x;
        std::copy_n(test.x.begin() + std::ptrdiff_t(i * 784), 784, x.begin());
        const auto a = predict(compiled_in, x);
        const std::vector<float> ya(a.begin(), a.end());
        const auto b = predict(in_memory, x);
        CHECK(std::equal(ya.begin(), ya.end(), b.begin()));
    }
    std::array<float, 784> x{};
    const long before = allocations.load();
    for (int i = 0; i < 100; ++i) {
        x[std::size_t(i)] = 0.5f;
        escape = const_cast<float*>(predict(compiled_in, x).data());
    }
    CHECK(allocations.load() - before == 0);
}
