// The roll renderer's compact gates (see roll_gates.h): the CPU reference loops over
// kernels/common/roll_gate_math.h, and the CUDA entry points over kernels/cuda/roll_gate.h.
#include "synth/roll_gates.h"

#include <algorithm>
#include <string>

#include "autodiff/device.h"
#include "autodiff/errors.h"
#include "kernels/cuda/roll_gate.h"
#include "synth/performance.h"

namespace pianograd::detail {

namespace kcu = kernels::cuda;
namespace kk = kernels;
static_assert(kk::kRollKeys == kNumKeys, "the roll gate kernels assume 88 keys");

template <class T>
RollGateSource<T>::RollGateSource(std::shared_ptr<const std::vector<double>> roll, Tensor device_roll, long B, long F,
                                  long N, double sample_rate, double frame_rate, double damper_tau)
    : roll_(std::move(roll)),
      device_roll_(std::move(device_roll)),
      B_(B),
      N_(N),
      geom_(kernels::roll_gate_geom(F, sample_rate, frame_rate, damper_tau)) {
  if (!roll_ || static_cast<long>(roll_->size()) != B * F * kNumKeys)
    throw ShapeError("render_roll (compact gates): gate roll of " + std::to_string(roll_ ? roll_->size() : 0) +
                     " values, expected [" + std::to_string(B) + ", " + std::to_string(F) + ", 88]");
}

template <class T>
void RollGateSource<T>::add_row(long item, long key, long e0, long a, long end) {
  if (item < 0 || item >= B_ || key < 0 || key >= kNumKeys || e0 < 1 || e0 > geom_.F + 1)
    throw IndexError("render_roll (compact gates): row (item " + std::to_string(item) + ", key " + std::to_string(key) +
                     ", edge " + std::to_string(e0) + ") outside the roll [" + std::to_string(B_) + ", " +
                     std::to_string(geom_.F) + ", 88]");
  rows_.push_back(Row{item, key, e0, a, end});
}

template <class T>
RollKernelRecords RollGateSource<T>::kernel_records(const PackedBank<T>& pk) const {
  if (pk.rows() != rows())
    throw ValueError("render_roll (compact gates): the packed bank has " + std::to_string(pk.rows()) +
                     " gate rows but the source " + std::to_string(rows()));
  RollKernelRecords k;
  k.rows = rows();
  k.chunk = kChunk;
  k.geom = geom_;
  std::vector<std::int64_t>& rec = k.rec;
  rec.resize(static_cast<size_t>(rows() * kk::kRollRecord));
  long c = 0;
  for (long r = 0; r < rows(); ++r) {
    const size_t u = static_cast<size_t>(r);
    const Row& q = rows_[u];
    const long w0 = pk.row_base[u] % N_, first = pk.row_first[u], len = pk.row_len[u];
    if (pk.row_base[u] / N_ != q.item)
      throw ValueError("render_roll (compact gates): packed row " + std::to_string(r) + " lies in item " +
                       std::to_string(pk.row_base[u] / N_) + " but was added for item " + std::to_string(q.item));
    const long begin = std::clamp(q.a - w0, first, len), end = std::clamp(q.end - w0, begin, len);
    std::int64_t* p = rec.data() + r * kk::kRollRecord;
    p[kk::kRecStart] = pk.gate_off[u] + first;
    p[kk::kRecOff] = pk.gate_off[u];
    p[kk::kRecW0] = w0;
    p[kk::kRecBegin] = begin;
    p[kk::kRecEnd] = end;
    p[kk::kRecCol] = (q.item * geom_.F) * kNumKeys + q.key;
    p[kk::kRecE0] = q.e0;
    p[kk::kRecChunk] = c;
    c += (end - begin + kChunk - 1) / kChunk;
  }
  k.chunks = c;
  return k;
}

template <class T>
void RollGateSource<T>::fill_cpu(const PackedBank<T>& pk, T* gate) const {
  const std::vector<std::int64_t> rec = kernel_records(pk).rec;
  const double* roll = roll_->data();
#pragma omp parallel for schedule(dynamic, 1)
  for (long r = 0; r < rows(); ++r) {
    const std::int64_t* p = rec.data() + r * kk::kRollRecord;
    const long first = pk.row_first[static_cast<size_t>(r)], len = pk.row_len[static_cast<size_t>(r)];
    T* row = gate + p[kk::kRecOff];
    std::fill(row + first, row + len, T(0));
    for (long t = p[kk::kRecBegin]; t < p[kk::kRecEnd]; ++t)
      row[t] = static_cast<T>(1.0 - kernels::roll_gate_h(geom_, roll + p[kk::kRecCol], kNumKeys, p[kk::kRecW0] + t,
                                                         p[kk::kRecE0]));
  }
}

namespace {
struct HostAdd {  // roll_gate_h_backward's sink on the host: one column of the [B, F, 88] gradient
  double* col;
  void operator()(std::int64_t f, double v) const { col[f * kNumKeys] += v; }
};
}  // namespace

template <class T>
std::vector<double> RollGateSource<T>::reduce_cpu(const PackedBank<T>& pk, const T* gg) const {
  const std::vector<std::int64_t> rec = kernel_records(pk).rec;
  std::vector<double> out(roll_->size(), 0.0);
  // Rows of one key and item share a column: serial over rows (this is the reference, not the hot path).
  for (long r = 0; r < rows(); ++r) {
    const std::int64_t* p = rec.data() + r * kk::kRollRecord;
    HostAdd add{out.data() + p[kk::kRecCol]};
    for (long t = p[kk::kRecBegin]; t < p[kk::kRecEnd]; ++t)
      kernels::roll_gate_h_backward(geom_, p[kk::kRecW0] + t, p[kk::kRecE0],
                                    -static_cast<double>(gg[p[kk::kRecOff] + t]), add);  // dL/dh = -dL/dd
  }
  return out;
}

template <class T>
void RollGateSource<T>::fill_cuda(const PackedBank<T>& pk, Device device, T* gate) {
  require_device(device, "render_roll (compact gates)");
  if (pk.gate_size == 0) return;
  const RollKernelRecords k = kernel_records(pk);
  dev_chunks_ = k.chunks;
  dev_records_ = from_vector(k.rec).to(device);
  if (!device_roll_.defined() || device_roll_.device() != device)  // else: the control itself, read in T
    device_roll_ = from_vector(*roll_).to(dtype_v<T>).to(device);
  device_roll_ = device_roll_.contiguous();
  kcu::roll_gate_fill<T>(dev_records_.device_data<std::int64_t>(), rows(), device_roll_.device_data<T>(), geom_,
                         pk.gate_size, gate, cuda::current_stream());
}

template <class T>
std::vector<double> RollGateSource<T>::reduce_cuda(const PackedBank<T>& pk, Device device, const T* gg) {
  const long size = static_cast<long>(roll_->size());
  if (pk.gate_size == 0 || gg == nullptr || dev_chunks_ == 0) return std::vector<double>(static_cast<size_t>(size), 0.0);
  if (!dev_records_.defined() || dev_records_.device() != device)
    throw ValueError("render_roll (compact gates): reduce_cuda on " + device.str() + " before fill_cuda there");
  Tensor out = Tensor::empty({std::max(size, 1L)}, DType::f64, device);
  kcu::roll_gate_reduce<T>(dev_records_.device_data<std::int64_t>(), rows(), dev_chunks_, kChunk, gg, geom_, size,
                           out.device_data<double>(), cuda::current_stream());
  std::vector<double> v = out.cpu().to_vector<double>();
  v.resize(static_cast<size_t>(size));
  return v;
}

template class RollGateSource<float>;
template class RollGateSource<double>;

}  // namespace pianograd::detail
