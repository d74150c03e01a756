// tests/kernels/conv_test.cpp — kernels/cpu/conv.hpp (im2col + GEMM, the direct kernel, Winograd) against a plain nested-loop
// direct convolution written here, on a few hundred sampled ragged geometries (channels 1..5,
// H, W 1..11, K 1..4, stride 1..3, padding 0..2, dilation 1..2, groups dividing both channel
// counts), in double, with one thread and with two.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <string>
#include <vector>

#include "support/conv_kernels.hpp"
#include "typenet/kernels/cpu/conv.hpp"

namespace {
using typenet::test::draw;
using typenet::test::conv_ref_result;
using typenet::test::max_error;
using typenet::test::pick_divisor;
using typenet::test::restore_threads;
using typenet::kernels::cpu::index_t;
using typenet::kernels::cpu::conv2d_geometry;



// The definition, one output (or one gradient term) at a time:
//   y[b, o, oy, ox] = bias[o] + sum_{ci, ky, kx} w[o, ci, ky, kx] x[b, g*C/G + ci, oy S - P + ky D, ox S - P + kx D]
// with g = o / (O/G) and x zero outside the image; dx, dw, db are its adjoints.
conv_ref_result conv2d_direct(const conv2d_geometry& g, index_t batch, const std::vector<double>& x,
                              const std::vector<double>& w, const std::vector<double>& bias,
                              const std::vector<double>& dy) {
    const index_t oh = g.oh(), ow = g.ow(), cg = g.c / g.groups, og = g.o / g.groups;
    conv_ref_result r;
    r.y.assign(std::size_t(batch * g.o * oh * ow), 0.0);
    r.dx.assign(x.size(), 0.0);
    r.dw.assign(w.size(), 0.0);
    r.db.assign(bias.size(), 0.0);
    for (index_t b = 0; b < batch; ++b)
        for (index_t o = 0; o < g.o; ++o)
            for (index_t oy = 0; oy < oh; ++oy)
                for (index_t ox = 0; ox < ow; ++ox) {
                    const std::size_t yi = std::size_t(((b * g.o + o) * oh + oy) * ow + ox);
                    double acc = bias[std::size_t(o)];
                    const double d = dy[yi];
                    r.db[std::size_t(o)] += d;
                    for (index_t ci = 0; ci < cg; ++ci)
                        for (index_t ky = 0; ky < g.kh; ++ky)
                            for (index_t kx = 0; kx < g.kw; ++kx) {
                                const index_t iy = oy * g.stride - g.pad + ky * g.dilation;
                                const index_t ix = ox * g.stride - g.pad + kx * g.dilation;
                                if (iy < 0 || iy >= g.h || ix < 0 || ix >= g.w) continue;
                                const index_t c = (o / og) * cg + ci;
                                const std::size_t xi = std::size_t(((b * g.c + c) * g.h + iy) * g.w + ix);
                                const std::size_t wi = std::size_t(((o * cg + ci) * g.kh + ky) * g.kw + kx);
                                acc += w[wi] * x[xi];
                                r.dx[xi] += w[wi] * d;
                                r.dw[wi] += d * x[xi];
                            }
                    r.y[yi] = acc;
                }
    return r;
}

// Max |got - expected| / max(1, |expected|); reports the first bad index.

std::string describe(const conv2d_geometry& g, index_t batch) {
    char s[200];
    std::snprintf(s, sizeof s, "B=%ld C=%ld H=%ld W=%ld O=%ld K=%ldx%ld stride=%ld pad=%ld dilation=%ld groups=%ld",
                  long(batch), long(g.c), long(g.h), long(g.w), long(g.o), long(g.kh), long(g.kw), long(g.stride),
                  long(g.pad), long(g.dilation), long(g.groups));
    return s;
}

// Runs forward and backward (with and without dx) of one geometry against the reference; returns
// the worst error. dw and db start from nonzero values: the kernel must add to them. winograd:
// conv2d_forward_winograd and conv2d_backward_winograd instead of conv2d_forward and
// conv2d_backward (whichever path those choose).
double check_geometry(const conv2d_geometry& g, index_t batch, draw& d, bool winograd = false) {
    const std::string config = describe(g, batch);
    const index_t oh = g.oh(), ow = g.ow();
    REQUIRE_MESSAGE((oh >= 1 && ow >= 1), config);
    std::vector<double> x(std::size_t(batch * g.c * g.h * g.w)), w(std::size_t(g.o * g.c / g.groups * g.kh * g.kw)),
        bias(std::size_t(g.o)), dy(std::size_t(batch * g.o * oh * ow));
    for (auto* v : {&x, &w, &bias, &dy})
        for (auto& e : *v) e = d.uniform();
    const conv_ref_result ref = conv2d_direct(g, batch, x, w, bias, dy);

    const auto backward = [&](double* dx, double* dw, double* db) {
        if (winograd) typenet::kernels::cpu::conv2d_backward_winograd(g, batch, x.data(), w.data(), dy.data(), dx, dw, db);
        else typenet::kernels::cpu::conv2d_backward(g, batch, x.data(), w.data(), dy.data(), dx, dw, db);
    };
    std::vector<double> y(ref.y.size(), std::numeric_limits<double>::quiet_NaN());
    if (winograd) typenet::kernels::cpu::conv2d_forward_winograd(g, batch, x.data(), w.data(), bias.data(), y.data());
    else typenet::kernels::cpu::conv2d_forward(g, batch, x.data(), w.data(), bias.data(), y.data());
    double worst = max_error(y, ref.y, "y", config);
    // im2col + GEMM also where conv2d_forward takes the direct kernel.
    std::fill(y.begin(), y.end(), std::numeric_limits<double>::quiet_NaN());
    typenet::kernels::cpu::conv2d_forward_columns(g, batch, x.data(), w.data(), bias.data(), y.data());
    worst = std::max(worst, max_error(y, ref.y, "y (im2col + GEMM)", config));

    std::vector<double> dw0(w.size()), db0(bias.size());
    for (auto& e : dw0) e = d.uniform();
    for (auto& e : db0) e = d.uniform();
    std::vector<double> dw_expect(w.size()), db_expect(bias.size());
    for (std::size_t i = 0; i < w.size(); ++i) dw_expect[i] = dw0[i] + ref.dw[i];
    for (std::size_t i = 0; i < bias.size(); ++i) db_expect[i] = db0[i] + ref.db[i];

    std::vector<double> dx(x.size(), std::numeric_limits<double>::quiet_NaN()), dw = dw0, db = db0;
    backward(dx.data(), dw.data(), db.data());
    worst = std::max(worst, max_error(dx, ref.dx, "dx", config));
    worst = std::max(worst, max_error(dw, dw_expect, "dw", config));
    worst = std::max(worst, max_error(db, db_expect, "db", config));

    // Again, without dx, from the same forward: the same parameter gradients.
    dw = dw0;
    db = db0;
    backward(nullptr, dw.data(), db.data());
    worst = std::max(worst, max_error(dw, dw_expect, "dw (second backward, no dx)", config));
    worst = std::max(worst, max_error(db, db_expect, "db (second backward, no dx)", config));
    return worst;
}


std::vector<std::pair<conv2d_geometry, index_t>> sampled_geometries(std::size_t n) {
    draw d{20240614};
    std::vector<std::pair<conv2d_geometry, index_t>> out;
    while (out.size() < n) {
        conv2d_geometry g{};
        g.c = d.in(1, 5); g.h = d.in(1, 11); g.w = d.in(1, 11);
        g.o = d.in(1, 5); g.kh = d.in(1, 4); g.kw = d.in(1, 4);
        if (d.in(0, 2) == 0) g.kw = g.kh;                                 // square kernels too
        g.stride = d.in(1, 3); g.pad = d.in(0, 2); g.dilation = d.in(1, 2);
        g.groups = pick_divisor(g.c, g.o, d);
        if (g.dilation * (g.kh - 1) + 1 > g.h + 2 * g.pad || g.dilation * (g.kw - 1) + 1 > g.w + 2 * g.pad) continue;
        out.push_back({g, d.in(1, 4)});
    }
    return out;
}

}  // namespace

TEST_CASE("conv2d kernels match a direct convolution on sampled ragged geometries") {
    restore_threads restore;
    const auto geoms = sampled_geometries(300);
    std::size_t with_groups = 0, with_dilation = 0, with_stride = 0, with_pad = 0, rect = 0;
    for (const auto& [g, b] : geoms) {
        with_groups += g.groups > 1;
        with_dilation += g.dilation > 1;
        with_stride += g.stride > 1;
        with_pad += g.pad > 0;
        rect += g.kh != g.kw;
    }
    CHECK(with_groups > 30);   // the sample covers every option
    CHECK(with_dilation > 30);
    CHECK(with_stride > 30);
    CHECK(with_pad > 30);
    CHECK(rect > 30);
    for (int threads : {1, 2}) {
        CAPTURE(threads);
        typenet::kernels::cpu::set_num_threads(threads);
        draw d{std::uint64_t(99 + threads)};
        double worst = 0;
        for (const auto& [g, b] : geoms) worst = std::max(worst, check_geometry(g, b, d));
        CHECK(worst < 1e-11);
    }
}

TEST_CASE("conv2d's backward computes dx with the direct kernel where it applies, and matches") {
    // Stride 1, one group, square kernels, at least a channel block of inputs and wide enough rows:
    // conv_dx_direct_wins. Rows of 8..30 columns end at every position within a vector; channel
    // counts leave remainders of the output-channel blocks. {C, H, W, O, KH, KW, stride, pad, dilation, groups}
    const conv2d_geometry geoms[] = {
        {8, 8, 8, 3, 3, 3, 1, 1, 1, 1},    {13, 9, 13, 6, 3, 3, 1, 1, 1, 1},  {15, 14, 14, 16, 5, 5, 1, 2, 1, 1},
        {10, 12, 17, 5, 5, 5, 1, 2, 1, 1}, {8, 16, 16, 9, 1, 1, 1, 0, 1, 1},  {16, 28, 28, 16, 3, 3, 1, 1, 1, 1},
        {9, 10, 30, 4, 4, 4, 1, 3, 1, 1},  {11, 11, 22, 2, 2, 2, 1, 1, 1, 1},
    };
    restore_threads restore;
    draw d{77};
    for (int threads : {1, 2}) {
        typenet::kernels::cpu::set_num_threads(threads);
        for (const auto& g : geoms) {
            CAPTURE(describe(g, 3));
            CHECK(typenet::kernels::cpu::conv_dx_direct_wins<double>(g));
            CHECK(check_geometry(g, 3, d) < 1e-11);
        }
    }
}

TEST_CASE("conv2d's backward takes dx by a GEMM and col2im where the direct kernel would compute mostly padding") {
    // LeNet's second layer: dx over 14 x 14 from a 10 x 10 dy at padding 4 for the direct kernel.
    CHECK_FALSE(typenet::kernels::cpu::conv_dx_direct_wins<double>({6, 14, 14, 16, 5, 5, 1, 0, 1, 1}));
    CHECK_FALSE(typenet::kernels::cpu::conv_dx_direct_wins<float>({6, 14, 14, 16, 5, 5, 1, 0, 1, 1}));
    CHECK(typenet::kernels::cpu::conv_dx_direct_wins<float>({32, 14, 14, 32, 3, 3, 1, 1, 1, 1}));
}

TEST_CASE("conv2d kernels lay groups of samples side by side, a partial group last, and still match") {
    // Batches of 17..61 make groups of several samples (conv_group_size: products of 64 and more
    // terms) and a shorter last one;
    // 16 and more output channels per group take dw by its transpose (a GEMM panel of doubles is 16
    // wide at AVX-512, 8 at AVX2). {C, H, W, O, KH, KW, stride, pad, dilation, groups}
    const conv2d_geometry geoms[] = {
        {6, 14, 14, 16, 5, 5, 1, 0, 1, 1},   // LeNet's second layer: im2col's one-vector rows
        {8, 9, 7, 20, 3, 3, 1, 1, 1, 1},     // 'same', direct dx
        {24, 10, 11, 36, 3, 2, 2, 1, 1, 2},  // strided, grouped, 18 outputs per group
        {11, 8, 9, 17, 2, 3, 1, 2, 2, 1},    // dilated
        {32, 7, 7, 40, 3, 3, 1, 1, 1, 4},    // a ResNet's 7 x 7 stage, grouped
    };
    // Products of fewer than 64 terms keep one sample each (conv_group_size).
    CHECK(typenet::kernels::cpu::detail::conv_group_size<double>({32, 7, 7, 64, 1, 1, 1, 0, 1, 1}, 64) == 1);
    restore_threads restore;
    draw d{123};
    for (int threads : {1, 2}) {
        typenet::kernels::cpu::set_num_threads(threads);
        for (const auto& g : geoms)
            for (index_t batch : {17, 40, 61}) {
                CAPTURE(threads);
                CHECK(typenet::kernels::cpu::detail::conv_group_size<double>(g, batch) > 1);
                CHECK(check_geometry(g, batch, d) < 1e-11);
            }
    }
}

TEST_CASE("conv2d kernels in float on the examples' layers match the double reference") {
    // float's GEMM panels are twice as wide as double's: the LeNet and ResNet layers at batch 24
    // (groups of 3 samples) take each path of float's backward. {C, H, W, O, KH, KW, stride, pad, dilation, groups}
    const conv2d_geometry geoms[] = {
        {1, 28, 28, 6, 5, 5, 1, 2, 1, 1},  {6, 14, 14, 16, 5, 5, 1, 0, 1, 1}, {16, 28, 28, 32, 3, 3, 2, 1, 1, 1},
        {32, 14, 14, 32, 3, 3, 1, 1, 1, 1}, {32, 14, 14, 64, 1, 1, 2, 0, 1, 1}, {64, 7, 7, 64, 3, 3, 1, 1, 1, 1},
        {5, 13, 37, 40, 3, 4, 2, 2, 2, 1},  {4, 11, 70, 36, 2, 3, 2, 1, 1, 2},
    };
    restore_threads restore;
    typenet::kernels::cpu::set_num_threads(2);
    draw d{5};
    const index_t batch = 24;
    for (const auto& g : geoms) {
        const std::string config = describe(g, batch);
        std::vector<double> x(std::size_t(batch * g.c * g.h * g.w)), w(std::size_t(g.o * g.c / g.groups * g.kh * g.kw)),
            bias(std::size_t(g.o)), dy(std::size_t(batch * g.o * g.oh() * g.ow()));
        for (auto* v : {&x, &w, &bias, &dy})
            for (auto& e : *v) e = d.uniform();
        const conv_ref_result ref = conv2d_direct(g, batch, x, w, bias, dy);
        auto to_float = [](const std::vector<double>& v) { return std::vector<float>(v.begin(), v.end()); };
        const std::vector<float> xf = to_float(x), wf = to_float(w), bf = to_float(bias), dyf = to_float(dy);
        std::vector<float> y(ref.y.size()), dx(x.size()), dw(w.size(), 0.0f), db(bias.size(), 0.0f);
        typenet::kernels::cpu::conv2d_forward(g, batch, xf.data(), wf.data(), bf.data(), y.data());
        typenet::kernels::cpu::conv2d_backward(g, batch, xf.data(), wf.data(), dyf.data(), dx.data(), dw.data(), db.data());
        // Sums of up to C*KH*KW (y, dx) or B*OH*OW (dw) float products: relative to the terms' scale.
        auto check = [&](const std::vector<float>& got, const std::vector<double>& want, const char* what, double scale) {
            double worst = 0;
            for (std::size_t i = 0; i < got.size(); ++i) worst = std::max(worst, std::abs(double(got[i]) - want[i]) / scale);
            CHECK_MESSAGE(worst < 1e-5, config, " ", what, ": ", worst);
        };
        check(y, ref.y, "y", std::sqrt(double(g.col_rows() / g.groups)));
        check(dx, ref.dx, "dx", std::sqrt(double(g.o * g.kh * g.kw)));
        check(dw, ref.dw, "dw", std::sqrt(double(batch * g.oh() * g.ow())));
        check(std::vector<float>(db), ref.db, "db", std::sqrt(double(batch * g.oh() * g.ow())));
    }
}

TEST_CASE("conv2d by Winograd's F(2x2, 3x3) matches the direct convolution, forward and both gradients") {
    // Any channel counts, padding 0..2, odd and even output sizes (half-empty last tiles), rows of
    // one tile and rows longer than two vectors of tiles, batches that leave a partial group.
    // {C, H, W, O, KH, KW, stride, pad, dilation, groups}
    const conv2d_geometry geoms[] = {
        {3, 7, 7, 5, 3, 3, 1, 1, 1, 1},    {16, 9, 6, 19, 3, 3, 1, 0, 1, 1}, {20, 5, 11, 33, 3, 3, 1, 2, 1, 1},
        {8, 40, 37, 9, 3, 3, 1, 1, 1, 1},  {4, 1, 1, 4, 3, 3, 1, 1, 1, 1},   {2, 3, 70, 3, 3, 3, 1, 0, 1, 1},
        {64, 7, 7, 64, 3, 3, 1, 1, 1, 1},  {32, 14, 14, 32, 3, 3, 1, 1, 1, 1},
    };
    restore_threads restore;
    draw d{77};
    for (int threads : {1, 2}) {
        typenet::kernels::cpu::set_num_threads(threads);
        for (const auto& g : geoms)
            for (index_t batch : {1, 9, 19}) {
                CAPTURE(threads);
                CHECK(check_geometry(g, batch, d, true) < 1e-11);
            }
    }
    // conv2d_forward and conv2d_backward take it for a ResNet's 3x3 layers of 32 and 64 channels in
    // training batches; not at batch 1, not for 16 channels, not at stride 2, not past 256 channels.
    CHECK(typenet::kernels::cpu::conv_winograd_wins<float>({64, 7, 7, 64, 3, 3, 1, 1, 1, 1}, 64));
    CHECK(typenet::kernels::cpu::conv_winograd_wins<float>({32, 14, 14, 32, 3, 3, 1, 1, 1, 1}, 64));
    CHECK_FALSE(typenet::kernels::cpu::conv_winograd_wins<float>({64, 7, 7, 64, 3, 3, 1, 1, 1, 1}, 1));
    CHECK_FALSE(typenet::kernels::cpu::conv_winograd_wins<float>({16, 28, 28, 16, 3, 3, 1, 1, 1, 1}, 64));
    CHECK_FALSE(typenet::kernels::cpu::conv_winograd_wins<float>({32, 14, 14, 64, 3, 3, 2, 1, 1, 1}, 64));
    CHECK_FALSE(typenet::kernels::cpu::conv_winograd_wins<float>({512, 7, 7, 512, 3, 3, 1, 1, 1, 1}, 64));
}

TEST_CASE("conv2d kernels split the batch over two threads and still match") {
    restore_threads restore;
    typenet::kernels::cpu::set_num_threads(2);
    // Big enough that conv_threads asks for two threads in forward and backward (when OpenMP is on);
    // odd batches split unevenly. {C, H, W, O, KH, KW, stride, pad, dilation, groups}
    const conv2d_geometry geoms[] = {
        {5, 11, 11, 5, 4, 4, 1, 2, 1, 1},
        {8, 20, 19, 8, 3, 3, 1, 1, 2, 2},
        {6, 40, 37, 12, 3, 2, 2, 1, 1, 3},
    };
    draw d{7};
    for (const auto& g : geoms) {
        for (index_t batch : {6, 7, 9}) {
            const index_t kg = g.col_rows() / g.groups, s = g.oh() * g.ow();
#if defined(_OPENMP)
            CHECK(typenet::kernels::cpu::detail::conv_threads(batch, 2.0 * double(g.o * kg * s)) == 2);
#endif
            CHECK(check_geometry(g, batch, d) < 1e-11);
        }
    }
}

TEST_CASE("col2im_add is the adjoint of im2col") {
    draw d{3};
    for (const auto& [g, b] : sampled_geometries(60)) {
        (void)b;
        std::vector<double> x(std::size_t(g.c * g.h * g.w)), c(std::size_t(g.col_size())), col(c.size()),
            back(x.size(), 0.0);
        for (auto& e : x) e = d.uniform();
        for (auto& e : c) e = d.uniform();
        typenet::kernels::cpu::im2col(g, x.data(), col.data());
        typenet::kernels::cpu::col2im_add(g, c.data(), back.data());
        double lhs = 0, rhs = 0;                   // <im2col(x), c> == <x, col2im(c)>
        for (std::size_t i = 0; i < c.size(); ++i) lhs += col[i] * c[i];
        for (std::size_t i = 0; i < x.size(); ++i) rhs += x[i] * back[i];
        CHECK_MESSAGE(std::abs(lhs - rhs) <= 1e-12 * std::max(1.0, std::abs(lhs)), describe(g, 1));
    }
}
