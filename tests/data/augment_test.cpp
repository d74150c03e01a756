// tests/data/augment_test.cpp — random_crop and random_flip against naive references, their seeding,
// and fit's batch callbacks: they see (and change) each training batch only, and training with
// augmentation still learns.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "typenet/data/augment.hpp"
#include "typenet/typenet.hpp"

using namespace typenet;

namespace {

// B images (C, H, W) of distinct non-zero values, so a shift can be told from any other.
template <class T>
std::vector<T> images(std::size_t b, std::size_t c, std::size_t h, std::size_t w) {
    std::vector<T> x(b * c * h * w);
    std::iota(x.begin(), x.end(), T(1));
    return x;
}

// Naive reference: the image moved by (dy, dx), zeros where nothing comes in (pad, then crop).
template <class T>
std::vector<T> shifted(const T* img, std::size_t c, std::size_t h, std::size_t w, long dy, long dx) {
    std::vector<T> out(c * h * w, T(0));
    for (std::size_t ch = 0; ch < c; ++ch)
        for (long i = 0; i < long(h); ++i)
            for (long j = 0; j < long(w); ++j) {
                const long si = i + dy, sj = j + dx;
                if (si >= 0 && si < long(h) && sj >= 0 && sj < long(w))
                    out[(ch * h + std::size_t(i)) * w + std::size_t(j)] = img[(ch * h + std::size_t(si)) * w + std::size_t(sj)];
            }
    return out;
}

template <class T>
std::vector<T> mirrored(const T* img, std::size_t c, std::size_t h, std::size_t w) {
    std::vector<T> out(c * h * w);
    for (std::size_t r = 0; r < c * h; ++r)
        for (std::size_t j = 0; j < w; ++j) out[r * w + j] = img[r * w + w - 1 - j];
    return out;
}

}  // namespace

TEST_CASE_TEMPLATE("random_crop: padding 0 is the identity", T, float, double) {
    auto x = images<T>(3, 2, 5, 4);
    const auto x0 = x;
    rng g(seed{1});
    data::random_crop{.padding = 0}(3, 2, 5, 4, x.data(), g);
    CHECK(x == x0);
}

TEST_CASE_TEMPLATE("random_crop: each sample is a shifted copy, zeros where the padding came in", T, float, double) {
    constexpr std::size_t B = 300, C = 2, H = 5, W = 4;
    for (int P : {1, 2, 6}) {
        CAPTURE(P);
        auto x = images<T>(B, C, H, W);
        const auto x0 = x;
        rng g(seed{7});
        data::random_crop{.padding = P}(index_t(B), C, H, W, x.data(), g);
        std::set<std::pair<long, long>> seen;
        for (std::size_t b = 0; b < B; ++b) {
            CAPTURE(b);
            const T* in = x0.data() + b * C * H * W;
            const std::vector<T> out(x.begin() + long(b * C * H * W), x.begin() + long((b + 1) * C * H * W));
            bool found = false;
            for (long dy = -P; dy <= P && !found; ++dy)
                for (long dx = -P; dx <= P && !found; ++dx)
                    if (out == shifted(in, C, H, W, dy, dx)) {
                        found = true;
                        seen.insert({dy, dx});
                    }
            REQUIRE_MESSAGE(found, "sample ", b, " is no shift of its input by at most ", P);
        }
        // Uniform offsets in [-P, P]^2: with 300 samples every one of the (2P + 1)^2 shows up (P <= 2).
        if (P <= 2) CHECK(seen.size() == std::size_t((2 * P + 1) * (2 * P + 1)));
    }
}

TEST_CASE_TEMPLATE("random_flip: p = 1 mirrors exactly, p = 0 keeps, two flips are the identity", T, float, double) {
    constexpr std::size_t B = 4, C = 3, H = 2, W = 5;
    const auto x0 = images<T>(B, C, H, W);
    auto x = x0;
    rng g(seed{2});
    data::random_flip{.p = 1.0}(index_t(B), C, H, W, x.data(), g);
    for (std::size_t b = 0; b < B; ++b) {
        const std::vector<T> out(x.begin() + long(b * C * H * W), x.begin() + long((b + 1) * C * H * W));
        CHECK(out == mirrored(x0.data() + b * C * H * W, C, H, W));
    }
    data::random_flip{.p = 1.0}(index_t(B), C, H, W, x.data(), g);
    CHECK(x == x0);
    data::random_flip{.p = 0.0}(index_t(B), C, H, W, x.data(), g);
    CHECK(x == x0);

    // p = 0.5, twice from the same seed: each sample flipped twice or not at all.
    auto y = images<T>(64, C, H, W);
    const auto y0 = y;
    rng g1(seed{3}), g2(seed{3});
    data::random_flip{}(64, C, H, W, y.data(), g1);
    CHECK(y != y0);
    data::random_flip{}(64, C, H, W, y.data(), g2);
    CHECK(y == y0);
}

TEST_CASE("augmentation is seeded: the same seed gives the same batch, another seed another") {
    auto run = [](std::uint64_t s) {
        auto x = images<float>(32, 1, 6, 6);
        rng g(seed{s});
        data::random_crop{.padding = 2}(32, 1, 6, 6, x.data(), g);
        data::random_flip{}(32, 1, 6, 6, x.data(), g);
        return x;
    };
    CHECK(run(5) == run(5));
    CHECK(run(5) != run(6));
}

TEST_CASE("batch_view: (C, H, W) and (H, W) samples are images; other shapes are a clear error") {
    auto x = images<float>(2, 1, 3, 3);
    const auto x0 = x;
    rng g;
    const std::vector<std::size_t> hw{3, 3}, flat{9};
    data::random_flip{.p = 1.0}(data::batch_view<float>{2, hw, x.data()}, g);
    CHECK(x == mirrored(x0.data(), 2, 3, 3));
    CHECK_THROWS_WITH_AS(data::random_crop{}(data::batch_view<float>{2, flat, x.data()}, g),
                         "typenet: random_crop: needs image samples (C, H, W) or (H, W), got (9)", std::invalid_argument);
    const std::vector<std::size_t> chw{1, 3, 3};
    CHECK_THROWS_WITH_AS(data::random_crop{.padding = -1}(data::batch_view<float>{2, chw, x.data()}, g),
                         "typenet: random_crop: padding must be >= 0, got -1", std::invalid_argument);
    CHECK_THROWS_AS(data::random_flip{.p = 1.5}(data::batch_view<float>{2, chw, x.data()}, g), std::invalid_argument);
}

// ---- through fit ----------------------------------------------------------------------------------

namespace {

using bars_net = network<input<1, 8, 8>, flatten, dense<16>, relu, dense<2>>;

// 1x8x8 images: class 0 a vertical bar, class 1 a horizontal bar, at a random place, with noise.
data::dataset<float> bars(int n, std::uint64_t s) {
    data::dataset<float> d;
    d.sample_shape = {1, 8, 8};
    d.classes = 2;
    rng g(seed{s});
    for (int k = 0; k < n; ++k) {
        const int label = int(g.below(2)), at = 1 + int(g.below(6));
        for (int i = 0; i < 8; ++i)
            for (int j = 0; j < 8; ++j)
                d.x.push_back(float((label == 0 ? j == at : i == at) ? 1.0 : 0.0) + float(0.1 * g.normal()));
        d.y.push_back(label);
    }
    return d;
}

// Records the batches it is handed (a copy of x) and the epochs.
struct spy {
    std::vector<std::vector<float>> batches;
    std::vector<std::size_t> shape;
    std::size_t samples = 0;
    int epochs = 0;
    void operator()(const data::batch_view<float>& b, rng&) {
        const std::size_t s = 64;
        batches.emplace_back(b.x, b.x + std::size_t(b.batch) * s);
        shape.assign(b.sample_shape.begin(), b.sample_shape.end());
        samples += std::size_t(b.batch);
    }
    void operator()(const epoch_stats&) { ++epochs; }
};

}  // namespace

TEST_CASE("fit hands each training batch to batch callbacks, in order, before forward; validation never") {
    const auto d = bars(40, 1);
    bars_net model{seed{1}};
    optim::sgd opt{model, {.lr = 0.01}};
    spy before, after;
    const auto h = fit(model, opt, loss::cross_entropy{}, d, {.epochs = 2, .batch = 8, .validation = 0.25, .seed = 4},
                       before, data::random_flip{.p = 1.0}, after);
    REQUIRE(h.size() == 2);
    CHECK(before.epochs == 2);                      // both kinds of call on one object
    CHECK(before.samples == 2 * 30);                // the 30 training samples per epoch, not the 10 held out
    REQUIRE(before.batches.size() == 2 * 4);        // 8 + 8 + 8 + 6
    CHECK(before.batches.back().size() == 6 * 64);
    CHECK(before.shape == std::vector<std::size_t>{1, 8, 8});
    REQUIRE(after.batches.size() == before.batches.size());
    for (std::size_t k = 0; k < before.batches.size(); ++k) {
        const auto& in = before.batches[k];
        std::vector<float> flipped;
        for (std::size_t b = 0; b < in.size() / 64; ++b) {
            const auto m = mirrored(in.data() + b * 64, 1, 8, 8);
            flipped.insert(flipped.end(), m.begin(), m.end());
        }
        CHECK(after.batches[k] == flipped);
    }
    // The validation split is evaluated as it is, unaugmented (at the training batch, as fit does).
    const auto val = evaluate(model, d.slice(30, 10), loss::cross_entropy{}, 8);
    CHECK(h.back().validation.loss == doctest::Approx(val.loss).epsilon(1e-12));
    CHECK(h.back().validation.accuracy == val.accuracy);

    // Forward sees the changed batch: zeroing it changes what is learnt; a callback that changes
    // nothing and draws nothing leaves the run as it is without one.
    auto weights = [&](auto&&... cb) {
        bars_net m{seed{1}};
        optim::sgd o{m, {.lr = 0.1}};
        fit(m, o, loss::cross_entropy{}, d, {.epochs = 2, .batch = 8, .seed = 4}, cb...);
        return std::vector<float>(m.parameters().begin(), m.parameters().end());
    };
    auto zero = [](const data::batch_view<float>& b, rng&) { std::fill(b.x, b.x + b.batch * 64, 0.0f); };
    auto identity = [](const data::batch_view<float>&, rng&) {};
    CHECK(weights(identity) == weights());
    CHECK(weights(zero) != weights());
}

TEST_CASE("fit with augmentation is reproducible from its seed and still learns") {
    auto train = [](std::uint64_t s, bool augment, bars_net& model) {
        optim::adam opt{model, {.lr = 0.01}};
        const fit_options o{.epochs = 25, .batch = 16, .seed = s};
        if (augment)
            return fit(model, opt, loss::cross_entropy{}, bars(400, 1), o, data::random_crop{.padding = 1},
                       data::random_flip{});
        return fit(model, opt, loss::cross_entropy{}, bars(400, 1), o);
    };
    auto weights = [&](std::uint64_t s, bool augment) {
        bars_net model{seed{2}};
        train(s, augment, model);
        return std::vector<float>(model.parameters().begin(), model.parameters().end());
    };
    CHECK(weights(1, true) == weights(1, true));
    CHECK(weights(1, true) != weights(2, true));
    CHECK(weights(1, true) != weights(1, false));

    bars_net model{seed{2}};
    const auto h = train(3, true, model);
    CHECK(h.back().train.loss < 0.5 * h.front().train.loss);
    const auto test = evaluate(model, bars(400, 9));
    CHECK(test.accuracy > 0.9);
}
