// tests/data/idx_test.cpp — IDX files, raw and gzip, good and bad; Fashion-MNIST's loader on small
// files made here; datasets.
#include <doctest/doctest.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "typenet/data/fashion_mnist.hpp"

namespace fs = std::filesystem;
using namespace typenet::data;

namespace {
using bytes = std::vector<std::uint8_t>;

struct temp_dir {
    fs::path path;
    temp_dir() {
        path = fs::temp_directory_path() / ("typenet_idx_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter()++));
        fs::create_directories(path);
    }
    ~temp_dir() { std::error_code ec; fs::remove_all(path, ec); }
    static int& counter() { static int c = 0; return c; }
};

bytes idx(std::vector<std::uint32_t> extents, std::uint8_t type = 0x08) {
    bytes b{0, 0, type, std::uint8_t(extents.size())};
    std::size_t n = 1;
    for (auto e : extents) {
        b.insert(b.end(), {std::uint8_t(e >> 24), std::uint8_t(e >> 16), std::uint8_t(e >> 8), std::uint8_t(e)});
        n *= e;
    }
    for (std::size_t i = 0; i < n; ++i) b.push_back(std::uint8_t(i % 251));
    return b;
}
void write_raw(const fs::path& p, const bytes& b) {
    std::ofstream f(p, std::ios::binary);
    f.write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
}
void write_gz(const fs::path& p, const bytes& b) {
    gzFile f = gzopen(p.c_str(), "wb");
    REQUIRE(f != nullptr);
    gzwrite(f, b.data(), unsigned(b.size()));
    gzclose(f);
}
std::string error_of(const fs::path& p, std::size_t rank = 0) {
    try {
        read_idx(p, rank);
    } catch (const data_error& e) {
        return e.what();
    }
    return "no error";
}
bool contains(const std::string& s, const std::string& part) {
    if (s.find(part) != std::string::npos) return true;
    MESSAGE("'" << s << "' does not contain '" << part << "'");
    return false;
}
}  // namespace

TEST_CASE("read_idx reads raw and gzip files alike") {
    temp_dir t;
    const bytes b = idx({3, 4, 5});
    write_raw(t.path / "a", b);
    write_gz(t.path / "a.gz", b);
    for (const char* name : {"a", "a.gz"}) {
        const auto a = read_idx(t.path / name, 3);
        CHECK(a.extents == std::vector<std::size_t>{3, 4, 5});
        REQUIRE(a.values.size() == 60);
        CHECK(a.values[59] == 59);
    }
}

TEST_CASE("read_idx names the file, the offset, expected and found") {
    temp_dir t;
    const auto p = t.path / "bad";
    auto check = [&](const bytes& b, const std::string& part, std::size_t rank = 0) {
        write_raw(p, b);
        CHECK(contains(error_of(p, rank), part));
        CHECK(contains(error_of(p, rank), typenet::data::detail::quoted(p)));
    };
    bytes good = idx({2, 28, 28});
    check(bytes{0, 0}, "at byte 0: expected a 4-byte IDX header, found 2 bytes");
    check(bytes{0x1f, 0x00, 0x08, 0x01, 0, 0, 0, 1, 7}, "at byte 0: expected magic 0x00 0x00, found 0x1F 0x00");
    check(idx({4}, 0x0D), "at byte 2: expected type 0x08 (unsigned byte), found 0x0D");
    check(bytes{0, 0, 8, 9}, "at byte 3: expected rank 1 to 4, found 9");
    check(idx({5}), "at byte 3: expected rank 3, found 1", 3);
    check(bytes{0, 0, 8, 3, 0, 0, 0, 2}, "at byte 4: expected 12 bytes of extents, found 4");
    check(bytes{0, 0, 8, 1, 0, 0, 0, 0}, "at byte 4: extent 0 is 0");
    bytes truncated(good.begin(), good.end() - 100);
    check(truncated, "at byte 16: expected 1568 data bytes, found 1468");
    bytes longer = good;
    longer.push_back(0);
    check(longer, "at byte 16: expected 1568 data bytes, found 1569");
    check(bytes{0, 0, 8, 4, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255},
          "extents multiply past 2^40 values");
}

TEST_CASE("read_idx: a cut gzip stream, a missing file, a directory") {
    temp_dir t;
    const bytes b = idx({100, 28, 28});
    write_gz(t.path / "full.gz", b);
    std::ifstream in(t.path / "full.gz", std::ios::binary);
    bytes gz((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    write_raw(t.path / "cut.gz", bytes(gz.begin(), gz.begin() + std::ptrdiff_t(gz.size() / 2)));
    CHECK(contains(error_of(t.path / "cut.gz"), "truncated or corrupt gzip"));
    CHECK(contains(error_of(t.path / "nope"), "cannot open " + typenet::data::detail::quoted(t.path / "nope") + ": no such file"));
    CHECK(contains(error_of(t.path), "is a directory"));
}

TEST_CASE("fashion_mnist loads a directory of IDX files and checks them") {
    temp_dir t;
    auto labels = [](const bytes& v) {
        bytes b{0, 0, 8, 1, 0, 0, 0, std::uint8_t(v.size())};
        for (auto l : v) b.push_back(l);
        return b;
    };
    write_gz(t.path / "train-images-idx3-ubyte.gz", idx({3, 28, 28}));
    write_gz(t.path / "train-labels-idx1-ubyte.gz", labels({0, 9, 4}));
    write_raw(t.path / "t10k-images-idx3-ubyte", idx({2, 28, 28}));
    write_raw(t.path / "t10k-labels-idx1-ubyte", labels({1, 2}));
    auto d = fashion_mnist(t.path);
    CHECK(d.train.size() == 3);
    CHECK(d.test.size() == 2);
    CHECK(d.train.sample_shape == std::vector<std::size_t>{1, 28, 28});
    CHECK(d.train.y == std::vector<std::int32_t>{0, 9, 4});
    CHECK(d.train.x[250] == doctest::Approx(250.0f / 255.0f));
    CHECK(d.train.classes == 10);

    write_raw(t.path / "t10k-labels-idx1-ubyte", labels({1, 12}));
    try { fashion_mnist(t.path); FAIL("accepted label 12"); }
    catch (const data_error& e) { CHECK(contains(e.what(), "at byte 9: expected a label in 0..9, found 12")); }

    write_raw(t.path / "t10k-labels-idx1-ubyte", labels({1, 2, 3}));
    try { fashion_mnist(t.path); FAIL("accepted 2 images with 3 labels"); }
    catch (const data_error& e) { CHECK(contains(e.what(), "holds 2 images but")); }

    write_raw(t.path / "t10k-images-idx3-ubyte", idx({2, 14, 28}));
    try { fashion_mnist(t.path); FAIL("accepted 14x28 images"); }
    catch (const data_error& e) { CHECK(contains(e.what(), "expected 28x28 images, found 14x28")); }

    try { fashion_mnist(t.path / "missing"); FAIL("accepted a missing directory"); }
    catch (const data_error& e) {
        CHECK(contains(e.what(), "(no such directory)"));
        CHECK(contains(e.what(), "dataset-fashion-mnist"));
    }
}

TEST_CASE("dataset slice, head and standardize") {
    dataset<float> d;
    d.sample_shape = {2};
    d.x = {0, 1, 2, 3, 4, 5};
    d.y = {0, 1, 2};
    const auto s = d.slice(1, 2);
    CHECK(s.size() == 2);
    CHECK(s.x[0] == 2);
    CHECK(s.y[1] == 2);
    CHECK(d.head(10).size() == 3);
    CHECK_THROWS_AS(d.slice(2, 2), std::out_of_range);
    d.standardize(1.0, 2.0);
    CHECK(d.x[5] == 2.0f);
    CHECK_THROWS_AS(d.standardize(0.0, 0.0), std::invalid_argument);
}
