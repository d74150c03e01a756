// layers/dropout.hpp — dropout<P> (torch.nn.Dropout): in training each value is zeroed with
// probability P and the rest scaled by 1 / (1 - P); in evaluation the identity. The mask is drawn
// from the network's seeded generator, so a run is reproducible.
#pragma once
#include <algorithm>
#include <string>

#include "typenet/core/layer.hpp"

namespace typenet {

template <double P = 0.5>
struct dropout {
    static_assert(P >= 0.0 && P <= 1.0, "typenet: dropout<P> needs P in [0, 1]");
    template <class In> static constexpr bool accepts = is_nonempty<In>;
    template <class In> struct bound : no_params {
        using input_shape = In;
        using output_shape = In;
        static constexpr std::size_t cache_per_sample = In::size;   // the scaled mask: 0 or 1 / (1 - P)
        static constexpr std::size_t cache_fixed = 1;               // training flag
        static std::string name() { return "dropout<" + std::to_string(P) + ">"; }

        template <class T> void forward(const fwd_args<T>& a) const {
            const index_t n = a.batch * index_t(In::size);
            T* mask = a.cache;
            const bool training = a.m == mode::train && P > 0.0;
            a.cache[n] = training ? T(1) : T(0);
            if (!training) {
                std::copy(a.x, a.x + n, a.y);
                return;
            }
            const T keep = P < 1.0 ? T(1.0 / (1.0 - P)) : T(0);
            for (index_t i = 0; i < n; ++i) {
                mask[i] = a.gen->uniform() >= P ? keep : T(0);
                a.y[i] = a.x[i] * mask[i];
            }
        }
        template <class T> void backward(const bwd_args<T>& a) const {
            if (!a.dx) return;
            const index_t n = a.batch * index_t(In::size);
            if (a.cache[n] == T(0)) {
                std::copy(a.dy, a.dy + n, a.dx);
                return;
            }
            for (index_t i = 0; i < n; ++i) a.dx[i] = a.dy[i] * a.cache[i];
        }
    };
};

}  // namespace typenet
