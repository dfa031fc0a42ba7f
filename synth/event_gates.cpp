// The event renderer's compact gate source (see event_gates.h): the host loops here are the CPU reference
// of kernels/cuda/event_gate.cu and reproduce, sample for sample and in the same order, what the event
// renderer's dense rows (EventPlan::gate_row) and its host chain rule (plan_backward) compute.
#include "synth/event_gates.h"

#include <algorithm>
#include <string>

#include "autodiff/device.h"
#include "autodiff/errors.h"
#include "kernels/common/event_gate_math.h"
#include "kernels/cuda/device.h"
#include "kernels/cuda/event_gate.h"

namespace pianograd::detail {

namespace ke = kernels;

template <class T>
EventGateSource<T>::EventGateSource(long N, double sample_rate, double damper_tau)
    : N_(N), sr_(sample_rate), tau_(damper_tau) {
  if (N <= 0) throw ValueError("event gates: samples per item must be positive, got " + std::to_string(N));
}

template <class T>
void EventGateSource<T>::add_item(std::vector<double> pedal) {
  if (!pedal.empty() && static_cast<long>(pedal.size()) != N_)
    throw ShapeError("event gates: pedal of item " + std::to_string(items()) + " has " + std::to_string(pedal.size()) +
                     " samples, expected " + std::to_string(N_));
  pedal_off_.push_back(pedal.empty() ? -1 : static_cast<std::int64_t>(pedal_items_++) * N_);
  pedals_.push_back(std::move(pedal));
}

template <class T>
const double* EventGateSource<T>::item_pedal(long item) const {
  const auto& p = pedals_[static_cast<size_t>(item)];
  return p.empty() ? nullptr : p.data();
}

template <class T>
void EventGateSource<T>::add_row(double off, long lo, long hi, long from, long end) {
  off_.push_back(off);
  lo_.push_back(lo);
  hi_.push_back(hi);
  from_.push_back(from);
  end_.push_back(end);
}

template <class T>
long EventGateSource<T>::pedal_offset(long item) const {
  if (item < 0 || item >= items())
    throw IndexError("event gates: item " + std::to_string(item) + " out of range [0, " + std::to_string(items()) + ")");
  const std::int64_t o = pedal_off_[static_cast<size_t>(item)];
  return o < 0 || !pedal_grad_ ? -1 : rows() + static_cast<long>(o);
}

// The bank must be the one these rows were added for (same rows, every row in a known item).
template <class T>
void EventGateSource<T>::check(const PackedBank<T>& pk, const char* what) const {
  if (pk.rows() != rows())
    throw ValueError(std::string("event gates: ") + what + ": the bank has " + std::to_string(pk.rows()) +
                     " rows, the source " + std::to_string(rows()));
  for (long r = 0; r < rows(); ++r) {
    const long item = static_cast<long>(pk.row_base[static_cast<size_t>(r)]) / N_;
    if (item >= items())
      throw ValueError(std::string("event gates: ") + what + ": row " + std::to_string(r) + " lies in item " +
                       std::to_string(item) + " but only " + std::to_string(items()) + " items were added");
  }
}

template <class T>
void EventGateSource<T>::fill_cpu(const PackedBank<T>& pk, T* gate) const {
  check(pk, "fill");
  for (long r = 0; r < rows(); ++r) {
    const size_t u = static_cast<size_t>(r);
    const long w0 = static_cast<long>(pk.row_base[u]) % N_, item = static_cast<long>(pk.row_base[u]) / N_;
    const double* ped = item_pedal(item);
    T* row = gate + pk.gate_off[u];
    for (long t = pk.row_first[u]; t < pk.row_len[u]; ++t) {
      const long n = w0 + t;
      if (n < from_[u] || n >= end_[u]) {
        row[t] = T(0);
        continue;
      }
      const double S = ke::event_sigmoid(n, lo_[u], hi_[u], sr_, off_[u], tau_);
      row[t] = static_cast<T>(ke::event_gate_value(S, ped ? ped[n] : 0.0));
    }
  }
}

template <class T>
std::vector<double> EventGateSource<T>::reduce_cpu(const PackedBank<T>& pk, const T* gg) const {
  check(pk, "reduce");
  std::vector<double> out(static_cast<size_t>(reduced_size()), 0.0);
  double* gped = out.data() + rows();
  const double inv_tau = 1.0 / tau_;
  for (long r = 0; r < rows(); ++r) {
    const size_t u = static_cast<size_t>(r);
    const long w0 = static_cast<long>(pk.row_base[u]) % N_, item = static_cast<long>(pk.row_base[u]) / N_;
    const std::int64_t po = pedal_off_[static_cast<size_t>(item)];
    const double* ped = item_pedal(item);
    const T* row = gg + pk.gate_off[u];
    // Before lo (and before the row's own stretch) S = 0 and d has no derivative.
    const long t0 = std::max<long>(pk.row_first[u], std::max(from_[u], lo_[u]) - w0);
    const long t1 = std::min<long>(pk.row_len[u], end_[u] - w0);
    double acc = 0;
    for (long t = t0; t < t1; ++t) {
      const double g = static_cast<double>(row[t]);
      if (g == 0.0) continue;
      const long n = w0 + t;
      const double S = ke::event_sigmoid(n, lo_[u], hi_[u], sr_, off_[u], tau_);
      acc -= ke::event_gate_offset_term(g, S, ped ? ped[n] : 0.0, inv_tau);
      if (ped && pedal_grad_) gped[po + n] -= ke::event_gate_pedal_term(g, S);
    }
    out[u] = acc;
  }
  return out;
}

namespace {
template <class V>
Tensor upload_vec(const V& v, Device device) {  // at least one element: no zero-size device tensors
  if (v.empty()) return from_vector(V(1)).to(device);
  return from_vector(v).to(device);
}
}  // namespace

template <class T>
typename EventGateSource<T>::KernelRows EventGateSource<T>::kernel_rows(const PackedBank<T>& pk, bool with_pedal) const {
  check(pk, "kernel rows");
  const long R = rows();
  KernelRows k;
  k.pstart.resize(static_cast<size_t>(R + 1));
  k.nshift.resize(static_cast<size_t>(R));
  k.ped.resize(static_cast<size_t>(R));
  for (long r = 0; r < R; ++r) {
    const size_t u = static_cast<size_t>(r);
    k.pstart[u] = pk.gate_off[u] + pk.row_first[u];
    k.nshift[u] = pk.row_base[u] % N_ - pk.gate_off[u];
    k.ped[u] = pedal_off_[static_cast<size_t>(pk.row_base[u] / N_)];
  }
  k.pstart[static_cast<size_t>(R)] = pk.gate_size;
  if (with_pedal) {
    k.pedal.assign(static_cast<size_t>(pedal_items_ * N_), 0.0);
    for (long b = 0; b < items(); ++b)
      if (const double* p = item_pedal(b)) std::copy(p, p + N_, k.pedal.begin() + pedal_off_[static_cast<size_t>(b)]);
  }
  kernels::EventGateRows& v = k.rows;
  v.rows = R;
  v.size = pk.gate_size;
  v.lo = lo_.data();
  v.hi = hi_.data();
  v.from = from_.data();
  v.end = end_.data();
  v.off = off_.data();
  v.sample_rate = sr_;
  v.tau = tau_;
  return k;
}

template <class T>
kernels::EventGateRows EventGateSource<T>::device_rows() const {
  kernels::EventGateRows d;
  d.rows = rows();
  d.size = dev_.gate_size;
  d.pstart = dev_.pstart.template device_data<std::int64_t>();
  d.nshift = dev_.nshift.template device_data<std::int64_t>();
  d.lo = dev_.lo.template device_data<std::int64_t>();
  d.hi = dev_.hi.template device_data<std::int64_t>();
  d.from = dev_.from.template device_data<std::int64_t>();
  d.end = dev_.end.template device_data<std::int64_t>();
  d.off = dev_.off.template device_data<double>();
  d.ped = dev_.ped.template device_data<std::int64_t>();
  d.pedal = dev_.pedal.template device_data<double>();
  d.sample_rate = sr_;
  d.tau = tau_;
  return d;
}

template <class T>
void EventGateSource<T>::fill_cuda(const PackedBank<T>& pk, Device device, T* gate) {
  const KernelRows k = kernel_rows(pk, false);
  dev_ = Dev{device,
             pk.gate_size,
             upload_vec(k.pstart, device),
             upload_vec(k.nshift, device),
             upload_vec(lo_, device),
             upload_vec(hi_, device),
             upload_vec(from_, device),
             upload_vec(end_, device),
             upload_vec(off_, device),
             upload_vec(k.ped, device),
             Tensor::empty({std::max(pedal_items_ * N_, 1L)}, DType::f64, device)};
  uploaded_ = true;
  for (long b = 0; b < items(); ++b)  // each item's pedal into its slice, straight from the item's vector
    if (const double* p = item_pedal(b))
      kernels::cuda::copy_sync(dev_.pedal.template device_data<double>() + pedal_off_[static_cast<size_t>(b)], p,
                               static_cast<size_t>(N_) * sizeof(double), kernels::cuda::CopyKind::host_to_device,
                               cuda::current_stream());
  if (pk.gate_size == 0) return;
  kernels::cuda::event_gate_fill<T>(device_rows(), gate, cuda::current_stream());
}

template <class T>
std::vector<double> EventGateSource<T>::reduce_cuda(const PackedBank<T>& pk, Device device, const T* gg) {
  check(pk, "reduce");
  if (pk.gate_size == 0 || !gg) return std::vector<double>(static_cast<size_t>(reduced_size()), 0.0);
  if (!uploaded_ || !(dev_.device == device))
    throw ValueError("event gates: reduce_cuda on " + device.str() + " without fill_cuda on that device first");
  Tensor out = zeros({std::max(reduced_size(), 1L)}, DType::f64, device);

  double* o = out.device_data<double>();
  kernels::cuda::event_gate_reduce<T>(device_rows(), gg, o, pedal_items_ == 0 || !pedal_grad_ ? nullptr : o + rows(),
                                      cuda::current_stream());
  std::vector<double> v = out.cpu().to_vector<double>();
  v.resize(static_cast<size_t>(reduced_size()));
  return v;
}

template class EventGateSource<float>;
template class EventGateSource<double>;

}  // namespace pianograd::detail
