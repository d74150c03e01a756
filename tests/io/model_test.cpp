// tests/io/model_test.cpp — networks as safetensors files: torch's names and shapes, exact round
// trips, and every mismatch between file and type refused before the model changes. The files
// torch itself writes and reads are tested by io/torch_interop_* (tests/io/run_interop.cmake).
#include <doctest/doctest.h>

#include <filesystem>
#include <string>
#include <typenet/io/model.hpp>
#include <vector>

#include "models.hpp"
#include "support/parity.hpp"

using namespace typenet;
using typenet::test::thrown_message;

namespace {
std::filesystem::path temp_file(const char* name) {
    return std::filesystem::temp_directory_path() /
           (std::string("typenet_model_") + name + "_" + std::to_string(::getpid()) + ".safetensors");
}

// The tensors tile both buffers: each value belongs to exactly one named tensor.
template <class Net>
void check_tiling() {
    std::vector<int> p(Net::param_count), s(Net::state_count);
    for (const auto& t : Net::tensors())
        for (std::size_t i = 0; i < t.size(); ++i) ++(t.buffer == buffer::state ? s : p)[t.offset + i];
    CHECK(std::all_of(p.begin(), p.end(), [](int c) { return c == 1; }));
    CHECK(std::all_of(s.begin(), s.end(), [](int c) { return c == 1; }));
}

std::string names_and_shapes(const tensor_list& list) {
    std::string r;
    for (const auto& t : list) r += t.name + " " + io::detail::shape_str(t.shape) + "\n";
    return r;
}

template <class Net>
void train_steps(Net& net, int steps) {
    rng g(seed{3});
    std::vector<float> x(16 * Net::input_shape::size), dy(16 * Net::output_shape::size);
    optim::adam opt{net, {.lr = 1e-2}};
    for (int s = 0; s < steps; ++s) {
        for (auto& v : x) v = float(g.normal());
        for (auto& v : dy) v = float(g.normal());
        opt.zero_grad();
        net.forward(16, x.data(), mode::train);
        net.backward(dy.data());
        opt.step();
    }
}

using small_conv = network<input<1, 28, 28>, conv2d<6, 3, padding<1>>, relu, max_pool2d<2>>;
using lenet = examples::lenet;
using mlp = examples::mlp;
using resnet = examples::resnet;
}  // namespace

TEST_CASE("tensor names and shapes are torch's nn.Sequential's, and they tile the buffers") {
    CHECK(names_and_shapes(lenet::tensors()) ==
          "0.weight [6, 1, 5, 5]\n0.bias [6]\n3.weight [16, 6, 5, 5]\n3.bias [16]\n7.weight [120, 400]\n"
          "7.bias [120]\n9.weight [84, 120]\n9.bias [84]\n11.weight [10, 84]\n11.bias [10]\n");
    CHECK(names_and_shapes(mlp::tensors()) ==
          "1.weight [256, 784]\n1.bias [256]\n3.weight [128, 256]\n3.bias [128]\n5.weight [10, 128]\n5.bias [10]\n");
    const std::string r = names_and_shapes(resnet::tensors());
    for (const char* n : {"1.running_mean [16]\n", "1.num_batches_tracked []\n", "3.body.0.weight [16, 16, 3, 3]\n",
                          "3.body.4.running_var [16]\n", "7.body.0.weight [32, 16, 3, 3]\n",
                          "7.shortcut.0.weight [32, 16, 1, 1]\n", "7.shortcut.1.num_batches_tracked []\n",
                          "16.weight [10, 64]\n"})
        CHECK_MESSAGE(r.find(n) != std::string::npos, n);
    CHECK(r.find("5.shortcut") == std::string::npos);        // identity shortcuts hold nothing
    check_tiling<lenet>();
    check_tiling<mlp>();
    check_tiling<resnet>();
    check_tiling<network<input<2, 5, 5>, conv_transpose2d<3, 3, stride<2>>, flatten, layer_norm<>, dense<4>, batch_norm<>>>();
}

TEST_CASE("save then load restores parameters and state bit for bit; the model then computes the same") {
    resnet a{seed{1}};
    train_steps(a, 3);                                       // running statistics and counts move off their initial values
    const auto path = temp_file("resnet");
    io::save(a, path);
    resnet b{seed{2}};
    io::load(b, path);
    CHECK(std::equal(a.parameters().begin(), a.parameters().end(), b.parameters().begin()));
    CHECK(std::equal(a.state().begin(), a.state().end(), b.state().begin()));
    CHECK(b.layer_state<1>()[2 * 16] == 3.0f);                 // num_batches_tracked after 3 training steps
    std::vector<float> x(2 * 784, 0.5f);
    const std::vector<float> ya(a.forward(2, x.data()), a.forward(2, x.data()) + 20);
    const float* yb = b.forward(2, x.data());
    CHECK(std::equal(ya.begin(), ya.end(), yb));

    const io::safetensors_reader r(path);
    CHECK(r.find("0.weight")->dtype == io::dtype::f32);
    CHECK(r.find("1.num_batches_tracked")->dtype == io::dtype::i64);
    CHECK(r.metadata().at("format") == "pt");
    std::filesystem::remove(path);
}

TEST_CASE("a double network writes F64; a float network reads F64, F16 and BF16 files") {
    basic_network<double, input<1, 28, 28>, flatten, dense<256>, relu, dense<128>, relu, dense<10>> d{seed{4}};
    const auto path = temp_file("double");
    io::save(d, path);
    CHECK(io::safetensors_reader(path).find("1.weight")->dtype == io::dtype::f64);
    mlp f;
    io::load(f, path);
    for (std::size_t i = 0; i < mlp::param_count; i += 997) CHECK(f.parameters()[i] == float(d.parameters()[i]));

    // F16: every value is written as half 0.5 (0x3800) and read back exactly.
    io::safetensors_writer w;
    std::vector<std::vector<std::uint16_t>> halves;
    for (const auto& t : small_conv::tensors()) {
        halves.emplace_back(t.size(), std::uint16_t(0x3800));
        w.add(t.name, io::dtype::f16, {t.shape.begin(), t.shape.end()}, halves.back().data(), t.size() * 2);
    }
    w.write(path);
    small_conv s;
    io::load(s, path);
    CHECK(std::all_of(s.parameters().begin(), s.parameters().end(), [](float v) { return v == 0.5f; }));
    std::filesystem::remove(path);
}

TEST_CASE("a file that does not fit the type is refused, naming the tensor, and the model is unchanged") {
    const auto path = temp_file("lenet");
    lenet trained{seed{5}};
    io::save(trained, path);

    mlp other{seed{6}};
    const std::vector<float> before(other.parameters().begin(), other.parameters().end());
    CHECK(thrown_message<io::format_error>([&] { io::load(other, path); }).find("has no tensor '1.weight' (shape [256, 784])") !=
          std::string::npos);
    CHECK(std::equal(before.begin(), before.end(), other.parameters().begin()));

    // The same names with another kernel size: the shape is named both ways.
    using lenet3 = network<input<1, 28, 28>, conv2d<6, 3, padding<1>>>;
    lenet3 k3;
    const auto shape_error = thrown_message<io::format_error>([&] { io::load(k3, path, {.strict = false}); });
    CHECK(shape_error.find("tensor '0.weight': the model needs shape [6, 1, 3, 3], the file has [6, 1, 5, 5]") !=
          std::string::npos);

    // A file with more than the model: an error when strict (the default), ignored when not.
    using first_conv = network<input<1, 28, 28>, conv2d<6, 5, padding<2>>>;
    first_conv c;
    const std::vector<float> c_before(c.parameters().begin(), c.parameters().end());
    CHECK(thrown_message<io::format_error>([&] { io::load(c, path); }).find("that the model does not have; load with {.strict = false}") != std::string::npos);
    CHECK(std::equal(c_before.begin(), c_before.end(), c.parameters().begin()));
    io::load(c, path, {.strict = false});
    CHECK(std::equal(c.parameters().begin(), c.parameters().end(), trained.parameters().begin()));

    // rename: the file's names are the model's under a prefix.
    const auto prefixed = temp_file("prefixed");
    io::save(trained, prefixed, {.rename = [](const std::string& n) { return "features." + n; }});
    lenet l;
    CHECK(thrown_message<io::format_error>([&] { io::load(l, prefixed); }).find("has no tensor '0.weight'") != std::string::npos);
    io::load(l, prefixed, {.rename = [](const std::string& n) { return "features." + n; }});
    CHECK(std::equal(l.parameters().begin(), l.parameters().end(), trained.parameters().begin()));
    std::filesystem::remove(prefixed);

    // A NaN weight, or an integer dtype where floats belong.
    auto broken = trained;
    broken.parameters()[7] = std::numeric_limits<float>::quiet_NaN();
    io::save(broken, path);
    lenet fresh{seed{7}};
    const std::vector<float> fresh_before(fresh.parameters().begin(), fresh.parameters().end());
    CHECK(thrown_message<io::format_error>([&] { io::load(fresh, path); }).find("tensor '0.weight' holds nan at index 7") !=
          std::string::npos);
    CHECK(std::equal(fresh_before.begin(), fresh_before.end(), fresh.parameters().begin()));
    io::safetensors_writer w;
    const std::vector<std::int32_t> ints(6 * 25, 1);
    w.add("0.weight", io::dtype::i32, {6, 1, 5, 5}, ints.data(), ints.size() * 4);
    w.write(path);
    network<input<1, 28, 28>, conv2d<6, 5, padding<2>>> bias_missing;
    CHECK(thrown_message<io::format_error>([&] { io::load(bias_missing, path); })
              .find("tensor '0.weight': the model needs F32, F64, F16 or BF16, the file has I32") != std::string::npos);
    std::filesystem::remove(path);
}

TEST_CASE("sequence models: torch's module names tile the buffers, and a file round-trips exactly") {
    using seq_net = network<tokens, embedding<20, 8>, lstm<6>, bidirectional<gru<4>>, rnn<5>, positional_embedding<12>,
                            transformer_block<1, 2>, layer_norm<>, dense<20>>;
    check_tiling<seq_net>();
    check_tiling<examples::char_lstm>();
    check_tiling<examples::char_gpt>();
    const std::string names = names_and_shapes(seq_net::tensors());
    CHECK(names.find("1.weight_hh_l0 [24, 6]") != std::string::npos);
    CHECK(names.find("2.weight_ih_l0_reverse [12, 6]") != std::string::npos);
    CHECK(names.find("5.0.body.1.in_proj_weight [15, 5]") != std::string::npos);
    CHECK(names.find("5.1.body.3.bias [5]") != std::string::npos);
    seq_net a(seed{1}), b(seed{2});
    const auto path = temp_file("sequence");
    io::save(a, path);
    io::load(b, path);
    CHECK(std::equal(a.parameters().begin(), a.parameters().end(), b.parameters().begin()));
    std::vector<float> ids{1, 2, 3, 4, 5, 6};
    const float* ya = a.forward(2, 3, ids.data(), mode::eval);
    const std::vector<float> first(ya, ya + 2 * 3 * 20);
    const float* yb = b.forward(2, 3, ids.data(), mode::eval);
    CHECK(std::equal(first.begin(), first.end(), yb));
    std::filesystem::remove(path);
}
