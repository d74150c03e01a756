// typenet.hpp — the public API: a model is a type.
#pragma once

#include "typenet/core/init.hpp"
#include "typenet/core/layer.hpp"
#include "typenet/core/network.hpp"
#include "typenet/core/random.hpp"
#include "typenet/core/shape.hpp"
#include "typenet/data/augment.hpp"
#include "typenet/data/dataset.hpp"
#include "typenet/data/fashion_mnist.hpp"
#include "typenet/data/idx.hpp"
#include "typenet/kernels/cpu/common.hpp"
#include "typenet/layers/activation.hpp"
#include "typenet/layers/attention.hpp"
#include "typenet/layers/combinators.hpp"
#include "typenet/layers/conv.hpp"
#include "typenet/layers/conv_transpose.hpp"
#include "typenet/layers/dense.hpp"
#include "typenet/layers/dropout.hpp"
#include "typenet/layers/flatten.hpp"
#include "typenet/layers/norm.hpp"
#include "typenet/layers/pool.hpp"
#include "typenet/layers/recurrent.hpp"
#include "typenet/layers/sequence.hpp"
#include "typenet/losses/losses.hpp"
#include "typenet/optim/clip.hpp"
#include "typenet/optim/optimizers.hpp"
#include "typenet/optim/schedules.hpp"
#include "typenet/train/callbacks.hpp"
#include "typenet/train/fit.hpp"
#include "typenet/train/metrics.hpp"

namespace typenet {
// Threads the kernels may use (OpenMP); 0 keeps the default.
inline void set_num_threads(int n) { kernels::cpu::set_num_threads(n); }
}  // namespace typenet
