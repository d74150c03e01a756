// train/checkpoint.hpp — checkpoints that resume training exactly: the network's parameters and
// state, its rng (dropout), the optimizer's buffers, step count and learning rate, and fit's state
// (epoch, position in the epoch, the sample order, the shuffling rng, the epoch's running sums).
// N steps straight give the same bits as N/2 steps, a checkpoint, a new process, load, N/2 steps.
//
//   io::save_checkpoint("run.ckpt", net, opt, state);          // state: a fit_state
//   fit_state st = io::load_checkpoint("run.ckpt", net, opt);  // net, opt: the same types
//   fit(net, opt, loss, data, {.epochs = 10, .resume = &st}, checkpointer{net, opt, "run.ckpt"});
//
// The file is safetensors: the model's tensors under their own names (io::load reads a checkpoint
// as a model file, with {.strict = false}), "optimizer.<buffer>" (param_count) per optimizer
// buffer, "fit.order", the rngs as U64 words, and the scalars as __metadata__ strings (floating
// ones as hex bit patterns, so they round-trip exactly). Written atomically.
#pragma once
#include <array>
#include <bit>
#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "typenet/io/model.hpp"
#include "typenet/train/communicator.hpp"
#include "typenet/train/fit.hpp"

namespace typenet {

namespace io {
namespace detail {
inline std::string bits_of(double v) {
    char s[24];
    std::snprintf(s, sizeof s, "%016llx", static_cast<unsigned long long>(std::bit_cast<std::uint64_t>(v)));
    return s;
}

// The reader's view of a checkpoint's metadata, each value checked as it is parsed.
struct checkpoint_fields {
    const safetensors_reader& r;
    const std::string& text(const std::string& key) const {
        const auto it = r.metadata().find(key);
        if (it == r.metadata().end()) r.fail("is not a typenet checkpoint: no __metadata__ entry " + io::detail::quoted(key));
        return it->second;
    }
    std::uint64_t unsigned_value(const std::string& key, int base = 10) const {
        const std::string& s = text(key);
        char* end = nullptr;
        errno = 0;
        const unsigned long long v = s.empty() || s[0] == '-' ? 0 : std::strtoull(s.c_str(), &end, base);
        if (s.empty() || s[0] == '-' || errno != 0 || end != s.c_str() + s.size())
            r.fail("checkpoint entry " + io::detail::quoted(key) + " is " + io::detail::quoted(s) + ", not a non-negative integer");
        return v;
    }
    double real(const std::string& key) const {
        if (text(key).size() != 16) r.fail("checkpoint entry " + io::detail::quoted(key) + " is not 16 hex digits");
        const double v = std::bit_cast<double>(unsigned_value(key, 16));
        if (!std::isfinite(v)) r.fail("checkpoint entry " + io::detail::quoted(key) + " is not finite");
        return v;
    }
    // A U64 tensor of exactly n values.
    std::vector<std::uint64_t> words(const std::string& name, std::uint64_t n) const {
        const tensor_entry* t = r.find(name);
        if (!t) r.fail("is not a typenet checkpoint: it has no tensor " + io::detail::quoted(name));
        if (t->dtype != dtype::u64 || t->shape != std::vector<std::uint64_t>{n})
            r.fail("tensor " + io::detail::quoted(name) + ": expected U64 [" + std::to_string(n) + "], found " +
                   std::string(dtype_name(t->dtype)) + " " + t->shape_str());
        std::vector<std::uint64_t> v(n);
        r.read(*t, v.data());                                  // U64 into U64: exact
        return v;
    }
    rng::state_type rng_state(const std::string& name) const {
        const auto w = words(name, 6);
        if (w[5] > 1) r.fail("tensor " + io::detail::quoted(name) + " is not an rng state");
        const auto s = rng::state_type::unpack({w[0], w[1], w[2], w[3], w[4], w[5]});
        if ((s.words[0] | s.words[1] | s.words[2] | s.words[3]) == 0) r.fail("tensor " + io::detail::quoted(name) + " is an all-zero rng state");
        if (!std::isfinite(s.spare)) r.fail("tensor " + io::detail::quoted(name) + " holds a non-finite spare value");
        return s;
    }
};
}  // namespace detail

// One network and its optimizer in a checkpoint, their names under `prefix` ("" for a lone model;
// e.g. "generator." and "discriminator." for a GAN's two).
template <model Net, class Opt>
struct part {
    std::string prefix;
    Net& net;
    Opt& opt;
};
template <model Net, class Opt> part(std::string, Net&, Opt&) -> part<Net, Opt>;
template <model Net, class Opt> part(const char*, Net&, Opt&) -> part<Net, Opt>;

// A part as the checkpoint code sees it, without the types (io/model.hpp's model_view, the
// optimizer's name, buffers, steps and rate): one compiled copy per scalar type serves all models.
template <class T>
struct part_view {
    std::string prefix;
    model_view<T> model;
    std::string summary;                                   // Net::summary(): the model's structure
    rng* generator;
    std::string optimizer;                                 // Opt::name
    std::vector<std::pair<std::string, std::span<T>>> buffers;
    long steps = 0;                                        // read from the optimizer, or loaded
    double lr = 0;
};
template <model Net, class Opt>
part_view<typename Net::scalar> view_of(const part<Net, Opt>& p) {
    using T = typename Net::scalar;
    part_view<T> v{p.prefix, view_of(p.net), Net::summary(), &p.net.generator(), Opt::name, {}, p.opt.steps(), p.opt.lr()};
    p.opt.visit_state([&](const char* name, std::span<T> buf) { v.buffers.emplace_back(name, buf); });
    return v;
}

namespace detail {
template <class T>
void save_checkpoint_views(const std::filesystem::path& path, const fit_state& st, const std::vector<part_view<T>>& parts);
// Checks everything, then commits the models, optimizer buffers and generators; sets each view's
// steps and lr to the file's (for the caller to give its optimizer).
template <class T>
fit_state load_checkpoint_views(const std::filesystem::path& path, std::vector<part_view<T>>& parts);
}  // namespace detail

// Writes the fit state and each part (network and optimizer) to `path`, atomically.
template <class N0, class O0, class... N, class... O>
void save_checkpoint(const std::filesystem::path& path, const fit_state& st, const part<N0, O0>& first,
                     const part<N, O>&... rest) {
    using T = typename N0::scalar;
    static_assert((std::is_same_v<T, typename N::scalar> && ...), "typenet: a checkpoint's parts must share a scalar type");
    detail::save_checkpoint_views<T>(path, st, std::vector<part_view<T>>{view_of(first), view_of(rest)...});
}

// Writes net, opt and the fit state to `path`, atomically.
template <model Net, class Opt>
void save_checkpoint(const std::filesystem::path& path, Net& net, Opt& opt, const fit_state& st) {
    save_checkpoint(path, st, part<Net, Opt>{"", net, opt});
}

// Reads a checkpoint into each part (the types it was written from; optimizers built with the
// same options) and returns the fit state (for fit_options::resume). Everything is checked before
// anything changes: on an error every network and optimizer is as it was.
template <class N0, class O0, class... N, class... O>
fit_state load_checkpoint(const std::filesystem::path& path, const part<N0, O0>& first, const part<N, O>&... rest) {
    using T = typename N0::scalar;
    static_assert((std::is_same_v<T, typename N::scalar> && ...), "typenet: a checkpoint's parts must share a scalar type");
    std::vector<part_view<T>> views{view_of(first), view_of(rest)...};
    const fit_state st = detail::load_checkpoint_views<T>(path, views);
    std::size_t i = 0;
    auto apply = [&](auto& opt) {
        opt.set_steps(views[i].steps);
        opt.set_lr(views[i].lr);
        ++i;
    };
    apply(first.opt);
    (apply(rest.opt), ...);
    return st;
}

template <model Net, class Opt>
fit_state load_checkpoint(const std::filesystem::path& path, Net& net, Opt& opt) {
    return load_checkpoint(path, part<Net, Opt>{"", net, opt});
}

// ---- the view functions -------------------------------------------------------------------------
namespace detail {
template <class T>
void save_checkpoint_views(const std::filesystem::path& path, const fit_state& st, const std::vector<part_view<T>>& parts) {
    safetensors_writer w;
    std::vector<std::int64_t> ints;
    std::vector<std::array<std::uint64_t, 6>> words;
    words.reserve(parts.size() + 1);                           // no reallocation: w keeps pointers into it
    for (const auto& p : parts) {
        add_tensors<T>(w, {p.model.tensors, p.model.params, p.model.state}, {}, ints, p.prefix);
        for (const auto& [name, buf] : p.buffers)
            if (!buf.empty()) w.add(p.prefix + "optimizer." + name, dtype_of<T>, {buf.size()}, buf.data(), buf.size() * sizeof(T));
        words.push_back(p.generator->state().pack());
        w.add(p.prefix + "model.generator", dtype::u64, {6}, words.back().data(), 48);
        w.metadata(p.prefix + "typenet.model", p.summary);
        w.metadata(p.prefix + "optimizer", p.optimizer);
        w.metadata(p.prefix + "optimizer.steps", std::to_string(p.steps));
        w.metadata(p.prefix + "optimizer.lr", bits_of(p.lr));
    }
    std::vector<std::uint64_t> order(st.order.begin(), st.order.end());
    w.add("fit.order", dtype::u64, {order.size()}, order.data(), order.size() * 8);
    words.push_back(st.shuffler.pack());
    w.add("fit.shuffler", dtype::u64, {6}, words.back().data(), 48);
    w.metadata("format", "pt");
    w.metadata("typenet.checkpoint", "1");
    w.metadata("fit.epoch", std::to_string(st.epoch));
    w.metadata("fit.next", std::to_string(st.next));
    w.metadata("fit.step", std::to_string(st.step));
    w.metadata("fit.batch", std::to_string(st.batch));
    w.metadata("fit.loss_sum", bits_of(st.loss_sum));
    w.metadata("fit.correct", std::to_string(st.correct));
    w.metadata("fit.seconds", bits_of(st.seconds));
    w.metadata("fit.aux_sum", bits_of(st.aux_sum));
    w.write(path);
}

// One part read and checked, not yet committed.
template <class T>
struct staged_part {
    staged_tensors<T> model;
    std::vector<std::vector<T>> buffers;
    rng::state_type generator;
};

template <class T>
staged_part<T> stage_part(const safetensors_reader& r, const checkpoint_fields& f, part_view<T>& p) {
    const std::string& pre = p.prefix;
    if (f.text(pre + "typenet.model") != p.summary) {              // name the first line that differs
        const std::string& a = f.text(pre + "typenet.model");
        const std::string& b = p.summary;
        std::size_t i = 0;
        while (i < a.size() && i < b.size() && a[i] == b[i]) ++i;
        const std::size_t line = a.rfind('\n', i == 0 ? 0 : i - 1), from = line == std::string::npos ? 0 : line + 1;
        auto line_at = [&](const std::string& s) { return s.substr(from, s.find('\n', from) - from); };
        r.fail("is a checkpoint of another model" + (pre.empty() ? std::string() : " as " + io::detail::quoted(pre)) +
               ": its layer '" + line_at(a) + "', this model's '" + line_at(b) + "'");
    }
    if (f.text(pre + "optimizer") != p.optimizer)
        r.fail("is a checkpoint of optimizer " + io::detail::quoted(f.text(pre + "optimizer")) + ", resumed with " +
               io::detail::quoted(p.optimizer));
    staged_part<T> s{stage_tensors(p.model, r, {}, pre), {}, {}};
    p.steps = long(std::min<std::uint64_t>(f.unsigned_value(pre + "optimizer.steps"), std::uint64_t(1) << 62));
    p.lr = f.real(pre + "optimizer.lr");
    s.generator = f.rng_state(pre + "model.generator");
    std::set<std::string> used;
    for (const auto& [name, buf] : p.buffers) {
        const std::string n = pre + "optimizer." + name;
        const tensor_entry* t = r.find(n);
        s.buffers.emplace_back();
        if (buf.empty()) {
            if (t) r.fail("holds " + io::detail::quoted(n) + ", which this optimizer (its options) does not keep");
            continue;
        }
        if (!t) r.fail("has no tensor " + io::detail::quoted(n) + " that the optimizer needs (was it built with other options?)");
        if (t->shape != std::vector<std::uint64_t>{buf.size()} || !is_float(t->dtype))
            r.fail("tensor " + io::detail::quoted(n) + ": expected a float tensor [" + std::to_string(buf.size()) + "], found " +
                   std::string(dtype_name(t->dtype)) + " " + t->shape_str());
        s.buffers.back().resize(buf.size());
        r.read(*t, s.buffers.back().data());
        for (T v : s.buffers.back())
            if (!std::isfinite(v)) r.fail("tensor " + io::detail::quoted(n) + " holds a non-finite value");
        used.insert(n);
    }
    for (const auto& t : r.tensors())
        if (t.name.starts_with(pre + "optimizer.") && !used.count(t.name))
            r.fail("holds " + io::detail::quoted(t.name) + ", which this optimizer does not keep");
    return s;
}

template <class T>
fit_state load_checkpoint_views(const std::filesystem::path& path, std::vector<part_view<T>>& parts) {
    const safetensors_reader r(path);
    const checkpoint_fields f{r};
    if (f.text("typenet.checkpoint") != "1")
        r.fail("is a checkpoint of an unknown version " + io::detail::quoted(f.text("typenet.checkpoint")));
    std::vector<staged_part<T>> staged;
    for (auto& p : parts) staged.push_back(stage_part(r, f, p));

    fit_state st;
    st.epoch = int(std::min<std::uint64_t>(f.unsigned_value("fit.epoch"), 1u << 30));
    st.next = std::size_t(f.unsigned_value("fit.next"));
    st.step = long(std::min<std::uint64_t>(f.unsigned_value("fit.step"), std::uint64_t(1) << 62));
    st.batch = index_t(std::min<std::uint64_t>(f.unsigned_value("fit.batch"), std::uint64_t(1) << 40));
    st.loss_sum = f.real("fit.loss_sum");
    st.correct = std::size_t(f.unsigned_value("fit.correct"));
    st.seconds = f.real("fit.seconds");
    st.aux_sum = f.real("fit.aux_sum");
    if (st.epoch < 1 || st.batch < 1) r.fail("checkpoint has epoch " + std::to_string(st.epoch) + " and batch " + std::to_string(st.batch));
    const tensor_entry* order = r.find("fit.order");
    if (!order || order->shape.size() != 1) r.fail("is not a typenet checkpoint: it has no tensor 'fit.order' [n]");
    const auto order_words = f.words("fit.order", order->shape[0]);
    for (auto j : order_words)
        if (j >= order_words.size()) r.fail("tensor 'fit.order' names sample " + std::to_string(j) + " of " + std::to_string(order_words.size()));
    if (st.next > order_words.size()) r.fail("checkpoint is at sample " + std::to_string(st.next) + " of " + std::to_string(order_words.size()));
    st.order.assign(order_words.begin(), order_words.end());
    st.shuffler = f.rng_state("fit.shuffler");

    for (std::size_t k = 0; k < parts.size(); ++k) {           // all checked: commit
        staged[k].model.commit();
        for (std::size_t b = 0; b < parts[k].buffers.size(); ++b)
            std::copy(staged[k].buffers[b].begin(), staged[k].buffers[b].end(), parts[k].buffers[b].second.begin());
        parts[k].generator->set_state(staged[k].generator);
    }
    return st;
}

#if defined(TYPENET_SEPARATE_IO) && !defined(TYPENET_IO_IMPLEMENTATION)
extern template void save_checkpoint_views<float>(const std::filesystem::path&, const fit_state&, const std::vector<part_view<float>>&);
extern template void save_checkpoint_views<double>(const std::filesystem::path&, const fit_state&, const std::vector<part_view<double>>&);
extern template fit_state load_checkpoint_views<float>(const std::filesystem::path&, std::vector<part_view<float>>&);
extern template fit_state load_checkpoint_views<double>(const std::filesystem::path&, std::vector<part_view<double>>&);
#endif
}  // namespace detail
}  // namespace io

namespace detail {
inline volatile std::sig_atomic_t interrupt_signal = 0;
inline void on_interrupt(int sig) { interrupt_signal = sig; }
}  // namespace detail

// While it lives, SIGINT and SIGTERM (Ctrl-C, a scheduler's stop) set a flag instead of ending the
// process, so a training loop can finish its step, write a checkpoint and return; the previous
// handlers come back when it is destroyed. For loops of one's own (examples/gan_fashion.cpp);
// checkpointer holds one.
class interrupt_guard {
public:
    interrupt_guard() {
        detail::interrupt_signal = 0;
        old_int_ = std::signal(SIGINT, detail::on_interrupt);
        old_term_ = std::signal(SIGTERM, detail::on_interrupt);
    }
    interrupt_guard(const interrupt_guard&) = delete;
    interrupt_guard& operator=(const interrupt_guard&) = delete;
    ~interrupt_guard() {
        std::signal(SIGINT, old_int_);
        std::signal(SIGTERM, old_term_);
    }
    int signal() const { return detail::interrupt_signal; }   // the signal that came, or 0

private:
    void (*old_int_)(int) = SIG_DFL;
    void (*old_term_)(int) = SIG_DFL;
};

// A fit callback that writes a checkpoint at the end of every epoch, every `every_steps` steps
// (0: never within an epoch), and, with `on_interrupt`, when SIGINT or SIGTERM (Ctrl-C) arrives:
// the step in flight finishes, the checkpoint is written and fit returns; interrupted() then says
// which signal came. The previous signal handlers are restored when it is destroyed.
//   checkpointer ck{net, opt, "run.ckpt", {.every_steps = 1000}};
//   fit(net, opt, loss, data, o, ck);
//   if (ck.interrupted()) return 130;
template <model Net, class Opt>
class checkpointer {
public:
    struct options {
        long every_steps = 0;
        bool on_interrupt = true;
        bool at_epoch_end = true;
        // Data parallelism: give every rank a checkpointer with the communicator fit has. Rank 0
        // writes; a signal that reaches any rank stops all of them at the same step.
        communicator* comm = nullptr;
    };
    checkpointer(Net& net, Opt& opt, std::filesystem::path path, options o = {})
        : net_(&net), opt_(&opt), path_(std::move(path)), o_(o) {
        if (o_.on_interrupt) guard_.emplace();
    }

    bool operator()(const fit_state& s) {
        int sig = guard_ ? guard_->signal() : 0;
        if (o_.comm && guard_) {                              // collective: every rank's checkpointer calls it
            double v[2] = {sig == SIGINT ? 1.0 : 0.0, sig == SIGTERM ? 1.0 : 0.0};
            o_.comm->allreduce_sum(std::span<double>(v));
            sig = v[0] > 0 ? SIGINT : v[1] > 0 ? SIGTERM : 0;
        }
        if (sig != 0) {
            interrupted_ = sig;
            write(s);
            return false;
        }
        const bool epoch_end = s.next == 0;
        if ((epoch_end && o_.at_epoch_end) || (!epoch_end && o_.every_steps > 0 && s.step % o_.every_steps == 0)) write(s);
        return true;
    }
    void write(const fit_state& s) {                          // on rank 0 alone when distributed
        if (o_.comm && o_.comm->rank() != 0) return;
        io::save_checkpoint(path_, *net_, *opt_, s);
        ++written_;
    }
    int interrupted() const { return interrupted_; }     // the signal that stopped training, or 0
    long written() const { return written_; }
    const std::filesystem::path& path() const { return path_; }

private:
    Net* net_;
    Opt* opt_;
    std::filesystem::path path_;
    options o_;
    std::optional<interrupt_guard> guard_;
    int interrupted_ = 0;
    long written_ = 0;
};

}  // namespace typenet
