// kernels/cpu/dispatch.hpp — how a kernel entry point reaches the ISA that runs it.
//
//   invoke_kernel<&kernel_table<T>::m>(functor{}, args...)
//       without TYPENET_DISPATCH: functor{}(arch{}, args...), the compile-time ISA, inlined;
//       with it: active_table<T>().m(args...), the process's ISA, one indirect call.
//
// xsimd 8.1 declares batch<float, avx2> only where -mavx2 is on, so one translation unit cannot
// hold kernels for several ISAs: the tables live in src/dispatch/{sse2,avx2,avx512}.cpp, each
// compiled with its flags (typenet_enable_dispatch() in CMake adds them to a target, and defines
// TYPENET_DISPATCH). A table entry is a whole-array kernel, so the indirect call is paid once per
// GEMM or per pass, never per element. Everything those translation units instantiate is a
// template over the Arch, so no inline function is compiled twice for different ISAs (the linker
// keeps one copy of an inline function: the AVX-512 one could reach a baseline caller).
#pragma once
#include <algorithm>

#include "typenet/kernels/cpu/common.hpp"
#include "typenet/kernels/cpu/isa.hpp"

#if defined(TYPENET_DISPATCH) && !defined(__x86_64__)
#error "typenet: TYPENET_DISPATCH selects among x86-64 kernels (sse2, avx2, avx512); build without it here"
#endif

namespace typenet::kernels::cpu {

// Up to this many elements (256 KB of floats), a GEMM's whole packed B past one kc block is kept,
// so that each row block of C takes every k block in turn while it stays in cache (gemm_serial).
inline constexpr index_t whole_b_max = 1 << 16;

// A GEMM's register and cache blocking, as values (blocking<T, Arch> in gemm.hpp holds them as
// constants): the threads of gemm() split C in whole micro-panels of the ISA that runs.
struct gemm_sizes {
    index_t mr, nr, kc, mc, nc;
    // Pack buffers of one thread's GEMM of (m, k) x (k, n).
    constexpr index_t a_size(index_t m, index_t k) const { return std::min((m + mr - 1) / mr * mr, mc) * std::min(k, kc); }
    constexpr index_t b_size(index_t n, index_t k) const {
        const index_t whole = k * ((n + nr - 1) / nr * nr);
        return std::max(std::min(k, kc) * std::min((n + nr - 1) / nr * nr, nc), whole <= whole_b_max ? whole : 0);
    }
};

// What a GEMM adds to C in the pass that stores A B + beta C, instead of a pass of its own: a bias
// per column (a dense layer's, C = (B, Out)) or per row (a convolution's, C = (O, OH*OW)); null:
// none. DESIGN 5: a dense or convolution layer is one pass over its output.
// a_row_sums, the other way round: the bias's gradient in the pass of the weight gradient. For
// dw += dy^T x (A = dy^T), db += dy^T 1 is the sum over k of each row of A, and the product's packing
// of A reads every value of dy once: a_row_sums[i] += sum_p A(i, p), accumulated there. As a pass of
// its own over dy (column sums of a 4096 x 512 gradient from L3) it was 1.5 % of a char-GPT step.
template <class T>
struct bias_epilogue {
    const T* col = nullptr;
    const T* row = nullptr;
    T* a_row_sums = nullptr;
    // The epilogue of the block of C from row i0 and column j0. A's row sums go with the blocks of
    // column 0, so that threads splitting C's columns add them once.
    constexpr bias_epilogue at(index_t i0, index_t j0) const {
        return {col ? col + j0 : col, row ? row + i0 : row, a_row_sums && j0 == 0 ? a_row_sums + i0 : nullptr};
    }
    // v, element (i, j) of C, with its bias: the scalar stores' one formula (A B^T sums, k = 0).
    constexpr T add(T v, index_t i, index_t j) const {
        if (col) v += col[j];
        if (row) v += row[i];
        return v;
    }
};

// The unpacked A B^T tiles' sizes (gemm_abt.hpp).
struct abt_sizes {
    index_t nr1;                  // columns per thread slice
    index_t min_k;                // below this k the packed GEMM is faster for a convolution's dw
};

// The direct convolution's vector width and output-channel block (conv_direct.hpp).
struct direct_sizes {
    index_t w, ob;
    bool s2 = false;          // conv_direct_s2.hpp's kernel (stride 2) is compiled for this ISA
};

struct conv_direct_geometry;
struct conv2d_geometry;
struct winograd_plane;

// Every kernel that runs through the table: whole arrays in, no threads inside (the entry points
// split the work over threads and call these per slice), no allocation (buffers come in).
template <class T>
struct kernel_table {
    using value_type = T;
    isa id = isa::native;
    gemm_sizes gemm{};
    abt_sizes abt{};
    direct_sizes direct{};
    // gemm.hpp
    void (*gemm_serial)(index_t m, index_t n, index_t k, const T* a, index_t rsa, index_t csa, const T* b, index_t rsb,
                        index_t csb, T beta, T* c, index_t ldc, T* ap, T* bp, bias_epilogue<T> ep) = nullptr;
    void (*gemm_packed_b_serial)(index_t m, index_t n, index_t k, const T* a, index_t rsa, index_t csa, const T* bp, T beta,
                                 T* c, index_t ldc, index_t j0, index_t j1, T* ap) = nullptr;
    void (*pack_b)(index_t k, index_t n, const T* b, index_t rsb, index_t csb, T* bp) = nullptr;
    // gemm_abt.hpp
    void (*gemm_abt_serial)(index_t m, index_t n, index_t k, const T* a, index_t lda, const T* b, index_t ldb, T beta, T* c,
                            index_t ldc, bias_epilogue<T> ep) = nullptr;
    // conv.hpp: one sample's columns, rows ld apart
    void (*im2col)(const conv2d_geometry& g, index_t oh, index_t ow, const T* x, T* col, index_t ld) = nullptr;
    void (*col2im_add)(const conv2d_geometry& g, index_t oh, index_t ow, const T* dcol, index_t ld, T* dx) = nullptr;
    // conv_winograd.hpp: F(2x2, 3x3)'s transforms of `channels` planes
    void (*winograd_input)(const winograd_plane& p, index_t channels, const T* x, T* v, index_t ldc, index_t ldxi,
                           T* work) = nullptr;
    void (*winograd_input_adjoint)(const winograd_plane& p, index_t channels, const T* dv, index_t ldc, index_t ldxi,
                                   T* dx, T* work) = nullptr;
    void (*winograd_output)(const winograd_plane& p, index_t channels, const T* m, index_t ldc, index_t ldxi,
                            const T* bias, T* y, T* work) = nullptr;
    void (*winograd_output_adjoint)(const winograd_plane& p, index_t channels, const T* dy, T* dm, index_t ldc,
                                    index_t ldxi, T* work) = nullptr;
    // pool.hpp: 2x2 windows at stride 2 over planes (H, W)
    void (*max_pool_2x2_forward)(index_t planes, index_t h, index_t w, const T* x, T* y, T* arg) = nullptr;
    void (*max_pool_2x2_backward)(index_t planes, index_t h, index_t w, const T* arg, const T* dy, T* dx) = nullptr;
    // conv_direct.hpp
    void (*conv_direct)(const conv_direct_geometry& g, const T* x, const T* wt, const T* bias, T* y, T* xp) = nullptr;
    void (*conv_direct_dw)(const conv_direct_geometry& g, const T* x, const T* dy, T* dw, T* scratch) = nullptr;
    // conv_direct_s2.hpp (where direct.s2)
    void (*conv_direct_s2)(const conv2d_geometry& g, index_t n, const T* x, const T* wt, const T* bias, T* y, T* wp) = nullptr;
    void (*conv_direct_s2_dx)(const conv2d_geometry& g, index_t n, const T* dy, const T* wp, T* dx) = nullptr;
    // optim.hpp
    void (*sgd)(index_t n, T lr, T momentum, T dampening, T weight_decay, bool nesterov, bool first, T* p, const T* grad,
                T* buf) = nullptr;
    void (*adam)(index_t n, T lr, T beta1, T beta2, T eps, T weight_decay, bool decoupled, long step, T* p, const T* grad,
                 T* m, T* v) = nullptr;
    void (*rmsprop)(index_t n, T lr, T alpha, T eps, T weight_decay, T momentum, bool centered, T* p, const T* grad,
                    T* square_avg, T* grad_avg, T* buf) = nullptr;
    // reduce.hpp
    double (*sum_of_squares)(index_t n, const T* x) = nullptr;
    void (*scale)(index_t n, T a, T* x) = nullptr;
    void (*clamp)(index_t n, T lo, T hi, T* x) = nullptr;
    // elementwise.hpp
    void (*axpy)(index_t n, T a, const T* x, T* y) = nullptr;
    void (*add)(index_t n, const T* x, const T* y, T* z) = nullptr;
    void (*column_sums)(index_t m, index_t n, const T* a, index_t lda, T* s) = nullptr;
    void (*row_sums)(index_t m, index_t n, const T* a, index_t lda, T* s) = nullptr;
    // activation.hpp: y = f(x) (a: leaky_relu's slope), dx = f'(v) dy
    using pointwise_forward_fn = void (*)(index_t n, T a, const T* x, T* y);
    using pointwise_backward_fn = void (*)(index_t n, T a, const T* v, const T* dy, T* dx);
    pointwise_forward_fn relu_forward = nullptr, leaky_relu_forward = nullptr, sigmoid_forward = nullptr,
                         tanh_forward = nullptr, gelu_forward = nullptr;
    pointwise_backward_fn relu_backward = nullptr, leaky_relu_backward = nullptr, sigmoid_backward = nullptr,
                          tanh_backward = nullptr, gelu_backward = nullptr;
    // norm.hpp: batch norm over channels [c0, c1) of (B, C, S)
    void (*batch_norm_train)(index_t b, index_t c, index_t s, index_t c0, index_t c1, T eps, T momentum, const T* x,
                             const T* gamma, const T* beta, T* y, T* mean, T* invstd, T* running_mean,
                             T* running_var) = nullptr;
    void (*batch_norm_eval)(index_t b, index_t c, index_t s, index_t c0, index_t c1, T eps, const T* x, const T* gamma,
                            const T* beta, const T* running_mean, const T* running_var, T* y, T* mean,
                            T* invstd) = nullptr;
    void (*batch_norm_infer)(index_t b, index_t c, index_t s, index_t c0, index_t c1, T eps, const T* x, const T* gamma,
                             const T* beta, const T* running_mean, const T* running_var, T* y) = nullptr;
    void (*batch_norm_backward)(index_t b, index_t c, index_t s, index_t c0, index_t c1, bool training, const T* x,
                                const T* mean, const T* gamma, const T* invstd, const T* dy, T* dx, T* dgamma,
                                T* dbeta) = nullptr;
    // norm.hpp: layer norm over rows
    void (*layer_norm_forward)(index_t r0, index_t r1, index_t n, T eps, const T* x, const T* gamma, const T* beta,
                               T* mean, T* y, T* invstd) = nullptr;
    void (*layer_norm_backward)(index_t rows, index_t n, const T* x, const T* mean, const T* gamma, const T* invstd,
                                const T* dy, T* dx, T* dgamma, T* dbeta) = nullptr;
    // softmax.hpp: rows of logits, causal attention's rows
    void (*log_sum_exp_rows)(index_t rows, index_t n, const T* x, index_t ld, T* lse) = nullptr;
    void (*exp_affine)(index_t n, const T* x, T a, T b, T c, T* y) = nullptr;
    void (*causal_softmax)(index_t i0, index_t i1, index_t steps, index_t block, T a, T* sp, index_t ld, T* lse,
                           index_t lse_stride, bool known) = nullptr;
    void (*attention_score_grad)(index_t i0, index_t i1, index_t hd, T a, const T* dout, const T* out, index_t ld,
                                 const T* p, T* ds, index_t steps) = nullptr;
    // recurrent.hpp: one time step's pointwise part
    void (*lstm_step)(index_t batch, index_t h, T* gates, index_t ld_g, const T* c_prev, T* c, T* y,
                      index_t ld_h) = nullptr;
    void (*lstm_step_backward)(index_t batch, index_t h, T* gates, index_t ld_g, const T* c, const T* c_prev,
                               const T* dy, index_t ld_h, const T* dh, T* dc) = nullptr;
    void (*gru_step)(index_t batch, index_t h, T* gates, index_t ld_g, const T* gh, const T* h_prev, T* hn, T* y,
                     index_t ld_h) = nullptr;
    void (*gru_step_backward)(index_t batch, index_t h, T* gates, index_t ld_g, T* hn, const T* h_prev, const T* dy,
                              index_t ld_h, T* dh) = nullptr;
    void (*rnn_step)(index_t batch, index_t h, T* y, index_t ld_h) = nullptr;
    void (*rnn_step_backward)(index_t batch, index_t h, const T* y, const T* dy, index_t ld_h, const T* dh,
                              T* dg) = nullptr;
};

// Defined in src/dispatch/<isa>.cpp, one specialization per ISA and scalar type.
template <class T, isa I> const kernel_table<T>& table_for();

// The table of the process's ISA (TYPENET_DISPATCH builds only).
template <class T>
inline const kernel_table<T>& active_table() {
    static const kernel_table<T>& table = []() -> const kernel_table<T>& {
        switch (active_isa()) {
        case isa::avx512: return table_for<T, isa::avx512>();
        case isa::avx2: return table_for<T, isa::avx2>();
        default: return table_for<T, isa::sse2>();
        }
    }();
    return table;
}

// The name of the ISA the kernels run on: the dispatched one, or the compile-time arch's
// (xsimd's names: "avx512bw", "fma3+avx2", "sse2", "neon64").
inline const char* active_isa_name() {
#if defined(TYPENET_DISPATCH)
    return isa_name(active_isa());
#else
    return arch::name();
#endif
}

namespace detail {
template <class M> struct table_of_member;
template <class T, class F> struct table_of_member<F kernel_table<T>::*> { using type = T; };
}  // namespace detail

// f(arch{}, args...) at the compile-time ISA, or the table entry M of the active one.
template <auto M, class F, class... A>
[[gnu::always_inline]] inline decltype(auto) invoke_kernel(F f, A... args) {
#if defined(TYPENET_DISPATCH)
    (void)f;
    using T = typename detail::table_of_member<decltype(M)>::type;
    return (active_table<T>().*M)(args...);
#else
    return f(arch{}, args...);
#endif
}

// A table's sizes M (a kernel's blocking) at the active ISA, or of(arch{}) at the compile-time one.
template <auto M, class Of>
inline auto active_sizes(Of of) {
#if defined(TYPENET_DISPATCH)
    (void)of;
    using T = typename detail::table_of_member<decltype(M)>::type;
    return active_table<T>().*M;
#else
    return of(arch{});
#endif
}

}  // namespace typenet::kernels::cpu
