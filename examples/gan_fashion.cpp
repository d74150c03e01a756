// examples/gan_fashion.cpp — a GAN on Fashion-MNIST: two networks, two optimizers, one loop.
// The generator maps 64 normal values to a 28x28 image in [-1, 1]; the discriminator scores an
// image with one logit. Losses are bce_with_logits (the non-saturating generator loss of Goodfellow
// et al. 2014); Adam lr 2e-4, betas (0.5, 0.999) as DCGAN. After each epoch an 8x8 grid of samples
// from fixed noise is written as a PNG (stb_image_write). --save writes a checkpoint of both
// networks and optimizers and the loop's position at each epoch's end and on Ctrl-C; --resume
// continues from one exactly.
//   gan_fashion [--epochs 20 --batch 64 --lr 2e-4 --threads --limit --seed --data DIR --samples DIR
//                --save PATH --resume PATH]
#include <stb/stb_image_write.h>

#include <cstdio>
#include <filesystem>
#include <optional>
#include <system_error>
#include <string>
#include <utility>
#include <vector>

#include "support/classifier.hpp"

using namespace typenet;

constexpr std::size_t noise = 64;
using generator = network<input<noise>, dense<256>, leaky_relu<0.2>, dense<512>, leaky_relu<0.2>, dense<784>,
                          typenet::tanh>;
using discriminator = network<input<784>, dense<512>, leaky_relu<0.2>, dense<256>, leaky_relu<0.2>, dense<1>>;

// An 8x8 grid of 28x28 images in [-1, 1] with 2-pixel borders, as an 8-bit grey PNG.
void write_grid(const std::filesystem::path& path, const float* images) {
    constexpr int n = 8, cell = 30, side = n * cell + 2;
    std::vector<unsigned char> px(side * side, 0);
    for (int k = 0; k < n * n; ++k)
        for (int y = 0; y < 28; ++y)
            for (int x = 0; x < 28; ++x) {
                const float v = images[k * 784 + y * 28 + x];
                px[std::size_t((k / n * cell + 2 + y) * side + k % n * cell + 2 + x)] =
                    (unsigned char)(std::clamp((v + 1.0f) * 127.5f, 0.0f, 255.0f));
            }
    if (!stbi_write_png(path.c_str(), side, side, 1, px.data(), side))
        throw std::runtime_error("typenet: gan_fashion: cannot write '" + path.string() + "'");
}

int main(int argc, char** argv) {
    examples::run_options defaults;
    defaults.epochs = 20;
    defaults.lr = 2e-4;
    const auto o = examples::parse(argc, argv, "Train a GAN on Fashion-MNIST and write sample grids", defaults);
    // The shared flags this loop of its own does not implement: refused, not ignored.
    for (const auto& [given, flag] : {std::pair{o.distributed, "--distributed"}, std::pair{o.max_steps > 0, "--max-steps"},
                                      std::pair{o.save_every > 0, "--save-every"}, std::pair{!o.weights.empty(), "--weights"},
                                      std::pair{!o.export_header.empty(), "--export-header"}})
        if (given) {
            std::fprintf(stderr, "%s: %s is not supported by gan_fashion (the classifier examples take it)\n", argv[0], flag);
            return 2;
        }
    try {
        set_num_threads(o.threads);
        const std::filesystem::path out = o.samples.empty() ? std::filesystem::path(".") : std::filesystem::path(o.samples);
        // Checked before the data is read and minutes of training, not at the first grid.
        if (std::error_code ec; !std::filesystem::is_directory(out, ec))
            throw std::runtime_error("typenet: gan_fashion: --samples '" + out.string() + "' is not a directory");
        auto data = o.data.empty() ? data::fashion_mnist() : data::fashion_mnist(o.data);
        auto train = o.limit > 0 ? data.train.head(std::size_t(o.limit)) : data.train;
        train.standardize(0.5, 0.5);                       // [0, 1] -> [-1, 1], the generator's range

        generator g{seed{o.seed}};
        discriminator d{seed{o.seed + 1}};
        optim::adam opt_g{g, {.lr = o.lr, .beta1 = 0.5}};
        optim::adam opt_d{d, {.lr = o.lr, .beta1 = 0.5}};
        const loss::bce_with_logits bce;
        const kernels::cpu::flush_denormals ftz;

        const index_t b = index_t(o.batch), n = index_t(train.size());
        std::vector<float> z(static_cast<std::size_t>(b) * noise), fake(static_cast<std::size_t>(b) * 784), dfake(fake.size()),
        dy(static_cast<std::size_t>(b));
        const std::vector<float> ones(static_cast<std::size_t>(b), 1.0f), zeros(static_cast<std::size_t>(b), 0.0f);
        std::vector<float> fixed_z(64 * noise);
        rng gen(seed{o.seed + 2});
        for (auto& v : fixed_z) v = float(gen.normal());
        std::vector<float> real(fake.size());

        // Where the loop stands (train/fit.hpp's fit_state): epoch, position, sample order, the
        // rng (shuffling and noise), the epoch's loss sums; checkpointed with both parts.
        fit_state st;
        st.batch = b;
        st.order.resize(train.size());
        for (std::size_t i = 0; i < st.order.size(); ++i) st.order[i] = i;
        const auto save = [&] {
            st.shuffler = gen.state();
            io::save_checkpoint(o.save, st, io::part{"generator.", g, opt_g}, io::part{"discriminator.", d, opt_d});
        };
        if (!o.resume.empty()) {
            st = io::load_checkpoint(o.resume, io::part{"generator.", g, opt_g}, io::part{"discriminator.", d, opt_d});
            if (st.order.size() != train.size() || st.batch != b)
                throw std::runtime_error("typenet: gan_fashion: '" + o.resume + "' was taken with " +
                                         std::to_string(st.order.size()) + " images at batch " + std::to_string(st.batch) +
                                         ", this run has " + std::to_string(train.size()) + " at batch " + std::to_string(b));
            gen.set_state(st.shuffler);
            std::printf("resumed from %s: epoch %d, step %ld\n", o.resume.c_str(), st.epoch, st.step);
        }
        std::optional<interrupt_guard> interrupt;              // with --save, Ctrl-C checkpoints
        if (!o.save.empty()) interrupt.emplace();

        for (; st.epoch <= o.epochs; ++st.epoch) {
            if (st.next == 0) {
                gen.shuffle(st.order.begin(), st.order.end());
                st.loss_sum = st.aux_sum = 0;                  // discriminator, generator loss
            }
            for (index_t first = index_t(st.next); first + b <= n; first += b) {   // whole batches only
                for (index_t i = 0; i < b; ++i)
                    std::copy_n(train.x.data() + st.order[std::size_t(first + i)] * 784, 784, real.data() + i * 784);
                for (auto& v : z) v = float(gen.normal());
                const float* gz = g.forward(b, z.data(), mode::train);              // (B, 784)
                std::copy_n(gz, fake.size(), fake.data());

                // Discriminator: real -> 1, fake -> 0.
                d.zero_grad();
                st.loss_sum += bce(b, 1, d.forward(b, real.data(), mode::train), ones.data(), dy.data());
                d.backward(dy.data());
                st.loss_sum += bce(b, 1, d.forward(b, fake.data(), mode::train), zeros.data(), dy.data());
                d.backward(dy.data());
                opt_d.step();

                // Generator: make the discriminator say 1; its gradient flows back through d into g.
                g.zero_grad();
                st.aux_sum += bce(b, 1, d.forward(b, fake.data(), mode::train), ones.data(), dy.data());
                d.backward(dy.data(), dfake.data());
                g.backward(dfake.data());
                opt_g.step();
                st.next = std::size_t(first + b);
                ++st.step;
                if (interrupt && interrupt->signal()) {
                    save();
                    std::fprintf(stderr, "interrupted: checkpoint written to %s; continue with --resume %s\n",
                                 o.save.c_str(), o.save.c_str());
                    return 130;
                }
            }
            const double steps = double(std::max<index_t>(n / b, 1));
            const auto path = out / ("gan_epoch_" + std::to_string(st.epoch) + ".png");
            write_grid(path, g.forward(64, fixed_z.data(), mode::infer));
            std::printf("epoch %d  discriminator loss %.4f  generator loss %.4f  samples %s\n", st.epoch,
                        st.loss_sum / (2 * steps), st.aux_sum / steps, path.c_str());
            std::fflush(stdout);
            st.next = 0;
            if (!o.save.empty()) {                             // the next epoch's start
                ++st.epoch;
                save();
                --st.epoch;
            }
        }
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "%s\n", e.what());
        return 1;
    }
}
