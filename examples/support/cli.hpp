// examples/support/cli.hpp — the examples' shared flags. Parsed by CLI11 in cli.cpp, compiled once
// into a small library, so no model's translation unit pays CLI11's compile time (DESIGN §9).
#pragma once
#include <cstdint>
#include <string>

namespace typenet::examples {

struct run_options {
    int epochs = 5;
    long batch = 64;
    double lr = 1e-3;
    std::string optimizer = "adam";   // sgd | adam | adamw
    double momentum = 0.9;            // sgd only
    double weight_decay = 0.0;
    double lr_decay = 1.0;            // lr *= lr_decay after each epoch (torch ExponentialLR)
    double label_smoothing = 0.0;     // cross-entropy label smoothing
    int threads = 0;                  // 0: OpenMP's default
    long limit = 0;                   // train on the first N samples only (0: all)
    std::uint64_t seed = 1;
    std::string data;                 // directory of the data set; empty: the Debian location
    std::string log;                  // per-epoch CSV (train/callbacks.hpp csv_log); empty: none
    bool augment = false;             // random crop (padding 2) and horizontal flip of training batches
    double validation = 0.0;          // fraction of the training set held out, in [0, 1)
    int patience = 0;                 // early stopping on validation loss (best weights restored); 0: off
    std::string samples;              // directory for generated images (gan_fashion); empty: the current one
    bool bench_infer = false;         // after training: batch-1 predict latency on one thread
    std::string save;                 // checkpoint path: each epoch's end, every save_every steps, Ctrl-C
    long save_every = 0;              // steps between checkpoints within an epoch (0: epoch ends only)
    std::string resume;               // continue from this checkpoint (to --epochs in all)
    long max_steps = 0;               // stop after this many optimizer steps in all (0: no limit)
    std::string weights;              // write the trained model here as safetensors (PyTorch reads it)
    std::string export_header;        // write the trained model as a C++ header (examples/embedded)
    bool distributed = false;         // data parallel over MPI: mpirun -np N <example> --distributed
    std::string device = "cpu";       // cpu | cuda | cuda:N (the CUDA backend, where built)
};

// The GPU that "cuda" or "cuda:N" names (0 for "cuda").
int cuda_ordinal(const std::string& device);

// Parses argv into `defaults`; --help prints usage and exits 0, a bad flag prints one line and
// exits 2.
run_options parse(int argc, char** argv, const std::string& description, run_options defaults);

// The language models' flags (char_lstm, char_gpt, seq2seq): the same names where they mean the
// same thing, --batch counting sequences and --steps their length.
struct text_options {
    int epochs = 1;
    long batch = 32;                  // sequences per step
    long steps = 64;                  // steps per sequence: the BPTT window, or the context
    double lr = 2e-3;
    double clip = 1.0;                // gradient norm clipping (0: off)
    int threads = 0;                  // 0: OpenMP's default
    long limit = 0;                   // use the first N characters of the corpus only (0: all)
    long max_steps = 0;               // stop after this many optimizer steps in all (0: no limit)
    double validation = 0.1;          // the corpus's last fraction, held out
    std::uint64_t seed = 1;
    std::string data;                 // corpus file or directory; empty: the Debian location
    double temperature = 0.8;         // sampling: logits / temperature
    int top_k = 10;                   // sampling: from the k likeliest (0: all)
    long sample = 300;                // characters to sample after training (0: none)
    std::string prime = "The ";       // the text sampling starts from
    std::string weights;              // write the trained model here as safetensors
    std::string vocab;                // write the vocabulary here
    long count = 0;                   // seq2seq: examples generated for training (0: the default)
    std::string device = "cpu";       // cpu | cuda | cuda:N (char_lstm, char_gpt; where built)
};

text_options parse_text(int argc, char** argv, const std::string& description, text_options defaults);

// "kernels: avx512, 2 threads": the instruction set the kernels run on (dispatched at run time in
// our builds; TYPENET_ISA=avx2 caps it) and the threads they may use.
void print_kernels();

}  // namespace typenet::examples
