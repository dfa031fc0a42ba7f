// Conformance cases of the matrix products: gemm (the dispatched backend: Eigen on AVX2, our packed
// kernel elsewhere) and gemm_packed (ours on every ISA) in the four transpose combinations, with
// alpha/beta and with beta = 0 over a C full of NaN (BLAS: C is then not read), gemm_batched with a
// per-item and a shared B, and the banded products, all against ref::gemm (double accumulation).
// The size is N, the columns of C (the packed kernel's 2W-wide register tiles end at every tail); M and
// K cycle through the 6-row tiles' remainders. Large sizes go past the cache blocks (KC = 256).
#include <algorithm>
#include <limits>
#include <vector>

#include "kernels/cpu/banded_matmul.h"
#include "kernels/cpu/conformance_checks.h"
#include "kernels/cpu/conformance_util.h"
#include "kernels/cpu/gemm.h"

namespace pianograd::kernels::cpu::conformance::detail {
namespace {

struct Dims {
  long M, N, K;
};
Dims dims(long size) {
  if (size > 49) return {size - 3, size, size + 5};
  return {1 + (size * 5) % 13, size, 1 + (size * 7) % 37};
}

struct GemmSpec {
  bool ta, tb;
  bool nan_c;  // beta = 0 over NaN: the result must not read C
};

// Stored with padded leading dimensions, so a kernel that confuses ld with the logical width fails.
template <class T>
Outcome gemm_case(const GemmSpec& s, long size, const GemmFn<T>& fn) {
  const Dims d = dims(size);
  const long lda = (s.ta ? d.M : d.K) + 3, ldb = (s.tb ? d.K : d.N) + 2, ldc = d.N + 1;
  const auto A = uniform<T>((s.ta ? d.K : d.M) * lda, 3 + size), B = uniform<T>((s.tb ? d.N : d.K) * ldb, 5 + size);
  auto C0 = uniform<T>(d.M * ldc, 7 + size);
  if (s.nan_c) std::fill(C0.begin(), C0.end(), std::numeric_limits<T>::quiet_NaN());
  const T alpha = T(0.75), beta = s.nan_c ? T(0) : T(-0.5);
  Guarded<T> C(C0);
  std::vector<T> want = C0;
  fn(s.ta, s.tb, d.M, d.N, d.K, alpha, A.data(), lda, B.data(), ldb, beta, C.data(), ldc);
  ref::gemm<T>(s.ta, s.tb, d.M, d.N, d.K, alpha, A.data(), lda, B.data(), ldb, beta, want.data(), ldc);
  // The padding columns of C (j >= N) must keep what they held: compare whole rows, NaN == NaN.
  return worst(ulps_of_scale(C.data(), want.data(), d.M * ldc, 1, 8 + 2.0 * static_cast<double>(d.K), "C"),
               guards(C, "C"));
}

template <class T>
Outcome batched_case(bool shared_b, long size) {
  const Dims d = dims(std::min(size, 64L));
  const long batch = 3;
  const auto A = uniform<T>(batch * d.M * d.K, 11 + size), B = uniform<T>(batch * d.K * d.N, 13 + size);
  std::vector<long> a_off, b_off;
  for (long i = 0; i < batch; ++i) {
    a_off.push_back(i * d.M * d.K);
    b_off.push_back(shared_b ? 0 : i * d.K * d.N);
  }
  Guarded<T> C(batch * d.M * d.N);
  std::vector<T> want(static_cast<size_t>(C.size()));
  gemm_batched<T>(batch, false, false, d.M, d.N, d.K, T(1), A.data(), a_off.data(), d.K, B.data(), b_off.data(), d.N,
                  T(0), C.data(), d.N);
  for (long i = 0; i < batch; ++i)
    ref::gemm<T>(false, false, d.M, d.N, d.K, T(1), A.data() + a_off[static_cast<size_t>(i)], d.K,
                 B.data() + b_off[static_cast<size_t>(i)], d.N, T(0), want.data() + i * d.M * d.N, d.N);
  return worst(ulps_of_scale(C.data(), want.data(), C.size(), 1, 8 + 2.0 * static_cast<double>(d.K), "C"),
               guards(C, "C"));
}

// y = x w and gx = gy w^T for a w whose columns are short bands (the transcriber's pitch readout).
template <class T>
Outcome banded_case(long M) {
  const long K = 45, N = 17;
  std::vector<T> w(static_cast<size_t>(K * N), T(0));
  const auto vals = uniform<T>(K * N, 17 + M);
  for (long j = 0; j < N; ++j) {
    const long lo = (j * 7) % (K - 6), len = 1 + j % 6;
    for (long k = lo; k < lo + len; ++k) w[static_cast<size_t>(k * N + j)] = vals[static_cast<size_t>(k * N + j)];
  }
  const ColumnBands<T> bands = column_bands<T>(w.data(), K, N);
  const auto x = uniform<T>(M * K, 19 + M), gy = uniform<T>(M * N, 23 + M);
  Guarded<T> y(M * N), gx(M * K);
  std::vector<T> y0(static_cast<size_t>(M * N)), gx0(static_cast<size_t>(M * K));
  banded_matmul<T>(x.data(), bands, y.data(), M);
  banded_matmul_t<T>(gy.data(), bands, gx.data(), M);
  ref::gemm<T>(false, false, M, N, K, T(1), x.data(), K, w.data(), N, T(0), y0.data(), N);
  ref::gemm<T>(false, true, M, K, N, T(1), gy.data(), N, w.data(), N, T(0), gx0.data(), K);
  Outcome o = ulps_of_scale(y.data(), y0.data(), y.size(), 1, 16, "y");
  o = worst(o, ulps_of_scale(gx.data(), gx0.data(), gx.size(), 1, 16, "gx"));
  return worst(worst(o, guards(y, "y")), guards(gx, "gx"));
}

}  // namespace

void add_linalg_cases(std::vector<Case>& out) {
  const std::vector<long> large = {96, 300};
  const std::pair<GemmSpec, const char*> specs[] = {
      {{false, false, false}, "nn"}, {{true, false, false}, "tn"}, {{false, true, false}, "nt"},
      {{true, true, false}, "tt"},   {{false, false, true}, "nn_beta0_nan_c"}};
  for (const bool packed : {false, true})
    for (const auto& [spec, sname] : specs)
      out.push_back(make_case(packed ? "gemm_packed" : "gemm", sname, [packed, spec = spec](auto t, long n) {
        using T = decltype(t);
        return gemm_case<T>(spec, n, packed ? &gemm_packed<T> : &gemm<T>);
      }, large));
  for (const bool shared : {false, true})
    out.push_back(make_case("gemm_batched", shared ? "shared_b" : "per_item_b",
                            [shared](auto t, long n) { return batched_case<decltype(t)>(shared, n); }));
  out.push_back(make_case("banded_matmul+banded_matmul_t", "", [](auto t, long n) { return banded_case<decltype(t)>(n); },
                          {1000}));
}

}  // namespace pianograd::kernels::cpu::conformance::detail

namespace pianograd::kernels::cpu::conformance {

template <class T>
Outcome check_gemm(bool trans_a, bool trans_b, bool beta0_nan_c, long size, const GemmFn<T>& fn) {
  return detail::gemm_case<T>({trans_a, trans_b, beta0_nan_c}, size, fn);
}
template Outcome check_gemm<float>(bool, bool, bool, long, const GemmFn<float>&);
template Outcome check_gemm<double>(bool, bool, bool, long, const GemmFn<double>&);

}  // namespace pianograd::kernels::cpu::conformance
