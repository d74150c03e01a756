// layers/flatten.hpp — (B, C, H, W) -> (B, C*H*W): the same bytes, a flat per-sample shape. On a
// sequence it flattens each step: seq<C, H, W> -> seq<C*H*W>.
#pragma once
#include <algorithm>
#include <string>
#include <type_traits>

#include "typenet/core/layer.hpp"

namespace typenet {

struct flatten {
    template <class In> static constexpr bool accepts = is_nonempty<In>;
    template <class In> struct bound : no_params {
        using input_shape = In;
        using output_shape = std::conditional_t<is_sequence<In>, seq<In::size>, shape<In::size>>;
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
