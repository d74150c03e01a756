// tests/kernels/conv_transpose_test.cpp — kernels/cpu/conv.hpp's conv_transpose2d (GEMM + col2im)
// against a plain nested-loop transposed convolution written here, on sampled ragged geometries
// (channels 1..5, H, W 1..9, K 1..4, stride 1..3, padding 0..2, output_padding below stride or
// dilation, dilation 1..2, groups dividing both channel counts), in double, with one thread and two.
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
using typenet::kernels::cpu::conv_transpose2d_geometry;
using typenet::kernels::cpu::index_t;



// The definition, one input pixel scattered at a time (torch.nn.ConvTranspose2d):
//   y[b, o, iy S - P + ky D, ix S - P + kx D] += w[c, o - g*O/G, ky, kx] x[b, c, iy, ix]
// for g = c / (C/G), o in group g, targets inside the output; plus bias[o]. dx, dw, db are its adjoints.
conv_ref_result conv_transpose2d_direct(const conv_transpose2d_geometry& g, index_t batch, const std::vector<double>& x,
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
            for (index_t i = 0; i < oh * ow; ++i) {
                const std::size_t yi = std::size_t((b * g.o + o) * oh * ow + i);
                r.y[yi] += bias[std::size_t(o)];
                r.db[std::size_t(o)] += dy[yi];
            }
    for (index_t b = 0; b < batch; ++b)
        for (index_t c = 0; c < g.c; ++c)
            for (index_t iy = 0; iy < g.h; ++iy)
                for (index_t ix = 0; ix < g.w; ++ix) {
                    const std::size_t xi = std::size_t(((b * g.c + c) * g.h + iy) * g.w + ix);
                    for (index_t oo = 0; oo < og; ++oo)
                        for (index_t ky = 0; ky < g.kh; ++ky)
                            for (index_t kx = 0; kx < g.kw; ++kx) {
                                const index_t oy = iy * g.stride - g.pad + ky * g.dilation;
                                const index_t ox = ix * g.stride - g.pad + kx * g.dilation;
                                if (oy < 0 || oy >= oh || ox < 0 || ox >= ow) continue;
                                const index_t o = (c / cg) * og + oo;
                                const std::size_t yi = std::size_t(((b * g.o + o) * oh + oy) * ow + ox);
                                const std::size_t wi = std::size_t(((c * og + oo) * g.kh + ky) * g.kw + kx);
                                r.y[yi] += w[wi] * x[xi];
                                r.dx[xi] += w[wi] * dy[yi];
                                r.dw[wi] += x[xi] * dy[yi];
                            }
                }
    return r;
}

// Max |got - expected| / max(1, |expected|); reports the first bad index.

std::string describe(const conv_transpose2d_geometry& g, index_t batch) {
    char s[240];
    std::snprintf(s, sizeof s,
                  "B=%ld C=%ld H=%ld W=%ld O=%ld K=%ldx%ld stride=%ld pad=%ld output_pad=%ld dilation=%ld groups=%ld",
                  long(batch), long(g.c), long(g.h), long(g.w), long(g.o), long(g.kh), long(g.kw), long(g.stride),
                  long(g.pad), long(g.output_pad), long(g.dilation), long(g.groups));
    return s;
}

// Forward, then backward with and without dx, against the reference; returns the worst error. dw and
// db start from nonzero values (the kernel adds to them); col starts as NaN (it is scratch).
double check_geometry(const conv_transpose2d_geometry& g, index_t batch, draw& d) {
    const std::string config = describe(g, batch);
    const index_t oh = g.oh(), ow = g.ow();
    REQUIRE_MESSAGE((oh >= 1 && ow >= 1), config);
    std::vector<double> x(std::size_t(batch * g.c * g.h * g.w)), w(std::size_t(g.c * g.o / g.groups * g.kh * g.kw)),
        bias(std::size_t(g.o)), dy(std::size_t(batch * g.o * oh * ow));
    for (auto* v : {&x, &w, &bias, &dy})
        for (auto& e : *v) e = d.uniform();
    const conv_ref_result ref = conv_transpose2d_direct(g, batch, x, w, bias, dy);

    std::vector<double> y(ref.y.size(), std::numeric_limits<double>::quiet_NaN());
    std::vector<double> col(std::size_t(batch * g.col_size()), std::numeric_limits<double>::quiet_NaN());
    typenet::kernels::cpu::conv_transpose2d_forward(g, batch, x.data(), w.data(), bias.data(), y.data(), col.data());
    double worst = max_error(y, ref.y, "y", config);

    std::vector<double> dw0(w.size()), db0(bias.size());
    for (auto& e : dw0) e = d.uniform();
    for (auto& e : db0) e = d.uniform();
    std::vector<double> dw_expect(w.size()), db_expect(bias.size());
    for (std::size_t i = 0; i < w.size(); ++i) dw_expect[i] = dw0[i] + ref.dw[i];
    for (std::size_t i = 0; i < bias.size(); ++i) db_expect[i] = db0[i] + ref.db[i];

    std::fill(col.begin(), col.end(), std::numeric_limits<double>::quiet_NaN());
    std::vector<double> dx(x.size(), std::numeric_limits<double>::quiet_NaN()), dw = dw0, db = db0;
    typenet::kernels::cpu::conv_transpose2d_backward(g, batch, x.data(), w.data(), dy.data(), col.data(), dx.data(),
                                                     dw.data(), db.data());
    worst = std::max(worst, max_error(dx, ref.dx, "dx", config));
    worst = std::max(worst, max_error(dw, dw_expect, "dw", config));
    worst = std::max(worst, max_error(db, db_expect, "db", config));

    dw = dw0;
    db = db0;
    typenet::kernels::cpu::conv_transpose2d_backward(g, batch, x.data(), w.data(), dy.data(), col.data(),
                                                     static_cast<double*>(nullptr), dw.data(), db.data());
    worst = std::max(worst, max_error(dw, dw_expect, "dw (no dx)", config));
    worst = std::max(worst, max_error(db, db_expect, "db (no dx)", config));
    return worst;
}


std::vector<std::pair<conv_transpose2d_geometry, index_t>> sampled_geometries(std::size_t n) {
    draw d{20241123};
    std::vector<std::pair<conv_transpose2d_geometry, index_t>> out;
    while (out.size() < n) {
        conv_transpose2d_geometry g{};
        g.c = d.in(1, 5); g.h = d.in(1, 9); g.w = d.in(1, 9);
        g.o = d.in(1, 5); g.kh = d.in(1, 4); g.kw = d.in(1, 4);
        if (d.in(0, 2) == 0) g.kw = g.kh;                                 // square kernels too
        g.stride = d.in(1, 3); g.pad = d.in(0, 2); g.dilation = d.in(1, 2);
        g.output_pad = d.in(0, std::max(g.stride, g.dilation) - 1);       // torch: below stride or dilation
        g.groups = pick_divisor(g.c, g.o, d);
        if (g.oh() < 1 || g.ow() < 1) continue;
        out.push_back({g, d.in(1, 4)});
    }
    return out;
}

}  // namespace

TEST_CASE("conv_transpose2d kernels match a direct transposed convolution on sampled ragged geometries") {
    restore_threads restore;
    const auto geoms = sampled_geometries(150);
    std::size_t with_groups = 0, with_dilation = 0, with_stride = 0, with_pad = 0, with_opad = 0, opad_ge_stride = 0,
                rect = 0;
    for (const auto& [g, b] : geoms) {
        with_groups += g.groups > 1;
        with_dilation += g.dilation > 1;
        with_stride += g.stride > 1;
        with_pad += g.pad > 0;
        with_opad += g.output_pad > 0;
        opad_ge_stride += g.output_pad >= g.stride;
        rect += g.kh != g.kw;
    }
    CHECK(with_groups > 10);   // the sample covers every option
    CHECK(with_dilation > 15);
    CHECK(with_stride > 15);
    CHECK(with_pad > 15);
    CHECK(with_opad > 15);
    CHECK(opad_ge_stride > 3);
    CHECK(rect > 15);
    for (int threads : {1, 2}) {
        CAPTURE(threads);
        typenet::kernels::cpu::set_num_threads(threads);
        draw d{std::uint64_t(77 + threads)};
        double worst = 0;
        for (const auto& [g, b] : geoms) worst = std::max(worst, check_geometry(g, b, d));
        CHECK(worst < 1e-11);
    }
}

TEST_CASE("conv_transpose2d kernels split the batch over two threads and still match") {
    restore_threads restore;
    typenet::kernels::cpu::set_num_threads(2);
    // Big enough that conv_threads asks for two threads (when OpenMP is on); odd batches split
    // unevenly. {C, H, W, O, KH, KW, stride, pad, output_pad, dilation, groups}
    const conv_transpose2d_geometry geoms[] = {
        {16, 14, 14, 16, 3, 3, 2, 1, 1, 1, 1},
        {8, 16, 15, 8, 3, 3, 1, 1, 1, 2, 2},
        {12, 16, 15, 12, 4, 2, 2, 1, 0, 1, 3},
    };
    draw d{7};
    for (const auto& g : geoms) {
        for (index_t batch : {6, 7, 9}) {
#if defined(_OPENMP)
            const index_t kg = g.col_rows() / g.groups;
            CHECK(typenet::kernels::cpu::detail::conv_threads(batch, 2.0 * double(g.c * kg * g.h * g.w)) == 2);
#endif
            CHECK(check_geometry(g, batch, d) < 1e-11);
        }
    }
}
