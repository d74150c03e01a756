// tests/io/safetensors_test.cpp — the safetensors reader and writer: round trips, dtype
// conversion, and every malformed header the reader must refuse with a clear error.
#include <doctest/doctest.h>

#include <cstring>
#include <unistd.h>
#include <filesystem>
#include <fstream>
#include <string>
#include <typenet/io/safetensors.hpp>
#include <vector>

#include "support/parity.hpp"

using namespace typenet;
using typenet::test::thrown_message;

namespace {
// A file's bytes: the 8-byte length, the header, then `data`.
std::vector<unsigned char> file_bytes(const std::string& header, const std::vector<unsigned char>& data = {},
                                      std::uint64_t claimed = ~std::uint64_t{0}) {
    const std::uint64_t n = claimed == ~std::uint64_t{0} ? header.size() : claimed;
    std::vector<unsigned char> b;
    b.reserve(8 + header.size() + data.size());
    for (int i = 0; i < 8; ++i) b.push_back(static_cast<unsigned char>(n >> (8 * i)));
    for (char c : header) b.push_back(static_cast<unsigned char>(c));
    for (unsigned char c : data) b.push_back(c);
    return b;
}
std::string open_error(const std::vector<unsigned char>& bytes) {
    return thrown_message<io::format_error>([&] { io::safetensors_reader r(bytes, "'test'"); });
}
std::filesystem::path temp_file(const char* name) {
    return std::filesystem::temp_directory_path() / (std::string("typenet_st_") + name + "_" + std::to_string(::getpid()));
}
}  // namespace

TEST_CASE("writer and reader round-trip tensors and metadata; the header is padded to 8 bytes") {
    const std::vector<float> w{1.5f, -2.0f, 3.25f, 0.0f, 1e-30f, -7.0f};
    const std::vector<double> d{0.1, -0.2};
    const std::int64_t count = 42;
    io::safetensors_writer out;
    out.add("layer.weight", io::dtype::f32, {2, 3}, w.data(), w.size() * 4);
    out.add("layer.double", io::dtype::f64, {2}, d.data(), 16);
    out.add("count", io::dtype::i64, {}, &count, 8);
    out.add("empty", io::dtype::f32, {0, 4}, nullptr, 0);
    out.metadata("format", "pt");
    const auto path = temp_file("roundtrip");
    out.write(path);

    std::ifstream f(path, std::ios::binary);
    unsigned char len[8];
    f.read(reinterpret_cast<char*>(len), 8);
    std::uint64_t n = 0;
    for (int i = 0; i < 8; ++i) n |= std::uint64_t(len[i]) << (8 * i);
    CHECK(n % 8 == 0);

    io::safetensors_reader r(path);
    REQUIRE(r.tensors().size() == 4);
    CHECK(r.metadata().at("format") == "pt");
    const auto* t = r.find("layer.weight");
    REQUIRE(t);
    CHECK(t->shape == std::vector<std::uint64_t>{2, 3});
    std::vector<float> back(6);
    r.read(*t, back.data());
    CHECK(back == w);
    std::vector<double> as_double(6);
    r.read(*t, as_double.data());                              // f32 -> double: exact
    CHECK(as_double[4] == double(1e-30f));
    std::vector<float> dd(2);
    r.read(*r.find("layer.double"), dd.data());
    CHECK(dd[0] == 0.1f);
    float c = 0;
    r.read(*r.find("count"), &c);
    CHECK(c == 42.0f);
    CHECK(r.find("empty")->numel() == 0);
    CHECK(r.find("nothing") == nullptr);
    std::filesystem::remove(path);
}

TEST_CASE("f16 and bf16 are read exactly, subnormals, infinities and signs included") {
    // f16: 1.0 = 0x3C00, -2.5 = 0xC100, 65504 = 0x7BFF (max), 2^-24 = 0x0001 (smallest subnormal), inf = 0x7C00
    // bf16: 1.0 = 0x3F80, -0.5 = 0xBF00, 3.0e38 ~ 0x7F62, 2^-133 = 0x0001 (subnormal)
    const std::uint16_t h[] = {0x3C00, 0xC100, 0x7BFF, 0x0001, 0x7C00, 0x8000};
    const std::uint16_t b[] = {0x3F80, 0xBF00, 0x7F62, 0x0001};
    std::vector<unsigned char> data(sizeof h + sizeof b);
    std::memcpy(data.data(), h, sizeof h);
    std::memcpy(data.data() + sizeof h, b, sizeof b);
    const std::string header = R"({"h":{"dtype":"F16","shape":[6],"data_offsets":[0,12]},)"
                               R"("b":{"dtype":"BF16","shape":[2,2],"data_offsets":[12,20]}})";
    const auto bytes = file_bytes(header, data);
    io::safetensors_reader r(bytes, "'test'");
    float hv[6], bv[4];
    r.read(*r.find("h"), hv);
    r.read(*r.find("b"), bv);
    CHECK(hv[0] == 1.0f);
    CHECK(hv[1] == -2.5f);
    CHECK(hv[2] == 65504.0f);
    CHECK(hv[3] == std::ldexp(1.0f, -24));
    CHECK(std::isinf(hv[4]));
    CHECK((hv[5] == 0.0f && std::signbit(hv[5])));
    CHECK(bv[0] == 1.0f);
    CHECK(bv[1] == -0.5f);
    CHECK(bv[2] == std::bit_cast<float>(std::uint32_t(0x7F620000)));
    CHECK(bv[3] == std::bit_cast<float>(std::uint32_t(0x00010000)));
}

TEST_CASE("malformed files are refused with the reason, never read past their end") {
    const std::string ok_header = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
    const std::vector<unsigned char> eight(8, 0);
    CHECK_NOTHROW(io::safetensors_reader(file_bytes(ok_header, eight), "'test'"));

    CHECK(open_error({1, 2, 3}).find("is 3 bytes long") != std::string::npos);
    CHECK(open_error(file_bytes(ok_header, eight, 1u << 20)).find("runs past the end of the file") != std::string::npos);
    CHECK(open_error(file_bytes(ok_header, eight, 1ull << 40)).find("over the limit") != std::string::npos);
    CHECK(open_error(file_bytes("[1,2]")).find("does not start with '{'") != std::string::npos);
    CHECK(open_error(file_bytes("{\"a\": ")).find("not valid JSON") != std::string::npos);
    CHECK(open_error(file_bytes(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                                R"("a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                                eight))
              .find("names 'a' twice") != std::string::npos);
    CHECK(open_error(file_bytes(R"({"a":{"dtype":"F33","shape":[2],"data_offsets":[0,8]}})", eight))
              .find("unknown dtype 'F33'") != std::string::npos);
    CHECK(open_error(file_bytes(R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", eight))
              .find("non-negative integer") != std::string::npos);
    CHECK(open_error(file_bytes(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", eight))
              .find("needs 12 bytes, its data_offsets span 8") != std::string::npos);
    CHECK(open_error(file_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})", eight))
              .find("outside the data section of 8 bytes") != std::string::npos);
    CHECK(open_error(file_bytes(R"({"a":{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,8]}})", eight))
              .find("overflows") != std::string::npos);
    CHECK(open_error(file_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                                R"("b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                                eight))
              .find("overlaps") != std::string::npos);
    CHECK(open_error(file_bytes(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", eight))
              .find("a gap before it") != std::string::npos);
    CHECK(open_error(file_bytes(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", eight))
              .find("cover 4 bytes of data, the file holds 8") != std::string::npos);
    CHECK(open_error(file_bytes(R"({"a":[[[[1]]]]})")).find("nests deeper") != std::string::npos);
    CHECK(open_error(file_bytes(R"({"__metadata__":{"k":1}})")).find("is not a string") != std::string::npos);
    CHECK(open_error(file_bytes(R"({"a":{"shape":[2],"data_offsets":[0,8]}})", eight)).find("no dtype") != std::string::npos);
    CHECK(open_error(file_bytes(R"({"a":{"dtype":"F32","shape":[2]}})", eight)).find("no data_offsets") != std::string::npos);

    const auto missing = thrown_message<io::format_error>([] { io::safetensors_reader r("/nonexistent/x.safetensors"); });
    CHECK(missing.find("'/nonexistent/x.safetensors': cannot open") != std::string::npos);
    const auto dir = thrown_message<io::format_error>([] { io::safetensors_reader r(std::filesystem::temp_directory_path()); });
    CHECK(dir.find("is a directory") != std::string::npos);
}

TEST_CASE("an atomic write leaves the old file intact when it fails, and no temporary behind") {
    const auto path = temp_file("atomic");
    const float one = 1.0f;
    io::safetensors_writer a;
    a.add("x", io::dtype::f32, {1}, &one, 4);
    a.write(path);
    const auto before = std::filesystem::file_size(path);
    // A writer that fails half way through: the target keeps its old content.
    CHECK(thrown_message<std::runtime_error>([&] {
              io::write_atomically(path, "test", [](std::FILE* f) {
                  std::fputs("partial", f);
                  throw std::runtime_error("disk full");
              });
          }).find("disk full") != std::string::npos);
    CHECK(std::filesystem::file_size(path) == before);
    io::safetensors_reader r(path);
    CHECK(r.tensors().size() == 1);
    for (const auto& e : std::filesystem::directory_iterator(path.parent_path()))
        CHECK(e.path().filename().string().find(path.filename().string() + ".tmp") == std::string::npos);
    // An unwritable directory: a clear error naming the path.
    CHECK(thrown_message<std::runtime_error>([&] { a.write("/nonexistent/dir/x.safetensors"); })
              .find("cannot create a temporary file in '/nonexistent/dir'") != std::string::npos);
    std::filesystem::remove(path);
}

TEST_CASE("a file refused after it was opened is closed again (no descriptor leaks per failed load)") {
    const auto path = temp_file("leak");
    {
        std::FILE* f = std::fopen(path.c_str(), "wb");
        REQUIRE(f);
        std::fputs("\x10\0\0\0\0\0\0\0{not json}      ", f);     // a header length, then a header that does not parse
        std::fclose(f);
    }
    auto lowest_free_fd = [] {
        const int fd = ::dup(0);
        ::close(fd);
        return fd;
    };
    const int before = lowest_free_fd();
    for (int i = 0; i < 500; ++i) CHECK_THROWS_AS(io::safetensors_reader{path}, io::format_error);
    CHECK(lowest_free_fd() == before);
    std::filesystem::remove(path);
}
