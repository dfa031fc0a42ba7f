// Internal to the renderers: every group window of every batch item packed into ONE modal bank, the
// layout of kernels::cuda::ModalBankDev's packed mode (kernels/cuda/cuda_kernels.h), so a whole batch
// runs in one kernel launch per pass on the GPU.
//
// Mode m of window w writes y[base_w + t] for t in [start_m, len_m) (base_w = item x N + w0, len_m <=
// the window's length W: W, or its strike's life end on the packed route, GroupBank::end): the windows
// of one item overlap and are summed, as the CPU renderers sum each group's buffer into y. Gate row r of
// a window is stored from its modes' first start s_r to their last end e_r (the kernels read a gate only
// at samples start < t < len), at gate[gate_off[r] + t], gate_off[r] = its position - s_r: rows cost
// (e_r - s_r) samples, not W.
//
// Compact gates (PackedBank::gates set): the host stores no gate samples at all. A GateSource, built by
// the renderer from a few numbers per row (a note's release time, a key's gate-roll column), writes the
// rows where the bank runs (on a CUDA device: one kernel into device memory) and reduces the gate's
// gradient there to what the renderer's inputs need, so neither the rows (batch x notes x samples) nor
// their gradient cross the bus or occupy the host. The CPU executor runs the same source on the host
// (fill_cpu / reduce_cpu over the same __host__ __device__ math), which is how the CPU tests prove it.
//
// Semantics: those of kernels::cpu::modal_forward / modal_backward per window with rel_threshold = 0
// (no truncation), which is what the GPU scan computes. packed_forward_cpu / packed_backward_cpu run
// the layout on the CPU that way: they prove the packing where no GPU exists (tests/synth/
// test_modal_packed.cpp) and are the reference of the CUDA executor (packed_forward_cuda, ..._cuda).
#pragma once
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "autodiff/tensor.h"
#include "kernels/cuda/cuda_kernels.h"
#include "synth/event_renderer.h"
#include "synth/modal_group.h"

namespace pianograd::detail {

template <class T>
struct PackedBank;

// Writes and differentiates a packed bank's gate rows (see "Compact gates" above). Row r's stored
// samples are t in [row_first[r], row_len[r]) (window-relative) at gate[gate_off[r] + t]; the window
// starts at packed output sample row_base[r] (= item x N + w0, N the renderer's samples per item).
template <class T>
class GateSource {
 public:
  virtual ~GateSource() = default;
  // Every stored sample of every row into gate (host memory, pk.gate_size elements).
  virtual void fill_cpu(const PackedBank<T>& pk, T* gate) const = 0;
  // The same into device memory on `device` (current stream); may keep device copies of its own data
  // for reduce_cuda.
  virtual void fill_cuda(const PackedBank<T>& pk, Device device, T* gate) = 0;
  // gg: the gate's gradient, packed like the gate (host memory / device memory on `device`) -> the
  // source's reduced gradients (a layout the source defines and its renderer reads), on the host.
  virtual std::vector<double> reduce_cpu(const PackedBank<T>& pk, const T* gg) const = 0;
  virtual std::vector<double> reduce_cuda(const PackedBank<T>& pk, Device device, const T* gg) = 0;
};

template <class T>
struct PackedBank {
  long n = 0;  // output samples (batch x N)
  std::vector<T> omega, sigma, dgain, amp, delta;
  std::vector<std::int64_t> start, base, len;  // per mode
  std::vector<std::int32_t> env;               // per mode: packed row, or -1
  std::vector<std::int64_t> gate_off;          // per row
  std::vector<std::int64_t> row_first, row_len, row_base;  // per row: see GateSource
  std::vector<T> gate;                         // the rows, back to back (empty when `gates` is set)
  long gate_size = 0;                          // elements of the packed gate
  std::shared_ptr<GateSource<T>> gates;        // set: compact gates (b.gate of appended banks unused)
  long max_len = 0;                            // longest window
  struct Window {
    long base = 0, len = 0;       // output samples [base, base + len)
    long m0 = 0, m1 = 0;          // its modes
    long r0 = 0, r1 = 0;          // its rows
    std::vector<long> row_first;  // per row: first stored sample s_r (window-relative)
  };
  std::vector<Window> windows;
  long count() const { return static_cast<long>(omega.size()); }
  long rows() const { return static_cast<long>(gate_off.size()); }
  // Samples the scan visits: the sum over modes of (len - start), the GPU's work per pass.
  long scan_samples() const;
  // Appends a group's bank (starts relative to its window, env = row within the group, dense gate
  // rows x W unless `gates` is set, when b.gate is not read) as the window [base, base + b.W) of the
  // output; each mode is scanned to b.end[i] (len; all to b.W when b.end is empty) and each row stored
  // from its modes' first start to their last end. Returns the window's index.
  size_t append(const GroupBank<T>& b, long base);
};

// Gradients of the packed bank: per mode (count) and the gate (like PackedBank::gate), or with compact
// gates the source's reduced gradients instead (gate then empty).
template <class T>
struct PackedGrads {
  std::vector<T> omega, sigma, dgain, amp, delta, gate;
  std::vector<double> gate_reduced;
  // The gate gradient of window w as dense rows x W (zeros before each row's first stored sample),
  // the layout of kernels::cpu::ModalGrads::gate for that window's GroupBank.
  std::vector<T> window_gate(const PackedBank<T>& pk, size_t w) const;
};

// y[0, pk.n) = the packed bank's output (overwritten).
template <class T>
void packed_forward_cpu(const PackedBank<T>& pk, T* y, long checkpoint);
// Given gy[0, pk.n): every gradient of the packed bank.
template <class T>
PackedGrads<T> packed_backward_cpu(const PackedBank<T>& pk, const T* gy, long checkpoint);

// The per-mode arrays as the two buffers packed_upload sends (one copy each): reals = omega, sigma,
// dgain, amp, delta (count each); ints = start, base, len (count each), then gate_off (rows).
template <class T>
struct PackedArrays {
  std::vector<T> reals;
  std::vector<std::int64_t> ints;
};
template <class T>
PackedArrays<T> packed_arrays(const PackedBank<T>& pk);
// The kernels' view of pk whose arrays lie at reals / ints / env (packed_arrays' layout, in device
// memory for a launch or in host memory for the tests that check the layout).
template <class T>
kernels::cuda::ModalBankDev<T> packed_view(const PackedBank<T>& pk, const T* reals, const std::int64_t* ints,
                                           const std::int32_t* env);

// The packed bank's arrays on a CUDA device, uploaded once per forward and kept for the backward: one
// copy per element type (each host-to-device copy from pageable memory is a synchronisation).
struct PackedDevice {
  Device device;
  Tensor reals;  // [5 x count]: omega, sigma, dgain, amp, delta
  Tensor ints;   // int64 [3 x count + rows]: start, base, len, gate_off
  Tensor env;    // int32 [count]
  Tensor gate;   // [max(gate_size, 1)]
};
// Uploads pk (DeviceError from require_device when `device` is unusable).
template <class T>
PackedDevice packed_upload(const PackedBank<T>& pk, Device device);
// [pk.n] on the device: one launch of kernels::cuda::modal_forward.
template <class T>
Tensor packed_forward_cuda(const PackedBank<T>& pk, const PackedDevice& d);
// gy: [pk.n] (any device; moved to d.device). One launch of kernels::cuda::modal_backward; the per-mode
// gradients come back to the host in one copy (the mode builder's chain rule runs there), the gate's
// gradient too, or with compact gates only the source's reduction of it.
template <class T>
PackedGrads<T> packed_backward_cuda(const PackedBank<T>& pk, const PackedDevice& d, const Tensor& gy);

// One item of a batched events render (event_renderer.h's render_events_dry arguments).
struct EventControls {
  Tensor keys, onsets, offsets, velocities, pedal;
};
// The dry events render of B items of one length as ONE op -> [B, num_samples]: on CUDA one packed
// bank and one launch per pass (render_batch's CUDA route). Same checks and devices rule as
// render_events_dry (event_renderer.cpp).
Tensor render_events_batch_dry(PianoParams& params, const std::vector<EventControls>& items, int64_t num_samples,
                               const RenderOptions& ro);

// Routing (event_renderer.cpp, roll_renderer.cpp): the modal bank runs where the control tensors live.
// On this thread, a PackedCpuScope sends CPU renders through the packed layout and packed_*_cpu
// instead of the per-group CPU path: the CUDA route's exact code with the CPU kernels, for the tests.
class PackedCpuScope {
 public:
  PackedCpuScope();
  ~PackedCpuScope();
  PackedCpuScope(const PackedCpuScope&) = delete;
  PackedCpuScope& operator=(const PackedCpuScope&) = delete;

 private:
  bool prev_;
};
bool packed_cpu_forced();
// The device of `controls` (the first defined one); DeviceError naming `op` and the argument when a
// defined control lies elsewhere, or (require_device) when that device is unusable here.
Device control_device(const char* op, const std::vector<std::pair<const Tensor*, const char*>>& controls);
// The devices of an op's inputs (kCPU for undefined ones), captured by VJPs instead of the tensors.
std::vector<Device> input_devices(const std::vector<Tensor>& inputs);
// Each defined gradient moved to its input's device (grads[i] belongs to input i).
void grads_to_input_devices(std::vector<Tensor>& grads, const std::vector<Device>& devices);

}  // namespace pianograd::detail
