// tests/parity/parity_file_test.cpp — the reference-file reader of tests/support/parity.hpp: good
// files round-trip exactly, and every malformed one throws naming the file and the block.
#include <doctest/doctest.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "support/parity.hpp"

namespace {
// A file in the build's working directory, removed at scope exit.
struct temp_file {
    std::string path;
    temp_file(const std::string& name, const std::string& text) : path("parity_file_test_" + name + ".txt") {
        std::ofstream(path) << text;
    }
    ~temp_file() { std::remove(path.c_str()); }
};

std::string error_of(const std::string& name, const std::string& text) {
    temp_file f(name, text);
    return typenet::test::thrown_message<std::runtime_error>([&] { typenet::test::parity_file p(f.path); });
}
}  // namespace

TEST_CASE("parity_file reads blocks exactly") {
    temp_file f("good", "a 2 2 3\n1 2 3 4 5 0.10000000000000001\ns 0\n-2.5e-300\nempty 1 0\n\n");
    const typenet::test::parity_file p(f.path);
    const auto& a = p.at("a");
    CHECK(a.shape == std::vector<std::size_t>{2, 3});
    REQUIRE(a.size() == 6);
    CHECK(a.values[5] == 0.1);
    CHECK(p.at("s").shape.empty());
    CHECK(p.at("s").scalar() == -2.5e-300);
    CHECK(p.at("empty").size() == 0);
    CHECK_THROWS_AS(p.at("missing"), std::out_of_range);
    CHECK_THROWS_AS(a.scalar(), std::runtime_error);
}

TEST_CASE("parity_file names the file and the block of malformed input") {
    SUBCASE("too few values") {
        const auto msg = error_of("few", "w 2 2 2\n1 2 3\n");
        CHECK(msg.find("parity_file_test_few.txt") != std::string::npos);
        CHECK(msg.find("block 'w'") != std::string::npos);
        CHECK(msg.find("expected 4 values") != std::string::npos);
    }
    SUBCASE("a value that is not a number") {
        const auto msg = error_of("nan", "b 1 3\n1 x2 3\n");
        CHECK(msg.find("block 'b'") != std::string::npos);
        CHECK(msg.find("not a number") != std::string::npos);
    }
    SUBCASE("a header without its extents") {
        const auto msg = error_of("header", "dy 3 4 5\n1\n");
        CHECK(msg.find("block 'dy'") != std::string::npos);
        CHECK(msg.find("missing") != std::string::npos);
    }
    SUBCASE("a missing values line") {
        const auto msg = error_of("eof", "x 1 2\n1 2\ny 1 1\n");
        CHECK(msg.find("block 'y'") != std::string::npos);
    }
    SUBCASE("a repeated block") {
        const auto msg = error_of("twice", "x 1 1\n1\nx 1 1\n2\n");
        CHECK(msg.find("appears twice") != std::string::npos);
    }
    SUBCASE("a file that does not exist") {
        const auto msg = typenet::test::thrown_message<std::runtime_error>(
            [] { typenet::test::parity_file p("no/such/parity_file.txt"); });
        CHECK(msg.find("no/such/parity_file.txt") != std::string::npos);
    }
}
