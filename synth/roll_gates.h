// Compact damper gates of the roll renderer (modal_packed.h's GateSource): on the packed route the host
// keeps a few numbers per strike row (its key, item, first edge, first and last sample) and the gate roll;
// the rows are written where the bank runs from kernels/common/roll_gate_math.h (on CUDA: one kernel,
// kernels/cuda/roll_gate.cu) and their gradient is reduced there to the gate roll's gradient.
//
// Reduced layout (PackedGrads::gate_reduced): dL/d gate roll, [B, F, 88] row-major, in double.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "autodiff/tensor.h"
#include "kernels/common/roll_gate_kernel.h"
#include "synth/modal_packed.h"

namespace pianograd::detail {

// What the device kernels (kernels/cuda/roll_gate.h) are launched with: per packed row kRollRecord int64
// (kernels/common/roll_gate_kernel.h), the reduction's chunk count and size, and the edge geometry.
struct RollKernelRecords {
  std::vector<std::int64_t> rec;
  long rows = 0, chunks = 0, chunk = 0;
  kernels::RollGateGeom geom;
};

template <class T>
class RollGateSource final : public GateSource<T> {
 public:
  // roll: the gate roll [B, F, 88] in double (host); device_roll: the same control where it lives when
  // that is a CUDA device (read there in T and widened, which equals the host doubles), or undefined
  // (fill_cuda then uploads the host roll). N: samples per item.
  RollGateSource(std::shared_ptr<const std::vector<double>> roll, Tensor device_roll, long B, long F, long N,
                 double sample_rate, double frame_rate, double damper_tau);

  // The next packed row (call in append order, one per row of every appended GroupBank): the strike's
  // item and key index, its first edge e0 (RollPlan::first_edge at a), and the item samples [a, end)
  // where its dense row held the gate (zero elsewhere, as the dense row was).
  void add_row(long item, long key, long e0, long a, long end);
  long rows() const { return static_cast<long>(rows_.size()); }
  const kernels::RollGateGeom& geom() const { return geom_; }

  void fill_cpu(const PackedBank<T>& pk, T* gate) const override;
  void fill_cuda(const PackedBank<T>& pk, Device device, T* gate) override;
  std::vector<double> reduce_cpu(const PackedBank<T>& pk, const T* gg) const override;
  std::vector<double> reduce_cuda(const PackedBank<T>& pk, Device device, const T* gg) override;

  // Packed samples of one reduction block on the device (a chunk of one row).
  static constexpr long kChunk = 1024;

  // The kernels' records for the packed bank pk (its rows added here in order); the CPU references read
  // the same records, and the CPU tests emulate the kernels over them.
  RollKernelRecords kernel_records(const PackedBank<T>& pk) const;

 private:
  struct Row {
    long item, key, e0, a, end;
  };

  std::shared_ptr<const std::vector<double>> roll_;
  Tensor device_roll_;
  long B_, N_;
  kernels::RollGateGeom geom_;
  std::vector<Row> rows_;
  Tensor dev_records_;  // uploaded by fill_cuda, kept for reduce_cuda
  long dev_chunks_ = 0;
};

// For the tests (defined in roll_renderer.cpp): the packed bank of render_roll_dry's packed route built
// both ways, with the old dense host rows (RollPlan::gate_row) and with a RollGateSource; a random gate
// gradient gg (packed like the gate, seeded) and the old dense chain rule (RollPlan::gate_row_backward)
// applied to it, [B, F, 88].
template <class T>
struct RollGateCheck {
  PackedBank<T> dense, compact;
  std::vector<T> gg;
  std::vector<double> dense_grad;
};
template <class T>
RollGateCheck<T> roll_gate_check(const PianoParams& params, const Tensor& onset, const Tensor& velocity,
                                 const Tensor& gate, double frame_rate, int64_t num_samples, const RenderOptions& ro,
                                 unsigned seed);

}  // namespace pianograd::detail
