// data/text.hpp — text as token ids for sequence models: a corpus read from files (bytes, or UTF-8
// characters checked as they are decoded), its vocabulary (built from the text, saved and loaded),
// a train/validation split, and batches of contiguous windows laid out for truncated BPTT.
//   auto c = data::read_corpus("/usr/share/games/fortunes", data::text_unit::utf8);
//   auto [train, val] = data::split(c.tokens, 0.1);
//   data::stream_batches batches(train, 32, 64);           // 32 parallel streams, 64 steps
//   while (batches.next(x, y)) ...                         // x, y (B, T): y is x one step on
// Errors name the file and the byte offset (not UTF-8, empty) or the symbol (not in a vocabulary).
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "typenet/data/idx.hpp"

namespace typenet::data {

enum class text_unit { bytes, utf8 };

using token_t = std::int32_t;

// Symbol <-> id: ids in order of the symbols' values (a byte, or a Unicode code point), so the same
// text gives the same vocabulary on every machine.
class vocabulary {
public:
    vocabulary() = default;
    vocabulary(text_unit unit, std::vector<char32_t> symbols) : unit_(unit), symbols_(std::move(symbols)) {
        std::sort(symbols_.begin(), symbols_.end());
        symbols_.erase(std::unique(symbols_.begin(), symbols_.end()), symbols_.end());
        for (std::size_t i = 0; i < symbols_.size(); ++i) ids_[symbols_[i]] = token_t(i);
    }
    text_unit unit() const { return unit_; }
    std::size_t size() const { return symbols_.size(); }
    char32_t symbol(token_t id) const {
        if (id < 0 || std::size_t(id) >= symbols_.size())
            throw std::out_of_range("typenet: vocabulary: token id " + std::to_string(id) + " is outside the vocabulary of " +
                                    std::to_string(symbols_.size()));
        return symbols_[std::size_t(id)];
    }
    bool contains(char32_t s) const { return ids_.count(s) != 0; }
    token_t id(char32_t s) const {
        const auto it = ids_.find(s);
        if (it == ids_.end())
            throw std::out_of_range("typenet: vocabulary: symbol U+" + hex(s) + " is not in the vocabulary of " +
                                    std::to_string(symbols_.size()));
        return it->second;
    }
    // Text of the ids: bytes as they are, code points as UTF-8.
    std::string decode(std::span<const token_t> ids) const {
        std::string s;
        for (token_t t : ids) append(s, symbol(t));
        return s;
    }

    // One line "typenet-vocabulary 1 bytes|utf8 N", then N code points in hex, one per line.
    // Written atomically (a temporary file beside it, renamed over it).
    void save(const std::filesystem::path& path) const {
        const auto tmp = std::filesystem::path(path.string() + ".tmp");
        {
            std::ofstream f(tmp, std::ios::trunc);
            f << "typenet-vocabulary 1 " << (unit_ == text_unit::bytes ? "bytes" : "utf8") << " " << symbols_.size() << "\n";
            for (char32_t c : symbols_) f << hex(c) << "\n";
            f.flush();
            if (!f) throw std::runtime_error("typenet: vocabulary: cannot write '" + tmp.string() + "'");
        }
        std::error_code ec;
        std::filesystem::rename(tmp, path, ec);
        if (ec) throw std::runtime_error("typenet: vocabulary: cannot write '" + path.string() + "': " + ec.message());
    }
    static vocabulary load(const std::filesystem::path& path) {
        std::ifstream f(path);
        if (!f) throw data_error("typenet: vocabulary: cannot open '" + path.string() + "'");
        std::string magic, unit;
        int version = 0;
        std::size_t n = 0;
        if (!(f >> magic >> version >> unit >> n) || magic != "typenet-vocabulary" || version != 1 ||
            (unit != "bytes" && unit != "utf8") || n > 0x110000)
            throw data_error("typenet: vocabulary: '" + path.string() + "' line 1: expected 'typenet-vocabulary 1 bytes|utf8 N'");
        std::vector<char32_t> symbols;
        for (std::size_t i = 0; i < n; ++i) {
            std::string h;
            std::size_t used = 0;
            unsigned long v = 0;
            if (f >> h) try { v = std::stoul(h, &used, 16); } catch (const std::exception&) { used = 0; }
            if (used == 0 || used != h.size() || v > 0x10ffff || (unit == "bytes" && v > 0xff))
                throw data_error("typenet: vocabulary: '" + path.string() + "' line " + std::to_string(i + 2) +
                                 ": expected a symbol in hex, found '" + h + "'");
            symbols.push_back(char32_t(v));
        }
        vocabulary v(unit == "bytes" ? text_unit::bytes : text_unit::utf8, symbols);
        if (v.size() != n) throw data_error("typenet: vocabulary: '" + path.string() + "' names a symbol twice");
        return v;
    }

private:
    static std::string hex(char32_t c) {
        char b[16];
        std::snprintf(b, sizeof b, "%04X", unsigned(c));
        return b;
    }
    void append(std::string& s, char32_t c) const {
        if (unit_ == text_unit::bytes || c < 0x80) {
            s += char(c);
        } else if (c < 0x800) {
            s += char(0xC0 | (c >> 6));
            s += char(0x80 | (c & 0x3F));
        } else if (c < 0x10000) {
            s += char(0xE0 | (c >> 12));
            s += char(0x80 | ((c >> 6) & 0x3F));
            s += char(0x80 | (c & 0x3F));
        } else {
            s += char(0xF0 | (c >> 18));
            s += char(0x80 | ((c >> 12) & 0x3F));
            s += char(0x80 | ((c >> 6) & 0x3F));
            s += char(0x80 | (c & 0x3F));
        }
    }
    text_unit unit_ = text_unit::bytes;
    std::vector<char32_t> symbols_;
    std::map<char32_t, token_t> ids_;
};

namespace detail {
// The code points of UTF-8 text; a malformed sequence (bad lead or continuation byte, overlong
// form, surrogate, past U+10FFFF, cut off at the end) throws with its byte offset.
inline std::vector<char32_t> decode_utf8(const std::string& s, const std::string& what) {
    std::vector<char32_t> out;
    out.reserve(s.size());
    auto fail = [&](std::size_t at, const char* why) {
        throw data_error("typenet: read_corpus: " + what + " at byte " + std::to_string(at) + ": not UTF-8 (" + why + ")");
    };
    for (std::size_t i = 0; i < s.size();) {
        const unsigned char b = static_cast<unsigned char>(s[i]);
        std::size_t n = 0;
        char32_t c = 0;
        if (b < 0x80) { out.push_back(b); ++i; continue; }
        if (b >= 0xC2 && b <= 0xDF) { n = 1; c = b & 0x1F; }
        else if (b >= 0xE0 && b <= 0xEF) { n = 2; c = b & 0x0F; }
        else if (b >= 0xF0 && b <= 0xF4) { n = 3; c = b & 0x07; }
        else fail(i, "a byte that cannot start a character");
        if (i + n >= s.size()) fail(i, "a character cut off by the end of the text");
        for (std::size_t k = 1; k <= n; ++k) {
            const unsigned char cb = static_cast<unsigned char>(s[i + k]);
            if ((cb & 0xC0) != 0x80) fail(i + k, "a missing continuation byte");
            c = (c << 6) | (cb & 0x3F);
        }
        if ((n == 2 && c < 0x800) || (n == 3 && c < 0x10000)) fail(i, "an overlong form");
        if (c >= 0xD800 && c <= 0xDFFF) fail(i, "a surrogate");
        if (c > 0x10FFFF) fail(i, "past U+10FFFF");
        out.push_back(c);
        i += n + 1;
    }
    return out;
}

// The text files of `path`: the file itself, or a directory's regular files in name order
// (fortune's binary indexes, *.dat, and links to files already read are skipped).
inline std::vector<std::filesystem::path> text_files(const std::filesystem::path& path) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec))
        throw data_error("typenet: read_corpus: cannot open '" + path.string() + "': no such file or directory");
    if (!std::filesystem::is_directory(path, ec)) return {path};
    std::vector<std::filesystem::path> files;
    for (const auto& e : std::filesystem::directory_iterator(path, ec)) {
        if (e.is_symlink(ec) || !e.is_regular_file(ec) || e.path().extension() == ".dat") continue;
        files.push_back(e.path());
    }
    std::sort(files.begin(), files.end());
    if (files.empty()) throw data_error("typenet: read_corpus: '" + path.string() + "' holds no text files");
    return files;
}
}  // namespace detail

struct corpus {
    vocabulary vocab;
    std::vector<token_t> tokens;        // the whole text, file after file
};

// Reads a file, or every text file of a directory, as bytes or as UTF-8 characters; builds the
// vocabulary from it (or uses `vocab`, when given, and refuses a symbol outside it).
inline corpus read_corpus(const std::filesystem::path& path, text_unit unit = text_unit::utf8,
                          const vocabulary* vocab = nullptr) {
    std::vector<char32_t> symbols;
    for (const auto& file : detail::text_files(path)) {
        std::ifstream f(file, std::ios::binary);
        if (!f) throw data_error("typenet: read_corpus: cannot open '" + file.string() + "'");
        const std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
        if (unit == text_unit::bytes) {
            for (unsigned char b : text) symbols.push_back(b);
        } else {
            const auto cps = detail::decode_utf8(text, detail::quoted(file));
            symbols.insert(symbols.end(), cps.begin(), cps.end());
        }
    }
    if (symbols.empty()) throw data_error("typenet: read_corpus: '" + path.string() + "' is empty");
    corpus c;
    c.vocab = vocab ? *vocab : vocabulary(unit, symbols);
    if (vocab && vocab->unit() != unit) throw data_error("typenet: read_corpus: the vocabulary is of another unit (bytes / UTF-8)");
    c.tokens.reserve(symbols.size());
    for (char32_t s : symbols) c.tokens.push_back(c.vocab.id(s));
    return c;
}

// The last `validation` fraction of the tokens held out (contiguous: no window spans both).
inline std::pair<std::vector<token_t>, std::vector<token_t>> split(const std::vector<token_t>& tokens, double validation) {
    if (!(validation >= 0.0 && validation < 1.0))
        throw std::invalid_argument("typenet: split: validation must be a fraction in [0, 1), got " + std::to_string(validation));
    const std::size_t n_val = std::size_t(double(tokens.size()) * validation);
    const auto cut = tokens.begin() + std::ptrdiff_t(tokens.size() - n_val);
    return {std::vector<token_t>(tokens.begin(), cut), std::vector<token_t>(cut, tokens.end())};
}

// Batches for a language model trained with truncated backpropagation through time: the tokens
// are cut into `batch` contiguous streams of equal length; batch k holds steps [k T, (k + 1) T) of
// every stream, so row b of batch k + 1 continues row b of batch k (a recurrent layer may carry
// its hidden state across). x (B, T) and y (B, T), y one token on from x. The last, shorter batch
// is dropped.
class stream_batches {
public:
    stream_batches(const std::vector<token_t>& tokens, std::size_t batch, std::size_t steps)
        : tokens_(&tokens), batch_(batch), steps_(steps) {
        if (batch == 0 || steps == 0) throw std::invalid_argument("typenet: stream_batches: batch and steps must be > 0");
        stream_ = tokens.size() / batch;
        if (stream_ < steps + 1)
            throw std::invalid_argument("typenet: stream_batches: " + std::to_string(tokens.size()) + " tokens make " +
                                        std::to_string(batch) + " streams of " + std::to_string(stream_) +
                                        ", shorter than one window of " + std::to_string(steps) + " steps and its target");
    }
    std::size_t batches() const { return (stream_ - 1) / steps_; }
    void reset() { k_ = 0; }
    // Fills x and y (batch * steps each) with the next batch; false after the last.
    bool next(std::span<token_t> x, std::span<token_t> y) {
        if (k_ >= batches()) return false;
        if (x.size() != batch_ * steps_ || y.size() != batch_ * steps_)
            throw std::invalid_argument("typenet: stream_batches: x and y need " + std::to_string(batch_ * steps_) + " tokens");
        for (std::size_t b = 0; b < batch_; ++b) {
            const token_t* s = tokens_->data() + b * stream_ + k_ * steps_;
            std::copy(s, s + steps_, x.begin() + std::ptrdiff_t(b * steps_));
            std::copy(s + 1, s + steps_ + 1, y.begin() + std::ptrdiff_t(b * steps_));
        }
        ++k_;
        return true;
    }

private:
    const std::vector<token_t>* tokens_;
    std::size_t batch_, steps_, stream_ = 0, k_ = 0;
};

}  // namespace typenet::data
