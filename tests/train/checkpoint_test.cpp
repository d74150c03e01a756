// tests/train/checkpoint_test.cpp — exact resume: N steps straight equal N/2 steps, a checkpoint,
// fresh objects loaded from it, N/2 steps (bit for bit: weights, batch norm state, optimizer
// buffers, the epoch's statistics); with dropout and augmentation drawing from the rngs, for each
// optimizer, stopped mid-epoch and at an epoch's end; Ctrl-C; and checkpoints that do not fit.
#include <doctest/doctest.h>

#include <csignal>
#include <filesystem>
#include <string>
#include <typenet/train/checkpoint.hpp>
#include <typenet/typenet.hpp>
#include <vector>

#include "support/data.hpp"
#include "support/parity.hpp"

using namespace typenet;
using typenet::test::thrown_message;

namespace {
// Dropout draws from the network's rng, batch norm keeps running state.
using net = network<input<2>, dense<16>, batch_norm<>, relu, dropout<0.2>, dense<16>, relu, dense<2>>;

std::filesystem::path temp_file(const char* name) {
    return std::filesystem::temp_directory_path() /
           (std::string("typenet_ckpt_") + name + "_" + std::to_string(::getpid()) + ".safetensors");
}

// Draws from fit's rng on every batch, as augmentation does.
struct jitter {
    void operator()(const data::batch_view<float>& b, rng& g) const {
        for (index_t i = 0; i < b.batch * 2; ++i) b.x[i] += float(0.01 * g.normal());
    }
};

template <class Opt>
std::vector<float> buffers(Opt& opt) {
    std::vector<float> all;
    opt.visit_state([&](const char*, std::span<float> b) { all.insert(all.end(), b.begin(), b.end()); });
    return all;
}

constexpr fit_options options{.epochs = 3, .batch = 16, .validation = 0.1, .seed = 7};

// 3 epochs straight against: stop when the state reaches step `stop_at` (or an epoch's end when
// at_epoch_end), checkpoint, load into fresh objects, finish. Everything must match exactly.
template <class Opt, class Make>
void check_exact_resume(Make make_opt, long stop_at, bool at_epoch_end) {
    const auto data = test::circle(215, 3);                   // 194 training samples: 13 steps per epoch, the last short
    net straight{seed{1}};
    Opt opt_a = make_opt(straight);
    const auto hist_a = fit(straight, opt_a, loss::cross_entropy{}, data, options, jitter{});

    const auto path = temp_file("resume");
    {
        net first{seed{1}};
        Opt opt_b = make_opt(first);
        fit(first, opt_b, loss::cross_entropy{}, data, options, jitter{}, [&](const fit_state& s) {
            if (at_epoch_end ? (s.next == 0 && s.epoch == 2) : s.step == stop_at) {
                io::save_checkpoint(path, first, opt_b, s);
                return false;
            }
            return true;
        });
    }
    net resumed{seed{99}};                                    // other weights: all must come from the file
    Opt opt_c = make_opt(resumed);
    const fit_state st = io::load_checkpoint(path, resumed, opt_c);
    CHECK(st.epoch == (at_epoch_end ? 2 : int(stop_at / 13) + 1));
    fit_options o = options;
    o.resume = &st;
    const auto hist_c = fit(resumed, opt_c, loss::cross_entropy{}, data, o, jitter{});

    CHECK(std::equal(straight.parameters().begin(), straight.parameters().end(), resumed.parameters().begin()));
    CHECK(std::equal(straight.state().begin(), straight.state().end(), resumed.state().begin()));
    CHECK(buffers(opt_a) == buffers(opt_c));
    CHECK(opt_a.steps() == opt_c.steps());
    CHECK(opt_a.lr() == opt_c.lr());
    REQUIRE(!hist_c.empty());
    CHECK(hist_c.back().train.loss == hist_a.back().train.loss);     // the resumed epoch's sums carried over
    CHECK(hist_c.back().train.accuracy == hist_a.back().train.accuracy);
    CHECK(hist_c.back().validation.loss == hist_a.back().validation.loss);
    std::filesystem::remove(path);
}
}  // namespace

TEST_CASE("resume is bit-exact: Adam, stopped mid-epoch and at an epoch's end") {
    auto make = [](net& n) { return optim::adam<net>(n, {.lr = 1e-2}); };
    check_exact_resume<optim::adam<net>>(make, 20, false);
    check_exact_resume<optim::adam<net>>(make, 0, true);
}

TEST_CASE("resume is bit-exact: SGD with momentum, AdamW, RMSprop (centered, momentum)") {
    check_exact_resume<optim::sgd<net>>([](net& n) { return optim::sgd<net>(n, {.lr = 0.05, .momentum = 0.9}); }, 7, false);
    check_exact_resume<optim::adamw<net>>([](net& n) { return optim::adamw<net>(n, {.lr = 1e-2}); }, 30, false);
    check_exact_resume<optim::rmsprop<net>>(
        [](net& n) { return optim::rmsprop<net>(n, {.lr = 1e-3, .momentum = 0.5, .centered = true}); }, 14, false);
}

TEST_CASE("Ctrl-C: the checkpointer finishes the step, writes, and fit returns; resuming completes the run") {
    const auto data = test::circle(215, 3);
    net straight{seed{1}};
    optim::adam opt_a{straight, {.lr = 1e-2}};
    fit(straight, opt_a, loss::cross_entropy{}, data, options);

    const auto path = temp_file("interrupt");
    const auto previous = std::signal(SIGINT, SIG_DFL);           // the test runner's handler
    std::signal(SIGINT, previous);
    net model{seed{1}};
    optim::adam opt{model, {.lr = 1e-2}};
    {
        checkpointer ck{model, opt, path};
        const auto hist = fit(model, opt, loss::cross_entropy{}, data, options, [](const step_stats& s) {
            if (s.epoch == 2 && s.batch == 4) std::raise(SIGINT);   // as if the user pressed Ctrl-C now
        }, ck);
        CHECK(ck.interrupted() == SIGINT);
        CHECK(hist.size() == 1);                                    // the first epoch ended, the second did not
        CHECK(ck.written() == 2);                                   // at epoch 1's end, and on the signal
    }
    const bool restored = std::signal(SIGINT, previous) == previous;   // the handler is put back
    CHECK(restored);
    net resumed;
    optim::adam opt_r{resumed, {.lr = 1e-2}};
    const fit_state st = io::load_checkpoint(path, resumed, opt_r);
    CHECK((st.epoch == 2 && st.next == 4 * 16 && st.step == 13 + 4));
    fit_options o = options;
    o.resume = &st;
    fit(resumed, opt_r, loss::cross_entropy{}, data, o);
    CHECK(std::equal(straight.parameters().begin(), straight.parameters().end(), resumed.parameters().begin()));

    // A checkpoint is also a model file.
    net weights_only;
    io::load(weights_only, path, {.strict = false});
    CHECK(std::equal(weights_only.parameters().begin(), weights_only.parameters().end(), model.parameters().begin()));
    std::filesystem::remove(path);
}

TEST_CASE("a checkpoint of another model, optimizer, data or batch is refused; nothing changes") {
    const auto data = test::circle(215, 3);
    const auto path = temp_file("mismatch");
    net model{seed{1}};
    optim::adam opt{model, {.lr = 1e-2}};
    fit(model, opt, loss::cross_entropy{}, data, options, checkpointer{model, opt, path});

    using other_net = network<input<2>, dense<8>, relu, dense<2>>;
    other_net other;
    optim::adam opt_o{other};
    CHECK(thrown_message<io::format_error>([&] { io::load_checkpoint(path, other, opt_o); })
              .find("is a checkpoint of another model") != std::string::npos);
    net same{seed{5}};
    const std::vector<float> before(same.parameters().begin(), same.parameters().end());
    optim::sgd sgd{same, {.lr = 0.1}};
    CHECK(thrown_message<io::format_error>([&] { io::load_checkpoint(path, same, sgd); })
              .find("is a checkpoint of optimizer 'adam', resumed with 'sgd'") != std::string::npos);
    optim::rmsprop rms{same, {.centered = true}};
    CHECK(thrown_message<io::format_error>([&] { io::load_checkpoint(path, same, rms); })
              .find("optimizer 'adam'") != std::string::npos);
    CHECK(std::equal(before.begin(), before.end(), same.parameters().begin()));

    optim::adam opt_s{same, {.lr = 1e-2}};
    const fit_state st = io::load_checkpoint(path, same, opt_s);
    CHECK(st.epoch == 4);                                            // all 3 epochs done
    fit_options o = options;
    o.resume = &st;
    o.batch = 16;
    CHECK(thrown_message<std::invalid_argument>([&] { fit(same, opt_s, loss::cross_entropy{}, data.head(100), o); })
              .find("taken on 194 training samples, this fit has 90") != std::string::npos);
    CHECK(fit(same, opt_s, loss::cross_entropy{}, data, o).empty());   // nothing left to train

    // Within an epoch the batch must stay (the batches must line up); at an epoch's end it may change.
    const auto mid = temp_file("mid");
    fit(same, opt_s, loss::cross_entropy{}, data, options, [&](const fit_state& s) {
        if (s.step == 5) io::save_checkpoint(mid, same, opt_s, s);
        return s.step < 5;
    });
    fit_state at5 = io::load_checkpoint(mid, same, opt_s);
    o.resume = &at5;
    o.batch = 32;
    CHECK(thrown_message<std::invalid_argument>([&] { fit(same, opt_s, loss::cross_entropy{}, data, o); })
              .find("taken within an epoch at batch 16 (over all ranks), this fit has batch 32") != std::string::npos);
    fit_state at_epoch = at5;
    at_epoch.next = 0;
    o.resume = &at_epoch;
    CHECK(fit(same, opt_s, loss::cross_entropy{}, data, o).size() == 3);
    std::filesystem::remove(mid);

    // A truncated checkpoint: a format error, never a crash.
    const auto size = std::filesystem::file_size(path);
    std::filesystem::resize_file(path, size - 100);
    CHECK(thrown_message<io::format_error>([&] { io::load_checkpoint(path, same, opt_s); }).find("safetensors") !=
          std::string::npos);
    std::filesystem::remove(path);
}
