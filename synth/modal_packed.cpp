// The packed modal bank (see modal_packed.h): building it from the renderers' group banks, and running
// it on the CPU (the reference) or on a CUDA device (one launch per pass).
#include "synth/modal_packed.h"

#include <algorithm>
#include <string>

#include "autodiff/device.h"
#include "autodiff/errors.h"
#include "kernels/cpu/modal.h"
#include "kernels/cuda/cuda_kernels.h"

namespace pianograd::detail {

namespace kc = kernels::cpu;

template <class T>
size_t PackedBank<T>::append(const GroupBank<T>& b, long base_) {
  Window w;
  w.base = base_;
  w.len = b.W;
  w.m0 = count();
  w.r0 = rows();
  const long M = static_cast<long>(b.omega.size());
  if (!b.end.empty() && static_cast<long>(b.end.size()) != M)
    throw ValueError("modal bank: " + std::to_string(b.end.size()) + " mode ends for " + std::to_string(M) + " modes");
  auto mode_len = [&](long i) { return b.end.empty() ? b.W : std::clamp(b.end[static_cast<size_t>(i)], 0L, b.W); };
  // A row is stored from the first start of the modes it damps to the last of their ends (nothing
  // outside is ever read).
  w.row_first.assign(static_cast<size_t>(b.rows), b.W);
  std::vector<long> row_end(static_cast<size_t>(b.rows), 0);
  for (long i = 0; i < M; ++i) {
    const std::int32_t r = b.env[static_cast<size_t>(i)];
    if (r >= 0) {
      long& f = w.row_first[static_cast<size_t>(r)];
      f = std::min(f, std::clamp(static_cast<long>(b.start[static_cast<size_t>(i)]), 0L, b.W));
      row_end[static_cast<size_t>(r)] = std::max(row_end[static_cast<size_t>(r)], mode_len(i));
    }
  }
  for (long r = 0; r < b.rows; ++r) {
    const long s = w.row_first[static_cast<size_t>(r)];
    const long e = std::max(s, row_end[static_cast<size_t>(r)]);
    gate_off.push_back(static_cast<std::int64_t>(gate_size) - s);
    row_first.push_back(s);
    row_len.push_back(e);
    row_base.push_back(base_);
    gate_size += e - s;
    if (gates) continue;
    const T* row = b.gate.data() + r * b.W;
    gate.insert(gate.end(), row + s, row + e);
  }
  omega.insert(omega.end(), b.omega.begin(), b.omega.end());
  sigma.insert(sigma.end(), b.sigma.begin(), b.sigma.end());
  dgain.insert(dgain.end(), b.dgain.begin(), b.dgain.end());
  amp.insert(amp.end(), b.amp.begin(), b.amp.end());
  delta.insert(delta.end(), b.delta.begin(), b.delta.end());
  start.insert(start.end(), b.start.begin(), b.start.end());
  for (long i = 0; i < M; ++i) {
    const std::int32_t r = b.env[static_cast<size_t>(i)];
    env.push_back(r < 0 ? -1 : static_cast<std::int32_t>(w.r0 + r));
    base.push_back(base_);
    len.push_back(mode_len(i));
  }
  w.m1 = count();
  w.r1 = rows();
  max_len = std::max(max_len, b.W);
  n = std::max(n, base_ + b.W);
  windows.push_back(std::move(w));
  return windows.size() - 1;
}

template <class T>
long PackedBank<T>::scan_samples() const {
  long s = 0;
  for (long m = 0; m < count(); ++m) s += std::max<long>(0, len[static_cast<size_t>(m)] - start[static_cast<size_t>(m)]);
  return s;
}

namespace {
// The modes of window w scanned to window-relative length L, as the CPU kernel's bank over their own
// arrays (env back to rows within the window, dense gate rows x L); idx[i] = the packed index of local
// mode i. A window's modes may have different lengths (GroupBank::end): each length is one such bank.
template <class T>
struct WindowBank {
  std::vector<long> idx;
  std::vector<T> omega, sigma, dgain, amp, delta;
  std::vector<std::int64_t> start;
  std::vector<std::int32_t> env;
  std::vector<T> gate;  // dense rows x L
  kc::ModalBank<T> bank;
  long rows = 0, L = 0;
  // gate_all: the packed gate (pk.gate, or a compact source's rows written on the host).
  WindowBank(const PackedBank<T>& pk, const typename PackedBank<T>::Window& w, long len_, const T* gate_all)
      : L(len_) {
    rows = w.r1 - w.r0;
    for (long m = w.m0; m < w.m1; ++m) {
      const size_t u = static_cast<size_t>(m);
      if (pk.len[u] != L) continue;
      idx.push_back(m);
      omega.push_back(pk.omega[u]);
      sigma.push_back(pk.sigma[u]);
      dgain.push_back(pk.dgain[u]);
      amp.push_back(pk.amp[u]);
      delta.push_back(pk.delta[u]);
      start.push_back(pk.start[u]);
      const std::int32_t r = pk.env[u];
      env.push_back(r < 0 ? -1 : static_cast<std::int32_t>(r - w.r0));
    }
    gate.assign(static_cast<size_t>(rows * L), T(0));
    for (long r = 0; r < rows; ++r) {
      const size_t u = static_cast<size_t>(w.r0 + r);
      const long s = pk.row_first[u], e = std::min<long>(L, pk.row_len[u]);
      if (e > s) std::copy(gate_all + pk.gate_off[u] + s, gate_all + pk.gate_off[u] + e, gate.begin() + r * L + s);
    }
    bank = {static_cast<long>(idx.size()), omega.data(), sigma.data(), dgain.data(), amp.data(), delta.data(),
            start.data(), env.data()};
  }
};

// The distinct mode lengths of window w, > 0 (a mode of length 0 is silent).
template <class T>
std::vector<long> window_lengths(const PackedBank<T>& pk, const typename PackedBank<T>::Window& w) {
  std::vector<long> v;
  for (long m = w.m0; m < w.m1; ++m) {
    const long L = pk.len[static_cast<size_t>(m)];
    if (L > 0 && std::find(v.begin(), v.end(), L) == v.end()) v.push_back(L);
  }
  return v;
}

// The packed gate on the host: pk.gate, or the compact source's rows written into `store`.
template <class T>
const T* host_gate(const PackedBank<T>& pk, std::vector<T>& store) {
  if (!pk.gates) return pk.gate.data();
  store.assign(static_cast<size_t>(pk.gate_size), T(0));
  pk.gates->fill_cpu(pk, store.data());
  return store.data();
}

kc::ModalOptions no_truncation(long checkpoint) {
  kc::ModalOptions mo;
  mo.rel_threshold = 0.0;  // the GPU scan's semantics: every mode runs to the end of its window
  mo.checkpoint = checkpoint;
  return mo;
}
}  // namespace

template <class T>
std::vector<T> PackedGrads<T>::window_gate(const PackedBank<T>& pk, size_t wi) const {
  const auto& w = pk.windows[wi];
  std::vector<T> out(static_cast<size_t>((w.r1 - w.r0) * w.len), T(0));
  for (long r = 0; r < w.r1 - w.r0; ++r) {
    const size_t u = static_cast<size_t>(w.r0 + r);
    const long s = pk.row_first[u], e = pk.row_len[u];
    if (e > s) std::copy(gate.data() + pk.gate_off[u] + s, gate.data() + pk.gate_off[u] + e, out.begin() + r * w.len + s);
  }
  return out;
}

template <class T>
void packed_forward_cpu(const PackedBank<T>& pk, T* y, long checkpoint) {
  std::fill(y, y + pk.n, T(0));
  std::vector<T> buf, store;
  const T* gate_all = host_gate(pk, store);
  for (const auto& w : pk.windows)
    for (long L : window_lengths(pk, w)) {
      WindowBank<T> wb(pk, w, L, gate_all);
      buf.assign(static_cast<size_t>(L), T(0));
      kc::modal_forward(wb.bank, wb.gate.data(), wb.rows, L, buf.data(), no_truncation(checkpoint));
      for (long t = 0; t < L; ++t) y[w.base + t] += buf[static_cast<size_t>(t)];
    }
}

template <class T>
PackedGrads<T> packed_backward_cpu(const PackedBank<T>& pk, const T* gy, long checkpoint) {
  PackedGrads<T> g;
  const size_t M = static_cast<size_t>(pk.count());
  g.omega.assign(M, T(0));
  g.sigma = g.dgain = g.amp = g.delta = g.omega;
  g.gate.assign(static_cast<size_t>(pk.gate_size), T(0));
  std::vector<T> store;
  const T* gate_all = host_gate(pk, store);
  for (const auto& w : pk.windows)
    for (long L : window_lengths(pk, w)) {
      WindowBank<T> wb(pk, w, L, gate_all);
      const size_t Mw = wb.idx.size();
      std::vector<T> lo(Mw), ls(Mw), ld(Mw), la(Mw), ldl(Mw), lg(wb.gate.size());
      kc::ModalGrads<T> mg{lo.data(), ls.data(), ld.data(), la.data(), ldl.data(), lg.data()};
      kc::modal_backward(wb.bank, wb.gate.data(), wb.rows, L, gy + w.base, mg, no_truncation(checkpoint));
      for (size_t i = 0; i < Mw; ++i) {
        const size_t u = static_cast<size_t>(wb.idx[i]);
        g.omega[u] = lo[i], g.sigma[u] = ls[i], g.dgain[u] = ld[i], g.amp[u] = la[i], g.delta[u] = ldl[i];
      }
      // Rows hold gradient only where stored (before s_r no gate is read; past its modes' ends neither).
      for (long r = 0; r < wb.rows; ++r) {
        const size_t u = static_cast<size_t>(w.r0 + r);
        const long s = pk.row_first[u], e = std::min<long>(L, pk.row_len[u]);
        for (long t = s; t < e; ++t) g.gate[static_cast<size_t>(pk.gate_off[u] + t)] += lg[static_cast<size_t>(r * L + t)];
      }
    }
  if (pk.gates) {
    g.gate_reduced = pk.gates->reduce_cpu(pk, g.gate.data());
    g.gate.clear();
  }
  return g;
}

template <class T>
PackedArrays<T> packed_arrays(const PackedBank<T>& pk) {
  const long M = pk.count();
  PackedArrays<T> a;
  a.reals.reserve(static_cast<size_t>(5 * M));
  for (const auto* v : {&pk.omega, &pk.sigma, &pk.dgain, &pk.amp, &pk.delta}) a.reals.insert(a.reals.end(), v->begin(), v->end());
  a.ints.reserve(static_cast<size_t>(3 * M + pk.rows()));
  for (const auto* v : {&pk.start, &pk.base, &pk.len, &pk.gate_off}) a.ints.insert(a.ints.end(), v->begin(), v->end());
  return a;
}

template <class T>
kernels::cuda::ModalBankDev<T> packed_view(const PackedBank<T>& pk, const T* reals, const std::int64_t* ints,
                                           const std::int32_t* env) {
  kernels::cuda::ModalBankDev<T> b;
  const long M = pk.count();
  b.count = M;
  b.omega = reals;
  b.sigma = reals + M;
  b.dgain = reals + 2 * M;
  b.amp = reals + 3 * M;
  b.delta = reals + 4 * M;
  b.start = ints;
  b.base = ints + M;
  b.len = ints + 2 * M;
  b.gate_off = ints + 3 * M;
  b.env = env;
  b.max_len = pk.max_len;
  b.gate_size = pk.gate_size;
  return b;
}

template <class T>
PackedDevice packed_upload(const PackedBank<T>& pk, Device device) {
  require_device(device, "render (CUDA modal bank)");
  if (pk.max_len < 1 && pk.count() > 0) throw ValueError("render (CUDA modal bank): packed bank without windows");
  const PackedArrays<T> a = packed_arrays(pk);
  const std::vector<T>& reals = a.reals;
  const std::vector<std::int64_t>& ints = a.ints;
  auto up = [&](const auto& v) { return from_vector(v).to(device); };
  Tensor gate;
  if (pk.gates) {  // written on the device: only the source's per-row numbers cross the bus
    gate = Tensor::empty({std::max(pk.gate_size, 1L)}, dtype_v<T>, device);
    if (pk.gate_size > 0) pk.gates->fill_cuda(pk, device, gate.device_data<T>());
  } else {
    gate = pk.gate.empty() ? Tensor::empty({1}, dtype_v<T>, device) : up(pk.gate);
  }
  return PackedDevice{device, reals.empty() ? Tensor::empty({1}, dtype_v<T>, device) : up(reals),
                      ints.empty() ? Tensor::empty({1}, DType::i64, device) : up(ints),
                      pk.env.empty() ? Tensor::empty({1}, DType::i32, device) : up(pk.env), gate};
}

namespace {
template <class T>
kernels::cuda::ModalBankDev<T> dev_bank(const PackedBank<T>& pk, const PackedDevice& d) {
  return packed_view(pk, d.reals.device_data<T>(), d.ints.device_data<std::int64_t>(),
                     d.env.device_data<std::int32_t>());
}
}  // namespace

template <class T>
Tensor packed_forward_cuda(const PackedBank<T>& pk, const PackedDevice& d) {
  Tensor y = Tensor::empty({pk.n}, dtype_v<T>, d.device);
  if (pk.count() == 0) return zeros({pk.n}, dtype_v<T>, d.device);
  kernels::cuda::modal_forward(dev_bank(pk, d), d.gate.device_data<T>(), pk.rows(), pk.n, y.device_data<T>(),
                               cuda::current_stream());
  return y;
}

template <class T>
PackedGrads<T> packed_backward_cuda(const PackedBank<T>& pk, const PackedDevice& d, const Tensor& gy_in) {
  PackedGrads<T> g;
  const long M = pk.count(), G = pk.gate_size;
  if (M == 0) {
    if (pk.gates) {
      const std::vector<T> zero(static_cast<size_t>(G), T(0));
      g.gate_reduced = pk.gates->reduce_cpu(pk, zero.data());
    } else {
      g.gate.assign(static_cast<size_t>(G), T(0));
    }
    return g;
  }
  const Tensor gy = gy_in.to(dtype_v<T>).to(d.device).contiguous();
  const DType dt = dtype_v<T>;
  Tensor gm = Tensor::empty({5 * M}, dt, d.device), gg = Tensor::empty({std::max(G, 1L)}, dt, d.device);
  T* p = gm.device_data<T>();
  kernels::cuda::ModalGradsDev<T> gr{p, p + M, p + 2 * M, p + 3 * M, p + 4 * M, G > 0 ? gg.device_data<T>() : nullptr};
  kernels::cuda::modal_backward(dev_bank(pk, d), d.gate.device_data<T>(), pk.rows(), pk.n, gy.device_data<T>(), gr,
                                cuda::current_stream());
  const std::vector<T> h = gm.cpu().to_vector<T>();  // one download for the five per-mode gradients
  auto part = [&](long k) { return std::vector<T>(h.begin() + k * M, h.begin() + (k + 1) * M); };
  g.omega = part(0);
  g.sigma = part(1);
  g.dgain = part(2);
  g.amp = part(3);
  g.delta = part(4);
  if (pk.gates) {  // reduced on the device: only the source's gradients come back
    g.gate_reduced = pk.gates->reduce_cuda(pk, d.device, G > 0 ? gg.device_data<T>() : nullptr);
  } else {
    g.gate = G > 0 ? gg.cpu().to_vector<T>() : std::vector<T>{};
  }
  return g;
}

namespace {
thread_local bool g_packed_cpu = false;
}
PackedCpuScope::PackedCpuScope() : prev_(g_packed_cpu) { g_packed_cpu = true; }
PackedCpuScope::~PackedCpuScope() { g_packed_cpu = prev_; }
bool packed_cpu_forced() { return g_packed_cpu; }

Device control_device(const char* op, const std::vector<std::pair<const Tensor*, const char*>>& controls) {
  const std::pair<const Tensor*, const char*>* first = nullptr;
  for (const auto& c : controls) {
    if (!c.first->defined()) continue;
    if (!first) {
      first = &c;
    } else if (c.first->device() != first->first->device()) {
      throw DeviceError(std::string(op) + ": " + c.second + " is on " + c.first->device().str() + " but " +
                        first->second + " is on " + first->first->device().str() +
                        " (the controls choose where the modal bank runs: put them on one device)");
    }
  }
  const Device d = first ? first->first->device() : kCPU;
  require_device(d, op);
  return d;
}

std::vector<Device> input_devices(const std::vector<Tensor>& inputs) {
  std::vector<Device> d;
  for (const Tensor& t : inputs) d.push_back(t.defined() ? t.device() : kCPU);
  return d;
}

void grads_to_input_devices(std::vector<Tensor>& grads, const std::vector<Device>& devices) {
  for (size_t i = 0; i < grads.size() && i < devices.size(); ++i)
    if (grads[i].defined() && grads[i].device() != devices[i]) grads[i] = grads[i].to(devices[i]);
}

#define PG_PACKED_INST(T)                                                                         \
  template struct PackedBank<T>;                                                                  \
  template struct PackedGrads<T>;                                                                 \
  template void packed_forward_cpu<T>(const PackedBank<T>&, T*, long);                            \
  template PackedGrads<T> packed_backward_cpu<T>(const PackedBank<T>&, const T*, long);           \
  template PackedArrays<T> packed_arrays<T>(const PackedBank<T>&);                                \
  template kernels::cuda::ModalBankDev<T> packed_view<T>(const PackedBank<T>&, const T*, const std::int64_t*, \
                                                         const std::int32_t*);                      \
  template PackedDevice packed_upload<T>(const PackedBank<T>&, Device);                           \
  template Tensor packed_forward_cuda<T>(const PackedBank<T>&, const PackedDevice&);              \
  template PackedGrads<T> packed_backward_cuda<T>(const PackedBank<T>&, const PackedDevice&, const Tensor&);
PG_PACKED_INST(float)
PG_PACKED_INST(double)
#undef PG_PACKED_INST

}  // namespace pianograd::detail
