// distributed.hpp — data-parallel training over MPI (Open MPI from Debian: libopenmpi-dev,
// openmpi-bin); the only typenet header that needs MPI. Each rank holds a replica of the same
// network type; fit, given the communicator, trains each rank on its share of every batch,
// averages the gradients with MPI_Allreduce over the flat gradient buffer, and reduces the metrics,
// so N ranks at batch B compute what one process computes at batch N*B:
//   distributed::mpi_context mpi(argc, argv);              // MPI_Init ... MPI_Finalize
//   fit(model, opt, loss, data, {.epochs = 10, .batch = 32, .comm = &mpi}, callbacks...);
//   mpirun -np 2 ./lenet_fashion --distributed
// At fit's start the ranks compare a hash of the model's structure (a rank built with another type
// ends the job with a message on every rank) and take rank 0's parameters, state and optimizer
// state. Logs, progress and checkpoints are rank 0's to write (the examples give the callbacks
// that print to rank 0 only; checkpointer writes on rank 0 and stops all ranks at the same step).
#pragma once
#include <mpi.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <stdexcept>
#include <string>

#include "typenet/train/communicator.hpp"

namespace typenet::distributed {

// MPI for the life of this object: MPI_Init (unless something already did) and MPI_Finalize, and a
// communicator over MPI_COMM_WORLD. Errors of MPI calls throw (MPI_ERRORS_RETURN), so a failed
// collective is an exception with MPI's message rather than a silent abort.
class mpi_context : public communicator {
public:
    // Sums go in buckets of at most this many values: one MPI_Allreduce per bucket. The whole
    // buffer in one call was as fast on our machine (docs/scaling.md); buckets bound the temporary
    // buffers MPI may allocate for very large models.
    std::size_t bucket = std::size_t(1) << 24;

    mpi_context(int& argc, char**& argv) {
        int initialized = 0;
        MPI_Initialized(&initialized);
        if (!initialized) {
            MPI_Init(&argc, &argv);
            owns_ = true;
        }
        MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
        MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
        MPI_Comm_size(MPI_COMM_WORLD, &size_);
    }
    mpi_context(const mpi_context&) = delete;
    mpi_context& operator=(const mpi_context&) = delete;
    ~mpi_context() override {
        int finalized = 0;
        MPI_Finalized(&finalized);
        if (owns_ && !finalized) MPI_Finalize();
    }

    int rank() const override { return rank_; }
    int size() const override { return size_; }

    void allreduce_sum(std::span<float> v) override { sum(v.data(), v.size(), MPI_FLOAT); }
    void allreduce_sum(std::span<double> v) override { sum(v.data(), v.size(), MPI_DOUBLE); }
    void broadcast(std::span<float> v, int root) override { bcast(v.data(), v.size(), MPI_FLOAT, root); }
    void broadcast(std::span<double> v, int root) override { bcast(v.data(), v.size(), MPI_DOUBLE, root); }
    void broadcast(std::span<std::uint64_t> v, int root) override { bcast(v.data(), v.size(), MPI_UINT64_T, root); }

    [[noreturn]] void abort(const std::string& message) override {
        std::fprintf(stderr, "typenet: rank %d of %d: %s\n", rank_, size_, message.c_str());
        std::fflush(stderr);
        MPI_Abort(MPI_COMM_WORLD, 1);
        std::abort();                                     // MPI_Abort does not return; in case it does
    }

private:
    template <class T>
    void sum(T* p, std::size_t n, MPI_Datatype t) {
        for (std::size_t i = 0; i < n; i += bucket) {
            const int m = int(std::min(bucket, n - i));
            check(MPI_Allreduce(MPI_IN_PLACE, p + i, m, t, MPI_SUM, MPI_COMM_WORLD), "MPI_Allreduce");
        }
    }
    template <class T>
    void bcast(T* p, std::size_t n, MPI_Datatype t, int root) {
        for (std::size_t i = 0; i < n; i += bucket)
            check(MPI_Bcast(p + i, int(std::min(bucket, n - i)), t, root, MPI_COMM_WORLD), "MPI_Bcast");
    }
    void check(int rc, const char* what) const {
        if (rc == MPI_SUCCESS) return;
        char text[MPI_MAX_ERROR_STRING];
        int len = 0;
        MPI_Error_string(rc, text, &len);
        throw std::runtime_error("typenet: rank " + std::to_string(rank_) + ": " + what + " failed: " + std::string(text, std::size_t(len)));
    }

    int rank_ = 0, size_ = 1;
    bool owns_ = false;
};

}  // namespace typenet::distributed
