// The modal kernel on renderer-shaped banks: notes whose partials share one gate row and one damper
// gain (the SIMD kernel takes exp(-g d) once per such pair and broadcasts it), mixed with undamped
// knock-like modes, against the scalar reference on every ISA; and ModalGrads::gate_blocks (the gate
// gradient skipped where the caller does not want it) leaving every wanted value unchanged.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/cpu/isa.h"
#include "kernels/cpu/modal.h"

namespace {
using namespace pianograd::kernels;
using namespace pianograd::kernels::cpu;

struct NoteBank {
  std::vector<double> omega, sigma, dgain, amp, delta, gate;
  std::vector<std::int64_t> start;
  std::vector<std::int32_t> env;
  long rows = 0, n = 0;
  ModalBank<double> view() const {
    return {static_cast<long>(omega.size()), omega.data(), sigma.data(), dgain.data(), amp.data(), delta.data(),
            start.data(), env.data()};
  }
};

// `rows` notes of 5..40 partials (one start, row and dgain each) plus 3 undamped modes per note; each
// gate is 0 while held, then a sigmoid release and a plateau (blocks of kind 0, 2 and 1).
NoteBank note_bank(long rows, long n, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  NoteBank b;
  b.rows = rows;
  b.n = n;
  b.gate.assign(static_cast<size_t>(rows * n), 0.0);
  for (long r = 0; r < rows; ++r) {
    const long st = static_cast<long>(u(rng) * 0.3 * n);
    const double g = 0.01 + 0.05 * u(rng), f0 = 0.02 + 0.1 * u(rng);
    const long partials = 5 + static_cast<long>(u(rng) * 35);
    for (long p = 1; p <= partials + 3; ++p) {
      const bool knock = p > partials;
      b.omega.push_back(knock ? 0.1 + 2.5 * u(rng) : std::min(3.0, f0 * static_cast<double>(p)));
      b.sigma.push_back(knock ? 0.01 * u(rng) : 2e-4 * u(rng));
      b.dgain.push_back(knock ? 0.0 : g);
      b.amp.push_back((2 * u(rng) - 1) / static_cast<double>(p));
      b.delta.push_back(u(rng));
      b.start.push_back(st);
      b.env.push_back(knock ? -1 : static_cast<std::int32_t>(r));
    }
    const double rel = (0.5 + 0.3 * u(rng)) * static_cast<double>(n), tau = 20 + 30 * u(rng);
    for (long t = 0; t < n; ++t) {
      const double x = (static_cast<double>(t) - rel) / tau;
      b.gate[static_cast<size_t>(r * n + t)] = x < -30 ? 0.0 : (x > 30 ? 0.7 : 0.7 / (1 + std::exp(-x)));
    }
  }
  return b;
}

double max_abs_diff(const std::vector<double>& a, const std::vector<double>& b) {
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(a[i] - b[i]));
  return m;
}
double max_abs(const std::vector<double>& a) {
  double m = 0;
  for (double v : a) m = std::max(m, std::fabs(v));
  return m;
}

std::vector<Isa> simd_isas() {
  std::vector<Isa> out;
  for (Isa i : {Isa::sse2, Isa::avx2, Isa::avx512})
    if (isa_supported(i)) out.push_back(i);
  return out;
}

struct AllGrads {
  std::vector<double> v[6];
  explicit AllGrads(const NoteBank& b) {
    for (int k = 0; k < 5; ++k) v[k].assign(b.omega.size(), 0.0);
    v[5].assign(b.gate.size(), 0.0);
  }
  ModalGrads<double> view(const unsigned char* blocks = nullptr) {
    return {v[0].data(), v[1].data(), v[2].data(), v[3].data(), v[4].data(), v[5].data(), blocks};
  }
};

TEST(ModalPairs, SharedDamperPairsMatchReferenceForwardAndBackward) {
  for (unsigned seed : {1u, 2u, 3u}) {
    const NoteBank b = note_bank(5, 2500 + 13 * seed, seed);
    ModalOptions o;
    o.rel_threshold = 1e-4;
    std::vector<double> want(static_cast<size_t>(b.n)), gy(want.size());
    ref::modal_forward(b.view(), b.gate.data(), b.rows, b.n, want.data(), o);
    ASSERT_GT(max_abs(want), 0.1);
    std::mt19937 rng(seed);
    std::normal_distribution<double> nd;
    for (double& v : gy) v = nd(rng);
    AllGrads gref(b);
    ref::modal_backward(b.view(), b.gate.data(), b.rows, b.n, gy.data(), gref.view(), o);
    for (Isa isa : simd_isas()) {
      IsaScope scope(isa);
      std::vector<double> y(want.size());
      modal_forward(b.view(), b.gate.data(), b.rows, b.n, y.data(), o);
      EXPECT_LT(max_abs_diff(y, want), 1e-10) << isa_name(isa) << " seed " << seed;
      AllGrads got(b);
      modal_backward(b.view(), b.gate.data(), b.rows, b.n, gy.data(), got.view(), o);
      for (int k = 0; k < 6; ++k)
        EXPECT_LT(max_abs_diff(got.v[k], gref.v[k]) / std::max(1.0, max_abs(gref.v[k])), 1e-9)
            << isa_name(isa) << " gradient " << k << " seed " << seed;
    }
  }
}

// Wanting the gate gradient only from each row's release on: the wanted blocks and every per-mode
// gradient are exactly those of a full backward.
TEST(ModalPairs, GateBlocksKeepEveryWantedValue) {
  const NoteBank b = note_bank(4, 3000, 9);
  const long nb = (b.n + kModalBlock - 1) / kModalBlock;
  std::vector<unsigned char> want(static_cast<size_t>(b.rows * nb), 0);
  long wanted = 0;
  for (long r = 0; r < b.rows; ++r) {
    long first = b.n;
    for (long t = 0; t < b.n; ++t)
      if (b.gate[static_cast<size_t>(r * b.n + t)] != 0.0) {
        first = t;
        break;
      }
    for (long k = first / kModalBlock; k < nb; ++k) want[static_cast<size_t>(r * nb + k)] = 1, ++wanted;
  }
  ASSERT_GT(wanted, 0);
  ASSERT_LT(wanted, b.rows * nb);
  ModalOptions o;
  std::vector<double> gy(static_cast<size_t>(b.n));
  std::mt19937 rng(3);
  std::normal_distribution<double> nd;
  for (double& v : gy) v = nd(rng);
  std::vector<Isa> isas = simd_isas();
  isas.push_back(Isa::scalar);
  for (Isa isa : isas) {
    IsaScope scope(isa);
    AllGrads full(b), part(b);
    modal_backward(b.view(), b.gate.data(), b.rows, b.n, gy.data(), full.view(), o);
    modal_backward(b.view(), b.gate.data(), b.rows, b.n, gy.data(), part.view(want.data()), o);
    for (int k = 0; k < 5; ++k) EXPECT_EQ(part.v[k], full.v[k]) << isa_name(isa) << " gradient " << k;
    double gmax = 0;
    for (long r = 0; r < b.rows; ++r)
      for (long t = 0; t < b.n; ++t) {
        const size_t i = static_cast<size_t>(r * b.n + t);
        if (!want[static_cast<size_t>(r * nb + t / kModalBlock)]) continue;
        EXPECT_EQ(part.v[5][i], full.v[5][i]) << isa_name(isa) << " row " << r << " t " << t;
        gmax = std::max(gmax, std::fabs(full.v[5][i]));
      }
    EXPECT_GT(gmax, 0.0) << isa_name(isa);
  }
}

}  // namespace
