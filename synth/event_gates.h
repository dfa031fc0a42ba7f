// Internal to the event renderer: its damper gates as a compact GateSource (synth/modal_packed.h).
// Per packed row (a note in a window) it keeps six numbers — the note's offset, its sigmoid's saturation
// bounds [lo, hi), and the stretch [from, end) its dense row covered — and per batch item with a pedal
// the per-sample pedal; from these it writes the rows where the bank runs and reduces their gradient to
// what the renderer's inputs need, with the per-sample math of kernels/common/event_gate_math.h.
//
// Reduced gradients (reduce_cpu / reduce_cuda), doubles:
//   [0, rows)                           dL/doffset of each packed row's note
//   [rows + k N, rows + (k + 1) N)      dL/dpedal(n) per sample of the k-th item that has a pedal
// (pedal_offset(item) gives the start; -1 for items without a pedal, or for all items when the pedal
// gradient is off: set_pedal_grad(false) when no pedal requires grad saves its reduction and, on CUDA,
// downloading N doubles per pedalled item).
#pragma once
#include <cstdint>
#include <vector>

#include "autodiff/tensor.h"
#include "kernels/common/event_gate_kernel.h"
#include "synth/modal_packed.h"


namespace pianograd::detail {

template <class T>
class EventGateSource final : public GateSource<T> {
 public:
  // N: samples per item (packed row r belongs to item row_base[r] / N).
  EventGateSource(long N, double sample_rate, double damper_tau);

  // Items in batch order (item b = the b-th call): its per-sample pedal, or empty (pedal up).
  // Kept as given (move it in: no copy of the batch's pedals on the host).
  void add_item(std::vector<double> pedal);
  // Rows in the bank's packed order: off in seconds; lo, hi, from, end item-absolute samples. Row sample
  // n is 0 outside [from, end), else event_gate_value(event_sigmoid(n, lo, hi, ...), pedal(n)).
  void add_row(double off, long lo, long hi, long from, long end);

  void set_pedal_grad(bool on) { pedal_grad_ = on; }
  long items() const { return static_cast<long>(pedal_off_.size()); }
  long rows() const { return static_cast<long>(off_.size()); }
  // Where item b's per-sample pedal gradient starts in the reduced gradients (-1: the item has no pedal).
  long pedal_offset(long item) const;

  // The row arrays the kernels read (kernels/common/event_gate_kernel.h), on the host: what fill_cuda
  // uploads, and what the CPU tests run the kernels' per-position logic over. view() points into this
  // object (and at the source's own per-row arrays); pedal holds every pedalled item's samples back to
  // back only when asked for (fill_cuda copies them to the device item by item instead).
  struct KernelRows {
    std::vector<std::int64_t> pstart, nshift, ped;
    std::vector<double> pedal;
    kernels::EventGateRows rows;
    kernels::EventGateRows view() const {
      kernels::EventGateRows v = rows;
      v.pstart = pstart.data();
      v.nshift = nshift.data();
      v.ped = ped.data();
      v.pedal = pedal.data();
      return v;
    }
  };
  KernelRows kernel_rows(const PackedBank<T>& pk, bool with_pedal) const;

  void fill_cpu(const PackedBank<T>& pk, T* gate) const override;
  void fill_cuda(const PackedBank<T>& pk, Device device, T* gate) override;
  std::vector<double> reduce_cpu(const PackedBank<T>& pk, const T* gg) const override;
  std::vector<double> reduce_cuda(const PackedBank<T>& pk, Device device, const T* gg) override;

 private:
  void check(const PackedBank<T>& pk, const char* what) const;
  kernels::EventGateRows device_rows() const;  // the uploaded arrays
  long reduced_size() const { return rows() + (pedal_grad_ ? pedal_items_ * N_ : 0); }
  const double* item_pedal(long item) const;  // null: pedal up

  long N_;
  double sr_, tau_;
  std::vector<double> off_;
  std::vector<std::int64_t> lo_, hi_, from_, end_;
  std::vector<std::int64_t> pedal_off_;       // per item: k N for the k-th item with a pedal (-1: none)
  std::vector<std::vector<double>> pedals_;   // per item (empty: none)
  long pedal_items_ = 0;
  bool pedal_grad_ = true;
  // Device copies made by fill_cuda, kept for reduce_cuda.
  struct Dev {
    Device device;
    long gate_size = 0;
    Tensor pstart, nshift, lo, hi, from, end, off, ped, pedal;
  };
  Dev dev_;
  bool uploaded_ = false;
};

}  // namespace pianograd::detail
