// train/communicator.hpp — what fit needs from a group of processes that train one model together
// (data parallelism), without naming a transport: typenet/distributed.hpp implements it over MPI.
// Every call is collective: all ranks make it, in the same order, with the same sizes.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace typenet {

class communicator {
public:
    virtual ~communicator() = default;
    virtual int rank() const = 0;                                  // 0 .. size() - 1
    virtual int size() const = 0;
    // v := the element-wise sum of every rank's v.
    virtual void allreduce_sum(std::span<float> v) = 0;
    virtual void allreduce_sum(std::span<double> v) = 0;
    // v := root's v.
    virtual void broadcast(std::span<float> v, int root) = 0;
    virtual void broadcast(std::span<double> v, int root) = 0;
    virtual void broadcast(std::span<std::uint64_t> v, int root) = 0;
    // Ends every process of the group with `message` on stderr (an error one rank found that the
    // others cannot know of: they would wait for it forever).
    [[noreturn]] virtual void abort(const std::string& message) = 0;
};

namespace detail {
// FNV-1a: a hash of a model's structure (its summary), compared across ranks before training.
inline std::uint64_t structure_hash(const std::string& s) {
    std::uint64_t h = 0xcbf29ce484222325ull;
    for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
    return h;
}
}  // namespace detail

}  // namespace typenet
