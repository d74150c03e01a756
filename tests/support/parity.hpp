// tests/support/parity.hpp — reads the PyTorch reference files written by tests/parity/gen.py and
// compares typenet's values with them. A file is blocks of a header `<name> <rank> <d0> ...` and one
// line of row-major values; any malformed block throws, naming the file, line and block.
#pragma once
#include <doctest/doctest.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <initializer_list>
#include <map>
#include <span>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace typenet::test {

struct parity_tensor {
    std::string name;
    std::vector<std::size_t> shape;   // empty: a scalar
    std::vector<double> values;       // row-major, product(shape) of them

    std::size_t size() const { return values.size(); }
    double scalar() const {
        if (values.size() != 1)
            throw std::runtime_error("typenet::test: block '" + name + "' is not a scalar (" +
                                     std::to_string(values.size()) + " values)");
        return values[0];
    }
    // The values as T (float parity tests read the float64 references through this).
    template <class T> std::vector<T> as() const { return std::vector<T>(values.begin(), values.end()); }
};

class parity_file {
public:
    explicit parity_file(const std::string& path) : path_(path) {
        std::ifstream in(path);
        if (!in) fail(0, "", "cannot open the file; run tests/parity/gen.py to write it");
        std::string header, body;
        std::size_t line = 0;
        while (std::getline(in, header)) {
            ++line;
            if (header.empty()) continue;
            parity_tensor t;
            std::istringstream hs(header);
            long rank = -1;
            if (!(hs >> t.name >> rank) || rank < 0)
                fail(line, t.name, "header '" + header + "' is not '<name> <rank> <d0> ...'");
            std::size_t count = 1;
            for (long d = 0; d < rank; ++d) {
                long e = -1;
                if (!(hs >> e) || e < 0)
                    fail(line, t.name, "header '" + header + "' gives rank " + std::to_string(rank) +
                                           " but extent " + std::to_string(d) + " is missing or negative");
                t.shape.push_back(std::size_t(e));
                count *= std::size_t(e);
            }
            std::string extra;
            if (hs >> extra) fail(line, t.name, "header '" + header + "' has more extents than its rank");
            if (blocks_.count(t.name)) fail(line, t.name, "the block name appears twice");
            if (!std::getline(in, body)) fail(line + 1, t.name, "the values line is missing");
            ++line;
            t.values = parse_values(body, line, t.name);
            if (t.values.size() != count)
                fail(line, t.name, "expected " + std::to_string(count) + " values for its shape, found " +
                                       std::to_string(t.values.size()));
            blocks_.emplace(t.name, std::move(t));
        }
        if (blocks_.empty()) fail(line, "", "the file has no blocks");
    }

    const parity_tensor& at(const std::string& name) const {
        auto it = blocks_.find(name);
        if (it == blocks_.end())
            throw std::out_of_range("typenet::test: '" + path_ + "' has no block '" + name +
                                    "'; rerun tests/parity/gen.py if the test expects a new one");
        return it->second;
    }
    const std::string& path() const { return path_; }

private:
    [[noreturn]] void fail(std::size_t line, const std::string& block, const std::string& what) const {
        throw std::runtime_error("typenet::test: parity file '" + path_ + "' line " + std::to_string(line) +
                                 (block.empty() ? "" : ", block '" + block + "'") + ": " + what);
    }
    std::vector<double> parse_values(const std::string& body, std::size_t line, const std::string& block) const {
        std::vector<double> v;
        const char* s = body.c_str();
        while (true) {
            while (*s == ' ' || *s == '\t' || *s == '\r') ++s;
            if (*s == '\0') break;
            char* end = nullptr;
            errno = 0;
            const double d = std::strtod(s, &end);
            if (end == s || (*end != '\0' && *end != ' ' && *end != '\t' && *end != '\r'))
                fail(line, block, "value " + std::to_string(v.size()) + " ('" +
                                      std::string(s, std::min<std::size_t>(std::strlen(s), 24)) + "') is not a number");
            if (errno == ERANGE && std::isinf(d))
                fail(line, block, "value " + std::to_string(v.size()) + " is out of range");
            v.push_back(d);
            s = end;
        }
        return v;
    }

    std::string path_;
    std::map<std::string, parity_tensor> blocks_;
};

namespace detail {
// "(i, j)" for a flat index into shape; "[i]" for rank 0 and 1. Built by appending: g++ 12's
// -Wrestrict misfires on `"[" + std::to_string(i)` (GCC PR105329).
inline std::string multi_index(std::size_t flat, const std::vector<std::size_t>& shape) {
    std::string s;
    if (shape.size() < 2) {
        s += '[';
        s += std::to_string(flat);
        s += ']';
        return s;
    }
    std::vector<std::size_t> idx(shape.size());
    for (std::size_t d = shape.size(); d-- > 0;) { idx[d] = flat % shape[d]; flat /= shape[d]; }
    s += '(';
    for (std::size_t d = 0; d < idx.size(); ++d) {
        if (d) s += ", ";
        s += std::to_string(idx[d]);
    }
    s += ')';
    return s;
}
}  // namespace detail

// CHECKs |got - exp| <= tol * max(1, |exp|) for every element of `exp`; on a mismatch the message
// lists the first mismatches (index, got, expected) and the max scaled error over all of them.
template <class T>
void check_close(std::span<const T> got, const parity_tensor& exp, double tol, const std::string& what) {
    INFO(what, ": comparing with torch block '", exp.name, "'");
    REQUIRE_MESSAGE(got.size() == exp.size(), what, ": got ", got.size(), " values, torch block '", exp.name,
                    "' has ", exp.size());
    double max_err = 0;
    std::size_t bad = 0;
    std::string report;
    for (std::size_t i = 0; i < got.size(); ++i) {
        const double g = double(got[i]), e = exp.values[i];
        const double err = std::abs(g - e) / std::max(1.0, std::abs(e));
        if (!(err <= tol)) {                                 // also catches NaN
            if (bad < 8) {
                char line[160];
                std::snprintf(line, sizeof line, "\n  %s %s: got %.17g, expected %.17g, error %.3g",
                              exp.name.c_str(), detail::multi_index(i, exp.shape).c_str(), g, e, err);
                report += line;
            }
            ++bad;
        }
        if (!(err <= max_err)) max_err = err;
    }
    CHECK_MESSAGE(bad == 0, what, ": ", bad, " of ", got.size(), " values off by more than ", tol,
                  " (relative to max(1, |expected|)); max error ", max_err, report);
}
template <class T>
void check_close(const std::vector<T>& got, const parity_tensor& exp, double tol, const std::string& what) {
    check_close(std::span<const T>(got), exp, tol, what);
}
template <class T>
void check_close(std::span<T> got, const parity_tensor& exp, double tol, const std::string& what) {
    check_close(std::span<const T>(got), exp, tol, what);
}
// The scalar form: a loss value.
inline void check_close_scalar(double got, const parity_tensor& exp, double tol, const std::string& what) {
    const double g[1] = {got};
    check_close(std::span<const double>(g), exp, tol, what);
}

// Writes the concatenation of `blocks` into `dst` (a network's layer_parameters<I>(): torch's
// Linear w (Out, In) then b (Out) is typenet's dense layout); the sizes must agree exactly.
template <class T>
void load_parameters(std::span<T> dst, std::initializer_list<const parity_tensor*> blocks) {
    std::size_t n = 0;
    std::string names;
    for (const parity_tensor* b : blocks) { n += b->size(); names += (names.empty() ? "" : " + ") + b->name; }
    REQUIRE_MESSAGE(n == dst.size(), "torch blocks ", names, " hold ", n, " values, the layer has ", dst.size(),
                    " parameters");
    std::size_t i = 0;
    for (const parity_tensor* b : blocks)
        for (double v : b->values) dst[i++] = T(v);
}

// The what() of the Exception that fn throws; a CHECK fails (and "" is returned) when fn throws
// nothing or something else.
template <class Exception, class F>
std::string thrown_message(F&& fn) {
    try {
        fn();
    } catch (const Exception& e) {
        return e.what();
    } catch (const std::exception& e) {
        FAIL_CHECK("threw a different exception: ", e.what());
        return "";
    }
    FAIL_CHECK("expected an exception, none was thrown");
    return "";
}

// Tolerances for comparisons with float64 torch: float values carry ~1e-7 rounding per operation.
template <class T> inline constexpr double parity_tol = sizeof(T) == 4 ? 1e-5 : 1e-10;

}  // namespace typenet::test
