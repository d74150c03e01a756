// tests/train/callbacks_test.cpp — early_stopping on scripted epochs (when it stops, what it
// restores) and inside fit(); csv_log's exact file and its open error; progress's line.
#include <doctest/doctest.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "typenet/train/callbacks.hpp"
#include "support/data.hpp"
#include "typenet/typenet.hpp"

using namespace typenet;

namespace {
// batch_norm gives the model state (running mean and variance) to snapshot alongside the weights.
using net = network<input<2>, dense<8>, batch_norm<>, typenet::tanh, dense<2>>;

using test::circle;

epoch_stats stats(int epoch, double val_loss, double val_accuracy = 0.5) {
    epoch_stats e;
    e.epoch = epoch;
    e.train = {1.0, 0.5, 100};
    e.validation = {val_loss, val_accuracy, 20};
    return e;
}

// Marks the whole model with `v`, as if an epoch of training had changed it.
void mark(net& m, float v) {
    std::fill(m.parameters().begin(), m.parameters().end(), v);
    std::fill(m.state().begin(), m.state().end(), -v);
}
bool marked(const net& m, float v) {
    return std::all_of(m.parameters().begin(), m.parameters().end(), [v](float p) { return p == v; }) &&
           std::all_of(m.state().begin(), m.state().end(), [v](float p) { return p == -v; });
}

std::string read_all(const std::filesystem::path& p) {
    std::ifstream f(p);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

std::filesystem::path temp_path(const char* name) {
    const auto tag = std::to_string(std::chrono::steady_clock::now().time_since_epoch().count());
    return std::filesystem::temp_directory_path() / (std::string("typenet_") + name + "_" + tag + ".csv");
}
}  // namespace

TEST_CASE("early_stopping stops after `patience` epochs without improvement and restores the best epoch") {
    net model;
    REQUIRE(model.state().size() == 17);
    early_stopping stop{model, {.patience = 3}};
    const double loss[] = {1.0, 0.8, 0.9, 0.8, 0.85, 0.7};
    std::vector<bool> go;
    for (int epoch = 1; epoch <= 6; ++epoch) {
        mark(model, float(epoch));
        go.push_back(stop(stats(epoch, loss[epoch - 1])));
        if (!go.back()) break;
    }
    // Best 0.8 at epoch 2; 0.9, 0.8 (not better), 0.85: three epochs without improvement.
    CHECK(go == std::vector<bool>{true, true, true, true, false});
    CHECK(stop.stopped());
    CHECK(stop.stopped_epoch() == 5);
    CHECK(stop.best_epoch() == 2);
    CHECK(stop.best_value() == 0.8);
    CHECK(marked(model, 2.0f));
}

TEST_CASE("early_stopping: min_delta, accuracy, patience 0") {
    SUBCASE("an improvement must beat the best by more than min_delta") {
        net model;
        early_stopping stop{model, {.patience = 2, .min_delta = 0.1}};
        CHECK(stop(stats(1, 1.0)));
        CHECK(stop(stats(2, 0.95)));    // better, but by less than 0.1
        CHECK(stop(stats(3, 0.85)));    // better by 0.15: the new best
        CHECK(stop.best_epoch() == 3);
        CHECK(stop(stats(4, 0.8)));
        CHECK_FALSE(stop(stats(5, 0.76)));
        CHECK(stop.stopped_epoch() == 5);
    }
    SUBCASE("validation accuracy: higher is better") {
        net model;
        early_stopping stop{model, {.patience = 1, .monitor = monitored::validation_accuracy}};
        mark(model, 1);
        CHECK(stop(stats(1, 9.0, 0.6)));
        mark(model, 2);
        CHECK(stop(stats(2, 0.1, 0.7)));   // the loss is ignored
        mark(model, 3);
        CHECK_FALSE(stop(stats(3, 0.05, 0.7)));
        CHECK(stop.best_epoch() == 2);
        CHECK(stop.best_value() == 0.7);
        CHECK(marked(model, 2.0f));
    }
    SUBCASE("patience 0 stops at the first epoch without improvement; NaN never improves") {
        net model;
        early_stopping stop{model, {.patience = 0}};
        CHECK(stop(stats(1, 0.5)));
        CHECK_FALSE(stop(stats(2, std::nan(""))));
    }
}

TEST_CASE("early_stopping::restore_best after a fit that ran all its epochs") {
    net model;
    early_stopping stop{model, {.patience = 5}};
    CHECK_FALSE(stop.restore_best());   // nothing seen yet: nothing changes
    mark(model, 7);
    CHECK(stop(stats(1, 0.5)));
    mark(model, 8);
    CHECK(stop(stats(2, 0.6)));
    CHECK_FALSE(stop.stopped());
    CHECK(stop.restore_best());
    CHECK(marked(model, 7.0f));
}

TEST_CASE("early_stopping inside fit: the restored model scores the best validation loss") {
    net model{seed{1}};
    optim::sgd opt{model, {.lr = 0.5, .momentum = 0.9}};   // a high rate: the validation loss wobbles
    const auto d = circle(500, 1);
    early_stopping stop{model, {.patience = 2}};
    const auto h = fit(model, opt, loss::cross_entropy{}, d, {.epochs = 40, .batch = 25, .validation = 0.2}, stop);
    if (stop.stopped()) {
        CHECK(int(h.size()) == stop.stopped_epoch());
    } else {
        CHECK(stop.restore_best());
    }
    MESSAGE("ran ", h.size(), " epochs, best ", stop.best_epoch());
    REQUIRE(stop.best_epoch() >= 1);
    double best = h[0].validation.loss;
    for (const auto& e : h) best = std::min(best, e.validation.loss);
    CHECK(stop.best_value() == best);
    // Parameters and the batch_norm running statistics are both back: evaluation reproduces the score.
    const auto val = evaluate(model, d.slice(400, 100));
    CHECK(val.loss == doctest::Approx(best).epsilon(1e-6));
}

TEST_CASE("early_stopping without a validation split is a clear error") {
    net model;
    optim::sgd opt{model};
    CHECK_THROWS_WITH_AS(fit(model, opt, loss::cross_entropy{}, circle(20, 1), {.epochs = 3}, early_stopping{model}),
                         "typenet: early_stopping: epoch 1 has no validation samples; pass fit_options{.validation = "
                         "0.1} (or another fraction) to fit",
                         std::invalid_argument);
    CHECK_THROWS_AS(early_stopping(model, {.patience = -1}), std::invalid_argument);
    CHECK_THROWS_AS(early_stopping(model, {.min_delta = -0.1}), std::invalid_argument);
}

TEST_CASE("csv_log writes a header and one flushed line per epoch") {
    const auto path = temp_path("csv_log");
    {
        csv_log log{path.string()};
        CHECK(read_all(path) == "epoch,train_loss,train_accuracy,val_loss,val_accuracy,seconds,samples_per_second\n");
        epoch_stats e = stats(1, 0.625, 0.75);
        e.train = {0.5, 0.875, 100};
        e.seconds = 1.5;
        e.samples_per_second = 1234.5678;
        log(e);
        epoch_stats f;   // no validation split: empty validation columns
        f.epoch = 2;
        f.train = {1.0 / 3, 0.1, 100};
        f.seconds = 0.25;
        f.samples_per_second = 1e7;
        log(f);
        CHECK(read_all(path) ==   // before the file is closed: each line was flushed
              "epoch,train_loss,train_accuracy,val_loss,val_accuracy,seconds,samples_per_second\n"
              "1,0.5,0.875,0.625,0.75,1.5,1234.57\n"
              "2,0.333333,0.1,,,0.25,1e+07\n");
    }
    std::filesystem::remove(path);
}

TEST_CASE("csv_log inside fit, and an unwritable path fails at construction") {
    const auto path = temp_path("csv_log_fit");
    {
        net model{seed{1}};
        optim::sgd opt{model};
        fit(model, opt, loss::cross_entropy{}, circle(50, 1), {.epochs = 3, .batch = 10, .validation = 0.2},
            csv_log{path.string()});
    }
    const std::string s = read_all(path);
    CHECK(std::count(s.begin(), s.end(), '\n') == 4);
    CHECK(s.find("\n3,") != std::string::npos);
    std::filesystem::remove(path);

    const std::string bad = "/nonexistent-typenet-dir/log.csv";
    std::string expected = "typenet: csv_log: cannot open '";
    expected += bad;
    expected += "': ";
    expected += std::strerror(ENOENT);
    CHECK_THROWS_WITH_AS(csv_log{bad}, expected.c_str(), std::runtime_error);
}

TEST_CASE("progress prints one line per epoch") {
    epoch_stats e = stats(3, 0.43012, 0.845);
    e.train = {0.41234, 0.85123, 100};
    e.seconds = 1.23;
    e.samples_per_second = 5000.4;
    CHECK(progress{.epochs = 10}.line(e) ==
          "epoch 3/10  loss 0.4123  accuracy 85.12%  val_loss 0.4301  val_accuracy 84.50%  1.2 s  5000 samples/s\n");
    e.validation = {};
    CHECK(progress{}.line(e) == "epoch 3  loss 0.4123  accuracy 85.12%  1.2 s  5000 samples/s\n");

    std::FILE* f = std::tmpfile();
    REQUIRE(f);
    progress{.out = f}(e);
    progress{.out = f}(e);
    std::rewind(f);
    char buf[256] = {};
    const std::size_t n = std::fread(buf, 1, sizeof buf - 1, f);
    std::fclose(f);
    CHECK(std::string(buf, n) == progress{}.line(e) + progress{}.line(e));
}

namespace {
std::string read_all(std::FILE* f) {
    std::rewind(f);
    std::string s;
    char buf[512];
    for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) s.append(buf, n);
    return s;
}
}  // namespace

TEST_CASE("progress_bar draws epoch, batch, loss, rate and ETA") {
    progress_bar p(progress_bar::options{.width = 10});
    const step_stats s{.epoch = 2, .epochs = 5, .batch = 30, .batches = 100, .samples = 1920,
                       .epoch_samples = 6400, .loss = 0.51234, .seconds = 2.0};
    // 30 % of 10 characters; 1920 samples in 2 s, 4480 left at 960/s: 4.67 s.
    CHECK(p.bar(s) == "epoch 2/5 [###.......] 30/100  loss 0.5123  960 samples/s  ETA 0:05");
    const step_stats slow{.epoch = 1, .epochs = 0, .batch = 1, .batches = 4, .samples = 1, .epoch_samples = 4000,
                          .loss = 2.0, .seconds = 1.0};
    CHECK(p.bar(slow) == "epoch 1 [##........] 1/4  loss 2.0000  1 samples/s  ETA 1:06:39");
}

TEST_CASE("progress_bar: a bar on a terminal that gives way to the epoch line; only the line elsewhere") {
    epoch_stats e = stats(1, 0.5);
    e.validation = {};
    const step_stats s{.epoch = 1, .epochs = 2, .batch = 1, .batches = 2, .samples = 10, .epoch_samples = 20,
                       .loss = 0.7, .seconds = 0.5};
    const step_stats last{.epoch = 1, .epochs = 2, .batch = 2, .batches = 2, .samples = 20, .epoch_samples = 20,
                          .loss = 0.6, .seconds = 0.51};
    for (auto tty : {progress_bar::terminal::yes, progress_bar::terminal::no}) {
        std::FILE* f = std::tmpfile();
        REQUIRE(f);
        progress_bar p(progress_bar::options{.out = f, .tty = tty});
        progress_bar q(progress_bar::options{.tty = progress_bar::terminal::no});
        p(s);
        p(last);
        p(e);
        const std::string got = read_all(f);
        std::fclose(f);
        const std::string line = progress{.epochs = 2}.line(e);
        if (tty == progress_bar::terminal::yes)
            CHECK(got == "\r" + q.bar(s) + "\x1b[K\r" + q.bar(last) + "\x1b[K\r\x1b[K" + line);
        else
            CHECK(got == line);
    }
}

TEST_CASE("fit reports every step: batch counts, samples, running loss") {
    net model{seed{3}};
    optim::sgd opt{model, {.lr = 0.1}};
    std::vector<step_stats> steps;
    fit(model, opt, loss::cross_entropy{}, circle(45, 2), {.epochs = 2, .batch = 10},
        [&](const step_stats& s) { steps.push_back(s); });
    REQUIRE(steps.size() == 10);                               // 5 batches (10, 10, 10, 10, 5) x 2 epochs
    for (std::size_t i = 0; i < steps.size(); ++i) {
        const auto& s = steps[i];
        CHECK(s.epoch == int(i / 5) + 1);
        CHECK(s.epochs == 2);
        CHECK(s.batch == i % 5 + 1);
        CHECK(s.batches == 5);
        CHECK(s.samples == std::min<std::size_t>(45, 10 * s.batch));
        CHECK(s.epoch_samples == 45);
        CHECK(std::isfinite(s.loss));
        CHECK(s.loss > 0);
        if (s.batch > 1) CHECK(s.seconds >= steps[i - 1].seconds);
    }
}
