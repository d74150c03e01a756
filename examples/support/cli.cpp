// examples/support/cli.cpp — CLI11 behind examples/support/cli.hpp.
#include "cli.hpp"

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <typenet/kernels/cpu/dispatch.hpp>

namespace typenet::examples {

namespace {
// "--batch: must be > 0, got 0" rather than CLI11's range of 300 digits.
CLI::Validator bounded(double min, bool strict) {
    const std::string need = std::string(strict ? "> " : ">= ") + CLI::detail::to_string(min);
    return CLI::Validator(
        [=](std::string& in) -> std::string {
            double v = 0;
            if (!CLI::detail::lexical_cast(in, v)) return "must be a number, got '" + in + "'";
            return (strict ? v > min : v >= min) ? std::string() : "must be " + need + ", got " + in;
        },
        need);
}
const CLI::Validator positive = bounded(0, true), non_negative = bounded(0, false);
// --help prints usage and exits 0; a bad flag prints one line and exits 2.
void parse_or_exit(CLI::App& app, int argc, char** argv) {
    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        std::exit(app.exit(e));
    } catch (const CLI::ParseError& e) {
        std::cerr << argv[0] << ": " << e.what() << " (see --help)\n";
        std::exit(2);
    }
}
const CLI::Validator fraction(
    [](std::string& in) -> std::string {
        double v = 0;
        if (!CLI::detail::lexical_cast(in, v)) return "must be a number, got '" + in + "'";
        return v >= 0 && v < 1 ? std::string() : "must be in [0, 1), got " + in;
    },
    "in [0, 1)");
// cpu, cuda or cuda:N.
const CLI::Validator device_name(
    [](std::string& in) -> std::string {
        if (in == "cpu" || in == "cuda") return {};
        if (in.rfind("cuda:", 0) == 0 && in.size() > 5 && in.find_first_not_of("0123456789", 5) == std::string::npos)
            return {};
        return "must be cpu, cuda or cuda:N, got '" + in + "'";
    },
    "cpu | cuda | cuda:N");
}  // namespace

int cuda_ordinal(const std::string& device) { return device.size() > 5 ? std::atoi(device.c_str() + 5) : 0; }

run_options parse(int argc, char** argv, const std::string& description, run_options o) {
    CLI::App app{description};
    app.add_option("--epochs", o.epochs, "passes over the training set")->check(non_negative)->capture_default_str();
    app.add_option("--batch", o.batch, "samples per step")->check(positive)->capture_default_str();
    app.add_option("--lr", o.lr, "learning rate")->check(non_negative)->capture_default_str();
    app.add_option("--optimizer", o.optimizer, "sgd | adam | adamw")
        ->check(CLI::IsMember({"sgd", "adam", "adamw"}))->capture_default_str();
    app.add_option("--momentum", o.momentum, "sgd momentum")->check(non_negative)->capture_default_str();
    app.add_option("--weight-decay", o.weight_decay, "weight decay (adamw: decoupled)")
        ->check(non_negative)->capture_default_str();
    app.add_option("--lr-decay", o.lr_decay, "multiply lr by this after each epoch")
        ->check(positive)->capture_default_str();
    app.add_option("--label-smoothing", o.label_smoothing, "cross-entropy label smoothing in [0, 1]")
        ->check(CLI::Range(0.0, 1.0))->capture_default_str();
    app.add_option("--threads", o.threads, "kernel threads (0: all cores)")->check(non_negative)->capture_default_str();
    app.add_option("--limit", o.limit, "train on the first N samples only (0: all)")
        ->check(non_negative)->capture_default_str();
    app.add_option("--seed", o.seed, "seed of the initial weights and the shuffling")->capture_default_str();
    app.add_option("--data", o.data, "directory of the data set (default: the Debian package's)");
    app.add_option("--samples", o.samples, "directory for generated sample images (gan_fashion)");
    app.add_option("--log", o.log, "write per-epoch loss and accuracy to this CSV file (scripts/plot draws it)");
    app.add_flag("--bench-infer", o.bench_infer,
                 "after training, time predict() on single test images (3000 calls, one thread) and print "
                 "'batch1 latency us: X', the median");
    app.add_flag("--augment", o.augment, "random crop (padding 2) and horizontal flip of the training images");
    app.add_option("--validation", o.validation, "fraction of the training set held out for validation")
        ->check(fraction)->capture_default_str();
    app.add_option("--patience", o.patience, "stop after N epochs without a better validation loss, keep the best "
                                             "weights (0: off; needs --validation)")
        ->check(non_negative)->capture_default_str();
    app.add_option("--save", o.save, "write a checkpoint here at each epoch's end (and every --save-every steps); "
                                     "Ctrl-C writes one and exits");
    app.add_option("--save-every", o.save_every, "steps between checkpoints within an epoch (0: epoch ends only)")
        ->check(non_negative)->capture_default_str();
    app.add_option("--resume", o.resume, "continue training from this checkpoint (same model, optimizer, "
                                         "--batch, --limit and --validation; --epochs counts from the start)");
    app.add_option("--max-steps", o.max_steps, "stop after this many optimizer steps in all, checkpointing "
                                               "with --save (0: no limit)")
        ->check(non_negative)->capture_default_str();
    app.add_option("--weights", o.weights, "write the trained model's weights here (safetensors, PyTorch's names)");
    app.add_option("--export-header", o.export_header, "write the trained model as a C++ header (io::export_header)");
    app.add_flag("--distributed", o.distributed, "train data-parallel over MPI, one replica per rank: mpirun -np N "
                                                 "<example> --distributed (--batch is per rank)");
    app.add_option("--device", o.device, "cpu, or cuda / cuda:N to train on a GPU (builds with the CUDA backend)")
        ->check(device_name)->capture_default_str();
    parse_or_exit(app, argc, argv);
    if (o.patience > 0 && o.validation <= 0) {
        std::cerr << argv[0] << ": --patience " << o.patience << " needs a validation split: add --validation 0.1 (or "
                  << "another fraction) (see --help)\n";
        std::exit(2);
    }
    return o;
}

text_options parse_text(int argc, char** argv, const std::string& description, text_options o) {
    CLI::App app{description};
    app.add_option("--epochs", o.epochs, "passes over the training text")->check(non_negative)->capture_default_str();
    app.add_option("--batch", o.batch, "sequences per step")->check(positive)->capture_default_str();
    app.add_option("--steps", o.steps, "steps per sequence (the BPTT window, or the context)")
        ->check(positive)->capture_default_str();
    app.add_option("--lr", o.lr, "learning rate (Adam)")->check(non_negative)->capture_default_str();
    app.add_option("--clip", o.clip, "clip the gradient's norm to this (0: off)")->check(non_negative)->capture_default_str();
    app.add_option("--threads", o.threads, "kernel threads (0: all cores)")->check(non_negative)->capture_default_str();
    app.add_option("--limit", o.limit, "use the first N characters of the corpus only (0: all)")
        ->check(non_negative)->capture_default_str();
    app.add_option("--max-steps", o.max_steps, "stop after this many optimizer steps in all (0: no limit)")
        ->check(non_negative)->capture_default_str();
    app.add_option("--validation", o.validation, "fraction of the text held out for validation")
        ->check(fraction)->capture_default_str();
    app.add_option("--seed", o.seed, "seed of the initial weights and the sampling")->capture_default_str();
    app.add_option("--data", o.data, "corpus: a file or a directory of text files (default: the Debian package's)");
    app.add_option("--temperature", o.temperature, "sampling temperature")->check(positive)->capture_default_str();
    app.add_option("--top-k", o.top_k, "sample from the k likeliest tokens (0: all)")
        ->check(non_negative)->capture_default_str();
    app.add_option("--sample", o.sample, "tokens to sample after training (0: none)")
        ->check(non_negative)->capture_default_str();
    app.add_option("--prime", o.prime, "the text sampling starts from")->capture_default_str();
    app.add_option("--weights", o.weights, "write the trained model's weights here (safetensors)");
    app.add_option("--vocab", o.vocab, "write the vocabulary here (data::vocabulary::load reads it)");
    app.add_option("--device", o.device, "cpu, or cuda / cuda:N to train on a GPU (builds with the CUDA backend; "
                                         "char_lstm and char_gpt)")
        ->check(device_name)->capture_default_str();
    app.add_option("--count", o.count, "training examples to generate (seq2seq; 0: the default)")
        ->check(non_negative)->capture_default_str();
    parse_or_exit(app, argc, argv);
    return o;
}

void print_kernels() {
    std::printf("kernels: %s, %d threads\n", kernels::cpu::active_isa_name(), kernels::cpu::max_threads());
}

}  // namespace typenet::examples
