// The event renderer's compact damper gates (synth/event_gates.h), proven on the CPU:
// * fill_cpu writes exactly the packed dense rows the renderer built on the host before (EventPlan::
//   gate_row into zeroed group rows, packed by PackedBank::append), for every row of a batch with notes
//   released past the end, released before their onset, per-sample pedals beside items without one, and
//   a damper_tau so long that the sigmoid is not tabulated; float and double;
// * reduce_cpu equals the renderer's former dense chain rule (d = (1 - P) S) bit for bit;
// * the renderer's packed route (PackedCpuScope) keeps no gate rows on the host and still equals the
//   per-group CPU renderer (rel_threshold = 0) forward and in every gradient, pedal per sample and per
//   frame and absent in one batch.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "autodiff/ops.h"
#include "autodiff/tape.h"
#include "kernels/common/event_gate_kernel.h"
#include "synth/event_gates.h"
#include "synth/event_plan.h"
#include "synth/event_renderer.h"
#include "synth/modal_packed.h"
#include "render_compare.h"

namespace pianograd {
namespace {

using detail::EventGateSource;
using detail::EventPlan;
using detail::GroupBank;
using detail::PackedBank;

struct NoteSpec {
  long start;     // first sample of the note's modes (item-absolute)
  double off;     // release (s)
  long end = -1;  // end of its row (life_end; -1: N)
};

struct ItemSpec {
  std::vector<NoteSpec> notes;
  bool pedal = false;
};

// A batch laid out as the renderer lays it: per item a plan (offsets, pedal, sigmoid bounds), groups of
// two notes as windows from their first start (rounded down to the 64-sample grid), each row the dense
// gate_row(j, start, end) exactly as event_renderer.cpp's group_bank wrote it. `dense` packs those rows
// (no source: the former host layout); `compact` has the source and no rows.
template <class T>
struct Batch {
  long N;
  std::vector<std::unique_ptr<EventPlan<T>>> plans;
  PackedBank<T> dense, compact;
  std::shared_ptr<EventGateSource<T>> src;
  struct Row {
    long item;
    size_t j;
    long from, end;
  };
  std::vector<Row> rows;  // packed order

  Batch(const std::vector<ItemSpec>& items, long N_, double sr, double tau, unsigned seed) : N(N_) {
    src = std::make_shared<EventGateSource<T>>(N, sr, tau);
    compact.gates = src;
    std::mt19937 rng(seed);
    std::uniform_real_distribution<double> u(0.0, 1.0);
    for (size_t b = 0; b < items.size(); ++b) {
      auto P = std::make_unique<EventPlan<T>>();
      P->N = N;
      P->mopt.sample_rate = sr;
      P->ropt.damper_tau = tau;
      for (const auto& n : items[b].notes) P->offsets.push_back(n.off);
      if (items[b].pedal) {
        P->pedal.resize(static_cast<size_t>(N));
        for (double& v : P->pedal) v = u(rng) < 0.3 ? 0.0 : u(rng);  // exact zeros and partial pedal
      }
      P->tabulate_sigmoids();
      src->add_item(P->pedal);
      const auto& notes = items[b].notes;
      for (size_t j0 = 0; j0 < notes.size(); j0 += 2) {
        const size_t j1 = std::min(notes.size(), j0 + 2);
        long first = N;
        for (size_t j = j0; j < j1; ++j) first = std::min(first, notes[j].start);
        const long w0 = first / 64 * 64, W = N - w0;
        GroupBank<T> g;
        g.rows = static_cast<long>(j1 - j0);
        g.W = W;
        g.gate.assign(static_cast<size_t>(g.rows * W), T(0));
        for (size_t j = j0; j < j1; ++j) {
          const long r = static_cast<long>(j - j0), s = notes[j].start, e = notes[j].end < 0 ? N : notes[j].end;
          // two damped modes (the later one must not move the row's first stored sample) + an undamped one
          for (long st : {s, s + 37}) {
            g.omega.push_back(T(0.1));
            g.start.push_back(st - w0);
            g.env.push_back(static_cast<std::int32_t>(r));
          }
          g.omega.push_back(T(0.2));
          g.start.push_back(std::max(0L, s - w0 - 5));
          g.env.push_back(-1);
          if (e > s) P->gate_row(j, s, e, g.gate.data() + r * W + (s - w0), true);
          src->add_row(P->offsets[j], P->sig_lo[j], P->sig_hi[j], s, e);
          rows.push_back({static_cast<long>(b), j, s, e});
        }
        g.sigma = g.dgain = g.amp = g.delta = std::vector<T>(g.omega.size(), T(0));
        dense.append(g, static_cast<long>(b) * N + w0);
        g.gate.clear();  // the compact bank must not need them
        compact.append(g, static_cast<long>(b) * N + w0);
      }
      plans.push_back(std::move(P));
    }
    dense.n = compact.n = static_cast<long>(items.size()) * N;
  }
};

std::vector<ItemSpec> edge_items(long N, double sr) {
  const double end_s = static_cast<double>(N) / sr;
  ItemSpec a{{{100, 0.05}, {300, end_s + 1.0}, {900, 0.02}, {2000, end_s - 0.001}, {50, 0.1, 1200}}, false};
  ItemSpec b{{{0, 0.2}, {640, 0.03}, {1500, end_s + 0.5}}, true};  // 0.03 s = 480 samples: released before onset
  ItemSpec c{{{10, -0.5}, {3000, 0.25, 3500}}, true};
  return {a, b, c};
}

template <class T>
void expect_fill_matches_dense(const Batch<T>& B) {
  ASSERT_TRUE(B.compact.gate.empty());
  ASSERT_EQ(B.compact.gate_size, B.dense.gate_size);
  ASSERT_EQ(static_cast<long>(B.dense.gate.size()), B.dense.gate_size);
  std::vector<T> g(static_cast<size_t>(B.compact.gate_size), T(-7));
  B.src->fill_cpu(B.compact, g.data());
  long nonzero = 0, saturated = 0, partial = 0;
  for (size_t i = 0; i < g.size(); ++i) {
    ASSERT_EQ(g[i], B.dense.gate[i]) << "packed sample " << i;  // bit for bit
    nonzero += g[i] != T(0);
    saturated += g[i] == T(1);
    partial += g[i] != T(0) && g[i] != T(1);
  }
  EXPECT_GT(nonzero, 0);  // the cases are not vacuous: open, closed and in-between gates all occur
  EXPECT_GT(saturated, 0);
  EXPECT_GT(partial, 0);
}

// The renderer's former chain rule (plan_backward before compact gates), literally, on the dense rows.
template <class T>
void expect_reduce_matches_dense_chain_rule(const Batch<T>& B, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> nd;
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::vector<T> gg(static_cast<size_t>(B.dense.gate_size));
  for (T& v : gg) v = u(rng) < 0.1 ? T(0) : static_cast<T>(nd(rng));
  detail::PackedGrads<T> pg;
  pg.gate = gg;
  std::vector<double> ref_off(B.rows.size(), 0.0);
  std::vector<std::vector<double>> ref_ped(B.plans.size());
  for (size_t b = 0; b < B.plans.size(); ++b)
    if (!B.plans[b]->pedal.empty()) ref_ped[b].assign(static_cast<size_t>(B.N), 0.0);
  for (size_t w = 0; w < B.dense.windows.size(); ++w) {
    const auto& win = B.dense.windows[w];
    const std::vector<T> lg = pg.window_gate(B.dense, w);
    const long w0 = win.base % B.N;
    for (long r = win.r0; r < win.r1; ++r) {
      const auto& row = B.rows[static_cast<size_t>(r)];
      const EventPlan<T>& P = *B.plans[static_cast<size_t>(row.item)];
      const T* lr = lg.data() + (r - win.r0) * win.len;
      const double inv_tau = 1.0 / P.ropt.damper_tau;
      double acc = 0;
      for (long n = std::max(row.from, P.sig_lo[row.j]); n < row.end; ++n) {
        const double g = static_cast<double>(lr[n - w0]);
        if (g == 0.0) continue;
        const double S = P.sig(n, row.j);
        acc -= g * (1.0 - P.pedal_at(n)) * S * (1.0 - S) * inv_tau;
        auto& gp = ref_ped[static_cast<size_t>(row.item)];
        if (!gp.empty()) gp[static_cast<size_t>(n)] -= g * S;
      }
      ref_off[static_cast<size_t>(r)] = acc;
    }
  }
  const std::vector<double> red = B.src->reduce_cpu(B.compact, gg.data());
  long pedal_items = 0, nonzero = 0;
  for (size_t r = 0; r < B.rows.size(); ++r) {
    EXPECT_EQ(red[r], ref_off[r]) << "row " << r;
    nonzero += ref_off[r] != 0.0;
  }
  EXPECT_GT(nonzero, 0);
  for (size_t b = 0; b < B.plans.size(); ++b) {
    const long po = B.src->pedal_offset(static_cast<long>(b));
    EXPECT_EQ(po < 0, ref_ped[b].empty()) << "item " << b;
    if (po < 0) continue;
    ++pedal_items;
    for (long n = 0; n < B.N; ++n)
      ASSERT_EQ(red[static_cast<size_t>(po + n)], ref_ped[b][static_cast<size_t>(n)]) << "item " << b << " sample " << n;
  }
  EXPECT_EQ(static_cast<long>(red.size()), static_cast<long>(B.rows.size()) + pedal_items * B.N);
}

// The kernels' per-position logic (kernels/common/event_gate_kernel.h) run on the host over the very row
// arrays fill_cuda uploads (kernel_rows): the fill position by position, and the reduce chunk by chunk
// as its blocks do (rows met by a chunk, one partial sum per row and chunk, pedal terms per sample). This
// is what proves the device's indexing (row search, packed -> item sample shift, chunk/row overlap, pedal
// offsets) where no GPU runs it.
template <class T>
void expect_kernel_emulation_matches(const Batch<T>& B, unsigned seed) {
  const auto k = B.src->kernel_rows(B.compact, true);
  const kernels::EventGateRows v = k.view();
  ASSERT_EQ(v.size, B.compact.gate_size);
  std::vector<T> want(static_cast<size_t>(v.size), T(-7));
  B.src->fill_cpu(B.compact, want.data());
  for (long i = 0; i < v.size; ++i) {
    const long r = kernels::event_gate_find_row(v, i);
    ASSERT_TRUE(k.pstart[static_cast<size_t>(r)] <= i && i < k.pstart[static_cast<size_t>(r) + 1]) << "position " << i;
    ASSERT_EQ(static_cast<T>(kernels::event_gate_fill_at(v, r, i)), want[static_cast<size_t>(i)]) << "position " << i;
  }
  std::mt19937 rng(seed);
  std::normal_distribution<double> nd;
  std::vector<T> gg(static_cast<size_t>(v.size));
  for (T& x : gg) x = static_cast<T>(nd(rng));
  const std::vector<double> ref = B.src->reduce_cpu(B.compact, gg.data());
  std::vector<double> off(static_cast<size_t>(v.rows), 0.0), ped(k.pedal.size(), 0.0);
  const double inv_tau = 1.0 / v.tau;
  long multi_row_chunks = 0;
  for (long c0 = 0; c0 < v.size; c0 += kernels::kEventGateChunk) {
    const long c1 = std::min(v.size, c0 + kernels::kEventGateChunk);
    const long r0 = kernels::event_gate_find_row(v, c0), r1 = kernels::event_gate_find_row(v, c1 - 1);
    multi_row_chunks += r1 > r0;
    for (long r = r0; r <= r1; ++r) {
      long a, b;
      kernels::event_gate_row_in_chunk(v, r, c0, c1, a, b);
      double acc = 0.0;
      for (long i = a; i < b; ++i) {
        double ot, pt;
        long pi;
        if (!kernels::event_gate_reduce_at(v, r, i, static_cast<double>(gg[static_cast<size_t>(i)]), inv_tau, ot, pt, pi))
          continue;
        acc -= ot;
        if (pi >= 0) ped[static_cast<size_t>(pi)] -= pt;
      }
      off[static_cast<size_t>(r)] += acc;
    }
  }
  EXPECT_GT(multi_row_chunks, 0);
  double scale = 0;
  for (long r = 0; r < v.rows; ++r) scale = std::max(scale, std::fabs(ref[static_cast<size_t>(r)]));
  for (long r = 0; r < v.rows; ++r)
    EXPECT_NEAR(off[static_cast<size_t>(r)], ref[static_cast<size_t>(r)], 1e-12 * (1 + scale)) << "row " << r;
  for (long b = 0; b < B.src->items(); ++b) {
    const long po = B.src->pedal_offset(b);
    if (po < 0) continue;
    const long base = po - v.rows;  // the same item slice in the kernels' pedal layout
    for (long n = 0; n < B.N; ++n)
      ASSERT_EQ(ped[static_cast<size_t>(base + n)], ref[static_cast<size_t>(po + n)]) << "item " << b << " sample " << n;
  }
}

template <class T>
class EventGates : public ::testing::Test {};
using Dtypes = ::testing::Types<float, double>;
TYPED_TEST_SUITE(EventGates, Dtypes);

TYPED_TEST(EventGates, FillAndReduceMatchDenseRows) {
  const long N = 4000;
  const Batch<TypeParam> B(edge_items(N, 16000.0), N, 16000.0, 0.004, 3);
  expect_fill_matches_dense(B);
  expect_reduce_matches_dense_chain_rule(B, 4);
  expect_kernel_emulation_matches(B, 7);
}

// damper_tau = 0.3 s: the sigmoid's unsaturated stretch covers all of a 9 s item (> kMaxSigTab samples),
// so the reference rows evaluate sig_raw per sample instead of reading the table.
TYPED_TEST(EventGates, LongDamperTauIsNotTabulated) {
  const long N = 144000;
  const double sr = 16000.0;
  const std::vector<ItemSpec> items{{{{100, 4.5}, {70000, 2.0}}, true}, {{{5000, 8.0}, {1000, -9.5}}, false}};
  const Batch<TypeParam> B(items, N, sr, 0.3, 5);
  ASSERT_GT(B.plans[0]->sig_hi[0] - B.plans[0]->sig_lo[0], EventPlan<TypeParam>::kMaxSigTab);
  ASSERT_TRUE(B.plans[0]->sig_tab[0].empty());
  expect_fill_matches_dense(B);
  expect_reduce_matches_dense_chain_rule(B, 6);
  expect_kernel_emulation_matches(B, 8);
}

// set_pedal_grad(false): the offsets' gradients are unchanged, no pedal gradient is reduced or laid out.
TEST(EventGates, PedalGradientOffKeepsOffsetsAndDropsPedals) {
  const long N = 4000;
  Batch<double> B(edge_items(N, 16000.0), N, 16000.0, 0.004, 3);
  std::mt19937 rng(9);
  std::normal_distribution<double> nd;
  std::vector<double> gg(static_cast<size_t>(B.compact.gate_size));
  for (double& v : gg) v = nd(rng);
  const std::vector<double> with = B.src->reduce_cpu(B.compact, gg.data());
  ASSERT_GT(with.size(), B.rows.size());  // edge_items has pedalled items
  B.src->set_pedal_grad(false);
  const std::vector<double> without = B.src->reduce_cpu(B.compact, gg.data());
  ASSERT_EQ(without.size(), B.rows.size());
  for (size_t r = 0; r < B.rows.size(); ++r) EXPECT_EQ(without[r], with[r]) << "row " << r;
  for (long b = 0; b < B.src->items(); ++b) EXPECT_EQ(B.src->pedal_offset(b), -1) << "item " << b;
}

// A pedal that does not require grad (a Performance's sustain curve) gets no gradient on the packed
// route, and the other gradients still match the CPU renderer.
TEST(EventGates, PackedRouteSkipsAConstantPedal) {
  PianoParams p = PianoParams::concert_grand(16000.0, DType::f64);
  RenderOptions ro;
  ro.body = ro.room = false;
  ro.max_partials = 4;
  ro.rel_threshold = 0.0;
  const int64_t N = 6000;
  std::vector<double> ped(static_cast<size_t>(N));
  for (size_t n = 0; n < ped.size(); ++n) ped[n] = n > 2000 && n < 4000 ? 0.8 : 0.0;
  auto leaf = [](std::vector<double> v) { return from_vector(v).requires_grad_(); };
  std::vector<detail::EventControls> items{{from_vector(std::vector<int64_t>{50, 62}), leaf({0.01, 0.1}),
                                            leaf({0.15, 0.2}), leaf({80, 60}), from_vector(ped)}};
  const std::vector<Tensor> wrt{items[0].onsets, items[0].offsets, items[0].velocities};
  auto run = [&](bool packed) {
    std::unique_ptr<detail::PackedCpuScope> scope;
    if (packed) scope = std::make_unique<detail::PackedCpuScope>();
    return testing::render_and_grads([&] { return detail::render_events_batch_dry(p, items, N, ro); }, wrt, p);
  };
  testing::compare_runs(run(true), run(false), 1e-12);
  EXPECT_FALSE(items[0].pedal.grad().defined());
}

TEST(EventGates, MismatchedBankIsRefused) {
  const long N = 4000;  // edge_items places notes up to sample 3500
  Batch<double> B(edge_items(N, 16000.0), N, 16000.0, 0.004, 1);
  std::vector<double> g(static_cast<size_t>(B.compact.gate_size));
  B.src->add_row(0.1, 0, 10, 0, N);  // one row more than the bank has
  EXPECT_THROW(B.src->fill_cpu(B.compact, g.data()), ValueError);
  EXPECT_THROW(B.src->reduce_cpu(B.compact, g.data()), ValueError);
  EXPECT_THROW(B.src->add_item(std::vector<double>(5, 0.0)), ShapeError);
  EXPECT_THROW(B.src->pedal_offset(3), IndexError);
}

// ---- the renderer's packed route --------------------------------------------------------------------

TEST(EventGates, PackedRouteKeepsNoRowsAndMatchesCpuRenderer) {
  for (DType dt : {DType::f64, DType::f32}) {
    PianoParams p = PianoParams::concert_grand(16000.0, dt);
    RenderOptions ro;
    ro.body = ro.room = false;
    ro.max_partials = 6;
    ro.group_size = 2;
    ro.rel_threshold = 0.0;
    const int64_t N = 8000;  // 0.5 s
    auto f = [dt](std::vector<double> v) { return from_vector(v).to(dt).requires_grad_(); };
    std::vector<double> ped_samples(static_cast<size_t>(N));
    for (size_t n = 0; n < ped_samples.size(); ++n) ped_samples[n] = n > 3000 && n < 6000 ? 0.7 : 0.1;
    std::vector<detail::EventControls> items{
        // no pedal; released past the end; released before its onset
        {from_vector(std::vector<int64_t>{40, 55, 67}), f({0.01, 0.1, 0.2}), f({0.3, 0.9, 0.15}), f({70, 90, 50}), Tensor()},
        // pedal per sample
        {from_vector(std::vector<int64_t>{48, 60}), f({0.02, 0.12}), f({0.25, 0.35}), f({80, 60}), f(ped_samples)},
        // pedal per frame (100 frames/s, interpolated)
        {from_vector(std::vector<int64_t>{52, 64, 71}), f({0.0, 0.05, 0.3}), f({0.2, 0.4, 0.45}), f({100, 40, 65}),
         f(std::vector<double>{0, 0, 0.2, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9,
                               0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.5, 0.5, 0.5, 0.5, 0.5, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3,
                               0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0})}};
    std::vector<Tensor> leaves;
    for (const auto& c : items)
      for (const Tensor* t : {&c.onsets, &c.offsets, &c.velocities, &c.pedal})
        if (t->defined()) leaves.push_back(*t);
    auto run = [&](bool packed) {
      std::unique_ptr<detail::PackedCpuScope> scope;
      if (packed) scope = std::make_unique<detail::PackedCpuScope>();
      return testing::render_and_grads(
          [&] {
            const Tensor y = detail::render_events_batch_dry(p, items, N, ro);
            const EventRenderStats st = last_event_render_stats();
            if (packed) {
              EXPECT_EQ(st.host_gate_samples, 0) << "the packed route wrote gate rows on the host";
            } else {
              EXPECT_GT(st.host_gate_samples, 0);
            }
            return y;
          },
          leaves, p);
    };
    const auto cpu = run(false), packed = run(true);
    testing::compare_runs(packed, cpu, dt == DType::f64 ? 1e-12 : 1e-5, std::string(" ") + dtype_name(dt));
    // the offset released past the end has no gradient; the pedals' gradients are not all zero
    EXPECT_EQ(cpu[2].to_vector<double>()[1], 0.0);
    for (size_t i : {7, 11}) {  // item 1's pedal (per sample), item 2's (per frame)
      double pg = 0;
      for (double v : cpu[i].to_vector<double>()) pg += std::fabs(v);
      EXPECT_GT(pg, 0.0) << i;
    }
  }
}

}  // namespace
}  // namespace pianograd
