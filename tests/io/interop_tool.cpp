// tests/io/interop_tool.cpp — typenet's side of scripts/torch-interop (run both ways by
// tests/io/run_interop.cmake):
//   interop_tool check  MODEL WEIGHTS CHECK   load torch's weights, run CHECK's `x`, compare with
//                                             its `logits` (1e-5 relative to max(1, |logit|))
//   interop_tool export MODEL DIR [DATA]      train 50 batches of 64, write DIR/MODEL_typenet.safetensors
//                                             and DIR/MODEL_typenet_check.safetensors (x, logits)
// MODEL: lenet | mlp | resnet (examples/models.hpp). Exit 0 ok, 1 mismatch or error.
#include <typenet/io/model.hpp>

#include <cstdio>
#include <string>

#include "models.hpp"

using namespace typenet;

namespace {
constexpr index_t check_images = 8;

template <class Net>
int check(const std::string& weights, const std::string& check_file) {
    Net net;
    io::load(net, weights);
    const io::safetensors_reader c(check_file);
    const auto* x = c.find("x");
    const auto* logits = c.find("logits");
    if (!x || !logits || x->numel() != check_images * Net::input_shape::size ||
        logits->numel() != check_images * Net::output_shape::size)
        c.fail("needs x (8, 1, 28, 28) and logits (8, 10)");
    std::vector<float> xs(x->numel()), expected(logits->numel());
    c.read(*x, xs.data());
    c.read(*logits, expected.data());
    const float* y = net.forward(check_images, xs.data(), mode::infer);
    double err = 0;
    for (std::size_t i = 0; i < expected.size(); ++i)
        err = std::max(err, std::abs(double(y[i]) - double(expected[i])) / std::max(1.0, std::abs(double(expected[i]))));
    const bool ok = err <= 1e-5;
    std::printf("interop_tool: typenet ran torch's weights on %td images; max logit difference %.3g (tolerance 1e-5): %s\n",
                check_images, err, ok ? "ok" : "MISMATCH");
    return ok ? 0 : 1;
}

template <class Net>
int export_model(const std::string& name, const std::string& dir, const std::string& data_dir) {
    Net net{seed{1}};
    auto data = data_dir.empty() ? data::fashion_mnist() : data::fashion_mnist(data_dir);
    data.train.standardize(0.2860f, 0.3530f);
    data.test.standardize(0.2860f, 0.3530f);
    optim::adam opt{net, {.lr = 1e-3}};
    fit(net, opt, loss::cross_entropy{}, data.train.head(50 * 64), {.epochs = 1, .batch = 64, .seed = 1});
    io::save(net, dir + "/" + name + "_typenet.safetensors");
    const std::vector<float> x(data.test.x.begin(), data.test.x.begin() + check_images * index_t(Net::input_shape::size));
    const float* y = net.forward(check_images, x.data(), mode::infer);
    io::safetensors_writer w;
    w.add("x", io::dtype::f32, {std::uint64_t(check_images), 1, 28, 28}, x.data(), x.size() * sizeof(float));
    w.add("logits", io::dtype::f32, {std::uint64_t(check_images), Net::output_shape::size}, y,
          std::size_t(check_images) * Net::output_shape::size * sizeof(float));
    w.write(dir + "/" + name + "_typenet_check.safetensors");
    std::printf("interop_tool: %s: trained 50 steps, wrote %s/%s_typenet*.safetensors\n", name.c_str(), dir.c_str(),
                name.c_str());
    return 0;
}

template <class Net>
int run(const std::string& cmd, int argc, char** argv) {
    if (cmd == "check" && argc == 5) return check<Net>(argv[3], argv[4]);
    if (cmd == "export" && (argc == 4 || argc == 5)) return export_model<Net>(argv[2], argv[3], argc == 5 ? argv[4] : "");
    std::fprintf(stderr, "usage: interop_tool check MODEL WEIGHTS CHECK | export MODEL DIR [DATA]\n");
    return 1;
}
}  // namespace

int main(int argc, char** argv) try {
    if (argc < 3) return run<examples::lenet>("", argc, argv);
    const std::string cmd = argv[1], model = argv[2];
    if (model == "lenet") return run<examples::lenet>(cmd, argc, argv);
    if (model == "mlp") return run<examples::mlp>(cmd, argc, argv);
    if (model == "resnet") return run<examples::resnet>(cmd, argc, argv);
    std::fprintf(stderr, "interop_tool: unknown model '%s' (lenet, mlp, resnet)\n", model.c_str());
    return 1;
} catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
}
