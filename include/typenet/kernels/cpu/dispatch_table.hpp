// kernels/cpu/dispatch_table.hpp — fills a kernel_table (dispatch.hpp) with the kernels of one
// Arch. Included only by src/dispatch/<isa>.cpp, each compiled with its ISA's flags, so every
// kernel here is instantiated for that ISA alone.
#pragma once
#include "typenet/kernels/cpu/activation.hpp"
#include "typenet/kernels/cpu/conv.hpp"
#include "typenet/kernels/cpu/conv_direct.hpp"
#include "typenet/kernels/cpu/conv_direct_s2.hpp"
#include "typenet/kernels/cpu/conv_winograd.hpp"
#include "typenet/kernels/cpu/dispatch.hpp"
#include "typenet/kernels/cpu/elementwise.hpp"
#include "typenet/kernels/cpu/gemm.hpp"
#include "typenet/kernels/cpu/gemm_abt.hpp"
#include "typenet/kernels/cpu/norm.hpp"
#include "typenet/kernels/cpu/optim.hpp"
#include "typenet/kernels/cpu/pool.hpp"
#include "typenet/kernels/cpu/recurrent.hpp"
#include "typenet/kernels/cpu/reduce.hpp"
#include "typenet/kernels/cpu/softmax.hpp"

namespace typenet::kernels::cpu {

namespace detail {
// A function pointer of the table's type that calls F{}(Arch{}, args...): the table entry's own
// signature is spelled once, in kernel_table.
template <class F, class Arch, class R, class... A>
constexpr auto entry(R (*)(A...)) -> R (*)(A...) {
    return [](A... args) -> R { return F{}(Arch{}, args...); };
}
}  // namespace detail

template <class T, class Arch>
const kernel_table<T>& make_kernel_table(isa id) {
    static const kernel_table<T> table = [id] {
        kernel_table<T> t;
        t.id = id;
        t.gemm = gemm_sizes_of<T, Arch>();
        t.abt = abt_sizes_of<T, Arch>();
        t.direct = direct_sizes_of<T, Arch>();
        t.gemm_serial = detail::entry<gemm_serial, Arch>(t.gemm_serial);
        t.gemm_packed_b_serial = detail::entry<gemm_packed_b_serial, Arch>(t.gemm_packed_b_serial);
        t.pack_b = detail::entry<pack_b_kernel, Arch>(t.pack_b);
        t.gemm_abt_serial = detail::entry<gemm_abt_serial, Arch>(t.gemm_abt_serial);
        t.im2col = detail::entry<im2col_kernel, Arch>(t.im2col);
        t.col2im_add = detail::entry<col2im_add_kernel, Arch>(t.col2im_add);
        t.winograd_input = detail::entry<winograd_input_kernel, Arch>(t.winograd_input);
        t.winograd_input_adjoint = detail::entry<winograd_input_adjoint_kernel, Arch>(t.winograd_input_adjoint);
        t.winograd_output = detail::entry<winograd_output_kernel, Arch>(t.winograd_output);
        t.winograd_output_adjoint = detail::entry<winograd_output_adjoint_kernel, Arch>(t.winograd_output_adjoint);
        t.max_pool_2x2_forward = detail::entry<max_pool_2x2_forward_kernel, Arch>(t.max_pool_2x2_forward);
        t.max_pool_2x2_backward = detail::entry<max_pool_2x2_backward_kernel, Arch>(t.max_pool_2x2_backward);
        t.conv_direct = detail::entry<conv2d_direct, Arch>(t.conv_direct);
        t.conv_direct_dw = detail::entry<conv2d_direct_dw, Arch>(t.conv_direct_dw);
        if constexpr (direct_s2_blocking<T, Arch>::available)
        {
            t.conv_direct_s2 = detail::entry<conv2d_direct_s2, Arch>(t.conv_direct_s2);
            t.conv_direct_s2_dx = detail::entry<conv2d_direct_s2_dx, Arch>(t.conv_direct_s2_dx);
        }
        t.sgd = detail::entry<sgd_step, Arch>(t.sgd);
        t.adam = detail::entry<adam_step, Arch>(t.adam);
        t.rmsprop = detail::entry<rmsprop_step, Arch>(t.rmsprop);
        t.sum_of_squares = detail::entry<sum_of_squares_step, Arch>(t.sum_of_squares);
        t.scale = detail::entry<scale_step, Arch>(t.scale);
        t.clamp = detail::entry<clamp_step, Arch>(t.clamp);
        t.axpy = detail::entry<axpy_kernel, Arch>(t.axpy);
        t.add = detail::entry<add_arrays, Arch>(t.add);
        t.column_sums = detail::entry<column_sums, Arch>(t.column_sums);
        t.row_sums = detail::entry<row_sums, Arch>(t.row_sums);
        t.relu_forward = detail::entry<pointwise_forward<relu_fn>, Arch>(t.relu_forward);
        t.relu_backward = detail::entry<pointwise_backward<relu_fn>, Arch>(t.relu_backward);
        t.leaky_relu_forward = detail::entry<pointwise_forward<leaky_relu_fn>, Arch>(t.leaky_relu_forward);
        t.leaky_relu_backward = detail::entry<pointwise_backward<leaky_relu_fn>, Arch>(t.leaky_relu_backward);
        t.sigmoid_forward = detail::entry<pointwise_forward<sigmoid_fn>, Arch>(t.sigmoid_forward);
        t.sigmoid_backward = detail::entry<pointwise_backward<sigmoid_fn>, Arch>(t.sigmoid_backward);
        t.tanh_forward = detail::entry<pointwise_forward<tanh_fn>, Arch>(t.tanh_forward);
        t.tanh_backward = detail::entry<pointwise_backward<tanh_fn>, Arch>(t.tanh_backward);
        t.gelu_forward = detail::entry<pointwise_forward<gelu_fn>, Arch>(t.gelu_forward);
        t.gelu_backward = detail::entry<pointwise_backward<gelu_fn>, Arch>(t.gelu_backward);
        t.batch_norm_train = detail::entry<batch_norm_train_channels, Arch>(t.batch_norm_train);
        t.batch_norm_eval = detail::entry<batch_norm_eval_channels, Arch>(t.batch_norm_eval);
        t.batch_norm_infer = detail::entry<batch_norm_infer_channels, Arch>(t.batch_norm_infer);
        t.batch_norm_backward = detail::entry<batch_norm_backward_channels, Arch>(t.batch_norm_backward);
        t.layer_norm_forward = detail::entry<layer_norm_rows, Arch>(t.layer_norm_forward);
        t.layer_norm_backward = detail::entry<layer_norm_backward_rows, Arch>(t.layer_norm_backward);
        t.log_sum_exp_rows = detail::entry<log_sum_exp_rows_kernel, Arch>(t.log_sum_exp_rows);
        t.exp_affine = detail::entry<exp_affine_kernel, Arch>(t.exp_affine);
        t.causal_softmax = detail::entry<causal_softmax_rows, Arch>(t.causal_softmax);
        t.attention_score_grad = detail::entry<attention_score_grad_rows, Arch>(t.attention_score_grad);
        t.lstm_step = detail::entry<lstm_step_kernel, Arch>(t.lstm_step);
        t.lstm_step_backward = detail::entry<lstm_step_backward_kernel, Arch>(t.lstm_step_backward);
        t.gru_step = detail::entry<gru_step_kernel, Arch>(t.gru_step);
        t.gru_step_backward = detail::entry<gru_step_backward_kernel, Arch>(t.gru_step_backward);
        t.rnn_step = detail::entry<rnn_step_kernel, Arch>(t.rnn_step);
        t.rnn_step_backward = detail::entry<rnn_step_backward_kernel, Arch>(t.rnn_step_backward);
        return t;
    }();
    return table;
}

}  // namespace typenet::kernels::cpu
