// data/idx.hpp — the IDX format of (Fashion-)MNIST, raw or gzip-compressed (zlib reads both).
// Header: 0x00 0x00, a type code, the rank, then rank big-endian uint32 extents; then the data.
// Every field is checked; an error names the file, the byte offset, expected vs found.
#pragma once
#include <zlib.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

namespace typenet::data {

struct idx_array {
    std::vector<std::size_t> extents;   // e.g. (60000, 28, 28)
    std::vector<std::uint8_t> values;   // row-major, extents' product of them
};

class data_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

namespace detail {
// Appends rather than '"'" + s + "'"', which trips g++ 12's -Wrestrict false positive (PR105651).
inline std::string quoted(const std::filesystem::path& p) {
    std::string s(1, '\'');
    s += p.string();
    s += '\'';
    return s;
}
inline std::string hex(std::uint8_t b) {
    const char* d = "0123456789ABCDEF";
    return std::string("0x") + d[b >> 4] + d[b & 15];
}

// The whole file, decompressed when it is gzip.
inline std::vector<std::uint8_t> read_all(const std::filesystem::path& path, const char* who) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec))
        throw data_error(std::string("typenet: ") + who + ": cannot open " + quoted(path) + ": no such file");
    if (std::filesystem::is_directory(path, ec))
        throw data_error(std::string("typenet: ") + who + ": " + quoted(path) + " is a directory, not a file");
    gzFile f = gzopen(path.c_str(), "rb");
    if (!f)
        throw data_error(std::string("typenet: ") + who + ": cannot open " + quoted(path) + ": " + std::strerror(errno));
    std::vector<std::uint8_t> out;
    std::uint8_t chunk[1 << 16];
    for (;;) {
        const int n = gzread(f, chunk, sizeof chunk);
        if (n < 0 || (n == 0 && !gzeof(f))) {
            int err = 0;
            const std::string msg = gzerror(f, &err);
            gzclose(f);
            throw data_error(std::string("typenet: ") + who + ": " + quoted(path) + " at byte " +
                             std::to_string(out.size()) + " of its decompressed data: " + msg +
                             " (truncated or corrupt gzip?)");
        }
        if (n == 0) break;
        out.insert(out.end(), chunk, chunk + n);
    }
    int err = Z_OK;
    const std::string msg = gzerror(f, &err);
    gzclose(f);
    if (err != Z_OK && err != Z_STREAM_END)
        throw data_error(std::string("typenet: ") + who + ": " + quoted(path) + " at byte " + std::to_string(out.size()) +
                         " of its decompressed data: " + msg + " (truncated or corrupt gzip?)");
    return out;
}
}  // namespace detail

// Parses the bytes of an IDX file of unsigned bytes (type 0x08); `what` names them in errors (read_idx
// passes the quoted path). `rank`, when non-zero, is the rank expected.
inline idx_array parse_idx(const std::vector<std::uint8_t>& bytes, const std::string& what, std::size_t rank = 0) {
    auto fail = [&](std::size_t at, const std::string& why) {
        throw data_error("typenet: read_idx: " + what + " at byte " + std::to_string(at) + ": " + why);
    };
    if (bytes.size() < 4)
        fail(0, "expected a 4-byte IDX header, found " + std::to_string(bytes.size()) + " bytes");
    if (bytes[0] != 0 || bytes[1] != 0)
        fail(0, "expected magic 0x00 0x00, found " + detail::hex(bytes[0]) + " " + detail::hex(bytes[1]) +
                    " (not an IDX file)");
    if (bytes[2] != 0x08) fail(2, "expected type 0x08 (unsigned byte), found " + detail::hex(bytes[2]));
    const std::size_t r = bytes[3];
    if (r < 1 || r > 4) fail(3, "expected rank 1 to 4, found " + std::to_string(r));
    if (rank != 0 && r != rank) fail(3, "expected rank " + std::to_string(rank) + ", found " + std::to_string(r));
    const std::size_t header = 4 + 4 * r;
    if (bytes.size() < header)
        fail(4, "expected " + std::to_string(4 * r) + " bytes of extents, found " + std::to_string(bytes.size() - 4));
    idx_array a;
    std::size_t count = 1;
    for (std::size_t i = 0; i < r; ++i) {
        const std::uint8_t* p = bytes.data() + 4 + 4 * i;
        const std::size_t e = (std::size_t(p[0]) << 24) | (std::size_t(p[1]) << 16) | (std::size_t(p[2]) << 8) | p[3];
        if (e == 0) fail(4 + 4 * i, "extent " + std::to_string(i) + " is 0");
        if (count > (std::size_t(1) << 40) / e) fail(4 + 4 * i, "extents multiply past 2^40 values");
        count *= e;
        a.extents.push_back(e);
    }
    if (bytes.size() - header != count)
        fail(header, "expected " + std::to_string(count) + " data bytes, found " + std::to_string(bytes.size() - header));
    a.values.assign(bytes.begin() + std::ptrdiff_t(header), bytes.end());
    return a;
}

// Reads an IDX file of unsigned bytes (type 0x08). `rank`, when non-zero, is the rank expected.
inline idx_array read_idx(const std::filesystem::path& path, std::size_t rank = 0) {
    return parse_idx(detail::read_all(path, "read_idx"), detail::quoted(path), rank);
}

}  // namespace typenet::data
