// train/callbacks.hpp — callables for fit(): early_stopping (keeps a copy of the best parameters
// and state, restores it when it stops), csv_log (one flushed line per epoch), progress (one line
// per epoch) and progress_bar (a bar redrawn after each step on a terminal, and progress's line).
// Each takes `const epoch_stats&`, progress_bar also `const step_stats&`; those that may stop
// return bool.
#pragma once
#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>
#if defined(__unix__) || defined(__APPLE__)
#include <unistd.h>
#endif

#include "typenet/core/network.hpp"
#include "typenet/train/fit.hpp"

namespace typenet {

enum class monitored { validation_loss, validation_accuracy };

struct early_stopping_options {
    int patience = 3;                               // epochs without improvement before stopping
    double min_delta = 0;                           // an improvement must beat the best by more than this
    monitored monitor = monitored::validation_loss; // loss: lower is better; accuracy: higher is better
};

// Keras' EarlyStopping(restore_best_weights=True), with the network state (batch_norm's running
// statistics) copied along with the parameters, since the best weights are wrong without them.
template <model Net>
class early_stopping {
public:
    using scalar = typename Net::scalar;

    explicit early_stopping(Net& net, early_stopping_options o = {}) : net_(&net), o_(o) {
        if (o.patience < 0)
            throw std::invalid_argument("typenet: early_stopping: patience must be >= 0, got " + std::to_string(o.patience));
        if (!(o.min_delta >= 0))
            throw std::invalid_argument("typenet: early_stopping: min_delta must be >= 0, got " + std::to_string(o.min_delta));
    }

    // Snapshots the model at each improvement; after `patience` epochs without one, restores the
    // best snapshot and returns false (fit stops).
    bool operator()(const epoch_stats& e) {
        if (e.validation.samples == 0)
            throw std::invalid_argument("typenet: early_stopping: epoch " + std::to_string(e.epoch) +
                                        " has no validation samples; pass fit_options{.validation = 0.1} (or another "
                                        "fraction) to fit");
        const double v = o_.monitor == monitored::validation_loss ? e.validation.loss : e.validation.accuracy;
        if (improves(v)) {
            best_ = v;
            best_epoch_ = e.epoch;
            wait_ = 0;
            best_params_.assign(net_->parameters().begin(), net_->parameters().end());
            best_state_.assign(net_->state().begin(), net_->state().end());
            return true;
        }
        if (++wait_ < o_.patience) return true;
        stopped_epoch_ = e.epoch;
        restore_best();
        return false;
    }

    // Copies the best epoch's parameters and state back into the model (for a fit that ran all its
    // epochs). Returns false, changing nothing, when no epoch has been seen.
    bool restore_best() {
        if (best_epoch_ == 0) return false;
        std::copy(best_params_.begin(), best_params_.end(), net_->parameters().begin());
        std::copy(best_state_.begin(), best_state_.end(), net_->state().begin());
        return true;
    }

    int best_epoch() const { return best_epoch_; }        // 0 before the first epoch
    double best_value() const { return best_; }           // the monitored value at best_epoch()
    int stopped_epoch() const { return stopped_epoch_; }  // 0 unless this callback stopped training
    bool stopped() const { return stopped_epoch_ != 0; }
    const early_stopping_options& options() const { return o_; }

private:
    bool improves(double v) const {
        if (!std::isfinite(v)) return false;
        if (best_epoch_ == 0) return true;
        return o_.monitor == monitored::validation_loss ? v < best_ - o_.min_delta : v > best_ + o_.min_delta;
    }

    Net* net_;
    early_stopping_options o_;
    double best_ = 0;
    int best_epoch_ = 0, stopped_epoch_ = 0, wait_ = 0;
    std::vector<scalar> best_params_, best_state_;   // (param_count), (state_count)
};

// One CSV line per epoch, flushed, so a crashed or killed run keeps its history. Validation columns
// are empty without a validation split. Numbers use 6 significant digits, '.' whatever the locale.
class csv_log {
public:
    explicit csv_log(const std::string& path) : path_(path), file_(std::fopen(path.c_str(), "w")) {
        if (!file_) fail("cannot open", errno);
        write("epoch,train_loss,train_accuracy,val_loss,val_accuracy,seconds,samples_per_second\n");
    }

    void operator()(const epoch_stats& e) {
        const bool val = e.validation.samples != 0;
        std::string line = std::to_string(e.epoch);
        for (double v : {e.train.loss, e.train.accuracy}) append(line, v);
        if (val) {
            append(line, e.validation.loss);
            append(line, e.validation.accuracy);
        } else {
            line += ",,";
        }
        append(line, e.seconds);
        append(line, e.samples_per_second);
        line += '\n';
        write(line);
    }

    const std::string& path() const { return path_; }

private:
    struct closer {
        void operator()(std::FILE* f) const { std::fclose(f); }
    };

    static void append(std::string& line, double v) {
        char buf[32];
        const auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::general, 6);
        line += ',';
        line.append(buf, r.ptr);
    }
    void write(const std::string& s) {
        if (std::fwrite(s.data(), 1, s.size(), file_.get()) != s.size() || std::fflush(file_.get()) != 0)
            fail("cannot write to", errno);
    }
    [[noreturn]] void fail(const char* what, int err) const {
        std::string msg = "typenet: csv_log: ";
        msg += what;
        msg += " '";
        msg += path_;
        msg += "': ";
        msg += std::strerror(err);
        throw std::runtime_error(msg);
    }

    std::string path_;
    std::unique_ptr<std::FILE, closer> file_;
};

// One plain line per epoch on `out`:
//   epoch 3/10  loss 0.4123  accuracy 85.12%  val_loss 0.4301  val_accuracy 84.50%  1.2 s  5000 samples/s
// (progress_bar adds a bar inside each epoch on a terminal).
struct progress {
    int epochs = 0;            // shown as "epoch 3/10" when > 0
    std::FILE* out = stdout;

    void operator()(const epoch_stats& e) const {
        const std::string s = line(e);
        std::fputs(s.c_str(), out);
        std::fflush(out);
    }

    std::string line(const epoch_stats& e) const {
        std::string s;
        char buf[128];
        auto put = [&](int n) { s.append(buf, std::size_t(std::clamp(n, 0, int(sizeof buf) - 1))); };   // truncated, not overrun
        put(epochs > 0 ? std::snprintf(buf, sizeof buf, "epoch %d/%d", e.epoch, epochs)
                       : std::snprintf(buf, sizeof buf, "epoch %d", e.epoch));
        put(std::snprintf(buf, sizeof buf, "  loss %.4f  accuracy %.2f%%", e.train.loss, 100 * e.train.accuracy));
        if (e.validation.samples)
            put(std::snprintf(buf, sizeof buf, "  val_loss %.4f  val_accuracy %.2f%%", e.validation.loss,
                              100 * e.validation.accuracy));
        put(std::snprintf(buf, sizeof buf, "  %.1f s  %.0f samples/s", e.seconds, e.samples_per_second));
        s += '\n';
        return s;
    }
};

// On a terminal, a bar redrawn in place after each step (at most every `interval` seconds):
//   epoch 3/10 [##########..........] 412/938  loss 0.3121  11734 samples/s  ETA 0:04
// erased at the end of the epoch, where progress's line is printed instead (epoch_line = false
// leaves that line to the caller, as the examples do to add the learning rate). Elsewhere (a pipe,
// a log file, CI) it draws nothing per step: one plain line per epoch.
class progress_bar {
public:
    enum class terminal { detect, yes, no };
    struct options {
        std::FILE* out = stdout;
        bool epoch_line = true;       // print progress's line after each epoch
        terminal tty = terminal::detect;
        double interval = 0.1;        // seconds between redraws
        int width = 24;               // characters of the bar itself
    };

    progress_bar() : progress_bar(options{}) {}
    explicit progress_bar(options o) : o_(o), tty_(o.tty == terminal::yes) {
#if defined(__unix__) || defined(__APPLE__)
        if (o.tty == terminal::detect) tty_ = o.out && ::isatty(::fileno(o.out)) == 1;
#endif
    }

    void operator()(const step_stats& s) {
        epochs_ = s.epochs;
        if (!tty_) return;
        if (s.batch != s.batches && s.seconds - last_ < o_.interval && s.batch != 1) return;
        last_ = s.seconds;
        const std::string b = "\r" + bar(s) + "\x1b[K";   // \x1b[K: clear the rest of the line
        std::fputs(b.c_str(), o_.out);
        std::fflush(o_.out);
        drawn_ = true;
    }

    void operator()(const epoch_stats& e) {
        if (drawn_) std::fputs("\r\x1b[K", o_.out);      // the bar gives way to the epoch's line
        drawn_ = false;
        last_ = -1;
        if (o_.epoch_line) std::fputs(progress{.epochs = epochs_}.line(e).c_str(), o_.out);
        std::fflush(o_.out);
    }

    // The bar's text for one step, without control characters.
    std::string bar(const step_stats& s) const {
        std::string r;
        char buf[160];
        auto put = [&](int n) { r.append(buf, std::size_t(std::clamp(n, 0, int(sizeof buf) - 1))); };
        put(s.epochs > 0 ? std::snprintf(buf, sizeof buf, "epoch %d/%d ", s.epoch, s.epochs)
                         : std::snprintf(buf, sizeof buf, "epoch %d ", s.epoch));
        const double f = s.batches ? double(s.batch) / double(s.batches) : 1.0;
        const int full = int(f * o_.width);
        r += '[';
        r.append(std::size_t(full), '#');
        r.append(std::size_t(o_.width - full), '.');
        r += ']';
        const double rate = s.seconds > 0 ? double(s.samples) / s.seconds : 0.0;
        const double eta = rate > 0 ? double(s.epoch_samples - s.samples) / rate : 0.0;
        put(std::snprintf(buf, sizeof buf, " %zu/%zu  loss %.4f  %.0f samples/s  ETA %s", s.batch, s.batches, s.loss,
                          rate, clock(eta).c_str()));
        return r;
    }

private:
    static std::string clock(double seconds) {   // m:ss, or h:mm:ss
        const long t = long(seconds + 0.5);
        char buf[32];
        if (t >= 3600) std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
        else std::snprintf(buf, sizeof buf, "%ld:%02ld", t / 60, t % 60);
        return buf;
    }

    options o_;
    bool tty_ = false, drawn_ = false;
    double last_ = -1;
    int epochs_ = 0;
};

}  // namespace typenet
