// data/fashion_mnist.hpp — Fashion-MNIST from its IDX files: Debian's dataset-fashion-mnist
// installs them in /usr/share/datasets/fashion-mnist. Pixels scaled to [0, 1], labels 0..9.
#pragma once
#include <filesystem>
#include <string>

#include "typenet/data/dataset.hpp"
#include "typenet/data/idx.hpp"

namespace typenet::data {

inline constexpr const char* fashion_mnist_default_dir = "/usr/share/datasets/fashion-mnist";

template <class T = float>
struct train_test {
    dataset<T> train, test;
};

namespace detail {
inline std::filesystem::path find_idx(const std::filesystem::path& dir, const std::string& stem) {
    for (const char* ext : {".gz", ""}) {
        auto p = dir / (stem + ext);
        std::error_code ec;
        if (std::filesystem::is_regular_file(p, ec)) return p;
    }
    std::error_code ec;
    const std::string why = std::filesystem::is_directory(dir, ec) ? "" : " (no such directory)";
    throw data_error("typenet: fashion_mnist: no '" + stem + "' or '" + stem + ".gz' in '" + dir.string() + "'" + why +
                     "; install the Debian package dataset-fashion-mnist or pass the directory that holds them");
}

template <class T>
dataset<T> read_split(const std::filesystem::path& dir, const std::string& prefix) {
    const auto ip = find_idx(dir, prefix + "-images-idx3-ubyte");
    const auto lp = find_idx(dir, prefix + "-labels-idx1-ubyte");
    const idx_array images = read_idx(ip, 3), labels = read_idx(lp, 1);
    if (images.extents[1] != 28 || images.extents[2] != 28)
        throw data_error("typenet: fashion_mnist: '" + ip.string() + "' at byte 8: expected 28x28 images, found " +
                         std::to_string(images.extents[1]) + "x" + std::to_string(images.extents[2]));
    if (images.extents[0] != labels.extents[0])
        throw data_error("typenet: fashion_mnist: '" + ip.string() + "' holds " + std::to_string(images.extents[0]) +
                         " images but '" + lp.string() + "' holds " + std::to_string(labels.extents[0]) + " labels");
    dataset<T> d;
    d.sample_shape = {1, 28, 28};
    d.classes = 10;
    d.x.resize(images.values.size());
    for (std::size_t i = 0; i < images.values.size(); ++i) d.x[i] = T(images.values[i]) / T(255);
    d.y.resize(labels.values.size());
    for (std::size_t i = 0; i < labels.values.size(); ++i) {
        if (labels.values[i] > 9)
            throw data_error("typenet: fashion_mnist: '" + lp.string() + "' at byte " + std::to_string(8 + i) +
                             ": expected a label in 0..9, found " + std::to_string(labels.values[i]));
        d.y[i] = labels.values[i];
    }
    return d;
}
}  // namespace detail

// Both splits from `dir` (files named as upstream, .gz or not).
template <class T = float>
train_test<T> fashion_mnist(const std::filesystem::path& dir = fashion_mnist_default_dir) {
    return {detail::read_split<T>(dir, "train"), detail::read_split<T>(dir, "t10k")};
}

}  // namespace typenet::data
