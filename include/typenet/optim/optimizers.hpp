// optim/optimizers.hpp — sgd (momentum, Nesterov, weight decay), adam, adamw and rmsprop over a
// network's flat parameter buffer. Their state is laid out like that buffer, so a step is one pass.
// Hyper-parameters are runtime values (a schedule may change lr); the layout is the type's.
#pragma once
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "typenet/core/aligned.hpp"
#include "typenet/core/network.hpp"
#include "typenet/kernels/cpu/optim.hpp"

namespace typenet::optim {

namespace detail {
inline void require(bool ok, const char* opt, const char* what, double v) {
    if (!ok) throw std::invalid_argument(std::string("typenet: ") + opt + ": " + what + ", got " + std::to_string(v));
}
}  // namespace detail

// torch.optim.SGD
struct sgd_options {
    double lr = 0.01;
    double momentum = 0.0;
    double dampening = 0.0;
    double weight_decay = 0.0;
    bool nesterov = false;
};

namespace detail {
// The options' checks, shared with the CUDA backend's optimizers (typenet/cuda.hpp).
inline void check(const sgd_options& o) {
    require(o.lr >= 0.0, "sgd", "lr must be >= 0", o.lr);
    require(o.momentum >= 0.0, "sgd", "momentum must be >= 0", o.momentum);
    require(o.weight_decay >= 0.0, "sgd", "weight_decay must be >= 0", o.weight_decay);
    require(!o.nesterov || (o.momentum > 0.0 && o.dampening == 0.0), "sgd",
            "nesterov needs momentum > 0 and dampening 0; momentum", o.momentum);
}
}  // namespace detail

template <model Net>
class sgd {
public:
    using T = typename Net::scalar;
    using options = sgd_options;
    sgd(Net& net, sgd_options o = {}) : net_(net), o_(o), momentum_(o.momentum != 0.0 ? Net::param_count : 0) {
        detail::check(o);
    }
    void step() {
        auto p = net_.parameters();
        kernels::cpu::sgd_update(index_t(p.size()), T(o_.lr), T(o_.momentum), T(o_.dampening), T(o_.weight_decay),
                                 o_.nesterov, steps_ == 0, p.data(), net_.gradients().data(), momentum_.data());
        ++steps_;
    }
    void zero_grad() { net_.zero_grad(); }
    double lr() const { return o_.lr; }
    void set_lr(double lr) { o_.lr = lr; }
    long steps() const { return steps_; }
    const sgd_options& opts() const { return o_; }
    std::span<T> momentum_buffer() { return momentum_; }
    // For checkpoints: the name, every state buffer by torch's name, the step count.
    static constexpr const char* name = "sgd";
    template <class F> void visit_state(F&& f) { f("momentum_buffer", std::span<T>(momentum_)); }
    void set_steps(long s) { steps_ = s; }

private:
    Net& net_;
    sgd_options o_;
    aligned_vector<T> momentum_;   // (param_count) when momentum != 0
    long steps_ = 0;
};
template <class Net> sgd(Net&, sgd_options) -> sgd<Net>;
template <class Net> sgd(Net&) -> sgd<Net>;

// torch.optim.Adam (weight decay as L2 in the gradient)
struct adam_options {
    double lr = 1e-3;
    double beta1 = 0.9;
    double beta2 = 0.999;
    double eps = 1e-8;
    double weight_decay = 0.0;
};
// torch.optim.AdamW (decoupled weight decay, default 1e-2)
struct adamw_options {
    double lr = 1e-3;
    double beta1 = 0.9;
    double beta2 = 0.999;
    double eps = 1e-8;
    double weight_decay = 1e-2;
};

namespace detail {
template <class O>
    requires std::is_same_v<O, adam_options> || std::is_same_v<O, adamw_options>
inline void check(const O& o) {
    const char* name = std::is_same_v<O, adamw_options> ? "adamw" : "adam";
    require(o.lr >= 0.0, name, "lr must be >= 0", o.lr);
    require(o.beta1 >= 0.0 && o.beta1 < 1.0, name, "beta1 must be in [0, 1)", o.beta1);
    require(o.beta2 >= 0.0 && o.beta2 < 1.0, name, "beta2 must be in [0, 1)", o.beta2);
    require(o.eps >= 0.0, name, "eps must be >= 0", o.eps);
    require(o.weight_decay >= 0.0, name, "weight_decay must be >= 0", o.weight_decay);
}
}  // namespace detail

template <model Net, bool Decoupled>
class adam_family {
public:
    using T = typename Net::scalar;
    using options = std::conditional_t<Decoupled, adamw_options, adam_options>;
    adam_family(Net& net, options o) : net_(net), o_(o), m_(Net::param_count, T(0)), v_(Net::param_count, T(0)) {
        detail::check(o);
    }
    void step() {
        auto p = net_.parameters();
        ++steps_;
        kernels::cpu::adam_update(index_t(p.size()), T(o_.lr), T(o_.beta1), T(o_.beta2), T(o_.eps), T(o_.weight_decay),
                                  Decoupled, steps_, p.data(), net_.gradients().data(), m_.data(), v_.data());
    }
    void zero_grad() { net_.zero_grad(); }
    double lr() const { return o_.lr; }
    void set_lr(double lr) { o_.lr = lr; }
    long steps() const { return steps_; }
    const options& opts() const { return o_; }
    std::span<T> first_moment() { return m_; }
    std::span<T> second_moment() { return v_; }
    static constexpr const char* name = Decoupled ? "adamw" : "adam";
    template <class F> void visit_state(F&& f) {
        f("exp_avg", std::span<T>(m_));
        f("exp_avg_sq", std::span<T>(v_));
    }
    void set_steps(long s) { steps_ = s; }

private:
    Net& net_;
    options o_;
    aligned_vector<T> m_, v_;      // (param_count) each
    long steps_ = 0;
};

template <model Net> class adam : public adam_family<Net, false> {
public:
    adam(Net& net, adam_options o = {}) : adam_family<Net, false>(net, o) {}
};
template <model Net> class adamw : public adam_family<Net, true> {
public:
    adamw(Net& net, adamw_options o = {}) : adam_family<Net, true>(net, o) {}
};
template <class Net> adam(Net&, adam_options) -> adam<Net>;
template <class Net> adam(Net&) -> adam<Net>;
template <class Net> adamw(Net&, adamw_options) -> adamw<Net>;
template <class Net> adamw(Net&) -> adamw<Net>;

// torch.optim.RMSprop: square_avg, grad_avg (centered) and a momentum buffer (momentum > 0).
struct rmsprop_options {
    double lr = 1e-2;
    double alpha = 0.99;            // smoothing of the squared-gradient average
    double eps = 1e-8;              // added to the root, not under it (as torch)
    double weight_decay = 0.0;
    double momentum = 0.0;
    bool centered = false;          // divide by the gradient's estimated standard deviation
};

namespace detail {
inline void check(const rmsprop_options& o) {
    require(o.lr >= 0.0, "rmsprop", "lr must be >= 0", o.lr);
    require(o.alpha >= 0.0 && o.alpha <= 1.0, "rmsprop", "alpha must be in [0, 1]", o.alpha);
    require(o.eps >= 0.0, "rmsprop", "eps must be >= 0", o.eps);
    require(o.weight_decay >= 0.0, "rmsprop", "weight_decay must be >= 0", o.weight_decay);
    require(o.momentum >= 0.0, "rmsprop", "momentum must be >= 0", o.momentum);
}
}  // namespace detail

template <model Net>
class rmsprop {
public:
    using T = typename Net::scalar;
    using options = rmsprop_options;
    rmsprop(Net& net, rmsprop_options o = {})
        : net_(net), o_(o), square_avg_(Net::param_count, T(0)),
          grad_avg_(o.centered ? Net::param_count : 0, T(0)),
          momentum_(o.momentum > 0.0 ? Net::param_count : 0, T(0)) {
        detail::check(o);
    }
    void step() {
        auto p = net_.parameters();
        kernels::cpu::rmsprop_update(index_t(p.size()), T(o_.lr), T(o_.alpha), T(o_.eps), T(o_.weight_decay),
                                     T(o_.momentum), o_.centered, p.data(), net_.gradients().data(),
                                     square_avg_.data(), grad_avg_.data(), momentum_.data());
        ++steps_;
    }
    void zero_grad() { net_.zero_grad(); }
    double lr() const { return o_.lr; }
    void set_lr(double lr) { o_.lr = lr; }
    long steps() const { return steps_; }
    const rmsprop_options& opts() const { return o_; }
    std::span<T> square_avg() { return square_avg_; }
    std::span<T> grad_avg() { return grad_avg_; }            // empty unless centered
    std::span<T> momentum_buffer() { return momentum_; }     // empty unless momentum > 0
    static constexpr const char* name = "rmsprop";
    template <class F> void visit_state(F&& f) {
        f("square_avg", std::span<T>(square_avg_));
        f("grad_avg", std::span<T>(grad_avg_));
        f("momentum_buffer", std::span<T>(momentum_));
    }
    void set_steps(long s) { steps_ = s; }

private:
    Net& net_;
    rmsprop_options o_;
    aligned_vector<T> square_avg_;   // (param_count)
    aligned_vector<T> grad_avg_;     // (param_count) when centered
    aligned_vector<T> momentum_;     // (param_count) when momentum > 0
    long steps_ = 0;
};
template <class Net> rmsprop(Net&, rmsprop_options) -> rmsprop<Net>;
template <class Net> rmsprop(Net&) -> rmsprop<Net>;

template <class O>
concept optimizer = requires(O& o) { o.step(); o.zero_grad(); o.lr(); o.set_lr(0.1); };

}  // namespace typenet::optim
