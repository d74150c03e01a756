// examples/embedded/classify.cpp — an application with a trained LeNet compiled in: it reads no
// weight file and, after its first call, allocates nothing to classify an image. The model comes
// from a header that training wrote:
//   lenet_fashion --export-header lenet_model.hpp      (io::export_header; namespace `trained`)
// and this program includes it (the build does both: examples/CMakeLists.txt).
//   classify IMAGE.pgm            a 28x28 greyscale PGM (P5 binary or P2 text, maxval <= 255)
//   classify --index N [--data DIR]
//                                 image N of the Fashion-MNIST test set (Debian's, or DIR)
// Prints the class and the ten logits. Exit 0, or 1 with one line on stderr.
#include <cstdio>
#include <cstring>
#include <fstream>
#include <span>
#include <stdexcept>
#include <string>

#include "lenet_model.hpp"

namespace {
constexpr const char* class_names[10] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                         "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
constexpr float pixel_mean = 0.2860f, pixel_std = 0.3530f;   // of the training images, as in training

using image = std::array<float, 28 * 28>;

// A 28x28 PGM's pixels scaled to [0, 1]; every field checked, errors name the file and offset.
image read_pgm(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) throw std::runtime_error("classify: cannot open '" + path + "'");
    auto fail_at = [&](long at, const std::string& why) {
        throw std::runtime_error("classify: '" + path + "' at byte " + std::to_string(at) + ": " + why);
    };
    auto fail = [&](const std::string& why) { fail_at(f ? long(f.tellg()) : -1, why); };
    std::string magic;
    f >> magic;
    if (magic != "P5" && magic != "P2") fail_at(0, "expected a PGM (P5 or P2), found '" + magic.substr(0, 8) + "'");
    auto number = [&](const char* what) {
        f >> std::ws;
        while (f.peek() == '#') {                                   // comments between header fields
            std::string skip;
            std::getline(f, skip);
            f >> std::ws;
        }
        long v = -1;
        if (!(f >> v) || v < 0) fail(std::string("expected the ") + what);
        return v;
    };
    const long w = number("width"), h = number("height"), maxval = number("maxval");
    if (w != 28 || h != 28) fail("expected a 28x28 image, found " + std::to_string(w) + "x" + std::to_string(h));
    if (maxval < 1 || maxval > 255) fail("expected maxval 1..255, found " + std::to_string(maxval));
    image x{};
    if (magic == "P5") {
        f.get();                                                    // the one whitespace byte after maxval
        unsigned char px[28 * 28];
        if (!f.read(reinterpret_cast<char*>(px), sizeof px)) fail("expected 784 pixel bytes, the file ends");
        for (std::size_t i = 0; i < x.size(); ++i) x[i] = float(px[i]) / float(maxval);
    } else {
        for (auto& v : x) {
            const long p = number("pixel value");
            if (p > maxval) fail("pixel value " + std::to_string(p) + " above maxval");
            v = float(p) / float(maxval);
        }
    }
    return x;
}

image test_image(long index, const std::string& dir) {
    const auto images = typenet::data::read_idx(dir + "/t10k-images-idx3-ubyte.gz", 3);
    if (images.extents[1] != 28 || images.extents[2] != 28) throw std::runtime_error("classify: test images are not 28x28");
    if (index < 0 || std::size_t(index) >= images.extents[0])
        throw std::runtime_error("classify: --index " + std::to_string(index) + " is outside the test set (0.." +
                                 std::to_string(images.extents[0] - 1) + ")");
    image x{};
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = float(images.values[std::size_t(index) * 784 + i]) / 255.0f;
    return x;
}
}  // namespace

int main(int argc, char** argv) try {
    std::string pgm, dir = "/usr/share/datasets/fashion-mnist";
    long index = -1;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if ((a == "--index" || a == "--data") && i + 1 < argc) {
            if (a == "--data") dir = argv[++i];
            else {
                char* end = nullptr;
                index = std::strtol(argv[++i], &end, 10);
                if (*end || index < 0) throw std::runtime_error(std::string("classify: --index needs a number >= 0, got '") + argv[i] + "'");
            }
        } else if (!a.empty() && a[0] != '-' && pgm.empty()) {
            pgm = a;
        } else {
            throw std::runtime_error("classify: usage: classify IMAGE.pgm | classify --index N [--data DIR]");
        }
    }
    if (pgm.empty() == (index < 0)) throw std::runtime_error("classify: usage: classify IMAGE.pgm | classify --index N [--data DIR]");
    image x = pgm.empty() ? test_image(index, dir) : read_pgm(pgm);
    for (auto& v : x) v = (v - pixel_mean) / pixel_std;

    const auto logits = typenet::predict(trained::instance(), x);   // std::span<const float, 10>
    std::size_t best = 0;
    for (std::size_t i = 1; i < logits.size(); ++i)
        if (logits[i] > logits[best]) best = i;
    std::printf("class: %zu (%s)\nlogits:", best, class_names[best]);
    for (float v : logits) std::printf(" %.6g", double(v));
    std::printf("\n");
    return 0;
} catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
}
