// tests/data/text_test.cpp — data/text.hpp: corpora as bytes and UTF-8, vocabularies saved and
// loaded, the validation split, stream batches for truncated BPTT, and bad input.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <typenet/data/text.hpp>
#include <unistd.h>
#include <vector>

#include "support/parity.hpp"

using namespace typenet;
using typenet::test::thrown_message;
using typenet::data::token_t;

namespace {
std::filesystem::path temp_dir(const char* name) {
    const auto d = std::filesystem::temp_directory_path() / (std::string("typenet_text_") + name + "_" + std::to_string(::getpid()));
    std::filesystem::remove_all(d);
    std::filesystem::create_directories(d);
    return d;
}
void write(const std::filesystem::path& p, const std::string& bytes) {
    std::ofstream f(p, std::ios::binary);
    f << bytes;
}
}  // namespace

TEST_CASE("a UTF-8 corpus: characters, a sorted vocabulary, decode gives the text back") {
    const auto d = temp_dir("utf8");
    write(d / "a", "caf\xC3\xA9 \xE2\x82\xAC\n%\n");        // café €
    write(d / "b", "\xF0\x9F\x99\x82 ab\n");                  // 🙂 ab
    write(d / "a.dat", std::string("\xFF\xFE\x00\x01", 4));   // fortune's binary index: skipped
    const auto c = data::read_corpus(d, data::text_unit::utf8);
    CHECK(c.tokens.size() == 9 + 5);
    CHECK(c.vocab.size() == 10);                               // \n space % a b c f é € 🙂
    CHECK(c.vocab.symbol(0) == U'\n');
    CHECK(c.vocab.symbol(token_t(c.vocab.size() - 1)) == U'\U0001F642');
    CHECK(c.vocab.decode(c.tokens) == "caf\xC3\xA9 \xE2\x82\xAC\n%\n\xF0\x9F\x99\x82 ab\n");

    const auto bytes = data::read_corpus(d / "a", data::text_unit::bytes);
    CHECK(bytes.tokens.size() == 12);                          // é is 2 bytes, € 3
    CHECK(bytes.vocab.decode(bytes.tokens) == "caf\xC3\xA9 \xE2\x82\xAC\n%\n");

    // Saved and loaded, the vocabulary encodes another text the same way; a symbol it lacks is named.
    c.vocab.save(d / "vocab.txt");
    const auto v = data::vocabulary::load(d / "vocab.txt");
    CHECK(v.size() == c.vocab.size());
    const auto again = data::read_corpus(d / "b", data::text_unit::utf8, &v);
    CHECK(v.decode(again.tokens) == "\xF0\x9F\x99\x82 ab\n");
    write(d / "c", "abz");
    CHECK(thrown_message<std::out_of_range>([&] { data::read_corpus(d / "c", data::text_unit::utf8, &v); })
              .find("symbol U+007A is not in the vocabulary of 10") != std::string::npos);
    CHECK(thrown_message<std::out_of_range>([&] { (void)v.symbol(10); }).find("token id 10 is outside") != std::string::npos);
    std::filesystem::remove_all(d);
}

TEST_CASE("bad text is refused with the file and the byte offset") {
    const auto d = temp_dir("bad");
    auto error_of = [&](const std::string& bytes) {
        write(d / "t", bytes);
        return thrown_message<data::data_error>([&] { data::read_corpus(d / "t", data::text_unit::utf8); });
    };
    CHECK(error_of("ab\xFF").find("/t' at byte 2: not UTF-8 (a byte that cannot start a character)") != std::string::npos);
    CHECK(error_of("a\xC3(").find("at byte 2: not UTF-8 (a missing continuation byte)") != std::string::npos);
    CHECK(error_of("a\xE2\x82").find("at byte 1: not UTF-8 (a character cut off") != std::string::npos);
    CHECK(error_of("\xE0\x80\x80").find("at byte 0: not UTF-8 (an overlong form)") != std::string::npos);
    CHECK(error_of("\xED\xA0\x80").find("(a surrogate)") != std::string::npos);
    CHECK(error_of("\xF4\x90\x80\x80").find("(past U+10FFFF)") != std::string::npos);
    CHECK(error_of("").find("'" + (d / "t").string() + "' is empty") != std::string::npos);
    CHECK(thrown_message<data::data_error>([&] { data::read_corpus(d / "missing"); }).find("no such file or directory") !=
          std::string::npos);
    write(d / "v", "typenet-vocabulary 1 utf8 2\n61\nzz\n");
    CHECK(thrown_message<data::data_error>([&] { data::vocabulary::load(d / "v"); })
              .find("line 3: expected a symbol in hex, found 'zz'") != std::string::npos);
    write(d / "v", "something else\n");
    CHECK(thrown_message<data::data_error>([&] { data::vocabulary::load(d / "v"); }).find("line 1") != std::string::npos);
    std::filesystem::remove_all(d);
}

TEST_CASE("split holds out the tail; stream batches continue each row from one batch to the next") {
    std::vector<token_t> t(103);
    for (std::size_t i = 0; i < t.size(); ++i) t[i] = token_t(i);
    const auto [train, val] = data::split(t, 0.1);
    CHECK(train.size() == 93);
    CHECK(val.front() == 93);

    // 93 tokens, 3 streams of 31: batches of 3 x 4 steps, (31 - 1) / 4 = 7 of them.
    data::stream_batches b(train, 3, 4);
    CHECK(b.batches() == 7);
    std::vector<token_t> x(12), y(12), prev;
    int k = 0;
    while (b.next(x, y)) {
        for (std::size_t r = 0; r < 3; ++r) {
            CHECK(x[r * 4] == token_t(r * 31 + std::size_t(k) * 4));                // stream r, step 4k
            for (std::size_t s = 0; s < 4; ++s) CHECK(y[r * 4 + s] == x[r * 4 + s] + 1);
            if (k > 0) CHECK(x[r * 4] == prev[r * 4 + 3] + 1);                      // continues the row
        }
        prev = x;
        ++k;
    }
    CHECK(k == 7);
    CHECK(thrown_message<std::invalid_argument>([&] { data::stream_batches(train, 32, 4); })
              .find("93 tokens make 32 streams of 2, shorter than one window of 4 steps") != std::string::npos);
}
