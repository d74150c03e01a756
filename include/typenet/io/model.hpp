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
#include <span>
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
inline bool is_float(dtype t) { return t == dtype::f64 || t == dtype::f32 || t == dtype::f16 || t == dtype::bf16; }
inline bool is_integer(dtype t) {
    return t == dtype::i64 || t == dtype::i32 || t == dtype::i16 || t == dtype::i8 || t == dtype::u64 ||
           t == dtype::u32 || t == dtype::u16 || t == dtype::u8;
}

}  // namespace detail

// A network as io sees it: its named tensors and its two buffers, without its type. The functions
// over views depend on the scalar alone, so one compiled copy serves every model (and with
// TYPENET_SEPARATE_IO it is compiled once, in src/typenet_io.cpp's place).
template <class T>
struct model_view {
    tensor_list tensors;
    std::span<T> params, state;
};
template <model Net>
model_view<typename Net::scalar> view_of(Net& net) {
    return {Net::tensors(), net.parameters(), net.state()};
}
template <model Net>
model_view<const typename Net::scalar> view_of(const Net& net) {
    return {Net::tensors(), net.parameters(), net.state()};
}

namespace detail {
// A network's tensors read from a file and checked, not yet copied into it: commit() does that.
template <class T>
struct staged_tensors {
    model_view<T> target;
    aligned_vector<T> params, state;
    std::set<std::string> used;             // the file's tensors it took
    void commit() const {
        std::copy(params.begin(), params.end(), target.params.begin());
        std::copy(state.begin(), state.end(), target.state.begin());
    }
};

// Adds the view's tensors (named prefix + name, renamed) to w; ints keeps the integer ones'
// values alive until w writes.
template <class T>
void add_tensors(safetensors_writer& w, const model_view<const T>& m, const save_options& o, std::vector<std::int64_t>& ints,
                 const std::string& prefix);
// Reads the view's tensors from r into copies of its buffers, checking everything; nothing of the
// network changes.
template <class T>
staged_tensors<T> stage_tensors(const model_view<T>& m, const safetensors_reader& r, const load_options& o,
                                const std::string& prefix);
template <class T>
void save_view(const model_view<const T>& m, const std::filesystem::path& path, const save_options& o);
template <class T>
void load_view(const model_view<T>& m, const safetensors_reader& r, const load_options& o);
}  // namespace detail

template <model Net>
void save(const Net& net, const std::filesystem::path& path, const save_options& o = {}) {
    detail::save_view(view_of(net), path, o);
}

// Loads parameters and state from an open file; with strict, every tensor of the file must be the
// model's. On any error the network is unchanged.
template <model Net>
void load(Net& net, const safetensors_reader& r, const load_options& o = {}) {
    detail::load_view(view_of(net), r, o);
}

template <model Net>
void load(Net& net, const std::filesystem::path& path, const load_options& o = {}) {
    const safetensors_reader r(path);
    load(net, r, o);
}

// ---- the view functions -------------------------------------------------------------------------
namespace detail {
template <class T>
void add_tensors(safetensors_writer& w, const model_view<const T>& m, const save_options& o, std::vector<std::int64_t>& ints,
                 const std::string& prefix) {
    ints.reserve(ints.size() + m.tensors.size());            // no reallocation: w keeps pointers into it
    for (const auto& t : m.tensors) {
        const std::string name = prefix + (o.rename ? o.rename(t.name) : t.name);
        const T* src = (t.buffer == buffer::state ? m.state : m.params).data() + t.offset;
        if (t.integer) {
            ints.push_back(std::int64_t(*src));
            w.add(name, dtype::i64, shape64(t.shape), &ints.back(), sizeof(std::int64_t));
        } else {
            w.add(name, dtype_of<T>, shape64(t.shape), src, t.size() * sizeof(T));
        }
    }
}

template <class T>
staged_tensors<T> stage_tensors(const model_view<T>& m, const safetensors_reader& r, const load_options& o,
                                const std::string& prefix) {
    staged_tensors<T> s{m, {m.params.begin(), m.params.end()}, {m.state.begin(), m.state.end()}, {}};
    for (const auto& t : m.tensors) {
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
        T* dst = (t.buffer == buffer::state ? s.state.data() : s.params.data()) + t.offset;
        r.read(*e, dst);
        for (std::size_t i = 0; i < t.size(); ++i) {
            if (!std::isfinite(dst[i]))
                r.fail(who + " holds " + std::to_string(double(dst[i])) + " at index " + std::to_string(i) +
                       "; a model's values must be finite");
            if (t.integer && dst[i] < T(0)) r.fail(who + " holds a negative count");
        }
        s.used.insert(name);
    }
    return s;
}

template <class T>
void save_view(const model_view<const T>& m, const std::filesystem::path& path, const save_options& o) {
    safetensors_writer w;
    std::vector<std::int64_t> ints;
    add_tensors(w, m, o, ints, "");
    w.metadata("format", "pt");                              // what torch-side readers expect
    for (const auto& [k, v] : o.metadata) w.metadata(k, v);
    w.write(path);
}

template <class T>
void load_view(const model_view<T>& m, const safetensors_reader& r, const load_options& o) {
    const auto staged = stage_tensors(m, r, o, "");
    if (o.strict)
        for (const auto& f : r.tensors())
            if (!staged.used.count(f.name))
                r.fail("holds tensor " + typenet::io::detail::quoted(f.name) + " (shape " + f.shape_str() +
                       ") that the model does not have; load with {.strict = false} to ignore it");
    staged.commit();
}

#if defined(TYPENET_SEPARATE_IO) && !defined(TYPENET_IO_IMPLEMENTATION)
#define TYPENET_IO_INSTANTIATE(T)                                                                               \
    extern template void add_tensors<T>(safetensors_writer&, const model_view<const T>&, const save_options&,   \
                                        std::vector<std::int64_t>&, const std::string&);                        \
    extern template staged_tensors<T> stage_tensors<T>(const model_view<T>&, const safetensors_reader&,         \
                                                       const load_options&, const std::string&);                \
    extern template void save_view<T>(const model_view<const T>&, const std::filesystem::path&, const save_options&); \
    extern template void load_view<T>(const model_view<T>&, const safetensors_reader&, const load_options&);
TYPENET_IO_INSTANTIATE(float)
TYPENET_IO_INSTANTIATE(double)
#undef TYPENET_IO_INSTANTIATE
#endif
}  // namespace detail

}  // namespace typenet::io
