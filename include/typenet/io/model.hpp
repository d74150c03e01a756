// io/model.hpp — a network's parameters and state as a safetensors file, named as PyTorch names
// the same nn.Sequential ("0.weight", "3.bias", "4.body.0.running_mean"), so either side reads
// what the other wrote:
//   io::save(model, "lenet.safetensors");
//   io::load(model, "lenet.safetensors");         // checks every name, dtype, shape first
// The network's scalar type is written (F32 for network<>, F64 for basic_network<double>); F64,
// F32, F16 and BF16 are read and converted. Batch norm's num_batches_tracked is I64, as in torch.
#pragma once
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "typenet/core/aligned.hpp"
#include "typenet/core/network.hpp"
#include "typenet/io/safetensors.hpp"

namespace typenet::io {

// rename maps typenet's name of a tensor to its name in the file (both ways: save writes the
// renamed name, load looks it up), e.g. to load a torch model whose Sequential sits in `features`:
//   io::load(model, path, {.rename = [](const std::string& n) { return "features." + n; }});
struct save_options {
    std::function<std::string(const std::string&)> rename{};
    std::map<std::string, std::string> metadata{};   // written to __metadata__
};
struct load_options {
    std::function<std::string(const std::string&)> rename{};
    bool strict = true;    // a tensor in the file that the model does not have is an error (torch's strict)
};

template <class T> inline constexpr dtype dtype_of = sizeof(T) == 8 ? dtype::f64 : dtype::f32;

namespace detail {
inline std::vector<std::uint64_t> shape64(const std::vector<std::size_t>& s) { return {s.begin(), s.end()}; }
inline std::string shape_str(const std::vector<std::size_t>& s) {
    std::string r = "[";
    for (std::size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
    return r + "]";
}
inline bool is_float(dtype t) { return t == dtype::f64 || t == dtype::f32 || t == dtype::f16 || t == dtype::bf16; }
inline bool is_integer(dtype t) {
    return t == dtype::i64 || t == dtype::i32 || t == dtype::i16 || t == dtype::i8 || t == dtype::u64 ||
           t == dtype::u32 || t == dtype::u16 || t == dtype::u8;
}

// Adds the network's tensors to w; ints keeps the integer ones' values alive until w writes.
template <model Net>
void add_tensors(safetensors_writer& w, const Net& net, const save_options& o, std::vector<std::int64_t>& ints,
                 const std::string& prefix = "") {
    using T = typename Net::scalar;
    const auto list = Net::tensors();
    ints.reserve(ints.size() + list.size());                 // no reallocation: w keeps pointers into it
    for (const auto& t : list) {
        const std::string name = prefix + (o.rename ? o.rename(t.name) : t.name);
        const T* src = (t.buffer == buffer::state ? net.state() : net.parameters()).data() + t.offset;
        if (t.integer) {
            ints.push_back(std::int64_t(*src));
            w.add(name, dtype::i64, shape64(t.shape), &ints.back(), sizeof(std::int64_t));
        } else {
            w.add(name, dtype_of<T>, shape64(t.shape), src, t.size() * sizeof(T));
        }
    }
}

// A network's tensors read from a file and checked, not yet copied into it: commit() does that.
template <model Net>
struct staged_tensors {
    Net* net;
    aligned_vector<typename Net::scalar> params, state;
    std::set<std::string> used;             // the file's tensors it took
    void commit() const {
        std::copy(params.begin(), params.end(), net->parameters().begin());
        std::copy(state.begin(), state.end(), net->state().begin());
    }
};

// Reads the network's tensors (named prefix + name) from r into copies of its buffers, checking
// everything; nothing of the network changes.
template <model Net>
staged_tensors<Net> stage_tensors(Net& net, const safetensors_reader& r, const load_options& o, const std::string& prefix = "") {
    using T = typename Net::scalar;
    staged_tensors<Net> s{&net, {net.parameters().begin(), net.parameters().end()},
                          {net.state().begin(), net.state().end()}, {}};
    auto& params = s.params;
    auto& state = s.state;
    auto& used = s.used;
    for (const auto& t : Net::tensors()) {
        const std::string name = prefix + (o.rename ? o.rename(t.name) : t.name);
        const std::string who = "tensor " + typenet::io::detail::quoted(name);
        const tensor_entry* e = r.find(name);
        if (!e) {
            if (t.integer) continue;                     // num_batches_tracked: optional, as files differ
            std::string have;
            std::size_t k = 0;
            for (const auto& f : r.tensors()) {
                if (k++ == 6) { have += ", ..."; break; }
                have += (have.empty() ? "" : ", ") + f.name;
            }
            r.fail("has no " + who + " (shape " + shape_str(t.shape) + ") that the model needs; it holds " +
                   std::to_string(r.tensors().size()) + " tensors" + (have.empty() ? "" : ": " + have));
        }
        if (e->shape != shape64(t.shape))
            r.fail(who + ": the model needs shape " + shape_str(t.shape) + ", the file has " + e->shape_str());
        if (t.integer ? !is_integer(e->dtype) : !is_float(e->dtype))
            r.fail(who + ": the model needs " + (t.integer ? "an integer dtype" : "F32, F64, F16 or BF16") +
                   ", the file has " + std::string(dtype_name(e->dtype)));
        T* dst = (t.buffer == buffer::state ? state.data() : params.data()) + t.offset;
        r.read(*e, dst);
        for (std::size_t i = 0; i < t.size(); ++i) {
            if (!std::isfinite(dst[i]))
                r.fail(who + " holds " + std::to_string(double(dst[i])) + " at index " + std::to_string(i) +
                       "; a model's values must be finite");
            if (t.integer && dst[i] < T(0)) r.fail(who + " holds a negative count");
        }
        used.insert(name);
    }
    return s;
}
}  // namespace detail

template <model Net>
void save(const Net& net, const std::filesystem::path& path, const save_options& o = {}) {
    safetensors_writer w;
    std::vector<std::int64_t> ints;
    detail::add_tensors(w, net, o, ints);
    w.metadata("format", "pt");                              // what torch-side readers expect
    for (const auto& [k, v] : o.metadata) w.metadata(k, v);
    w.write(path);
}

// Loads parameters and state from an open file; with strict, every tensor of the file must be the
// model's. On any error the network is unchanged.
template <model Net>
void load(Net& net, const safetensors_reader& r, const load_options& o = {}) {
    const auto staged = detail::stage_tensors(net, r, o);
    if (o.strict)
        for (const auto& f : r.tensors())
            if (!staged.used.count(f.name))
                r.fail("holds tensor " + typenet::io::detail::quoted(f.name) + " (shape " + f.shape_str() +
                       ") that the model does not have; load with {.strict = false} to ignore it");
    staged.commit();
}

template <model Net>
void load(Net& net, const std::filesystem::path& path, const load_options& o = {}) {
    const safetensors_reader r(path);
    load(net, r, o);
}

}  // namespace typenet::io
