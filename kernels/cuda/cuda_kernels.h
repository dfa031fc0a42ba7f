// Host launch functions of the CUDA kernels (issue 6). Every pointer is a DEVICE pointer; `stream` is
// a cudaStream_t passed as void* (nullptr: the default stream) so this header stays free of CUDA
// headers and compiles in a CPU-only build, whose kernels/cuda/stub.cpp throws
// std::runtime_error("CUDA not available in this build") from each function. Launches are
// asynchronous on `stream`; a launch error is thrown as std::runtime_error naming the kernel.
// float and double are instantiated.
//
// The semantics follow the CPU kernels named beside each function, so the autodiff ops can pick a
// backend by device and nothing else changes.
#pragma once
#include <cstdint>

#include "kernels/common/elementwise_math.h"
#include "kernels/common/loss_math.h"
#include "kernels/cpu/im2col.h"  // ConvGeom: one geometry struct for both backends
#include "kernels/cpu/stft.h"  // StftGeometry
#include "kernels/cpu/optim.h"  // AdamStep: one hyper-parameter struct for both backends

namespace pianograd::kernels::cuda {

// ---- elementwise (kernels/cpu/elementwise.h) ----
// y[i] = op(a[i * sa], b[i * sb]) with strides sa, sb in {0, 1}: the broadcast convention of the CPU
// kernels, so the same broadcasting walker can drive either backend.
template <class T>
void binary(BinaryOp op, const T* a, long sa, const T* b, long sb, T* y, long n, void* stream = nullptr);
template <class T> void unary(UnaryOp op, const T* x, T* y, long n, void* stream = nullptr);
// gx = gy * f'(x); y = f(x) is read by the ops whose derivative is cheaper from y.
template <class T>
void unary_backward(UnaryOp op, const T* x, const T* y, const T* gy, T* gx, long n, void* stream = nullptr);

// ---- general broadcasting: one launch for any broadcast pattern ----
// The output (row-major, contiguous) has `nd` dims of sizes shape[]; operand element strides are
// sa[]/sb[] (0 along broadcast dims). The caller merges dims first (autodiff/ops/cuda_ops.cpp), so
// nd <= kMaxDims covers every practical shape.
inline constexpr int kMaxDims = 8;
struct BroadcastGeom {
  int nd = 0;
  long shape[kMaxDims] = {};
  long sa[kMaxDims] = {};
  long sb[kMaxDims] = {};
};
// y[i] = op(a[off_a(i)], b[off_b(i)]).
template <class T>
void binary_broadcast(BinaryOp op, const T* a, const T* b, T* y, const BroadcastGeom& g, void* stream = nullptr);
// y[i] = x[off_a(i)] (sb unused): expands x to the output shape.
template <class T> void broadcast_copy(const T* x, T* y, const BroadcastGeom& g, void* stream = nullptr);

// ---- arg-reductions (kernels/cpu/reduce.h reduce_arg) ----
// Values and i64 indices of the first extremum along n (the first NaN when there is one; -1 and NaN
// when n == 0), one thread per output element.
template <class T>
void reduce_arg(const T* x, T* y, std::int64_t* idx, long outer, long n, long inner, bool is_min,
                void* stream = nullptr);
// gx[o, idx[o,i], i] = gy[o, i] for every output (o, i); gx ([outer, n, inner]) is zeroed here first.
template <class T>
void arg_scatter(const T* gy, const std::int64_t* idx, T* gx, long outer, long n, long inner, void* stream = nullptr);

// ---- reductions over the [outer, n, inner] view (kernels/cpu/reduce.h) ----
template <class T> void reduce_sum(const T* x, T* y, long outer, long n, long inner, void* stream = nullptr);
// NaN propagates; n == 0 gives NaN.
template <class T>
void reduce_max(const T* x, T* y, long outer, long n, long inner, bool is_min, void* stream = nullptr);
// Contiguous rows only (inner == 1, the last axis; the ops permute other axes there first).
template <class T> void softmax_rows(const T* x, T* y, long rows, long n, bool log, void* stream = nullptr);
template <class T>
void softmax_backward_rows(const T* y, const T* gy, T* gx, long rows, long n, bool log, void* stream = nullptr);
// w, b may be null (identity affine); mean, rstd have `rows` elements.
template <class T>
void layer_norm(const T* x, const T* w, const T* b, T* y, T* mean, T* rstd, long rows, long n, T eps,
                void* stream = nullptr);
// gw, gb (n elements) are overwritten when non-null.
template <class T>
void layer_norm_backward(const T* x, const T* mean, const T* rstd, const T* w, const T* gy, T* gx, T* gw,
                         T* gb, long rows, long n, void* stream = nullptr);

// ---- matmul via cuBLAS (kernels/cpu/gemm.h) ----
// Row-major C[b] = op(A[b]) @ op(B[b]) for b < batch, op = transpose when trans_*; C is m x n, the
// inner dimension k. A[b] = a + b * stride_a (likewise B, C); a stride of 0 broadcasts one matrix.
// cuBLAS is column-major: a row-major matrix is its transpose in column-major, so we ask cuBLAS for
// C^T = op(B)^T op(A)^T, which swaps the operands and needs no copy.
template <class T>
void matmul(const T* a, const T* b, T* c, long m, long n, long k, bool trans_a = false, bool trans_b = false,
            long batch = 1, long stride_a = 0, long stride_b = 0, long stride_c = 0, void* stream = nullptr);

// ---- optimizer (kernels/cpu/optim.h) ----
template <class T>
void adam_update(T* p, const T* g, T* m, T* v, long n, const cpu::AdamStep& s, void* stream = nullptr);

// ---- the modal bank forward as a parallel scan over time (kernels/cpu/modal.h) ----
// Device-pointer view of a bank (the fields of cpu::ModalBank, all device arrays of `count`).
template <class T>
struct ModalBankDev {
  long count = 0;
  const T* omega = nullptr;
  const T* sigma = nullptr;
  const T* dgain = nullptr;
  const T* amp = nullptr;
  const T* delta = nullptr;
  const std::int64_t* start = nullptr;
  const std::int32_t* env = nullptr;
  // Batched, windowed banks (synth/modal_packed.h builds them: every group of every batch item in one
  // launch). All null: one window [0, n) over y and dense gate rows (row r at gate + r * n). Else mode m
  // writes y[base[m] + t] for t in [start[m], len[m]) (base[m] + len[m] <= n, windows may overlap: the
  // sum is atomic), and row r's sample t is gate[gate_off[r] + t]; only t > start of a mode is ever
  // read, so a row may be stored from its modes' start on (gate_off[r] = its position - that start).
  const std::int64_t* base = nullptr;
  const std::int64_t* len = nullptr;
  const std::int64_t* gate_off = nullptr;
  long max_len = 0;    // >= every len[m] (sizes the backward's checkpoint scratch); packed mode only
  long gate_size = 0;  // elements of the packed gate (and of its gradient, zeroed first); packed mode only
};
// y[n] (n samples, overwritten) = sum_m Im z_m[n] with gate[rows x n] (may be null when rows == 0).
// Semantics of cpu::modal_forward WITHOUT truncation (rel_threshold = 0): every mode runs from its
// start to the end of the buffer. On a GPU an early-ended mode saves little (one block per mode runs
// regardless), so the threshold test and its data-dependent end are left out. Inputs are assumed
// valid (cpu::modal_validate on the host copies is the caller's job). The sum over modes is
// accumulated with atomicAdd, so its rounding order (not its value beyond rounding) varies by run.
template <class T>
void modal_forward(const ModalBankDev<T>& bank, const T* gate, long rows, long n, T* y, void* stream = nullptr);

// Gradient outputs of modal_backward (device arrays; a null pointer is not computed): per mode
// (count) and, for gate, rows x n (overwritten, zeroed first).
template <class T>
struct ModalGradsDev {
  T* omega = nullptr;
  T* sigma = nullptr;
  T* dgain = nullptr;
  T* amp = nullptr;
  T* delta = nullptr;
  T* gate = nullptr;
};
// The adjoint of modal_forward as a reverse scan (kernels/cuda/modal_scan_backward.cu): the
// semantics of cpu::modal_backward with rel_threshold = 0 (no truncation), every ModalGrads output
// but gate_blocks (the gate gradient is computed for every sample). A mode with amp == 0 or
// start >= n gets all-zero gradients, as the CPU reference. Sums over samples and the atomic gate
// sum over modes sharing a row round differently from the CPU (agreement to rounding only). Uses
// 2 x count x ceil(n / 1024) elements of cached scratch memory (n -> bank.max_len when packed). In the
// packed layout gy is read at base[m] + t and the gate gradient is written like the gate (gate_size
// elements, zeroed first; entries at or before a row's first mode start stay 0).
template <class T>
void modal_backward(const ModalBankDev<T>& bank, const T* gate, long rows, long n, const T* gy,
                    const ModalGradsDev<T>& grads, void* stream = nullptr);

// ---- convolution: im2col + cuBLAS GEMM (kernels/cuda/conv.cu; cpu::conv_* in kernels/cpu/im2col.h) ----
// y[N,Cout,OH,OW] = conv(x[N,C,H,W], w[Cout,C/groups,KH,KW]) + bias[Cout] (bias may be null).
template <class T>
void conv_forward(const T* x, const T* w, const T* bias, T* y, const cpu::ConvGeom& g, void* stream = nullptr);
// gx[N,C,H,W] = conv^T(gy), overwritten (deterministic: col2im is a gather, no atomics).
template <class T>
void conv_backward_input(const T* gy, const T* w, T* gx, const cpu::ConvGeom& g, void* stream = nullptr);
// gw[Cout,C/groups,KH,KW] = sum_n gy_n cols_n^T, overwritten.
template <class T>
void conv_backward_weight(const T* x, const T* gy, T* gw, const cpu::ConvGeom& g, void* stream = nullptr);
// gb[c] = sum of gy[N, C, hw] over n and the hw positions, overwritten.
template <class T>
void conv_bias_backward(const T* gy, T* gb, long N, long C, long hw, void* stream = nullptr);

// ---- STFT magnitude and the spectral loss via cuFFT (kernels/cuda/stft.cu; kernels/cpu/stft.h) ----
// mag[b][f][k] = |STFT| (centred frames, reflect padding, periodic Hann), x is [batch, g.length].
// spec (may be null) receives the half spectra as interleaved (re, im) pairs, 2 x batch x frames x bins.
template <class T>
void stft_magnitude(const T* x, long batch, const cpu::StftGeometry& g, T* mag, T* spec, void* stream = nullptr);
// gx += adjoint of the magnitude STFT applied to gscale[0] * gmag (gscale: a device scalar, or null
// for 1), given the forward's spectra. Overlap-add by atomicAdd: agrees with the CPU to rounding.
template <class T>
void stft_magnitude_backward(const T* gmag, const T* spec, long batch, const cpu::StftGeometry& g, T* gx,
                             const T* gscale = nullptr, void* stream = nullptr);
// One scale of the multi-resolution spectral loss (autodiff/ops/spectral.cpp): *acc (a device double)
// += (linear_weight sum|mp - mt| + log_weight sum|log(mp+eps) - log(mt+eps)|) / count, and the
// per-bin dLoss/dmp, dLoss/dmt into gp, gt (each may be null).
template <class T>
void spectral_l1_terms(const T* mp, const T* mt, long count, T eps, T linear_weight, T log_weight, T* gp, T* gt,
                       double* acc, void* stream = nullptr);
// *y = (T)*acc: the loss as a device scalar without a host round trip.
template <class T>
void spectral_loss_finish(const double* acc, T* y, void* stream = nullptr);

// ---- transcriber-path ops (kernels/cuda/model_ops.cu) ----
// N-d strided copy of elements of elem_size bytes (1, 2, 4 or 8): for every multi-index i < box,
// dst[dst_offset + sum_d i_d dst_stride[d]] = src[src_offset + sum_d i_d src_stride[d]] (strides and
// offsets in elements). The one memory-movement kernel behind slice, concat, stack, pad and their
// VJPs on CUDA (autodiff/ops/copy_box.h is the host counterpart). nd <= kMaxDims.
struct StridedCopyGeom {
  int nd = 0;
  long box[kMaxDims] = {};
  long src_stride[kMaxDims] = {};
  long dst_stride[kMaxDims] = {};
  long src_offset = 0;
  long dst_offset = 0;
};
void strided_copy(const void* src, void* dst, const StridedCopyGeom& g, long elem_size, void* stream = nullptr);
// y[i] = cmp(a[off_a(i)], b[off_b(i)]) ? 1 : 0 (autodiff/ops/select.cpp eq/lt/le/gt/ge).
enum class CompareOp : int { eq, lt, le, gt, ge };
template <class T>
void compare_broadcast(CompareOp op, const T* a, const T* b, T* y, const BroadcastGeom& g, void* stream = nullptr);
// y = clamp(x, lo, hi), inside = (lo <= x <= hi) ? 1 : 0 (the VJP's mask).
template <class T> void clamp(const T* x, T* y, T* inside, long n, T lo, T hi, void* stream = nullptr);
// Harmonic stacking (kernels/cpu/harmonic_stack.h): y[b,s,r,j] = x[b,r,j+shift[s]], 0 outside [0, L).
// `shift` is a HOST array of S <= kMaxHarmonicShifts entries (passed by value to the kernel).
inline constexpr int kMaxHarmonicShifts = 32;
template <class T>
void harmonic_stack_forward(const T* x, long B, long R, long L, const long* shift, long S, T* y,
                            void* stream = nullptr);
// gx[b,r,i] = sum_s gy[b,s,r,i-shift[s]] over in-range columns: a gather per input element (one
// writer per gx element, no atomics, deterministic), overwriting gx.
template <class T>
void harmonic_stack_backward(const T* gy, long B, long R, long L, const long* shift, long S, T* gx,
                             void* stream = nullptr);
// Per-element pointwise loss (kernels/common/loss_math.h) over n elements: e[i] = loss(a[i], b[i], w[i])
// (w null: 1); da, db, dw (each may be null) receive the partials.
template <class T>
void pointwise_loss(PointwiseLoss kind, const T* a, const T* b, const T* w, T* e, T* da, T* db, T* dw, long n,
                    void* stream = nullptr);
// The SGD step (kernels/common/sgd_math.h; cpu::sgd_update semantics); buf may be null without momentum.
template <class T>
void sgd_update(T* p, const T* g, T* buf, long n, const cpu::SgdStep& s, void* stream = nullptr);

// ---- dtype casts, where, logsumexp (kernels/cuda/cast.cu, where.cu, logsumexp.cu) ----
// The element types of a tensor (autodiff DType without the autodiff header).
enum class ElemType : int { f32, f64, i32, i64 };
// dst[i] = static_cast<to>(src[i]) for i < n (Tensor::to(DType) on the device).
void cast(const void* src, ElemType from, void* dst, ElemType to, long n, void* stream = nullptr);
// Three-operand broadcast geometry (merged dims as BroadcastGeom): strides of cond, a and b.
struct WhereGeom {
  int nd = 0;
  long shape[kMaxDims] = {};
  long sc[kMaxDims] = {};
  long sa[kMaxDims] = {};
  long sb[kMaxDims] = {};
};
// y[i] = cond[off_c(i)] != 0 ? a[off_a(i)] : b[off_b(i)], mask[i] = that test as 1/0 (cond of any ElemType).
template <class T>
void where_broadcast(const void* cond, ElemType cond_type, const T* a, const T* b, T* y, T* mask,
                     const WhereGeom& g, void* stream = nullptr);
// cpu::logsumexp semantics along n of [outer, n, inner] (max-shifted; a non-finite max is the result).
template <class T> void logsumexp(const T* x, T* y, long outer, long n, long inner, void* stream = nullptr);

// ---- FFT convolution via cuFFT (kernels/cuda/fft_convolve.cu; cpu::fft_convolve_window) ----
// For each row r < batch: c_r = x_r * h_r, the full linear convolution (length x_len + h_len - 1) of
// x_r = x[r * x_len ..] (read time-reversed when x_reverse) with h_r = h (h_per_row: h[r * h_len ..]);
// then y[r * count + i] = c_r[start + i] (y_reverse: c_r[start + count - 1 - i]), or with sum_rows
// y[i] += sum_r c_r[start + i] (y has count elements and is accumulated into). Deterministic.
struct FftConvGeom {
  long batch = 1, x_len = 0, h_len = 0, start = 0, count = 0;
  bool x_reverse = false, h_per_row = false, y_reverse = false, sum_rows = false;
};
template <class T>
void fft_convolve(const T* x, const T* h, T* y, const FftConvGeom& g, void* stream = nullptr);

}  // namespace pianograd::kernels::cuda
