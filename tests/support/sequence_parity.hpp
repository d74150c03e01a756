// tests/support/sequence_parity.hpp — a sequence network against its torch twin in
// tests/parity/data/sequence.txt (tests/parity/gen.py, sequence()): parameters loaded by typenet's
// tensor names, then forward, the final recurrent state, and every gradient compared.
#pragma once
#include <doctest/doctest.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "support/parity.hpp"
#include "typenet/core/network.hpp"

namespace typenet::test {

inline const parity_file& sequence_parity() {
    static const parity_file f(TYPENET_TEST_DIR "/parity/data/sequence.txt");
    return f;
}

// `with_dx`: the input is differentiable (not token ids).
template <class Net>
void check_sequence_parity(const std::string& c, index_t batch, index_t steps, bool with_dx = true) {
    using S = typename Net::scalar;
    const parity_file& f = sequence_parity();
    const double tol = parity_tol<S>;
    auto net = std::make_unique<Net>(seed{1});
    for (const auto& t : Net::tensors()) {
        const auto& v = f.at(c + "/p/" + t.name);
        REQUIRE(v.size() == t.size());
        std::copy(v.values.begin(), v.values.end(), net->parameters().begin() + std::ptrdiff_t(t.offset));
    }
    const auto x = f.at(c + "/x").template as<S>(), dy = f.at(c + "/dy").template as<S>();
    constexpr std::size_t carry = Net::carry_size;
    std::vector<S> cin, cout(std::size_t(batch) * carry), dcout, dcin(cout.size()), dx(x.size());
    if (carry) {
        cin = f.at(c + "/carry_in").template as<S>();
        dcout = f.at(c + "/dcarry_out").template as<S>();
    }
    const S* y = net->forward(batch, steps, x.data(), mode::train,
                              carry ? recurrent_state<S>{cin.data(), cout.data()} : recurrent_state<S>{});
    const auto& ey = f.at(c + "/y");
    check_close(std::span<const S>(y, ey.size()), ey, tol, c + " y");
    if (carry) check_close(cout, f.at(c + "/carry_out"), tol, c + " final state");
    net->zero_grad();
    net->backward(dy.data(), with_dx ? dx.data() : nullptr,
                  carry ? recurrent_gradients<S>{dcout.data(), dcin.data()} : recurrent_gradients<S>{});
    if (with_dx) check_close(dx, f.at(c + "/dx"), tol, c + " dx");
    if (carry) check_close(dcin, f.at(c + "/dcarry_in"), tol, c + " d(initial state)");
    for (const auto& t : Net::tensors())
        check_close(net->gradients().subspan(t.offset, t.size()), f.at(c + "/d/" + t.name), tol, c + " d " + t.name);
}

}  // namespace typenet::test
