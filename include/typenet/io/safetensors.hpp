// io/safetensors.hpp — the safetensors format (huggingface/safetensors), read and written; nothing
// here knows of networks (io/model.hpp maps a network onto it).
//
// File layout:  u64 little-endian N | N bytes of JSON header | data bytes
//   header: {"<name>": {"dtype": "F32", "shape": [d0, ...], "data_offsets": [begin, end]}, ...,
//            "__metadata__": {"<key>": "<string>", ...}}          offsets relative to the data
// The reader checks everything the reference implementation checks before a byte of data is read:
// the header length against the file, JSON that parses, one object, no duplicate names, a known
// dtype, shape and byte range that agree (no overflow), and tensors that cover the data exactly,
// without overlap or gap. Every error names the file and what was expected vs found.
// The writer pads the header with spaces to a multiple of 8 and writes atomically: a temporary file
// beside the target, fsync, rename, fsync of the directory.
#pragma once
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace typenet::io {

// A file that is not what it claims to be, or not what the model needs.
class format_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

enum class dtype { f64, f32, f16, bf16, i64, i32, i16, i8, u64, u32, u16, u8, boolean, f8_e4m3, f8_e5m2 };

inline constexpr std::string_view dtype_name(dtype t) {
    constexpr std::string_view names[] = {"F64", "F32", "F16", "BF16", "I64", "I32", "I16",     "I8",
                                          "U64", "U32", "U16", "U8",   "BOOL", "F8_E4M3", "F8_E5M2"};
    return names[static_cast<int>(t)];
}
inline constexpr std::size_t dtype_size(dtype t) {
    constexpr std::size_t sizes[] = {8, 4, 2, 2, 8, 4, 2, 1, 8, 4, 2, 1, 1, 1, 1};
    return sizes[static_cast<int>(t)];
}
inline bool parse_dtype(std::string_view s, dtype& out) {
    for (int i = 0; i <= static_cast<int>(dtype::f8_e5m2); ++i)
        if (dtype_name(dtype(i)) == s) { out = dtype(i); return true; }
    return false;
}

// One tensor of a file: begin and end are byte offsets into the data section.
struct tensor_entry {
    std::string name;
    io::dtype dtype = dtype::f32;
    std::vector<std::uint64_t> shape;
    std::uint64_t begin = 0, end = 0;
    std::uint64_t numel() const {
        std::uint64_t n = 1;
        for (auto d : shape) n *= d;
        return n;
    }
    std::string shape_str() const;
};

namespace detail {
// "[6, 1, 5, 5]": a file's shape or a model's.
template <class U>
std::string shape_str(const std::vector<U>& shape) {
    std::string s = "[";
    for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + "]";
}
}  // namespace detail
inline std::string tensor_entry::shape_str() const { return detail::shape_str(shape); }

namespace detail {
inline std::string quoted(std::string_view s) {
    std::string q(1, '\'');
    q += s;
    q += '\'';
    return q;
}
// IEEE half and bfloat16 to float, exactly (every value of either is a float).
inline float half_to_float(std::uint16_t h) {
    const std::uint32_t sign = std::uint32_t(h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu, man = h & 0x3ffu;
    if (exp == 0) {                                              // zero or subnormal: man * 2^-24
        const float v = std::ldexp(float(man), -24);
        return sign ? -v : v;
    }
    const std::uint32_t bits = exp == 0x1f ? sign | 0x7f800000u | (man << 13)              // inf, NaN
                                           : sign | ((exp + 112) << 23) | (man << 13);    // rebias 15 -> 127
    return std::bit_cast<float>(bits);
}
inline float bf16_to_float(std::uint16_t b) { return std::bit_cast<float>(std::uint32_t(b) << 16); }

template <class U> U load_le(const unsigned char* p) {     // little-endian, any host
    U v = 0;
    for (std::size_t i = 0; i < sizeof(U); ++i) v |= U(p[i]) << (8 * i);
    return v;
}
}  // namespace detail

// The JSON of the header, both ways: the only code that needs nlohmann/json, and the slowest to
// compile (about 5 s per translation unit at -O3 here). Header-only by default; define
// TYPENET_SEPARATE_IO for every translation unit and compile it once in one of them with
//   #define TYPENET_IO_IMPLEMENTATION
//   #include <typenet/io/safetensors.hpp>
// (examples/support/io.cpp does), and the others only declare it.
#if defined(TYPENET_SEPARATE_IO) && !defined(TYPENET_IO_IMPLEMENTATION)
#define TYPENET_IO_API
#define TYPENET_IO_DEFINE 0
#elif defined(TYPENET_SEPARATE_IO)
#define TYPENET_IO_API
#define TYPENET_IO_DEFINE 1
#else
#define TYPENET_IO_API inline
#define TYPENET_IO_DEFINE 1
#endif
namespace detail {
// Parses and checks the header's JSON (data_size: the bytes after it), appending its tensors and
// metadata; throws format_error naming `what`.
TYPENET_IO_API void parse_header(const std::string& header, std::uint64_t data_size, const std::string& what,
                                 std::vector<tensor_entry>& tensors, std::map<std::string, std::string>& metadata);
// The header for tensors (with their offsets) and metadata, padded with spaces to a multiple of 8.
TYPENET_IO_API std::string make_header(const std::vector<tensor_entry>& tensors,
                                       const std::map<std::string, std::string>& metadata);
}  // namespace detail

// The largest header the reader accepts (the reference implementation's limit).
inline constexpr std::uint64_t max_header_bytes = 100'000'000;

// A safetensors file, opened and validated; tensors are read on request. From a path, or from
// bytes in memory (`what` names them in errors).
class safetensors_reader {
public:
    explicit safetensors_reader(const std::filesystem::path& path) : what_(detail::quoted(path.string())) {
        std::error_code ec;
        if (std::filesystem::is_directory(path, ec)) fail("is a directory, not a file");
        file_ = std::fopen(path.c_str(), "rb");
        if (!file_) fail(std::string("cannot open: ") + std::strerror(errno));
        try {
            if (std::fseek(file_, 0, SEEK_END) != 0) fail("cannot seek");
            const long size = std::ftell(file_);
            if (size < 0) fail("cannot tell its size");
            size_ = std::uint64_t(size);
            parse();
        } catch (...) {
            std::fclose(file_);          // a constructor that throws runs no destructor: no leaked FILE
            throw;
        }
    }
    safetensors_reader(std::span<const unsigned char> bytes, std::string what)
        : what_(std::move(what)), mem_(bytes), size_(bytes.size()) {
        parse();
    }
    safetensors_reader(const safetensors_reader&) = delete;
    safetensors_reader& operator=(const safetensors_reader&) = delete;
    ~safetensors_reader() {
        if (file_) std::fclose(file_);
    }

    const std::vector<tensor_entry>& tensors() const { return tensors_; }
    const std::map<std::string, std::string>& metadata() const { return metadata_; }
    const std::string& what() const { return what_; }
    const tensor_entry* find(std::string_view name) const {
        for (const auto& t : tensors_)
            if (t.name == name) return &t;
        return nullptr;
    }

    // The tensor's values converted to T (from F64, F32, F16, BF16 or an integer dtype); dst holds
    // t.numel() values. Integers are converted exactly where T holds them.
    template <class T>
    void read(const tensor_entry& t, T* dst) const {
        const std::uint64_t n = t.numel(), es = dtype_size(t.dtype);
        constexpr std::uint64_t chunk = 4096;                    // values per read: a bounded buffer
        unsigned char buf[chunk * 8];
        for (std::uint64_t i = 0; i < n; i += chunk) {
            const std::uint64_t m = std::min(chunk, n - i);
            read_bytes(data_start_ + t.begin + i * es, m * es, buf);
            for (std::uint64_t j = 0; j < m; ++j) dst[i + j] = convert<T>(t, buf + j * es);
        }
    }

    [[noreturn]] void fail(const std::string& why) const { throw format_error("typenet: safetensors " + what_ + ": " + why); }

private:
    template <class T>
    T convert(const tensor_entry& t, const unsigned char* p) const {
        switch (t.dtype) {
        case dtype::f64: return T(std::bit_cast<double>(detail::load_le<std::uint64_t>(p)));
        case dtype::f32: return T(std::bit_cast<float>(detail::load_le<std::uint32_t>(p)));
        case dtype::f16: return T(detail::half_to_float(detail::load_le<std::uint16_t>(p)));
        case dtype::bf16: return T(detail::bf16_to_float(detail::load_le<std::uint16_t>(p)));
        case dtype::i64: return T(std::int64_t(detail::load_le<std::uint64_t>(p)));
        case dtype::i32: return T(std::int32_t(detail::load_le<std::uint32_t>(p)));
        case dtype::i16: return T(std::int16_t(detail::load_le<std::uint16_t>(p)));
        case dtype::i8: return T(std::int8_t(p[0]));
        case dtype::u64: return T(detail::load_le<std::uint64_t>(p));
        case dtype::u32: return T(detail::load_le<std::uint32_t>(p));
        case dtype::u16: return T(detail::load_le<std::uint16_t>(p));
        case dtype::u8: case dtype::boolean: return T(p[0]);
        default: fail("tensor " + detail::quoted(t.name) + " has dtype " + std::string(dtype_name(t.dtype)) +
                      ", which typenet cannot convert");
        }
    }

    void read_bytes(std::uint64_t offset, std::uint64_t n, unsigned char* dst) const {
        if (offset > size_ || n > size_ - offset)
            fail("read of " + std::to_string(n) + " bytes at offset " + std::to_string(offset) + " runs past the end (" +
                 std::to_string(size_) + " bytes)");
        if (!file_) {
            if (n) std::memcpy(dst, mem_.data() + offset, n);
            return;
        }
        if (std::fseek(file_, long(offset), SEEK_SET) != 0 || std::fread(dst, 1, n, file_) != n)
            fail("cannot read " + std::to_string(n) + " bytes at offset " + std::to_string(offset));
    }

    void parse() {
        if (size_ < 8) fail("is " + std::to_string(size_) + " bytes long; a safetensors file has at least 8 (the header length)");
        unsigned char len[8];
        read_bytes(0, 8, len);
        const std::uint64_t n = detail::load_le<std::uint64_t>(len);
        if (n > max_header_bytes)
            fail("header length " + std::to_string(n) + " at offset 0 is over the limit of " + std::to_string(max_header_bytes));
        if (n > size_ - 8)
            fail("header length " + std::to_string(n) + " at offset 0 runs past the end of the file (" +
                 std::to_string(size_) + " bytes)");
        if (n < 2) fail("header length " + std::to_string(n) + " at offset 0 is too short for a JSON object");
        std::string header(n, '\0');
        read_bytes(8, n, reinterpret_cast<unsigned char*>(header.data()));
        if (header[0] != '{') fail("the header at offset 8 does not start with '{'");
        data_start_ = 8 + n;
        const std::uint64_t data_size = size_ - data_start_;

        detail::parse_header(header, data_size, what_, tensors_, metadata_);

        // The tensors tile the data section: no overlap, no gap (no room for a second file inside).
        std::vector<const tensor_entry*> by_offset;
        for (const auto& t : tensors_) by_offset.push_back(&t);
        std::sort(by_offset.begin(), by_offset.end(), [](auto* a, auto* b) { return a->begin != b->begin ? a->begin < b->begin : a->end < b->end; });
        std::uint64_t at = 0;
        for (const auto* t : by_offset) {
            if (t->begin != at)
                fail("tensor " + detail::quoted(t->name) + " starts at data byte " + std::to_string(t->begin) + ", expected " +
                     std::to_string(at) + (t->begin < at ? " (it overlaps the tensor before it)" : " (a gap before it)"));
            at = t->end;
        }
        if (at != data_size)
            fail("the tensors cover " + std::to_string(at) + " bytes of data, the file holds " + std::to_string(data_size));
    }

    std::string what_;
    std::FILE* file_ = nullptr;
    std::span<const unsigned char> mem_;
    std::uint64_t size_ = 0, data_start_ = 0;
    std::vector<tensor_entry> tensors_;
    std::map<std::string, std::string> metadata_;
};

// Writes `path` atomically: the bytes go to a temporary file in the same directory, which is
// flushed to disk and renamed over `path`, so a process that dies mid-write leaves the old file (or
// none) and a stray temporary, never a torn file. write(f) fills the temporary through f.
template <class Writer>
void write_atomically(const std::filesystem::path& path, const char* who, Writer&& write) {
    const auto fail = [&](const std::string& why) {
        throw std::runtime_error(std::string("typenet: ") + who + ": " + detail::quoted(path.string()) + ": " + why);
    };
    const std::filesystem::path dir = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
    std::string leaf(1, '.');                                  // appended, not "." + s: g++ 12's -Wrestrict (PR105651)
    leaf += path.filename().string();
    leaf += ".tmp.XXXXXX";
    std::string tmp_name = (dir / leaf).string();
    const int fd = ::mkstemp(tmp_name.data());
    if (fd < 0) fail(std::string("cannot create a temporary file in ") + detail::quoted(dir.string()) + ": " + std::strerror(errno));
    const ::mode_t mask = ::umask(0);                          // mkstemp makes 0600; a saved model is 0666 & ~umask
    ::umask(mask);
    ::fchmod(fd, 0666 & ~mask);
    std::FILE* f = ::fdopen(fd, "wb");
    if (!f) {
        ::close(fd);
        ::unlink(tmp_name.c_str());
        fail(std::string("cannot open the temporary file: ") + std::strerror(errno));
    }
    bool ok = false;
    std::string why;
    try {
        write(f);
        ok = std::fflush(f) == 0 && ::fsync(::fileno(f)) == 0;
        if (!ok) why = std::string("cannot write: ") + std::strerror(errno);
    } catch (const std::exception& e) {
        why = e.what();
    }
    if (std::fclose(f) != 0 && ok) {
        ok = false;
        why = std::string("cannot close: ") + std::strerror(errno);
    }
    if (ok && std::rename(tmp_name.c_str(), path.c_str()) != 0) {
        ok = false;
        why = std::string("cannot rename the temporary file over it: ") + std::strerror(errno);
    }
    if (!ok) {
        ::unlink(tmp_name.c_str());
        fail(why);
    }
    const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);   // the rename itself, durable
    if (dfd >= 0) {
        ::fsync(dfd);
        ::close(dfd);
    }
}

// Collects tensors (their bytes already little-endian in memory) and metadata, then writes.
class safetensors_writer {
public:
    void add(std::string name, dtype t, std::vector<std::uint64_t> shape, const void* data, std::size_t bytes) {
        tensor_entry e{std::move(name), t, std::move(shape), 0, 0};
        if (e.numel() * dtype_size(t) != bytes)
            throw std::invalid_argument("typenet: safetensors: tensor " + detail::quoted(e.name) + " of shape " +
                                        e.shape_str() + " given " + std::to_string(bytes) + " bytes");
        for (const auto& p : parts_)
            if (p.entry.name == e.name) throw std::invalid_argument("typenet: safetensors: tensor " + detail::quoted(e.name) + " added twice");
        parts_.push_back({std::move(e), data, bytes});
    }
    void metadata(std::string key, std::string value) { metadata_[std::move(key)] = std::move(value); }

    void write(const std::filesystem::path& path) const {
        std::vector<tensor_entry> entries;
        std::uint64_t at = 0;
        for (const auto& p : parts_) {
            entries.push_back(p.entry);
            entries.back().begin = at;
            entries.back().end = at += p.bytes;
        }
        const std::string header = detail::make_header(entries, metadata_);
        write_atomically(path, "safetensors", [&](std::FILE* f) {
            unsigned char len[8];
            for (int i = 0; i < 8; ++i) len[i] = static_cast<unsigned char>(std::uint64_t(header.size()) >> (8 * i));
            bool ok = std::fwrite(len, 1, 8, f) == 8 && std::fwrite(header.data(), 1, header.size(), f) == header.size();
            for (const auto& p : parts_) ok = ok && (p.bytes == 0 || std::fwrite(p.data, 1, p.bytes, f) == p.bytes);
            if (!ok) throw std::runtime_error(std::string("cannot write: ") + std::strerror(errno));
        });
    }

private:
    struct part {
        tensor_entry entry;
        const void* data;
        std::size_t bytes;
    };
    std::vector<part> parts_;
    std::map<std::string, std::string> metadata_;
};

#if TYPENET_IO_DEFINE
}  // namespace typenet::io
#include <nlohmann/json.hpp>
namespace typenet::io {
namespace detail {
TYPENET_IO_API void parse_header(const std::string& header, std::uint64_t data_size, const std::string& what,
                                 std::vector<tensor_entry>& tensors, std::map<std::string, std::string>& metadata) {
    const auto fail = [&](const std::string& why) { throw format_error("typenet: safetensors " + what + ": " + why); };
    const std::uint64_t n = header.size();
    // Duplicate names (which JSON libraries merge silently) and nesting deeper than the format's
    // are refused while parsing.
    std::set<std::string> names;
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(header, [&](int depth, nlohmann::json::parse_event_t ev, nlohmann::json& v) {
            if (depth > 3) fail("header nests deeper than the format allows");
            if (ev == nlohmann::json::parse_event_t::key && depth == 1 && !names.insert(v.get<std::string>()).second)
                fail("header names " + detail::quoted(v.get<std::string>()) + " twice");
            return true;
        });
    } catch (const nlohmann::json::exception& e) {
        fail(std::string("the header (offset 8, ") + std::to_string(n) + " bytes) is not valid JSON: " + e.what());
    }
    if (!j.is_object()) fail("the header is not a JSON object");

    for (auto it = j.begin(); it != j.end(); ++it) {
        const std::string& name = it.key();
        const auto& v = it.value();
        if (name == "__metadata__") {
            if (!v.is_object()) fail("__metadata__ is not an object of strings");
            for (auto m = v.begin(); m != v.end(); ++m) {
                if (!m.value().is_string()) fail("__metadata__ entry " + detail::quoted(m.key()) + " is not a string");
                metadata[m.key()] = m.value().get<std::string>();
            }
            continue;
        }
        const std::string who = "tensor " + detail::quoted(name);
        if (!v.is_object()) fail(who + " is not an object");
        tensor_entry t;
        t.name = name;
        const auto dt = v.find("dtype"), sh = v.find("shape"), off = v.find("data_offsets");
        if (dt == v.end() || !dt->is_string()) fail(who + " has no dtype string");
        if (!parse_dtype(dt->get<std::string>(), t.dtype)) fail(who + " has unknown dtype " + detail::quoted(dt->get<std::string>()));
        if (sh == v.end() || !sh->is_array()) fail(who + " has no shape array");
        std::uint64_t numel = 1;
        for (const auto& d : *sh) {
            if (!d.is_number_unsigned()) fail(who + " has a shape entry that is not a non-negative integer");
            t.shape.push_back(d.get<std::uint64_t>());
            if (__builtin_mul_overflow(numel, t.shape.back(), &numel)) fail(who + " has a shape whose size overflows");
        }
        if (off == v.end() || !off->is_array() || off->size() != 2 || !(*off)[0].is_number_unsigned() ||
            !(*off)[1].is_number_unsigned())
            fail(who + " has no data_offsets [begin, end] of non-negative integers");
        t.begin = (*off)[0].get<std::uint64_t>();
        t.end = (*off)[1].get<std::uint64_t>();
        std::uint64_t bytes = 0;
        if (__builtin_mul_overflow(numel, std::uint64_t(dtype_size(t.dtype)), &bytes)) fail(who + " has a byte size that overflows");
        if (t.begin > t.end || t.end > data_size)
            fail(who + " has data_offsets [" + std::to_string(t.begin) + ", " + std::to_string(t.end) +
                 "] outside the data section of " + std::to_string(data_size) + " bytes");
        if (t.end - t.begin != bytes)
            fail(who + " of dtype " + std::string(dtype_name(t.dtype)) + " and shape " + t.shape_str() + " needs " +
                 std::to_string(bytes) + " bytes, its data_offsets span " + std::to_string(t.end - t.begin));
        tensors.push_back(std::move(t));
    }
}

TYPENET_IO_API std::string make_header(const std::vector<tensor_entry>& tensors,
                                       const std::map<std::string, std::string>& metadata) {
    nlohmann::ordered_json h = nlohmann::ordered_json::object();
    if (!metadata.empty()) h["__metadata__"] = metadata;
    for (const auto& t : tensors)
        h[t.name] = {{"dtype", dtype_name(t.dtype)}, {"shape", t.shape}, {"data_offsets", {t.begin, t.end}}};
    std::string header = h.dump();
    header.resize((header.size() + 7) / 8 * 8, ' ');
    return header;
}
}  // namespace detail
#endif
#undef TYPENET_IO_DEFINE
#undef TYPENET_IO_API

static_assert(std::endian::native == std::endian::little,
              "typenet: safetensors writes tensors from memory as they are: a little-endian host is required");

}  // namespace typenet::io
