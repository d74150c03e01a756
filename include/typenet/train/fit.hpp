// train/fit.hpp — the training loop: seeded shuffling, mini-batches, one optimizer step per batch,
// a validation split, per-epoch loss and accuracy, per-epoch and per-batch callbacks (augmentation);
// and evaluate() for a held-out set. Buffers are allocated before the first step, so steady-state
// steps allocate nothing here.
#pragma once
#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "typenet/core/network.hpp"
#include "typenet/data/augment.hpp"
#include "typenet/data/dataset.hpp"
#include "typenet/losses/losses.hpp"
#include "typenet/optim/optimizers.hpp"

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
    double samples_per_second = 0;
};

namespace detail {
template <class Net, class Data>
void check_data(const Data& d, const char* who) {
    using In = typename Net::input_shape;
    if (d.sample_size() != In::size)
        throw std::invalid_argument(std::string("typenet: ") + who + ": samples have " + std::to_string(d.sample_size()) +
                                    " values, the network's input " + In::str() + " needs " + std::to_string(In::size));
    if (d.x.size() != d.size() * d.sample_size())
        throw std::invalid_argument(std::string("typenet: ") + who + ": dataset holds " + std::to_string(d.x.size()) +
                                    " values for " + std::to_string(d.size()) + " samples of " +
                                    std::to_string(d.sample_size()));
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

// Class-labelled data needs a loss over labels; the callers compile their body only when it fits,
// so a mismatch is this one error.
template <class Loss, class T, class Data>
inline constexpr bool loss_takes_labels =
    Loss::per_sample_targets && std::is_same_v<typename Loss::template target_type<T>, typename Data::target_type>;
}  // namespace detail

// Loss and accuracy of `net` on `data` in eval mode, batch by batch (mode::infer: nothing is kept
// for a backward, so convolutions and batch norm take their inference paths).
template <model Net, class Data, class Loss = loss::cross_entropy>
evaluation evaluate(Net& net, const Data& data, const Loss& loss = {}, index_t batch = 256) {
    using T = typename Net::scalar;
    constexpr bool fits = detail::loss_takes_labels<Loss, T, Data>;
    static_assert(fits, "typenet: fit/evaluate on a labelled dataset need a loss over class labels, e.g. loss::cross_entropy");
    evaluation e;
    if constexpr (fits) {
    detail::check_data<Net>(data, "evaluate");
    if (batch <= 0) throw std::invalid_argument("typenet: evaluate: batch size must be > 0, got " + std::to_string(batch));
    constexpr index_t c = Net::output_shape::size;
    const std::size_t s = data.sample_size();
    for (std::size_t first = 0; first < data.size(); first += std::size_t(batch)) {
        const index_t n = index_t(std::min<std::size_t>(std::size_t(batch), data.size() - first));
        const T* y = net.forward(n, data.x.data() + first * s, mode::infer);
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
template <model Net, optim::optimizer Opt, class Loss, class Data, class... Callback>
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
    detail::check_data<Net>(data, "fit");
    if (o.batch <= 0) throw std::invalid_argument("typenet: fit: batch size must be > 0, got " + std::to_string(o.batch));
    if (o.epochs < 0) throw std::invalid_argument("typenet: fit: epochs must be >= 0, got " + std::to_string(o.epochs));
    if (!(o.validation >= 0.0 && o.validation < 1.0))
        throw std::invalid_argument("typenet: fit: validation must be a fraction in [0, 1), got " + std::to_string(o.validation));
    const std::size_t n_val = std::size_t(double(data.size()) * o.validation);
    const std::size_t n_train = data.size() - n_val;
    if (n_train == 0) throw std::invalid_argument("typenet: fit: no training samples (dataset of " + std::to_string(data.size()) + ")");
    const Data val = n_val ? data.slice(n_train, n_val) : Data{};

    constexpr index_t c = Net::output_shape::size;
    const index_t b_max = std::min<index_t>(o.batch, index_t(n_train));
    const std::size_t s = data.sample_size();
    aligned_vector<T> xb(std::size_t(b_max) * s), dy(std::size_t(b_max) * std::size_t(c));
    std::vector<Target> yb(static_cast<std::size_t>(b_max));
    fit_state st;
    st.batch = b_max;
    if (o.resume) {
        st = *o.resume;
        if (st.order.size() != n_train)
            throw std::invalid_argument("typenet: fit: resume: the state was taken on " + std::to_string(st.order.size()) +
                                        " training samples, this fit has " + std::to_string(n_train));
        if (st.batch != b_max)
            throw std::invalid_argument("typenet: fit: resume: the state was taken at batch " + std::to_string(st.batch) +
                                        ", this fit has batch " + std::to_string(b_max) + "; resume with the same batch");
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
    net.reserve(b_max);
    rng shuffler;
    shuffler.set_state(st.shuffler);
    const kernels::cpu::fp_mode fp(o.flush_denormals ? kernels::cpu::fp_mode::current() | kernels::cpu::fp_mode::flush_bits
                                                     : kernels::cpu::fp_mode::current());
    // Callbacks f(const fit_state&): the state as of now; false from any stops training.
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
        }
        return go;
    };

    [[maybe_unused]] const std::size_t batches = (n_train + std::size_t(b_max) - 1) / std::size_t(b_max);
    for (; st.epoch <= o.epochs; ++st.epoch) {
        const int epoch = st.epoch;
        if (st.next == 0) {
            if (o.shuffle) shuffler.shuffle(st.order.begin(), st.order.end());
            st.loss_sum = 0;
            st.correct = 0;
            st.seconds = 0;
        }
        const auto t0 = std::chrono::steady_clock::now();
        const double seconds_before = st.seconds;
        auto elapsed = [&] { return seconds_before + std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };
        while (st.next < n_train) {
            const std::size_t first = st.next;
            const index_t n = index_t(std::min<std::size_t>(std::size_t(b_max), n_train - first));
            detail::gather(data, st.order.data() + first, n, xb.data(), yb.data());
            if constexpr ((detail::per_batch<Callback, T> || ...)) {
                const typenet::data::batch_view<T> view{n, data.sample_shape, xb.data()};
                auto augment = [&](auto& f) {
                    if constexpr (detail::per_batch<decltype(f), T>) f(view, shuffler);
                };
                (augment(cb), ...);
            }
            opt.zero_grad();
            const T* y = net.forward(n, xb.data(), mode::train);
            const T l = loss(n, c, y, yb.data(), dy.data());
            ++st.step;
            if (!std::isfinite(l))
                throw std::runtime_error("typenet: fit: the loss is " + std::to_string(double(l)) + " at epoch " +
                                         std::to_string(epoch) + ", step " + std::to_string(st.step) +
                                         "; lower the learning rate or check the data");
            st.correct += detail::count_correct(n, c, y, yb.data());
            st.loss_sum += double(l) * double(n);
            net.backward(dy.data());
            opt.step();
            st.next = first + std::size_t(n);
            st.seconds = elapsed();
            if constexpr ((detail::per_step<Callback> || ...)) {
                const step_stats ss{epoch, o.epochs, first / std::size_t(b_max) + 1, batches, st.next, n_train,
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
        if (n_val) es.validation = evaluate(net, val, loss, b_max);
        history.push_back(es);
        bool go_on = true;
        auto call = [&](auto& f) {
            if constexpr (detail::per_epoch<decltype(f)>) {
                if constexpr (std::is_same_v<decltype(f(es)), bool>) go_on = f(es) && go_on;
                else f(es);
            }
        };
        (call(cb), ...);
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
