// io/export.hpp — a trained network as C++ source: a header with the model's type alias and its
// parameters and state as constexpr arrays of hex-float literals (exact: the compiled-in model
// computes bit for bit what the trained one did). The application that includes it reads no file:
//   io::export_header(model, "lenet_model.hpp", "app");      // after training
//   #include "lenet_model.hpp"                                 // in the application
//   auto logits = typenet::predict(app::instance(), image);   // no allocation after the first call
#pragma once
#include <cctype>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>

#include "typenet/core/network.hpp"
#include "typenet/io/model.hpp"
#include "typenet/io/safetensors.hpp"

namespace typenet::io {

namespace detail {
// The type as the compiler spells it, fully qualified: g++ "[with T = X; ...]", clang "[T = X]".
template <class T>
std::string type_spelling() {
    const std::string_view p = __PRETTY_FUNCTION__;
    const auto b = p.find("T = ") + 4;
    int depth = 0;
    std::size_t e = b;
    for (; e < p.size(); ++e) {
        const char c = p[e];
        if (c == '<' || c == '(') ++depth;
        if (c == '>' || c == ')') --depth;
        if (depth == 0 && (c == ';' || c == ']')) break;
    }
    return std::string(p.substr(b, e - b));
}

inline void require_identifier(const std::string& ns) {
    bool ok = !ns.empty();
    for (std::size_t i = 0; ok && i < ns.size(); ++i) {
        const char c = ns[i];
        if (c == ':' && i + 1 < ns.size() && ns[i + 1] == ':' && i > 0) { ++i; continue; }
        ok = c == '_' || std::isalpha(static_cast<unsigned char>(c)) || (i > 0 && std::isdigit(static_cast<unsigned char>(c)));
        if (ok && i > 0 && ns[i - 1] == ':' && std::isdigit(static_cast<unsigned char>(c))) ok = false;
    }
    if (!ok || ns.back() == ':')
        throw std::invalid_argument("typenet: export_header: namespace '" + ns + "' is not a C++ namespace name");
}

template <class T>
inline void write_array(std::FILE* f, const char* name, const T* v, std::size_t n) {
    constexpr const char* type = sizeof(T) == 8 ? "double" : "float";
    std::fprintf(f, "inline constexpr std::array<%s, %zu> %s{", type, n, name);
    for (std::size_t i = 0; i < n; ++i) {
        if (i % 6 == 0) std::fputs("\n   ", f);
        std::fprintf(f, " %a%s,", double(v[i]), sizeof(T) == 8 ? "" : "f");
    }
    std::fputs("};\n", f);
}
}  // namespace detail

namespace detail {
template <class T>
void export_view(const model_view<const T>& m, const std::filesystem::path& path, const std::string& ns,
                 const std::string& type, const std::string& summary);
}  // namespace detail

// Writes `path` (atomically): namespace `ns` with `using model = <the network's type>;`,
// `parameters` and `state` (constexpr std::array of the scalar type) and `model& instance()`, the
// model holding them with its batch-1 workspace reserved. Non-finite values are refused.
template <model Net>
void export_header(const Net& net, const std::filesystem::path& path, const std::string& ns) {
    detail::export_view(view_of(net), path, ns, detail::type_spelling<Net>(), Net::summary());
}

namespace detail {
template <class T>
void export_view(const model_view<const T>& m, const std::filesystem::path& path, const std::string& ns,
                 const std::string& type, const std::string& summary) {
    require_identifier(ns);
    for (auto buf : {m.params, m.state})
        for (std::size_t i = 0; i < buf.size(); ++i)
            if (!std::isfinite(buf[i]))
                throw std::invalid_argument("typenet: export_header: the model holds " + std::to_string(double(buf[i])) +
                                            " at index " + std::to_string(i) + "; only finite values can be exported");
    std::string commented;
    for (std::size_t b = 0, e; b < summary.size(); b = e + 1) {
        e = summary.find('\n', b);
        if (e == std::string::npos) e = summary.size();
        commented += "//   " + summary.substr(b, e - b) + "\n";
    }
    write_atomically(path, "export_header", [&](std::FILE* f) {
        std::fprintf(f,
                     "// %s: a trained typenet model, written by typenet::io::export_header. Do not edit.\n"
                     "%s"
                     "#pragma once\n#include <algorithm>\n#include <array>\n#include <typenet/typenet.hpp>\n\n"
                     "namespace %s {\n\n"
                     "using model = %s;\n\n",
                     path.filename().c_str(), commented.c_str(), ns.c_str(), type.c_str());
        write_array(f, "parameters", m.params.data(), m.params.size());
        write_array(f, "state", m.state.data(), m.state.size());
        std::fprintf(f,
                     "\n// The model holding these values, built on first use, its batch-1 workspace reserved: after\n"
                     "// that, typenet::predict(instance(), sample) allocates nothing.\n"
                     "inline model& instance() {\n"
                     "    static model m = [] {\n"
                     "        model n;\n"
                     "        std::copy(parameters.begin(), parameters.end(), n.parameters().begin());\n"
                     "        std::copy(state.begin(), state.end(), n.state().begin());\n"
                     "        n.reserve(1);\n"
                     "        return n;\n"
                     "    }();\n"
                     "    return m;\n"
                     "}\n\n"
                     "}  // namespace %s\n",
                     ns.c_str());
        if (std::ferror(f)) throw std::runtime_error("cannot write");
    });
}

#if defined(TYPENET_SEPARATE_IO) && !defined(TYPENET_IO_IMPLEMENTATION)
extern template void export_view<float>(const model_view<const float>&, const std::filesystem::path&, const std::string&,
                                        const std::string&, const std::string&);
extern template void export_view<double>(const model_view<const double>&, const std::filesystem::path&,
                                         const std::string&, const std::string&, const std::string&);
#endif
}  // namespace detail

}  // namespace typenet::io
