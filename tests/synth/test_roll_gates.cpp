// The roll renderer's compact gates (synth/roll_gates.h) on the CPU: every packed row written by the source
// equals the renderer's old dense host row (RollPlan::gate_row), its reduction equals the old dense chain
// rule (RollPlan::gate_row_backward), over the edge cases (strikes in the first / last frame, staccato
// repeats, soft gate values, B > 1, R > spf and R < spf, a fractional frame period, float and double), and
// the packed route renders with no host gate rows and matches the CPU renderer. The CUDA kernels'
// per-position logic (kernels/common/roll_gate_kernel.h) is emulated on the host over the source's kernel
// records and must reproduce fill_cpu / reduce_cpu, including multi-chunk rows and the reduce's global
// fallback for frame spans wider than its shared memory.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "autodiff/ops.h"
#include "autodiff/tape.h"
#include "kernels/common/roll_gate_kernel.h"
#include "kernels/common/roll_gate_math.h"
#include "synth/modal_packed.h"
#include "synth/roll_gates.h"
#include "synth/roll_renderer.h"

namespace pianograd {
namespace {

struct Case {
  std::string name;
  long B, F;
  double fr, tau;
  int64_t N;
};

// Onsets, velocities and gates [B, F, 88]: per item a staccato key (struck every other frame, gate
// 1/0.6/0 alternating: an edge at nearly every frame), a strike in frame 0 held to past the roll's end,
// a strike in the last frame that starts inside the signal, and a few random soft notes.
struct Rolls {
  std::vector<double> on, vel, gate;
};
Rolls make_rolls(const Case& c, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(0.2, 1.0);
  std::uniform_int_distribution<int> key(5, 80), len(1, 6);
  const size_t n = static_cast<size_t>(c.B * c.F * kNumKeys);
  Rolls r{std::vector<double>(n, 0.0), std::vector<double>(n, 0.5), std::vector<double>(n, 0.0)};
  auto at = [&](long b, long f, long k) { return static_cast<size_t>((b * c.F + f) * kNumKeys + k); };
  // The last frame whose strike starts inside the signal (f spf <= N - 1).
  const long last = std::min(c.F - 1, static_cast<long>(std::floor(static_cast<double>(c.N - 1) * c.fr / 16000.0)));
  for (long b = 0; b < c.B; ++b) {
    const long ks = 40 + b;  // staccato
    for (long f = 0; f < c.F; ++f) {
      if (f % 2 == 0) r.on[at(b, f, ks)] = u(rng), r.vel[at(b, f, ks)] = u(rng);
      r.gate[at(b, f, ks)] = f % 3 == 0 ? 1.0 : f % 3 == 1 ? 0.6 : 0.0;
    }
    r.on[at(b, 0, 20)] = 1.0;  // first frame, held past the roll
    for (long f = 0; f < c.F; ++f) r.gate[at(b, f, 20)] = 0.9;
    r.on[at(b, last, 70)] = 0.8;  // last frame that sounds
    r.gate[at(b, last, 70)] = 0.7;
    for (int s = 0; s < 3; ++s) {  // soft notes
      const long k = key(rng), f0 = std::uniform_int_distribution<long>(0, c.F - 1)(rng);
      if (k == ks || k == 20 || k == 70) continue;
      r.on[at(b, f0, k)] = u(rng);
      for (long f = f0; f < std::min(c.F, f0 + len(rng)); ++f) r.gate[at(b, f, k)] = u(rng);
    }
  }
  return r;
}

std::vector<Case> cases() {
  return {
      {"R>spf", 2, 24, 31.25, 0.004, 14000},      // spf 512, R 1280; the roll ends before the signal
      {"R<spf", 2, 30, 31.25, 0.0005, 12000},     // R 160; the roll runs past the signal
      {"fractional", 3, 20, 30.0, 0.004, 11000},  // spf 533.33
      {"fast", 1, 80, 250.0, 0.004, 6000},        // spf 64: 40 edges in transition at once
      {"slow", 1, 6, 4.0, 0.004, 16000},          // spf 4000 >> R
  };
}

template <class T>
detail::RollGateCheck<T> check_with(const Case& c, const Rolls& r, unsigned seed) {
  const Shape s{c.B, c.F, kNumKeys};
  const DType dt = dtype_v<T>;
  PianoParams p = PianoParams::concert_grand(16000.0, dt);
  RenderOptions ro;
  ro.body = ro.room = false;
  ro.max_partials = 4;
  ro.group_size = 2;
  ro.damper_tau = c.tau;
  return detail::roll_gate_check<T>(p, from_vector(r.on, s).to(dt), from_vector(r.vel, s).to(dt),
                                    from_vector(r.gate, s).to(dt), c.fr, c.N, ro, seed);
}

template <class T>
detail::RollGateCheck<T> check_of(const Case& c, unsigned seed) {
  return check_with<T>(c, make_rolls(c, seed), seed);
}

template <class T>
void fill_matches_dense_rows() {
  for (const Case& c : cases()) {
    SCOPED_TRACE(c.name);
    const auto k = check_of<T>(c, 3);
    ASSERT_TRUE(k.compact.gate.empty());  // no dense rows on the host
    ASSERT_EQ(k.compact.gate_size, k.dense.gate_size);
    ASSERT_EQ(k.compact.gate_off, k.dense.gate_off);
    ASSERT_GT(k.dense.rows(), 2 * c.B);
    std::vector<T> f(static_cast<size_t>(k.compact.gate_size), T(-7));
    k.compact.gates->fill_cpu(k.compact, f.data());
    // The dense row is a running sum of steps plus shared profiles, the source a per-sample telescoped sum:
    // equal up to rounding (1e-14 in double; one rounding of the result in float).
    const double tol = std::is_same_v<T, double> ? 1e-14 : 1.2e-7;
    long soft = 0;
    double err = 0;
    for (size_t i = 0; i < f.size(); ++i) {
      const double a = static_cast<double>(f[i]), b = static_cast<double>(k.dense.gate[i]);
      err = std::max(err, std::fabs(a - b));
      ASSERT_LE(std::fabs(a - b), tol * std::max(1.0, std::fabs(b))) << "sample " << i;
      soft += b > 1e-3 && b < 0.999;
    }
    EXPECT_GT(soft, 100) << "no gate in transition or soft";  // the edge cases are exercised
    std::printf("%s %s: %ld samples, max |fill - dense| %.3g\n", c.name.c_str(), std::is_same_v<T, double> ? "f64" : "f32",
                static_cast<long>(f.size()), err);
  }
}
TEST(RollGates, FillMatchesDenseRowsDouble) { fill_matches_dense_rows<double>(); }
TEST(RollGates, FillMatchesDenseRowsFloat) { fill_matches_dense_rows<float>(); }

template <class T>
void reduce_matches_dense_chain_rule() {
  for (const Case& c : cases()) {
    SCOPED_TRACE(c.name);
    const auto k = check_of<T>(c, 9);
    const std::vector<double> red = k.compact.gates->reduce_cpu(k.compact, k.gg.data());
    ASSERT_EQ(red.size(), k.dense_grad.size());
    double scale = 0, err = 0;
    long nonzero = 0;
    for (size_t i = 0; i < red.size(); ++i) {
      scale = std::max(scale, std::fabs(k.dense_grad[i]));
      err = std::max(err, std::fabs(red[i] - k.dense_grad[i]));
      nonzero += k.dense_grad[i] != 0.0;
    }
    EXPECT_GT(nonzero, 10);
    EXPECT_LE(err, 1e-12 * (1 + scale)) << "max error " << err << ", scale " << scale;
  }
}
TEST(RollGates, ReduceMatchesDenseChainRuleDouble) { reduce_matches_dense_chain_rule<double>(); }
TEST(RollGates, ReduceMatchesDenseChainRuleFloat) { reduce_matches_dense_chain_rule<float>(); }

// ---- CPU emulation of kernels/cuda/roll_gate.cu over the host-built records ----

// The fill kernel: every packed position, as its grid-stride loop visits them, reading the roll in T (the
// device roll is the control in T, or the host doubles uploaded in T).
template <class T>
std::vector<T> emulate_fill(const detail::RollKernelRecords& k, const std::vector<T>& roll, long gate_size) {
  std::vector<T> gate(static_cast<size_t>(gate_size));
  for (long i = 0; i < gate_size; ++i)
    gate[static_cast<size_t>(i)] = kernels::roll_gate_fill_at<T>(k.rec.data(), k.rows, roll.data(), k.geom, i);
  return gate;
}

// RollSpanSink's accumulation in the emulation: += where the device would atomicAdd, counting any address
// outside the block's staged span or the output (an out-of-bounds shared/global write on the device).
struct EmuAcc {
  const double *sh_lo, *sh_hi, *out_lo, *out_hi;
  long* stray;
  void operator()(double* p, double v) const {
    if ((p >= sh_lo && p < sh_hi) || (p >= out_lo && p < out_hi)) *p += v;
    else ++*stray;
  }
};

struct ReduceEmu {
  std::vector<double> out;
  long shared_chunks = 0, global_chunks = 0, stray = 0, max_row_chunks = 0;
};

// The reduce kernel: block by block over the chunks, the chunk's samples into the staged span (or, past
// kRollSpanMax frames, straight into the output), then the span flushed into the output column.
template <class T>
ReduceEmu emulate_reduce(const detail::RollKernelRecords& k, const T* gg, long out_size) {
  ReduceEmu e;
  e.out.assign(static_cast<size_t>(out_size), 0.0);
  std::vector<double> sh(static_cast<size_t>(kernels::kRollSpanMax));
  for (long c = 0; c < k.chunks; ++c) {
    const kernels::RollChunk ch = kernels::roll_gate_chunk(k.rec.data(), k.rows, k.chunk, c);
    const kernels::RollFrameSpan s = kernels::roll_gate_chunk_span(k.geom, ch);
    const bool use_shared = s.n <= kernels::kRollSpanMax;
    (use_shared ? e.shared_chunks : e.global_chunks) += 1;
    std::fill(sh.begin(), sh.end(), 0.0);
    const EmuAcc acc{sh.data(), sh.data() + (use_shared ? s.n : 0), e.out.data(), e.out.data() + out_size, &e.stray};
    double* col = e.out.data() + ch.p[kernels::kRecCol];
    kernels::RollSpanSink<EmuAcc> add{sh.data(), col, s.f0, use_shared, acc};
    for (long t = ch.t1; t < ch.t2; ++t) kernels::roll_gate_backward_at(k.geom, ch, gg, t, add);
    if (use_shared)
      for (long q = 0; q < s.n; ++q) kernels::roll_gate_flush_frame(k.geom, sh.data(), s, q, col, acc);
  }
  for (long r = 0; r < k.rows; ++r) {  // chunks per row: the next row's first chunk minus this one's
    const long next = r + 1 < k.rows ? k.rec[static_cast<size_t>((r + 1) * kernels::kRollRecord + kernels::kRecChunk)]
                                     : k.chunks;
    e.max_row_chunks = std::max(e.max_row_chunks, next - k.rec[static_cast<size_t>(r * kernels::kRollRecord + kernels::kRecChunk)]);
  }
  return e;
}

template <class T>
std::vector<T> roll_in(const Rolls& r) {
  return std::vector<T>(r.gate.begin(), r.gate.end());
}

// fill-at-i over [0, gate_size) equals fill_cpu bit for bit (0 where fill_cpu writes nothing), and the
// emulated reduce equals reduce_cpu up to summation order.
template <class T>
void emulation_matches_reference(const Case& c, const Rolls& r, unsigned seed, bool expect_global) {
  const auto k = check_with<T>(c, r, seed);
  const auto& src = dynamic_cast<const detail::RollGateSource<T>&>(*k.compact.gates);
  const detail::RollKernelRecords rec = src.kernel_records(k.compact);
  ASSERT_EQ(rec.rows, k.compact.rows());
  ASSERT_EQ(rec.chunk, detail::RollGateSource<T>::kChunk);

  std::vector<T> ref(static_cast<size_t>(k.compact.gate_size), T(-7));
  src.fill_cpu(k.compact, ref.data());
  const std::vector<T> emu = emulate_fill<T>(rec, roll_in<T>(r), k.compact.gate_size);
  long gaps = 0, gated = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    if (ref[i] == T(-7)) {
      ++gaps;
      ASSERT_EQ(emu[i], T(0)) << "packing gap " << i;
    } else {
      ASSERT_EQ(emu[i], ref[i]) << "packed sample " << i;
      gated += ref[i] != T(0);
    }
  }
  EXPECT_GT(gated, 100);

  const std::vector<double> red = src.reduce_cpu(k.compact, k.gg.data());
  const ReduceEmu e = emulate_reduce<T>(rec, k.gg.data(), static_cast<long>(red.size()));
  EXPECT_EQ(e.stray, 0) << "a contribution outside the block's frame span or the output";
  EXPECT_GT(e.max_row_chunks, 1) << "no row of several chunks";
  EXPECT_GT(e.shared_chunks, 0);
  if (expect_global) {
    EXPECT_GT(e.global_chunks, 0) << "no chunk wider than kRollSpanMax frames";
  }
  double scale = 0, err = 0;
  for (size_t i = 0; i < red.size(); ++i) scale = std::max(scale, std::fabs(red[i])), err = std::max(err, std::fabs(e.out[i] - red[i]));
  EXPECT_GT(scale, 0.0);
  EXPECT_LE(err, 1e-12 * scale) << "max error " << err << ", scale " << scale;
  std::printf("%s: %ld rows, %ld chunks (%ld shared, %ld global, <= %ld per row), %ld gaps, reduce err %.3g of %.3g\n",
              c.name.c_str(), rec.rows, rec.chunks, e.shared_chunks, e.global_chunks, e.max_row_chunks, gaps, err, scale);
}

TEST(RollGates, KernelEmulationMatchesCpuDouble) {
  for (const Case& c : cases()) {
    SCOPED_TRACE(c.name);
    emulation_matches_reference<double>(c, make_rolls(c, 3), 3, false);
  }
}
TEST(RollGates, KernelEmulationMatchesCpuFloat) {
  for (const Case& c : cases()) {
    SCOPED_TRACE(c.name);
    emulation_matches_reference<float>(c, make_rolls(c, 4), 4, false);
  }
}

// One frame per sample (spf 1) and R = 640: a chunk of 1024 samples spans 1024 + 2R + 3 frames of its
// column, over kRollSpanMax, so the reduce adds those chunks straight to global memory. Few long notes
// whose soft gate changes every frame keep every edge in transition live.
TEST(RollGates, KernelEmulationGlobalFallback) {
  const Case c{"spf1", 1, 4000, 16000.0, 0.002, 4500};
  static_assert(1024 + 2 * 640 + 3 > kernels::kRollSpanMax, "the case must exceed the shared span");
  Rolls r{std::vector<double>(static_cast<size_t>(c.F * kNumKeys), 0.0),
          std::vector<double>(static_cast<size_t>(c.F * kNumKeys), 0.5),
          std::vector<double>(static_cast<size_t>(c.F * kNumKeys), 0.0)};
  auto at = [&](long f, long key) { return static_cast<size_t>(f * kNumKeys + key); };
  for (const auto& [f0, key] : {std::pair<long, long>{0, 20}, {100, 30}, {2000, 60}}) {
    r.on[at(f0, key)] = 0.9;
    for (long f = f0; f < c.F; ++f) r.gate[at(f, key)] = 0.55 + 0.4 * std::sin(0.05 * static_cast<double>(f + key));
  }
  emulation_matches_reference<double>(c, r, 11, true);
}

// The binary search over nondecreasing fields: rows with nothing stored repeat the next start, and the
// last of equal rows holds the position.
TEST(RollGates, KernelFindRowByHand) {
  std::vector<std::int64_t> rec(4 * kernels::kRollRecord, 0);
  const std::int64_t starts[4] = {0, 5, 5, 9};
  for (int r = 0; r < 4; ++r) rec[static_cast<size_t>(r * kernels::kRollRecord + kernels::kRecStart)] = starts[r];
  const std::pair<std::int64_t, std::int64_t> want[] = {{0, 0}, {4, 0}, {5, 2}, {8, 2}, {9, 3}, {1000, 3}};
  for (const auto& [i, row] : want) EXPECT_EQ(kernels::roll_find_row(rec.data(), 4, kernels::kRecStart, i), row) << i;
  EXPECT_EQ(kernels::roll_find_row(rec.data(), 1, kernels::kRecStart, 7), 0);
}

// The telescoped form at a few hand-checked points: before the first edge after the strike, between
// edges, and past the roll.
TEST(RollGates, TelescopedGateByHand) {
  const kernels::RollGateGeom g = kernels::roll_gate_geom(3, 16000.0, 10.0, 0.001);  // spf 1600, R 320
  const double col[3] = {0.5, 0.25, 1.0};  // stride 1
  EXPECT_EQ(kernels::roll_gate_h(g, col, 1, 1000, 1), 0.5);     // edge 1 (1600) not yet in transition
  EXPECT_EQ(kernels::roll_gate_h(g, col, 1, 2500, 1), 0.25);    // edge 1 passed, edge 2 (3200) not started
  EXPECT_EQ(kernels::roll_gate_h(g, col, 1, 2500, 3), 1.0);     // struck in frame 2 (e0 = 3): base g[2]
  EXPECT_EQ(kernels::roll_gate_h(g, col, 1, 6000, 1), 0.0);     // past edge 3 = the roll's end
  const double mid = kernels::roll_gate_h(g, col, 1, 3200, 1);  // edge 2 at its center: halfway
  EXPECT_NEAR(mid, 0.25 + 0.75 * 0.5, 1e-15);
}

// The packed route with compact gates renders like the CPU renderer (forward and the gate roll's
// gradient) on the edge cases, and writes no gate sample on the host.
TEST(RollGates, PackedRouteMatchesCpuRendererWithoutHostRows) {
  for (const Case& c : cases()) {
    SCOPED_TRACE(c.name);
    const Rolls r = make_rolls(c, 5);
    const Shape s{c.B, c.F, kNumKeys};
    PianoParams p = PianoParams::concert_grand(16000.0, DType::f64);
    RenderOptions ro;
    ro.body = ro.room = false;
    ro.max_partials = 4;
    ro.group_size = 2;
    ro.damper_tau = c.tau;
    ro.rel_threshold = 0.0;
    std::vector<Tensor> out[2];
    RollRenderStats st[2];
    for (int packed = 0; packed < 2; ++packed) {
      const Tensor on = from_vector(r.on, s), vel = from_vector(r.vel, s), gate = from_vector(r.gate, s).requires_grad_();
      std::unique_ptr<detail::PackedCpuScope> scope;
      if (packed) scope = std::make_unique<detail::PackedCpuScope>();
      const Tensor y = render_roll_dry(p, on, vel, gate, c.fr, c.N, ro);
      st[packed] = last_roll_render_stats();
      std::mt19937 rng(2);
      std::normal_distribution<double> nd;
      std::vector<double> w(static_cast<size_t>(y.numel()));
      for (double& v : w) v = nd(rng);
      sum(mul(y, from_vector(w, y.shape()))).backward();
      out[packed] = {y.detach(), gate.grad()};
    }
    EXPECT_GT(st[0].gate_samples, 0);
    EXPECT_EQ(st[1].gate_samples, 0);  // compact: no host rows
    EXPECT_EQ(st[1].strikes, st[0].strikes);
    for (int i = 0; i < 2; ++i) {
      const auto a = out[1][static_cast<size_t>(i)].to_vector<double>(), b = out[0][static_cast<size_t>(i)].to_vector<double>();
      ASSERT_EQ(a.size(), b.size());
      double scale = 0, err = 0;
      for (size_t q = 0; q < a.size(); ++q) scale = std::max(scale, std::fabs(b[q])), err = std::max(err, std::fabs(a[q] - b[q]));
      EXPECT_GT(scale, 0.0) << (i ? "gate gradient" : "audio");
      EXPECT_LE(err, 1e-12 * (1 + scale)) << (i ? "gate gradient" : "audio") << ": max error " << err;
    }
  }
}

}  // namespace
}  // namespace pianograd
