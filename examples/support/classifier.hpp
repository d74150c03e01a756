// examples/support/classifier.hpp — the shared body of the Fashion-MNIST examples: load and
// standardize the data, pick the optimizer from the flags, fit (with --augment, --validation,
// --patience, --log), evaluate, print the final lines (`train images/s: X`, `test accuracy: Y`);
// with --bench-infer, then `batch1 latency us: X`. --save, --resume and --max-steps checkpoint and
// resume (train/checkpoint.hpp); --weights and --export-header write the trained model.
// Each example only names its model and defaults.
#pragma once
#include <typenet/io.hpp>
#include <typenet/typenet.hpp>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <iostream>
#include <optional>
#include <span>
#include <thread>
#include <vector>

#include "support/cli.hpp"

#ifdef TYPENET_EXAMPLES_MPI
#include <typenet/distributed.hpp>
#endif
#ifdef TYPENET_WITH_CUDA
#include <typenet/cuda.hpp>
#endif

namespace typenet::examples {

// Threads per rank when --threads is not given: the cores shared among the ranks on this machine
// (Open MPI says how many there are), so that N ranks do not run N times all cores.
inline int local_share_of_cores() {
    const char* local = std::getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
    const int ranks = local ? std::max(1, std::atoi(local)) : 1;
    return std::max(1, int(std::thread::hardware_concurrency()) / ranks);
}

inline constexpr double fashion_pixel_mean = 0.2860, fashion_pixel_std = 0.3530;   // of the training images

// Latency of predict() on one test image at a time, one thread: 300 calls to warm up, then 3000
// timed one by one; prints the median (and the 10th and 90th percentiles).
template <class Model, class Data>
void bench_batch1(Model& model, const Data& test) {
    using T = typename Model::scalar;
    constexpr std::size_t n = Model::input_shape::size;
    constexpr int warmup = 300, calls = 3000;
    set_num_threads(1);
    auto sample = [&](int i) {
        return std::span<const T, n>(test.x.data() + std::size_t(i) % test.size() * n, n);
    };
    T sink = 0;
    for (int i = 0; i < warmup; ++i) sink += predict(model, sample(i))[0];
    std::vector<double> us(calls);
    for (int i = 0; i < calls; ++i) {
        const auto t0 = std::chrono::steady_clock::now();
        sink += predict(model, sample(i))[0];
        us[std::size_t(i)] = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();
    }
    std::sort(us.begin(), us.end());
    std::printf("batch1 latency: median %.2f us, p10 %.2f, p90 %.2f over %d calls on 1 thread (checksum %.3g)\n",
                us[calls / 2], us[calls / 10], us[calls * 9 / 10], calls, double(sink));
    std::printf("batch1 latency us: %.2f\n", us[calls / 2]);
}

// Fashion-MNIST from --data (or Debian's), standardized with the training set's mean and deviation.
template <class T>
auto load_fashion(const run_options& o) {
    auto data = o.data.empty() ? data::fashion_mnist() : data::fashion_mnist(o.data);
    data.train.standardize(fashion_pixel_mean, fashion_pixel_std);
    data.test.standardize(fashion_pixel_mean, fashion_pixel_std);
    return data;
}

// The files the run will write must have a directory to go to: checked before hours of training.
inline void check_output_dirs(const run_options& o) {
    for (const std::string* out : {&o.save, &o.weights, &o.export_header}) {
        const auto dir = std::filesystem::path(*out).parent_path();
        if (!out->empty() && !dir.empty() && !std::filesystem::is_directory(dir))
            throw std::runtime_error("typenet: '" + *out + "': no directory '" + dir.string() + "' to write it in");
    }
}

// --augment: a random crop (padding 2) and horizontal flip of each training batch. Off, it draws
// nothing from fit's rng, so a run without --augment shuffles as it always did.
template <class T>
auto augmentation(const run_options& o) {
    return [on = o.augment](const data::batch_view<T>& b, rng& g) {
        if (!on) return;
        data::random_crop{.padding = 2}(b, g);
        data::random_flip{}(b, g);
    };
}

inline void print_epoch(const epoch_stats& e, double lr, bool ranks) {
    std::printf("epoch %d  loss %.4f  accuracy %.2f%%", e.epoch, e.train.loss, 100 * e.train.accuracy);
    if (e.validation.samples)
        std::printf("  val_loss %.4f  val_accuracy %.2f%%", e.validation.loss, 100 * e.validation.accuracy);
    std::printf("  lr %.2e  %.1f s  %.0f images/s", lr, e.seconds, e.samples_per_second);
    if (ranks) std::printf("  allreduce %.2f s (%.0f%%)", e.comm_seconds, 100 * e.comm_seconds / e.seconds);
    std::printf("\n");
    std::fflush(stdout);
}

// The final lines, then --weights, --export-header and --bench-infer from the trained host model.
template <class Model, class Data>
void report(Model& model, const run_options& o, const evaluation& test, double images_per_second, const Data& test_set) {
    std::printf("test loss: %.4f\n", test.loss);
    std::printf("train images/s: %.0f\n", images_per_second);
    std::printf("test accuracy: %.2f\n", 100 * test.accuracy);
    if (!o.weights.empty()) {
        io::save(model, o.weights);
        std::printf("weights written to %s\n", o.weights.c_str());
    }
    if (!o.export_header.empty()) {
        io::export_header(model, o.export_header, "trained");
        std::printf("model exported to %s (namespace trained)\n", o.export_header.c_str());
    }
    if (o.bench_infer) bench_batch1(model, test_set);
}

// With --distributed, comm is the ranks' communicator: every rank trains its share of each batch;
// rank 0 (the lead) alone loads a checkpoint to resume (fit hands its state to the others), prints,
// logs and writes files.
template <class Model, class Opt>
int fit_and_report(Model& model, Opt& opt, const run_options& o, communicator* comm) {
    using T = typename Model::scalar;
    const bool lead = !comm || comm->rank() == 0;
    // Opened first: a bad --log path fails before minutes of loading and training.
    std::optional<csv_log> log;
    if (!o.log.empty() && lead) log.emplace(o.log);
    std::optional<fit_state> resumed;
    if (!o.resume.empty() && lead) {
        resumed = io::load_checkpoint(o.resume, model, opt);
        std::printf("resumed from %s: epoch %d, step %ld, lr %.2e\n", o.resume.c_str(), resumed->epoch, resumed->step,
                    opt.lr());
    }
    check_output_dirs(o);
    std::optional<early_stopping<Model>> stop;
    if (o.patience > 0) stop.emplace(model, early_stopping_options{.patience = o.patience});
    const auto data = load_fashion<T>(o);
    const auto train_set = o.limit > 0 ? data.train.head(std::size_t(o.limit)) : data.train;
    if (lead) {
        std::cout << Model::summary();
        std::printf("training on %zu images, testing on %zu", train_set.size(), data.test.size());
        if (comm) std::printf(", %d ranks at batch %ld each", comm->size(), o.batch);
        std::printf("\n");
        print_kernels();
    }
    double images = 0, seconds = 0;
    const auto augment = augmentation<T>(o);
    // On a terminal a bar moves inside each epoch and gives way to the line printed below; piped
    // or logged, only that line appears.
    progress_bar bar(progress_bar::options{.epoch_line = false});
    // With --save: a checkpoint at each epoch's end, every --save-every steps, at --max-steps, and
    // on Ctrl-C (the step in flight finishes first).
    std::optional<checkpointer<Model, Opt>> ck;
    if (!o.save.empty())
        ck.emplace(model, opt, o.save, typename checkpointer<Model, Opt>::options{.every_steps = o.save_every, .comm = comm});
    bool step_limit = false;
    auto checkpoints = [&](const fit_state& s) {
        if (o.max_steps > 0 && s.step >= o.max_steps) {
            if (ck) ck->write(s);
            step_limit = true;
            return false;
        }
        return !ck || (*ck)(s);
    };
    fit(model, opt, loss::cross_entropy{o.label_smoothing}, train_set,
        {.epochs = o.epochs, .batch = o.batch, .validation = o.validation, .seed = o.seed,
         .resume = resumed ? &*resumed : nullptr, .comm = comm},
        augment, [&](const step_stats& s) { if (lead) bar(s); }, [&](const epoch_stats& e) { if (lead) bar(e); },
        [&](const epoch_stats& e) {
            images += double(e.train.samples);
            seconds += e.seconds;
            const double lr = opt.lr();                    // this epoch's; the next one's decayed
            opt.set_lr(lr * o.lr_decay);
            if (lead) print_epoch(e, lr, comm != nullptr);
        },
        [&](const epoch_stats& e) {
            if (log) (*log)(e);
        },
        [&](const epoch_stats& e) { return !stop || (*stop)(e); }, checkpoints);
    if (ck && ck->interrupted()) {
        if (lead)
            std::fprintf(stderr, "interrupted: checkpoint written to %s; continue with --resume %s\n", o.save.c_str(),
                     o.save.c_str());
        return 130;
    }
    if (step_limit && lead)
        std::printf("stopped at step %ld (--max-steps)%s\n", o.max_steps,
                    ck ? (", checkpoint written to " + o.save).c_str() : "");
    if (stop && stop->best_epoch() > 0) {
        // Keras' restore_best_weights, also when all epochs ran.
        stop->restore_best();
        if (lead)
            std::printf("best validation loss %.4f at epoch %d%s\n", stop->best_value(), stop->best_epoch(),
                    stop->stopped() ? " (stopped early)" : "");
    }
    if (!lead) return 0;                                   // the other ranks hold the same model
    const auto test = evaluate(model, data.test, loss::cross_entropy{}, index_t(o.batch));   // the workspace fit sized
    report(model, o, test, seconds > 0 ? images / seconds : 0.0, data.test);
    return 0;
}

#ifdef TYPENET_WITH_CUDA
// --device cuda: the model trains on the GPU (typenet/cuda.hpp); afterwards its weights come back
// to `host` for the files and the batch-1 benchmark. Checkpoints, early stopping and ranks work on
// host models only, so those flags are refused here.
template <class Model, class Opt>
int fit_and_report_on_gpu(Model& host, cuda::model<Model>& gpu, Opt& opt, const run_options& o) {
    using T = typename Model::scalar;
    if (!o.save.empty() || !o.resume.empty() || o.patience > 0 || o.distributed)
        throw std::runtime_error("typenet: --device cuda trains without --save, --resume, --patience and --distributed "
                                 "(they need the model in host memory); leave them out or train on the CPU");
    check_output_dirs(o);
    std::optional<csv_log> log;
    if (!o.log.empty()) log.emplace(o.log);
    const auto data = load_fashion<T>(o);
    const auto train_set = o.limit > 0 ? data.train.head(std::size_t(o.limit)) : data.train;
    std::cout << Model::summary();
    std::printf("training on %zu images, testing on %zu\n", train_set.size(), data.test.size());
    std::printf("device: %s, convolutions: %s\n", gpu.on().name().c_str(), kernels::cuda::conv2d_engine());
    double images = 0, seconds = 0;
    const auto augment = augmentation<T>(o);
    progress_bar bar(progress_bar::options{.epoch_line = false});
    bool step_limit = false;
    auto steps = [&](const fit_state& s) { return !(step_limit = o.max_steps > 0 && s.step >= o.max_steps); };
    fit(gpu, opt, loss::cross_entropy{o.label_smoothing}, train_set,
        {.epochs = o.epochs, .batch = o.batch, .validation = o.validation, .seed = o.seed},
        augment, [&](const step_stats& s) { bar(s); }, [&](const epoch_stats& e) { bar(e); },
        [&](const epoch_stats& e) {
            images += double(e.train.samples);
            seconds += e.seconds;
            const double lr = opt.lr();
            opt.set_lr(lr * o.lr_decay);
            print_epoch(e, lr, false);
            if (log) (*log)(e);
        },
        steps);
    if (step_limit) std::printf("stopped at step %ld (--max-steps)\n", o.max_steps);
    const auto test = evaluate(gpu, data.test, loss::cross_entropy{}, index_t(o.batch));
    gpu.copy_to(host);
    report(host, o, test, seconds > 0 ? images / seconds : 0.0, data.test);
    return 0;
}
#endif

// run(optimizer) with the optimizer --optimizer names, made by sgd(), adamw() or adam() (a host
// network's or a GPU model's).
template <class Run, class Sgd, class AdamW, class Adam>
int with_optimizer(const run_options& o, Run&& run, Sgd sgd, AdamW adamw, Adam adam) {
    if (o.optimizer == "sgd") {
        auto opt = sgd();
        return run(opt);
    }
    if (o.optimizer == "adamw") {
        auto opt = adamw();
        return run(opt);
    }
    auto opt = adam();
    return run(opt);
}

// Parses the flags over `defaults`, builds Model from --seed and trains it with --optimizer.
// Exit codes: 0 done, 1 an error (one line on stderr), 2 a bad flag.
template <class Model>
int run_classifier(int argc, char** argv, const std::string& description, const run_options& defaults) {
    auto o = parse(argc, argv, description, defaults);
    communicator* comm = nullptr;
#ifdef TYPENET_EXAMPLES_MPI
    std::optional<distributed::mpi_context> mpi;
    if (o.distributed) {
        mpi.emplace(argc, argv);
        comm = &*mpi;
        if (o.threads == 0) o.threads = local_share_of_cores();
    }
#else
    if (o.distributed) {
        std::fprintf(stderr, "%s: --distributed: this build has no MPI (install libopenmpi-dev and rebuild)\n", argv[0]);
        return 2;
    }
#endif
    try {
        set_num_threads(o.threads);
        Model model{seed{o.seed}};
        const optim::sgd_options sgd{.lr = o.lr, .momentum = o.momentum, .weight_decay = o.weight_decay};
        const optim::adamw_options adamw{.lr = o.lr, .weight_decay = o.weight_decay};
        const optim::adam_options adam{.lr = o.lr, .weight_decay = o.weight_decay};
        if (o.device != "cpu") {
#ifdef TYPENET_WITH_CUDA
            cuda::model<Model> gpu{model, cuda_ordinal(o.device)};
            return with_optimizer(o, [&](auto& opt) { return fit_and_report_on_gpu(model, gpu, opt, o); },
                                  [&] { return cuda::sgd{gpu, sgd}; }, [&] { return cuda::adamw{gpu, adamw}; },
                                  [&] { return cuda::adam{gpu, adam}; });
#else
            std::fprintf(stderr, "%s: --device %s: this build has no CUDA backend (configure with nvcc present, "
                                 "TYPENET_CUDA=AUTO or ON)\n", argv[0], o.device.c_str());
            return 2;
#endif
        }
        return with_optimizer(o, [&](auto& opt) { return fit_and_report(model, opt, o, comm); },
                              [&] { return optim::sgd{model, sgd}; }, [&] { return optim::adamw{model, adamw}; },
                              [&] { return optim::adam{model, adam}; });
    } catch (const std::exception& e) {
        // One rank's error: the others would wait for it in the next collective, so end them all.
        if (comm && comm->size() > 1) comm->abort(e.what());
        std::fprintf(stderr, "%s\n", e.what());
        return 1;
    }
}

}  // namespace typenet::examples
