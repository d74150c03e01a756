// optim/schedules.hpp — learning-rate schedules as small values. lr(base_lr, t) is the rate after t
// scheduler steps (torch's last_epoch: t = 0 gives base_lr), closed forms with no state, so a fit()
// epoch callback or a per-step loop can call them in any order; reduce_on_plateau alone keeps state.
// After fit's epoch e (1-based), the next epoch's rate is lr(base_lr, e):
//   fit(net, opt, loss, data, o, [&](const epoch_stats& s) { opt.set_lr(c.lr(0.1, s.epoch)); return true; });
#pragma once
#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>
#include <stdexcept>
#include <string>

namespace typenet::optim {

namespace detail {
inline void require_schedule(bool ok, const char* schedule, const char* what, double v) {
    if (!ok)
        throw std::invalid_argument(std::string("typenet: ") + schedule + ": " + what + ", got " + std::to_string(v));
}
}  // namespace detail

// torch.optim.lr_scheduler.StepLR: lr = base_lr * gamma^floor(t / step_size) (its closed form).
// step_size has no default, as in torch.
struct step_lr {
    long step_size = 0;
    double gamma = 0.1;

    double lr(double base_lr, long t) const {
        detail::require_schedule(step_size > 0, "step_lr", "step_size must be > 0", double(step_size));
        detail::require_schedule(gamma > 0.0, "step_lr", "gamma must be > 0", gamma);
        detail::require_schedule(t >= 0, "step_lr", "the step index t must be >= 0", double(t));
        return base_lr * std::pow(gamma, double(t / step_size));
    }
};

// torch.optim.lr_scheduler.ExponentialLR: lr = base_lr * gamma^t. gamma has no default, as in torch.
struct exponential_lr {
    double gamma = 0.0;

    double lr(double base_lr, long t) const {
        detail::require_schedule(gamma > 0.0, "exponential_lr", "gamma must be > 0", gamma);
        detail::require_schedule(t >= 0, "exponential_lr", "the step index t must be >= 0", double(t));
        return base_lr * std::pow(gamma, double(t));
    }
};

// Linear warm-up, then torch.optim.lr_scheduler.CosineAnnealingLR's closed form:
//   t <  warmup: lr = base_lr * t / warmup                  (from 0; no warm-up when warmup = 0)
//   t >= warmup: lr = eta_min + (base_lr - eta_min) (1 + cos(pi (t - warmup) / t_max)) / 2
// so the cosine starts at base_lr when warm-up ends and reaches eta_min t_max steps later; with
// warmup = 0 it is torch's schedule. Past warmup + t_max the closed form rises again (period
// 2 t_max), as torch's does: pick t_max to cover the run.
struct cosine_lr {
    long t_max = 0;
    double eta_min = 0.0;
    long warmup = 0;

    double lr(double base_lr, long t) const {
        detail::require_schedule(t_max > 0, "cosine_lr", "t_max must be > 0", double(t_max));
        detail::require_schedule(eta_min >= 0.0, "cosine_lr", "eta_min must be >= 0", eta_min);
        detail::require_schedule(warmup >= 0, "cosine_lr", "warmup must be >= 0", double(warmup));
        detail::require_schedule(t >= 0, "cosine_lr", "the step index t must be >= 0", double(t));
        if (t < warmup) return base_lr * double(t) / double(warmup);
        const double c = std::cos(std::numbers::pi * double(t - warmup) / double(t_max));
        return eta_min + (base_lr - eta_min) * (1.0 + c) / 2.0;
    }
};

// torch.optim.lr_scheduler.ReduceLROnPlateau(mode='min', threshold_mode='rel', cooldown=0):
//   a metric is better when metric < best * (1 - threshold); after more than `patience` updates in
//   a row without a better one, lr = max(lr * factor, min_lr), applied only if it moves lr by more
//   than eps, and the count restarts.
// update(metric, lr) takes the optimizer's current lr (torch reads it from the optimizer, so other
// changes to it compose); update(metric) continues from the lr it last returned, held in `lr`:
//   reduce_on_plateau plateau{.factor = 0.5, .patience = 2};
//   ... opt.set_lr(plateau.update(val_loss, opt.lr()));
struct reduce_on_plateau {
    double factor = 0.1;
    long patience = 10;
    double threshold = 1e-4;
    double min_lr = 0.0;
    double eps = 1e-8;
    // State, as torch names it: the best metric so far and the updates since it.
    double best = std::numeric_limits<double>::infinity();
    long num_bad_epochs = 0;
    double lr = 0.0;                 // the last lr returned (or passed in)

    double update(double metric, double current_lr) {
        lr = current_lr;
        return update(metric);
    }
    double update(double metric) {
        detail::require_schedule(factor >= 0.0 && factor < 1.0, "reduce_on_plateau", "factor must be in [0, 1)", factor);
        detail::require_schedule(patience >= 0, "reduce_on_plateau", "patience must be >= 0", double(patience));
        detail::require_schedule(threshold >= 0.0, "reduce_on_plateau", "threshold must be >= 0", threshold);
        detail::require_schedule(min_lr >= 0.0, "reduce_on_plateau", "min_lr must be >= 0", min_lr);
        detail::require_schedule(lr > 0.0, "reduce_on_plateau",
                                 "lr must be > 0; pass the optimizer's, update(metric, opt.lr())", lr);
        if (metric < best * (1.0 - threshold)) {
            best = metric;
            num_bad_epochs = 0;
        } else {
            ++num_bad_epochs;
        }
        if (num_bad_epochs > patience) {
            const double reduced = std::max(lr * factor, min_lr);
            if (lr - reduced > eps) lr = reduced;
            num_bad_epochs = 0;
        }
        return lr;
    }
};

}  // namespace typenet::optim
