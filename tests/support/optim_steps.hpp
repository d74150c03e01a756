// tests/support/optim_steps.hpp — an optimizer follows a torch.optim run written by
// tests/parity/gen.py: from the same p0 (8) and the same 10 gradients, the parameters after every step.
#pragma once
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "support/parity.hpp"
#include "typenet/core/network.hpp"
#include "typenet/layers/dense.hpp"

namespace typenet::test {

// 8 parameters: dense<2> on input<3> is w (2, 3) and b (2). An optimizer sees only the flat buffer.
template <class T> using net8 = basic_network<T, input<3>, dense<2>>;
inline constexpr std::size_t optim_params = 8, optim_steps = 10;

// Makes an optimizer over `net` with make(net), runs the 10 steps of torch's run `name` from file
// `f` (p0, grads, name/p) and compares every parameter after each step.
template <class T, class Make>
void follow_torch_steps(const parity_file& f, const std::string& name, Make make) {
    const auto& p0 = f.at("p0");                   // (8)
    const auto& grads = f.at("grads");             // (10, 8)
    const auto& after = f.at(name + "/p");         // (10, 8): parameters after step k
    REQUIRE(p0.size() == optim_params);
    REQUIRE(grads.size() == optim_steps * optim_params);
    REQUIRE(after.size() == optim_steps * optim_params);
    net8<T> net;
    load_parameters(net.parameters(), {&p0});
    auto opt = make(net);
    for (std::size_t k = 0; k < optim_steps; ++k) {
        auto g = net.gradients();
        for (std::size_t i = 0; i < optim_params; ++i) g[i] = T(grads.values[k * optim_params + i]);
        opt.step();
        parity_tensor expected{name + "/p[" + std::to_string(k) + "]", {optim_params},
                               std::vector<double>(after.values.begin() + long(k * optim_params),
                                                   after.values.begin() + long((k + 1) * optim_params))};
        check_close(net.parameters(), expected, parity_tol<T>, name + " after step " + std::to_string(k + 1));
    }
    CHECK(opt.steps() == long(optim_steps));
}

}  // namespace typenet::test
