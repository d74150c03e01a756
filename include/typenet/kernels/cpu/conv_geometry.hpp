// kernels/cpu/conv_geometry.hpp — a 2-D convolution's sizes (torch.nn.Conv2d's arguments) and the
// output columns each kernel tap reads inside the image.
#pragma once
#include <algorithm>

#include "typenet/kernels/cpu/common.hpp"

namespace typenet::kernels::cpu {

struct conv2d_geometry {
    index_t c, h, w;          // input channels, height, width
    index_t o, kh, kw;        // output channels, kernel height, width
    index_t stride, pad, dilation, groups;
    constexpr index_t oh() const { return (h + 2 * pad - dilation * (kh - 1) - 1) / stride + 1; }
    constexpr index_t ow() const { return (w + 2 * pad - dilation * (kw - 1) - 1) / stride + 1; }
    constexpr index_t col_rows() const { return c * kh * kw; }           // C*KH*KW
    constexpr index_t col_size() const { return col_rows() * oh() * ow(); }
};

namespace detail {
// The output columns [lo, hi) whose input column ox*stride - pad + off (off = kx*dilation) lies in
// [0, w): the rest read the zero padding. Hoisting this out of the row loops leaves the inner loops
// without a test per element (a contiguous copy at stride 1). (Over the Arch: it is compiled into
// each ISA's kernels, dispatch.hpp.)
struct valid_span {
    index_t lo, hi;
};
template <class Arch>
inline valid_span valid_columns(Arch, index_t ow, index_t w, index_t stride, index_t pad, index_t off) {
    const index_t first = pad - off;                          // ox*stride >= first
    const index_t last = w - 1 + pad - off;                   // ox*stride <= last
    index_t lo = first <= 0 ? 0 : (first + stride - 1) / stride;
    index_t hi = last < 0 ? 0 : last / stride + 1;
    lo = std::min(lo, ow);
    hi = std::clamp(hi, lo, ow);
    return {lo, hi};
}
}  // namespace detail

}  // namespace typenet::kernels::cpu
