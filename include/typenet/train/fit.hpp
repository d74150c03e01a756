// train/fit.hpp — the training loop: seeded shuffling, mini-batches, one optimizer step per batch,
// a validation split, per-epoch loss and accuracy, per-epoch and per-batch callbacks (augmentation);
// and evaluate() for a held-out set. Buffers are allocated before the first step, so steady-state
// steps allocate nothing here.
#pragma once
#include <bit>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "typenet/core/network.hpp"
#include "typenet/data/augment.hpp"
#include "typenet/data/dataset.hpp"
#include "typenet/losses/losses.hpp"
#include "typenet/optim/optimizers.hpp"
#include "typenet/train/communicator.hpp"

namespace typenet {

// Where a fit stands between two optimizer steps: with the network and optimizer, all a checkpoint
// needs to continue it exactly (train/checkpoint.hpp). fit keeps one and passes it to callbacks
// f(const fit_state&) after every step and after every epoch's callbacks.
struct fit_state {
    int epoch = 1;                          // the epoch in progress, 1-based
    std::size_t next = 0;                   // samples of it trained on; 0: its order is not drawn yet
    long step = 0;                          // optimizer steps so far, over all epochs
    index_t batch = 0;                      // fit_options::batch (capped at the training set)
    std::vector<std::size_t> order;         // the training samples' order (reshuffled in place each epoch)
    rng::state_type shuffler;               // fit's rng: shuffling and batch callbacks (augmentation)
    double loss_sum = 0;                    // this epoch so far: sum of loss * batch size,
    std::size_t correct = 0;                // correct predictions,
    double seconds = 0;                     // training time
    double aux_sum = 0;                     // a second running sum, for loops of one's own (a GAN's
                                            // generator loss); fit leaves it 0
};

struct fit_options {
    int epochs = 1;
    index_t batch = 32;
    double validation = 0.0;        // fraction of the training set held out (its last samples)
    std::uint64_t seed = 0;         // the shuffling order
    bool shuffle = true;
    bool flush_denormals = true;    // FTZ/DAZ while training: see kernels/cpu/common.hpp
    // Continue from this state (a checkpoint's, train/checkpoint.hpp) rather than from the start:
    // epochs stays the total, so a run resumed at epoch 3 of 10 trains epochs 3..10. The training
    // set and batch size must be the checkpoint's.
    const fit_state* resume = nullptr;
    // Data parallelism (typenet/distributed.hpp): this process is one rank of comm->size() that
    // train replicas of the model together; `batch` is then per rank, and the ranks together step
    // as one process at batch * size() would (batch norm's statistics stay per rank, as in
    // PyTorch's DistributedDataParallel without SyncBatchNorm).
    communicator* comm = nullptr;
};

struct evaluation {
    double loss = 0;
    double accuracy = 0;            // fraction of correct argmax predictions, in [0, 1]
    std::size_t samples = 0;
};

// Where training stands after one optimizer step: what a progress bar draws.
struct step_stats {
    int epoch = 0;                  // 1-based
    int epochs = 0;                 // fit_options::epochs
    std::size_t batch = 0;          // 1-based, within the epoch
    std::size_t batches = 0;        // in this epoch
    std::size_t samples = 0;        // trained on so far in this epoch
    std::size_t epoch_samples = 0;  // in this epoch
    double loss = 0;                // running mean over the epoch's batches so far
    double seconds = 0;             // since the epoch began
};

struct epoch_stats {
    int epoch = 0;                  // 1-based
    evaluation train;               // running mean over the epoch's batches
    evaluation validation;          // samples == 0 without a validation split
    double seconds = 0;             // the epoch's training time
    double samples_per_second = 0;  // over all ranks
    double comm_seconds = 0;        // of seconds, in the ranks' collectives (fit_options::comm)
};

namespace detail {
template <class Net, class Data>
index_t check_data(const Data& d, const char* who) {
    using In = typename Net::input_shape;
    static_assert(!is_sequence<typename Net::output_shape>,
                  "typenet: fit/evaluate/confusion take one label per sample: end a sequence model with last_step");
    // A sequence model reads each sample as T steps of In: (T, in...) values.
    const bool fits = is_sequence<In> ? d.sample_size() % In::size == 0 && d.sample_size() > 0
                                      : d.sample_size() == In::size;
    if (!fits)
        throw std::invalid_argument(std::string("typenet: ") + who + ": samples have " + std::to_string(d.sample_size()) +
                                    " values, the network's input " + In::str() + " needs " +
                                    (is_sequence<In> ? "a positive multiple of " : "") + std::to_string(In::size));
    if (d.x.size() != d.size() * d.sample_size())
        throw std::invalid_argument(std::string("typenet: ") + who + ": dataset holds " + std::to_string(d.x.size()) +
                                    " values for " + std::to_string(d.size()) + " samples of " +
                                    std::to_string(d.sample_size()));
    return index_t(d.sample_size() / In::size);                  // steps: 1 without sequences
}

// Correct predictions in a batch: argmax of each output row against the label.
template <class T, class Label>
std::size_t count_correct(index_t batch, index_t c, const T* y, const Label* t) {
    std::size_t n = 0;
    for (index_t b = 0; b < batch; ++b) {
        const T* row = y + b * c;
        n += index_t(std::max_element(row, row + c) - row) == index_t(t[b]);
    }
    return n;
}

// Gathers samples idx[first, first + n) into contiguous x (n, sample) and y (n).
template <class Data, class T, class Target>
void gather(const Data& d, const std::size_t* idx, index_t n, T* x, Target* y) {
    const std::size_t s = d.sample_size();
    for (index_t i = 0; i < n; ++i) {
        const std::size_t j = idx[i];
        std::copy(d.x.begin() + std::ptrdiff_t(j * s), d.x.begin() + std::ptrdiff_t((j + 1) * s), x + i * index_t(s));
        y[i] = d.y[j];
    }
}

// fit's callbacks: after each epoch, f(const epoch_stats&); on each gathered training batch,
// f(const data::batch_view<T>&, rng&). One callable may be both.
template <class F, class T>
inline constexpr bool per_batch = std::is_invocable_v<F&, const data::batch_view<T>&, rng&>;
template <class F>
inline constexpr bool per_epoch = std::is_invocable_v<F&, const epoch_stats&>;
template <class F>
inline constexpr bool per_step = std::is_invocable_v<F&, const step_stats&>;
template <class F>
inline constexpr bool per_state = std::is_invocable_v<F&, const fit_state&>;

// fit's side of data parallelism: this rank's share of each batch, and the collectives, timed.
// Without a communicator it is one rank and every call is the identity.
struct sharding {
    communicator* comm = nullptr;
    int rank = 0, ranks = 1;
    double seconds = 0;                                   // in collectives
    explicit sharding(communicator* c) : comm(c), rank(c ? c->rank() : 0), ranks(c ? c->size() : 1) {}
    // Rank `rank`'s part [first, first + count) of n samples: n / ranks each, the remainder to
    // the first ranks (a rank's part may be empty).
    std::pair<std::size_t, std::size_t> share(std::size_t n) const {
        const std::size_t q = n / std::size_t(ranks), r = n % std::size_t(ranks), k = std::size_t(rank);
        return {k * q + std::min(k, r), q + (k < r ? 1 : 0)};
    }
    template <class T> void sum(std::span<T> v) {
        if (!comm) return;
        const auto t0 = std::chrono::steady_clock::now();
        comm->allreduce_sum(v);
        seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    }
    bool all(bool go) {                                   // every rank's go, and-ed
        double stops = go ? 0.0 : 1.0;
        sum(std::span<double>(&stops, 1));
        return stops == 0.0;
    }
};

// At a distributed fit's start: the ranks must hold the same model type (a hash of its structure
// is compared), then take rank 0's parameters, state, optimizer state and fit state.
template <class Net, class Opt>
void start_together(communicator& comm, Net& net, Opt& opt, fit_state& st) {
    using T = typename Net::scalar;
    const std::uint64_t mine = structure_hash(Net::summary() + std::to_string(sizeof(T)));
    std::uint64_t root = mine;
    comm.broadcast(std::span<std::uint64_t>(&root, 1), 0);
    std::vector<double> differ(std::size_t(comm.size()), 0.0);
    differ[std::size_t(comm.rank())] = root == mine ? 0.0 : 1.0;
    comm.allreduce_sum(std::span<double>(differ));
    std::string ranks;
    for (std::size_t r = 0; r < differ.size(); ++r)
        if (differ[r] != 0.0) ranks += (ranks.empty() ? "" : ", ") + std::to_string(r);
    if (!ranks.empty())
        throw std::runtime_error("typenet: fit: rank(s) " + ranks + " hold a model of another structure than rank 0's; "
                                 "every rank must build the same network type");
    comm.broadcast(net.parameters(), 0);
    comm.broadcast(net.state(), 0);
    if constexpr (requires { opt.visit_state([](const char*, std::span<T>) {}); })
        opt.visit_state([&](const char*, std::span<T> b) { comm.broadcast(b, 0); });
    double scalars[6] = {double(opt.steps()), opt.lr(), double(st.epoch), double(st.next), double(st.step), double(st.batch)};
    comm.broadcast(std::span<double>(scalars), 0);
    if constexpr (requires { opt.set_steps(1L); }) opt.set_steps(long(scalars[0]));
    opt.set_lr(scalars[1]);
    st.epoch = int(scalars[2]);
    st.next = std::size_t(scalars[3]);
    st.step = long(scalars[4]);
    st.batch = index_t(scalars[5]);
    double sums[4] = {st.loss_sum, double(st.correct), st.seconds, st.aux_sum};
    comm.broadcast(std::span<double>(sums), 0);
    st.loss_sum = sums[0];
    st.correct = std::size_t(sums[1]);
    st.seconds = sums[2];
    st.aux_sum = sums[3];
    auto words = st.shuffler.pack();
    comm.broadcast(std::span<std::uint64_t>(words), 0);
    st.shuffler = rng::state_type::unpack(words);
    std::vector<std::uint64_t> order(st.order.begin(), st.order.end());
    comm.broadcast(std::span<std::uint64_t>(order), 0);
    std::copy(order.begin(), order.end(), st.order.begin());
}

// Class-labelled data needs a loss over labels; the callers compile their body only when it fits,
// so a mismatch is this one error.
template <class Loss, class T, class Data>
inline constexpr bool loss_takes_labels =
    Loss::per_sample_targets && std::is_same_v<typename Loss::template target_type<T>, typename Data::target_type>;
}  // namespace detail

// Loss and accuracy of `net` on `data` in eval mode, batch by batch (mode::infer: nothing is kept
// for a backward, so convolutions and batch norm take their inference paths).
template <trainable Net, class Data, class Loss = loss::cross_entropy>
evaluation evaluate(Net& net, const Data& data, const Loss& loss = {}, index_t batch = 256) {
    using T = typename Net::scalar;
    constexpr bool fits = detail::loss_takes_labels<Loss, T, Data>;
    static_assert(fits, "typenet: fit/evaluate on a labelled dataset need a loss over class labels, e.g. loss::cross_entropy");
    evaluation e;
    if constexpr (fits) {
    const index_t steps = detail::check_data<Net>(data, "evaluate");
    if (batch <= 0) throw std::invalid_argument("typenet: evaluate: batch size must be > 0, got " + std::to_string(batch));
    constexpr index_t c = Net::output_shape::size;
    const std::size_t s = data.sample_size();
    for (std::size_t first = 0; first < data.size(); first += std::size_t(batch)) {
        const index_t n = index_t(std::min<std::size_t>(std::size_t(batch), data.size() - first));
        const T* y = net.forward(n, steps, data.x.data() + first * s, mode::infer);
        e.loss += double(loss(n, c, y, data.y.data() + first)) * double(n);
        e.accuracy += double(detail::count_correct(n, c, y, data.y.data() + first));
        e.samples += std::size_t(n);
    }
    if (e.samples) { e.loss /= double(e.samples); e.accuracy /= double(e.samples); }
    }
    return e;
}

// Trains `net` with `opt` on `loss` over `data`; returns one epoch_stats per epoch run. Callbacks are
// told apart by what they can be called with, and run in the order given:
//  - f(const epoch_stats&), after each epoch: one that returns false stops training (early_stopping,
//    csv_log, progress in train/callbacks.hpp);
//  - f(const data::batch_view<T>& b, rng& g), on each gathered training batch before forward: it may
//    change b.x in place (augmentation: data::random_crop, data::random_flip). Validation and
//    evaluate() never see it. g is fit's shuffling rng, seeded by fit_options::seed, so a run with
//    augmentation is as reproducible as one without; without batch callbacks nothing else draws
//    from it, and the shuffling order is the same as before they existed;
//  - f(const step_stats&), after each optimizer step (progress_bar in train/callbacks.hpp);
//  - f(const fit_state&), after each optimizer step and after each epoch's other callbacks (so the
//    state includes what they changed, e.g. the learning rate): checkpointer in
//    train/checkpoint.hpp. One that returns false stops training there.
//    fit(net, opt, loss::cross_entropy{}, train, {.epochs = 10, .seed = 1},
//        data::random_crop{.padding = 2}, data::random_flip{}, progress{.epochs = 10});
// Callbacks rather than a fit_options member: a transform is generic in T and stateless, and a
// std::function in fit_options would fix T and cost an indirect call per batch.
template <trainable Net, optim::optimizer Opt, class Loss, class Data, class... Callback>
std::vector<epoch_stats> fit(Net& net, Opt& opt, const Loss& loss, const Data& data, fit_options o, Callback&&... cb) {
    using T = typename Net::scalar;
    using Target = typename Data::target_type;
    constexpr bool fits = detail::loss_takes_labels<Loss, T, Data>;
    static_assert(fits, "typenet: fit/evaluate on a labelled dataset need a loss over class labels, e.g. loss::cross_entropy");
    static_assert(((detail::per_batch<Callback, T> || detail::per_epoch<Callback> || detail::per_step<Callback> ||
                    detail::per_state<Callback>) && ...),
                  "typenet: fit: each callback must be callable as f(const epoch_stats&) (after each epoch), "
                  "f(const data::batch_view<T>&, rng&) (on each training batch, before forward), "
                  "f(const step_stats&) (after each optimizer step) or f(const fit_state&) (checkpoints)");
    std::vector<epoch_stats> history;
    if constexpr (fits) {
    const index_t steps = detail::check_data<Net>(data, "fit");
    if (o.batch <= 0) throw std::invalid_argument("typenet: fit: batch size must be > 0, got " + std::to_string(o.batch));
    if (o.epochs < 0) throw std::invalid_argument("typenet: fit: epochs must be >= 0, got " + std::to_string(o.epochs));
    if (!(o.validation >= 0.0 && o.validation < 1.0))
        throw std::invalid_argument("typenet: fit: validation must be a fraction in [0, 1), got " + std::to_string(o.validation));
    const std::size_t n_val = std::size_t(double(data.size()) * o.validation);
    const std::size_t n_train = data.size() - n_val;
    if (n_train == 0) throw std::invalid_argument("typenet: fit: no training samples (dataset of " + std::to_string(data.size()) + ")");
    const Data val = n_val ? data.slice(n_train, n_val) : Data{};

    constexpr index_t c = Net::output_shape::size;
    detail::sharding ranks(o.comm);
    const index_t b_max = std::min<index_t>(o.batch, index_t(n_train));                              // per rank
    const index_t b_all = std::min<index_t>(o.batch * index_t(ranks.ranks), index_t(n_train));      // all ranks
    const std::size_t s = data.sample_size();
    aligned_vector<T> xb(std::size_t(b_max) * s), dy(std::size_t(b_max) * std::size_t(c));
    std::vector<Target> yb(static_cast<std::size_t>(b_max));
    fit_state st;
    st.batch = b_all;
    if (o.resume) {
        st = *o.resume;
        if (st.order.size() != n_train)
            throw std::invalid_argument("typenet: fit: resume: the state was taken on " + std::to_string(st.order.size()) +
                                        " training samples, this fit has " + std::to_string(n_train));
        if (st.batch != b_all && st.next != 0)          // within an epoch the batches must line up
            throw std::invalid_argument("typenet: fit: resume: the state was taken within an epoch at batch " +
                                        std::to_string(st.batch) + " (over all ranks), this fit has batch " +
                                        std::to_string(b_all) + "; resume with the same batch");
        st.batch = b_all;
        if (st.next > n_train || st.epoch < 1)
            throw std::invalid_argument("typenet: fit: resume: the state is at sample " + std::to_string(st.next) +
                                        " of epoch " + std::to_string(st.epoch) + ", past the training set");
        for (std::size_t j : st.order)
            if (j >= n_train) throw std::invalid_argument("typenet: fit: resume: the state's order names sample " + std::to_string(j));
    } else {
        st.order.resize(n_train);
        std::iota(st.order.begin(), st.order.end(), std::size_t{0});
        st.shuffler = rng(seed{o.seed}).state();
    }
    if constexpr (model<Net>) {
        if (o.comm) detail::start_together(*o.comm, net, opt, st);
    } else if (o.comm) {
        throw std::invalid_argument("typenet: fit: fit_options::comm (training over ranks) needs the model's "
                                    "parameters in host memory; a device model (typenet::cuda::model) trains alone");
    }
    net.reserve(b_max, steps);
    rng shuffler;
    shuffler.set_state(st.shuffler);
    const kernels::cpu::fp_mode fp(o.flush_denormals ? kernels::cpu::fp_mode::current() | kernels::cpu::fp_mode::flush_bits
                                                     : kernels::cpu::fp_mode::current());
    // Callbacks f(const fit_state&): the state as of now; false from any (on any rank) stops training.
    auto report_state = [&] {
        bool go = true;
        if constexpr ((detail::per_state<Callback> || ...)) {
            st.shuffler = shuffler.state();
            auto one = [&](auto& f) {
                if constexpr (detail::per_state<decltype(f)>) {
                    if constexpr (std::is_same_v<decltype(f(st)), bool>) go = f(st) && go;
                    else f(st);
                }
            };
            (one(cb), ...);
            go = ranks.all(go);
        }
        return go;
    };

    [[maybe_unused]] const std::size_t batches = (n_train + std::size_t(b_all) - 1) / std::size_t(b_all);
    for (; st.epoch <= o.epochs; ++st.epoch) {
        const int epoch = st.epoch;
        if (st.next == 0) {
            if (o.shuffle) shuffler.shuffle(st.order.begin(), st.order.end());
            st.loss_sum = 0;
            st.correct = 0;
            st.seconds = 0;
        }
        ranks.seconds = 0;
        const auto t0 = std::chrono::steady_clock::now();
        const double seconds_before = st.seconds;
        auto elapsed = [&] { return seconds_before + std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };
        while (st.next < n_train) {
            const std::size_t first = st.next;
            const index_t n = index_t(std::min<std::size_t>(std::size_t(b_all), n_train - first));   // all ranks
            const auto [mine, n_mine] = ranks.share(std::size_t(n));                                  // this rank's
            const index_t m = index_t(n_mine);
            if (m > 0) detail::gather(data, st.order.data() + first + mine, m, xb.data(), yb.data());
            if constexpr ((detail::per_batch<Callback, T> || ...)) {
                // One process: augmentation draws from the shuffler. Ranks: from a stream of their own,
                // seeded from the shuffler's state, the step and the rank without drawing from it, so
                // the shufflers stay in step (and, with nothing drawn, as one process's).
                rng own;
                if (o.comm) {
                    const auto state = shuffler.state();   // a copy: `.words` of the temporary would dangle
                    const auto& w = state.words;
                    own.reseed(seed{w[0] ^ std::rotl(w[2], 17) ^ (0x9e3779b97f4a7c15ull * std::uint64_t(st.step + 1)) ^
                                    (0xbf58476d1ce4e5b9ull * std::uint64_t(ranks.rank + 1))});
                }
                rng& g = o.comm ? own : shuffler;
                const typenet::data::batch_view<T> view{m, data.sample_shape, xb.data()};
                auto augment = [&](auto& f) {
                    if constexpr (detail::per_batch<decltype(f), T>) f(view, g);
                };
                if (m > 0) (augment(cb), ...);
            }
            opt.zero_grad();
            double sums[2] = {0, 0};                              // loss * samples, correct
            if (m > 0) {
                const T* y = net.forward(m, steps, xb.data(), mode::train);
                const T l = loss(m, c, y, yb.data(), dy.data());
                sums[0] = double(l) * double(m);
                sums[1] = double(detail::count_correct(m, c, y, yb.data()));
                if (o.comm) {                                     // d(mean over all n) = d(mean over m) * m / n
                    const T share = T(double(m) / double(n));
                    for (index_t i = 0; i < m * c; ++i) dy[std::size_t(i)] *= share;
                }
                net.backward(dy.data());
            }
            ++st.step;
            if (o.comm) {
                if constexpr (model<Net>) ranks.sum(net.gradients());
                ranks.sum(std::span<double>(sums));
            }
            if (!std::isfinite(sums[0]))                          // the same on every rank: all stop
                throw std::runtime_error("typenet: fit: the loss is " + std::to_string(sums[0] / double(n)) + " at epoch " +
                                         std::to_string(epoch) + ", step " + std::to_string(st.step) +
                                         "; lower the learning rate or check the data");
            st.loss_sum += sums[0];
            st.correct += std::size_t(sums[1]);
            opt.step();
            st.next = first + std::size_t(n);
            st.seconds = elapsed();
            if constexpr ((detail::per_step<Callback> || ...)) {
                const step_stats ss{epoch, o.epochs, first / std::size_t(b_all) + 1, batches, st.next, n_train,
                                    st.loss_sum / double(st.next), st.seconds};
                auto report = [&](auto& f) {
                    if constexpr (detail::per_step<decltype(f)>) f(ss);
                };
                (report(cb), ...);
            }
            if (st.next < n_train && !report_state()) return history;
        }
        epoch_stats es;
        es.epoch = epoch;
        es.seconds = st.seconds;
        es.samples_per_second = double(n_train) / es.seconds;
        es.train = {st.loss_sum / double(n_train), double(st.correct) / double(n_train), n_train};
        // At the training batch: a larger one would size the workspace (activations and caches per
        // sample) anew, for a ResNet hundreds of MB, to evaluate a few thousand samples.
        if (n_val && !o.comm) es.validation = evaluate(net, val, loss, b_max);
        if (n_val && o.comm) {                                   // each rank its share, then the sums
            const auto [v0, vn] = ranks.share(n_val);
            const evaluation e = vn ? evaluate(net, val.slice(v0, vn), loss, b_max) : evaluation{};
            double sums[2] = {e.loss * double(e.samples), e.accuracy * double(e.samples)};
            ranks.sum(std::span<double>(sums));
            es.validation = {sums[0] / double(n_val), sums[1] / double(n_val), n_val};
        }
        es.comm_seconds = ranks.seconds;
        history.push_back(es);
        bool go_on = true;
        auto call = [&](auto& f) {
            if constexpr (detail::per_epoch<decltype(f)>) {
                if constexpr (std::is_same_v<decltype(f(es)), bool>) go_on = f(es) && go_on;
                else f(es);
            }
        };
        (call(cb), ...);
        if ((detail::per_epoch<Callback> || ...)) go_on = ranks.all(go_on);
        // The epoch is done: the state is the next one's start.
        ++st.epoch;
        st.next = 0;
        const bool state_go = report_state();
        --st.epoch;                                          // the loop's ++ moves it on
        if (!go_on || !state_go) break;
    }
    }
    return history;
}

}  // namespace typenet
