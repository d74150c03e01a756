// fuzz/make_seeds.cpp — writes the fuzz targets' seed corpora (fuzz/corpus/{safetensors,checkpoint,idx}):
// valid files written by typenet itself, and invalid ones derived from them byte by byte.
// The network types must be the fuzz targets' (fuzz/safetensors_fuzz.cpp, fuzz/checkpoint_fuzz.cpp).
// Regenerate from the repository root (g++, as the library's own build):
//   g++ -std=c++20 -O1 -I include fuzz/make_seeds.cpp -o build/make_seeds -lz && build/make_seeds fuzz/corpus
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <span>
#include <string>
#include <vector>

#include "typenet/io/model.hpp"
#include "typenet/layers/conv.hpp"
#include "typenet/layers/dense.hpp"
#include "typenet/layers/flatten.hpp"
#include "typenet/layers/pool.hpp"
#include "typenet/optim/optimizers.hpp"
#include "typenet/train/checkpoint.hpp"

using namespace typenet;
namespace fs = std::filesystem;
using bytes = std::vector<unsigned char>;

namespace {
// As in fuzz/safetensors_fuzz.cpp and fuzz/checkpoint_fuzz.cpp.
template <class T>
using st_net_of = basic_network<T, input<1, 8, 8>, conv2d<2, 3, padding<1>>, max_pool2d<2>, flatten, dense<4>>;
using st_net = st_net_of<float>;
using ck_net = network<input<2>, dense<4>, dense<2>>;

fs::path out_dir;

bytes slurp(const fs::path& p) {
    std::ifstream f(p, std::ios::binary);
    return bytes(std::istreambuf_iterator<char>(f), {});
}
void put(const std::string& sub, const std::string& name, const bytes& b) {
    const fs::path p = out_dir / sub / name;
    std::ofstream(p, std::ios::binary).write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
    std::cout << p.string() << ": " << b.size() << " bytes\n";
}
bytes head(const bytes& b, std::size_t n) { return bytes(b.begin(), b.begin() + std::ptrdiff_t(std::min(n, b.size()))); }

// A safetensors file from its header text and data; len overrides the header length field.
bytes safetensors(const std::string& header, const bytes& data, std::uint64_t len = ~std::uint64_t(0)) {
    if (len == ~std::uint64_t(0)) len = header.size();
    bytes b(8);
    for (int i = 0; i < 8; ++i) b[std::size_t(i)] = static_cast<unsigned char>(len >> (8 * i));
    b.insert(b.end(), header.begin(), header.end());
    b.insert(b.end(), data.begin(), data.end());
    return b;
}
// The data section's first byte.
std::size_t data_start(const bytes& b) {
    return 8 + std::size_t(io::detail::load_le<std::uint64_t>(b.data()));
}

std::uint16_t to_half(float f) {            // round to nearest; subnormal halves flush to zero
    const std::uint32_t u = std::bit_cast<std::uint32_t>(f), sign = (u >> 16) & 0x8000u;
    const int exp = int((u >> 23) & 0xff) - 127 + 15;
    if (exp <= 0) return std::uint16_t(sign);
    if (exp >= 31) return std::uint16_t(sign | 0x7c00u);
    const std::uint32_t man = u & 0x7fffffu, h = sign | (std::uint32_t(exp) << 10) | (man >> 13);
    return std::uint16_t(h + ((man >> 12) & 1u));
}
std::uint16_t to_bf16(float f) { return std::uint16_t(std::bit_cast<std::uint32_t>(f) >> 16); }

// The model's tensors converted to a 16-bit dtype.
template <class Convert>
void write_16bit(const st_net& model, io::dtype t, Convert convert, const fs::path& p) {
    io::safetensors_writer w;
    std::vector<std::vector<std::uint16_t>> keep;
    const auto list = st_net::tensors();
    keep.reserve(list.size());
    for (const auto& e : list) {
        const float* src = model.parameters().data() + e.offset;
        keep.emplace_back();
        for (std::size_t i = 0; i < e.size(); ++i) keep.back().push_back(convert(src[i]));
        w.add(e.name, t, io::detail::shape64(e.shape), keep.back().data(), keep.back().size() * 2);
    }
    w.metadata("format", "pt");
    w.write(p);
}

void safetensors_seeds() {
    const fs::path tmp = out_dir / "tmp.safetensors";
    st_net model{seed{1}};
    io::save(model, tmp);
    const bytes valid = slurp(tmp);
    put("safetensors", "valid_f32.safetensors", valid);
    st_net_of<double> model64{seed{1}};
    io::save(model64, tmp);
    put("safetensors", "valid_f64.safetensors", slurp(tmp));
    write_16bit(model, io::dtype::f16, to_half, tmp);
    put("safetensors", "valid_f16.safetensors", slurp(tmp));
    write_16bit(model, io::dtype::bf16, to_bf16, tmp);
    put("safetensors", "valid_bf16.safetensors", slurp(tmp));
    {   // every integer dtype, F8 (not convertible), a scalar and an empty tensor
        io::safetensors_writer w;
        const std::int32_t i32[3] = {-1, 2, 1 << 30};
        const std::int64_t i64[2] = {-5, std::int64_t(1) << 62};
        const unsigned char u8[4] = {0, 1, 200, 255}, f8[2] = {0x38, 0x7f};
        const float scalar = 3.5f;
        w.add("ints", io::dtype::i32, {3}, i32, sizeof i32);
        w.add("longs", io::dtype::i64, {2, 1}, i64, sizeof i64);
        w.add("bytes", io::dtype::u8, {2, 2}, u8, sizeof u8);
        w.add("flags", io::dtype::boolean, {4}, u8, sizeof u8);
        w.add("fp8", io::dtype::f8_e4m3, {2}, f8, sizeof f8);
        w.add("scalar", io::dtype::f32, {}, &scalar, sizeof scalar);
        w.add("empty", io::dtype::f32, {0, 3}, nullptr, 0);
        w.metadata("format", "pt");
        w.metadata("note", "dtypes");
        w.write(tmp);
        put("safetensors", "dtypes.safetensors", slurp(tmp));
    }
    fs::remove(tmp);

    put("safetensors", "empty_header.safetensors", safetensors("{}", {}));
    put("safetensors", "truncated.safetensors", head(valid, valid.size() / 2));
    put("safetensors", "header_length_huge.safetensors", safetensors(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", bytes(4), 0xffffffffffffff00ull));
    put("safetensors", "header_length_past_end.safetensors", safetensors(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", bytes(4), 60));
    const bytes twelve(12, 0x3f);
    put("safetensors", "overlap.safetensors",
        safetensors(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", twelve));
    put("safetensors", "gap.safetensors",
        safetensors(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})", twelve));
    put("safetensors", "duplicate.safetensors",
        safetensors(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", twelve));
    put("safetensors", "shape_overflow.safetensors",
        safetensors(R"({"a":{"dtype":"F64","shape":[4294967296,4294967296,16],"data_offsets":[0,0]}})", {}));
    put("safetensors", "nested.safetensors", safetensors(R"({"__metadata__":{"a":{"b":{"c":[1]}}}})", {}));
    put("safetensors", "wrong_shape.safetensors",
        safetensors(R"({"0.weight":{"dtype":"BF16","shape":[2,1,3,2],"data_offsets":[0,24]}})", bytes(24, 0x3f)));
    bytes nan = valid;                                        // the first value of the first tensor: NaN
    const std::size_t at = data_start(nan);
    nan[at + 2] = 0xc0;
    nan[at + 3] = 0x7f;
    put("safetensors", "nan_value.safetensors", nan);
}

data::dataset<float> tiny_data() {
    data::dataset<float> d;
    d.sample_shape = {2};
    d.classes = 2;
    for (int i = 0; i < 20; ++i) {                        // 20 samples, batch 8: the last batch is short
        const float a = float(i % 5) - 2.0f, b = float(i % 3) - 1.0f;
        d.x.push_back(a);
        d.x.push_back(b);
        d.y.push_back(a * b > 0 ? 1 : 0);
    }
    return d;
}

void checkpoint_seeds() {
    const fs::path tmp = out_dir / "tmp.ckpt";
    const auto d = tiny_data();
    {
        ck_net model{seed{1}};
        optim::adam opt{model};
        checkpointer ck{model, opt, tmp, {.on_interrupt = false}};
        fit(model, opt, loss::cross_entropy{}, d, {.epochs = 1, .batch = 8}, ck);
    }
    const bytes epoch_end = slurp(tmp);
    put("checkpoint", "epoch_end.safetensors", epoch_end);
    {
        ck_net model{seed{2}};
        optim::adam opt{model};
        fit(model, opt, loss::cross_entropy{}, d, {.epochs = 2, .batch = 8, .seed = 3}, [&](const fit_state& s) {
            if (s.step == 4) io::save_checkpoint(tmp, model, opt, s);
        });
        put("checkpoint", "mid_epoch.safetensors", slurp(tmp));
    }
    {
        ck_net model{seed{1}};
        optim::sgd opt{model};
        fit(model, opt, loss::cross_entropy{}, d, {.epochs = 1, .batch = 8}, checkpointer{model, opt, tmp, {.on_interrupt = false}});
        put("checkpoint", "other_optimizer.safetensors", slurp(tmp));
    }
    {
        using other = network<input<2>, dense<3>, dense<2>>;
        other model{seed{1}};
        optim::adam opt{model};
        fit(model, opt, loss::cross_entropy{}, d, {.epochs = 1, .batch = 8}, checkpointer{model, opt, tmp, {.on_interrupt = false}});
        put("checkpoint", "other_model.safetensors", slurp(tmp));
    }
    fs::remove(tmp);
    put("checkpoint", "truncated.safetensors", head(epoch_end, epoch_end.size() * 3 / 4));
    {   // fit.order names a sample past the end
        bytes b = epoch_end;
        const io::safetensors_reader r(std::span<const unsigned char>(b), "seed");
        const auto* order = r.find("fit.order");
        b[data_start(b) + order->begin + 7] = 0x40;
        put("checkpoint", "order_out_of_range.safetensors", b);
    }
}

void idx_seeds() {
    bytes images = {0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 3};
    for (int i = 0; i < 18; ++i) images.push_back(static_cast<unsigned char>(i * 14));
    put("idx", "images_2x3x3.idx", images);
    put("idx", "labels_5.idx", {0, 0, 8, 1, 0, 0, 0, 5, 3, 1, 4, 1, 5});
    put("idx", "rank4.idx", {0, 0, 8, 4, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 2, 9, 8, 7, 6});
    put("idx", "truncated.idx", head(images, images.size() - 3));
    put("idx", "zero_extent.idx", {0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 0});
    put("idx", "huge_extents.idx", {0, 0, 8, 4, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255});
    put("idx", "float_type.idx", {0, 0, 0x0d, 1, 0, 0, 0, 1, 0, 0, 0x80, 0x3f});
}
}  // namespace

int main(int argc, char** argv) {
    out_dir = argc > 1 ? argv[1] : "fuzz/corpus";
    for (const char* sub : {"safetensors", "checkpoint", "idx"}) fs::create_directories(out_dir / sub);
    safetensors_seeds();
    checkpoint_seeds();
    idx_seeds();
}
