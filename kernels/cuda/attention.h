// The fused attention on a CUDA device (kernels/cuda/attention.cu; CPU-only builds link
// kernels/cuda/stub_attention.cpp, which throws). Device pointers, the layout and semantics of
// kernels/cpu/attention.h: q, o, dout, dq [heads, tq, d]; k, v, dk, dv [heads, tk, d]; lse [heads, tq];
// causal masking aligned to the end (tq <= tk then), tk >= 1, 1 <= d <= kAttnCudaMaxHeadDim.
// Launches are asynchronous on `stream` (a cudaStream_t as void*); launch errors throw std::runtime_error.
#pragma once

namespace pianograd::kernels::cuda {

// Each lane of a warp keeps d / 32 output accumulators in registers; the tiles sit in shared memory.
inline constexpr long kAttnCudaMaxHeadDim = 128;

template <class T>
void attention_forward(const T* q, const T* k, const T* v, T* o, T* lse, long heads, long tq, long tk, long d,
                       bool causal, T scale, void* stream);
// dq is zeroed here, then accumulated atomically across key tiles (its float rounding may differ
// from run to run in the last bits; dk and dv are written once).
template <class T>
void attention_backward(const T* q, const T* k, const T* v, const T* o, const T* lse, const T* dout, T* dq, T* dk,
                        T* dv, long heads, long tq, long tk, long d, bool causal, T scale, void* stream);

}  // namespace pianograd::kernels::cuda
