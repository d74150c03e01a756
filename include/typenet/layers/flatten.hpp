// layers/flatten.hpp — (B, C, H, W) -> (B, C*H*W): the same bytes, a flat per-sample shape.
#pragma once
#include <algorithm>
#include <string>

#include "typenet/core/layer.hpp"

namespace typenet {

struct flatten {
    template <class In> static constexpr bool accepts = is_nonempty<In>;
    template <class In> struct bound : no_params {
        using input_shape = In;
        using output_shape = shape<In::size>;
        static std::string name() { return "flatten"; }
        template <class T> void forward(const fwd_args<T>& a) const {
            std::copy(a.x, a.x + a.batch * index_t(In::size), a.y);
        }
        template <class T> void backward(const bwd_args<T>& a) const {
            if (a.dx) std::copy(a.dy, a.dy + a.batch * index_t(In::size), a.dx);
        }
    };
};

}  // namespace typenet
