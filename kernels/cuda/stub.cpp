// The CUDA backend of a CPU-only build: links, says that CUDA is not available, and throws from
// every function that would touch a device.
#include <stdexcept>

#include "kernels/cuda/cuda_kernels.h"
#include "kernels/cuda/device.h"

namespace pianograd::kernels::cuda {
namespace {
[[noreturn]] void unavailable() { throw std::runtime_error("CUDA not available in this build"); }
}  // namespace

bool available() { return false; }
int device_count() { return 0; }

void* device_alloc(std::size_t) { unavailable(); }
void device_free(void*) noexcept {}
void copy_to_device(void*, const void*, std::size_t) { unavailable(); }
void copy_to_host(void*, const void*, std::size_t) { unavailable(); }
void device_memset_zero(void*, std::size_t) { unavailable(); }
void synchronize() { unavailable(); }

bool built_with_cuda() { return false; }
void set_device(int) { unavailable(); }
int current_device() { return 0; }
void* current_stream() { return nullptr; }
void set_current_stream(void*) {}
void* stream_create() { unavailable(); }
void stream_destroy(void*) noexcept {}
void stream_synchronize(void*) { unavailable(); }
void copy_sync(void*, const void*, std::size_t, CopyKind, void*) { unavailable(); }
void copy_device_async(void*, const void*, std::size_t, void*) { unavailable(); }
void memset_zero_async(void*, std::size_t, void*) { unavailable(); }
void* cached_alloc(std::size_t, int, void*) { unavailable(); }
void cached_free(void*, int) noexcept {}
void empty_cache() {}
MemoryStats memory_stats(int) { return {}; }
void reset_peak_memory_stats(int) {}

template <class T>
void binary(BinaryOp, const T*, long, const T*, long, T*, long, void*) { unavailable(); }
template <class T>
void unary(UnaryOp, const T*, T*, long, void*) { unavailable(); }
template <class T>
void unary_backward(UnaryOp, const T*, const T*, const T*, T*, long, void*) { unavailable(); }
template <class T>
void reduce_sum(const T*, T*, long, long, long, void*) { unavailable(); }
template <class T>
void reduce_max(const T*, T*, long, long, long, bool, void*) { unavailable(); }
template <class T>
void softmax_rows(const T*, T*, long, long, bool, void*) { unavailable(); }
template <class T>
void softmax_backward_rows(const T*, const T*, T*, long, long, bool, void*) { unavailable(); }
template <class T>
void layer_norm(const T*, const T*, const T*, T*, T*, T*, long, long, T, void*) { unavailable(); }
template <class T>
void layer_norm_backward(const T*, const T*, const T*, const T*, const T*, T*, T*, T*, long, long, void*) {
  unavailable();
}
template <class T>
void matmul(const T*, const T*, T*, long, long, long, bool, bool, long, long, long, long, void*) { unavailable(); }
template <class T>
void adam_update(T*, const T*, T*, T*, long, const cpu::AdamStep&, void*) { unavailable(); }
template <class T>
void modal_forward(const ModalBankDev<T>&, const T*, long, long, T*, void*) { unavailable(); }
template <class T>
void modal_backward(const ModalBankDev<T>&, const T*, long, long, const T*, const ModalGradsDev<T>&, void*) {
  unavailable();
}
template <class T>
void conv_forward(const T*, const T*, const T*, T*, const cpu::ConvGeom&, void*) { unavailable(); }
template <class T>
void conv_backward_input(const T*, const T*, T*, const cpu::ConvGeom&, void*) { unavailable(); }
template <class T>
void conv_backward_weight(const T*, const T*, T*, const cpu::ConvGeom&, void*) { unavailable(); }
template <class T>
void conv_bias_backward(const T*, T*, long, long, long, void*) { unavailable(); }
template <class T>
void stft_magnitude(const T*, long, const cpu::StftGeometry&, T*, T*, void*) { unavailable(); }
template <class T>
void stft_magnitude_backward(const T*, const T*, long, const cpu::StftGeometry&, T*, const T*, void*) {
  unavailable();
}
template <class T>
void spectral_l1_terms(const T*, const T*, long, T, T, T, T*, T*, double*, void*) { unavailable(); }
template <class T>
void spectral_loss_finish(const double*, T*, void*) { unavailable(); }
template <class T>
void binary_broadcast(BinaryOp, const T*, const T*, T*, const BroadcastGeom&, void*) { unavailable(); }
template <class T>
void broadcast_copy(const T*, T*, const BroadcastGeom&, void*) { unavailable(); }
template <class T>
void reduce_arg(const T*, T*, std::int64_t*, long, long, long, bool, void*) { unavailable(); }
template <class T>
void arg_scatter(const T*, const std::int64_t*, T*, long, long, long, void*) { unavailable(); }

#define PG_CUDA_STUB_INST(T)                                                                           \
  template void binary<T>(BinaryOp, const T*, long, const T*, long, T*, long, void*);                 \
  template void unary<T>(UnaryOp, const T*, T*, long, void*);                                         \
  template void unary_backward<T>(UnaryOp, const T*, const T*, const T*, T*, long, void*);            \
  template void reduce_sum<T>(const T*, T*, long, long, long, void*);                                 \
  template void reduce_max<T>(const T*, T*, long, long, long, bool, void*);                           \
  template void softmax_rows<T>(const T*, T*, long, long, bool, void*);                               \
  template void softmax_backward_rows<T>(const T*, const T*, T*, long, long, bool, void*);            \
  template void layer_norm<T>(const T*, const T*, const T*, T*, T*, T*, long, long, T, void*);        \
  template void layer_norm_backward<T>(const T*, const T*, const T*, const T*, const T*, T*, T*, T*, long, \
                                       long, void*);                                                  \
  template void matmul<T>(const T*, const T*, T*, long, long, long, bool, bool, long, long, long, long, void*); \
  template void adam_update<T>(T*, const T*, T*, T*, long, const cpu::AdamStep&, void*);              \
  template void modal_forward<T>(const ModalBankDev<T>&, const T*, long, long, T*, void*);            \
  template void modal_backward<T>(const ModalBankDev<T>&, const T*, long, long, const T*,              \
                                  const ModalGradsDev<T>&, void*);                                    \
  template void conv_forward<T>(const T*, const T*, const T*, T*, const cpu::ConvGeom&, void*);       \
  template void conv_backward_input<T>(const T*, const T*, T*, const cpu::ConvGeom&, void*);          \
  template void conv_backward_weight<T>(const T*, const T*, T*, const cpu::ConvGeom&, void*);         \
  template void conv_bias_backward<T>(const T*, T*, long, long, long, void*);                         \
  template void stft_magnitude<T>(const T*, long, const cpu::StftGeometry&, T*, T*, void*);            \
  template void stft_magnitude_backward<T>(const T*, const T*, long, const cpu::StftGeometry&, T*, const T*, \
                                           void*);                                                    \
  template void spectral_l1_terms<T>(const T*, const T*, long, T, T, T, T*, T*, double*, void*);       \
  template void spectral_loss_finish<T>(const double*, T*, void*);                                    \
  template void binary_broadcast<T>(BinaryOp, const T*, const T*, T*, const BroadcastGeom&, void*);    \
  template void broadcast_copy<T>(const T*, T*, const BroadcastGeom&, void*);                         \
  template void reduce_arg<T>(const T*, T*, std::int64_t*, long, long, long, bool, void*);            \
  template void arg_scatter<T>(const T*, const std::int64_t*, T*, long, long, long, void*);
PG_CUDA_STUB_INST(float)
PG_CUDA_STUB_INST(double)
#undef PG_CUDA_STUB_INST

// Transcriber-path ops (kernels/cuda/model_ops.cu).
void strided_copy(const void*, void*, const StridedCopyGeom&, long, void*) { unavailable(); }
template <class T>
void compare_broadcast(CompareOp, const T*, const T*, T*, const BroadcastGeom&, void*) { unavailable(); }
template <class T>
void clamp(const T*, T*, T*, long, T, T, void*) { unavailable(); }
template <class T>
void harmonic_stack_forward(const T*, long, long, long, const long*, long, T*, void*) { unavailable(); }
template <class T>
void harmonic_stack_backward(const T*, long, long, long, const long*, long, T*, void*) { unavailable(); }
template <class T>
void pointwise_loss(PointwiseLoss, const T*, const T*, const T*, T*, T*, T*, T*, long, void*) { unavailable(); }
template <class T>
void sgd_update(T*, const T*, T*, long, const cpu::SgdStep&, void*) { unavailable(); }
#define PG_CUDA_MODEL_STUB_INST(T)                                                                    \
  template void compare_broadcast<T>(CompareOp, const T*, const T*, T*, const BroadcastGeom&, void*); \
  template void clamp<T>(const T*, T*, T*, long, T, T, void*);                                       \
  template void harmonic_stack_forward<T>(const T*, long, long, long, const long*, long, T*, void*); \
  template void harmonic_stack_backward<T>(const T*, long, long, long, const long*, long, T*, void*); \
  template void pointwise_loss<T>(PointwiseLoss, const T*, const T*, const T*, T*, T*, T*, T*, long, void*); \
  template void sgd_update<T>(T*, const T*, T*, long, const cpu::SgdStep&, void*);
PG_CUDA_MODEL_STUB_INST(float)
PG_CUDA_MODEL_STUB_INST(double)
#undef PG_CUDA_MODEL_STUB_INST
template <class T>
void fft_convolve(const T*, const T*, T*, const FftConvGeom&, void*) { unavailable(); }
template void fft_convolve<float>(const float*, const float*, float*, const FftConvGeom&, void*);
template void fft_convolve<double>(const double*, const double*, double*, const FftConvGeom&, void*);

// Casts, where, logsumexp (kernels/cuda/cast.cu, where.cu, logsumexp.cu).
void cast(const void*, ElemType, void*, ElemType, long, void*) { unavailable(); }
template <class T>
void where_broadcast(const void*, ElemType, const T*, const T*, T*, T*, const WhereGeom&, void*) { unavailable(); }
template <class T>
void logsumexp(const T*, T*, long, long, long, void*) { unavailable(); }
#define PG_CUDA_REST_STUB_INST(T)                                                                   \
  template void where_broadcast<T>(const void*, ElemType, const T*, const T*, T*, T*, const WhereGeom&, void*); \
  template void logsumexp<T>(const T*, T*, long, long, long, void*);
PG_CUDA_REST_STUB_INST(float)
PG_CUDA_REST_STUB_INST(double)
#undef PG_CUDA_REST_STUB_INST

}  // namespace pianograd::kernels::cuda
