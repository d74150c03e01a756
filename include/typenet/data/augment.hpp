// data/augment.hpp — in-place, per-sample image augmentation of a batch x (B, C, H, W), drawn from a
// seeded rng: random_crop (torchvision RandomCrop(padding)) and random_flip (RandomHorizontalFlip).
// Both work in place without scratch memory, so a training step allocates nothing for them.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "typenet/core/random.hpp"
#include "typenet/core/shape.hpp"

namespace typenet::data {

// One gathered training batch as fit() hands it to a batch callback, before forward: x holds
// `batch` samples of sample_shape (the dataset's, e.g. (1, 28, 28)), contiguous, and may be changed.
template <class T>
struct batch_view {
    index_t batch = 0;
    std::span<const std::size_t> sample_shape;
    T* x = nullptr;   // (batch, sample_shape...)
};

namespace detail {
// Image samples are (C, H, W) or (H, W) with one channel; anything else is not an image.
template <class T, class F>
void on_images(const char* who, const batch_view<T>& b, F&& f) {
    const auto& s = b.sample_shape;
    if (s.size() == 3) return f(s[0], s[1], s[2]);
    if (s.size() == 2) return f(std::size_t{1}, s[0], s[1]);
    std::string shape = "(";
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (i) shape += ", ";
        shape += std::to_string(s[i]);
    }
    shape += ')';
    throw std::invalid_argument(std::string("typenet: ") + who + ": needs image samples (C, H, W) or (H, W), got " + shape);
}
}  // namespace detail

// torchvision RandomCrop(size = (H, W), padding = P): each sample, all channels alike, is zero-padded
// by P on each side and an H x W window is cropped at a uniform offset in [0, 2P]^2, i.e. the image
// moves by (dy, dx) in [-P, P]^2 and zeros fill what comes in.
struct random_crop {
    int padding = 4;

    template <class T>
    void operator()(index_t batch, std::size_t c, std::size_t h, std::size_t w, T* x, rng& g) const {
        static_assert(std::is_trivially_copyable_v<T>, "typenet: random_crop: moves values with memmove");
        if (padding < 0) throw std::invalid_argument("typenet: random_crop: padding must be >= 0, got " + std::to_string(padding));
        if (padding == 0) return;
        const auto span = std::uint64_t(2 * padding + 1);
        const auto H = std::ptrdiff_t(h), W = std::ptrdiff_t(w);
        for (index_t b = 0; b < batch; ++b) {
            // Output (i, j) reads input (i + oy, j + ox).
            const auto oy = std::ptrdiff_t(g.below(span)) - padding, ox = std::ptrdiff_t(g.below(span)) - padding;
            const std::ptrdiff_t j0 = std::clamp<std::ptrdiff_t>(-ox, 0, W), j1 = std::clamp<std::ptrdiff_t>(W - ox, j0, W);
            for (std::size_t ch = 0; ch < c; ++ch) {
                T* img = x + (std::size_t(b) * c + ch) * h * w;
                // Rows in the order that reads each source row before it is overwritten (memmove's rule,
                // a row at a time); within a row memmove handles the overlap.
                for (std::ptrdiff_t k = 0; k < H; ++k) {
                    const std::ptrdiff_t i = oy > 0 ? k : H - 1 - k, src = i + oy;
                    T* row = img + i * W;
                    if (src < 0 || src >= H || j0 == j1) {
                        std::fill(row, row + W, T(0));
                        continue;
                    }
                    std::memmove(row + j0, img + src * W + j0 + ox, std::size_t(j1 - j0) * sizeof(T));
                    std::fill(row, row + j0, T(0));
                    std::fill(row + j1, row + W, T(0));
                }
            }
        }
    }

    template <class T>
    void operator()(const batch_view<T>& b, rng& g) const {
        detail::on_images("random_crop", b, [&](std::size_t c, std::size_t h, std::size_t w) { (*this)(b.batch, c, h, w, b.x, g); });
    }
};

// torchvision RandomHorizontalFlip(p): each sample, all channels alike, is mirrored left-right with
// probability p. One draw per sample whatever p, so p does not change the rng's later draws.
struct random_flip {
    double p = 0.5;

    template <class T>
    void operator()(index_t batch, std::size_t c, std::size_t h, std::size_t w, T* x, rng& g) const {
        if (!(p >= 0.0 && p <= 1.0)) throw std::invalid_argument("typenet: random_flip: p must be in [0, 1], got " + std::to_string(p));
        for (index_t b = 0; b < batch; ++b) {
            if (!(g.uniform() < p)) continue;
            T* img = x + std::size_t(b) * c * h * w;
            for (std::size_t r = 0; r < c * h; ++r) std::reverse(img + r * w, img + (r + 1) * w);
        }
    }

    template <class T>
    void operator()(const batch_view<T>& b, rng& g) const {
        detail::on_images("random_flip", b, [&](std::size_t c, std::size_t h, std::size_t w) { (*this)(b.batch, c, h, w, b.x, g); });
    }
};

}  // namespace typenet::data
