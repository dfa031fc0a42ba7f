// Every GEMM variant (our packed kernel on each supported ISA, the Eigen backend, the dispatcher)
// against the scalar triple loop: all four transpose combinations, sizes that leave ragged edge tiles
// and cross the KC/MC blocking, padded leading dimensions, alpha/beta, and beta = 0 over NaN.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu/gemm.h"
#include "kernels/cpu/isa.h"

namespace pianograd::kernels::cpu {
namespace {

struct Case {
  bool ta, tb;
  long M, N, K, pad;  // pad: extra elements per row in every leading dimension
  double alpha, beta;
};

template <class T>
using Fn = void (*)(bool, bool, long, long, long, T, const T*, long, const T*, long, T, T*, long);

template <class T>
std::vector<T> random_vec(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  std::vector<T> v(n);
  for (auto& x : v) x = static_cast<T>(u(rng));
  return v;
}

// Runs `fn` and ref::gemm on the same inputs; compares C including the padding (which must be untouched).
template <class T>
void check(Fn<T> fn, const Case& c, const std::string& what) {
  const long ar = c.ta ? c.K : c.M, ac = c.ta ? c.M : c.K;
  const long br = c.tb ? c.N : c.K, bc = c.tb ? c.K : c.N;
  const long lda = ac + c.pad, ldb = bc + c.pad, ldc = c.N + c.pad;
  const auto A = random_vec<T>(static_cast<size_t>(ar * lda), 1);
  const auto B = random_vec<T>(static_cast<size_t>(br * ldb), 2);
  auto C = random_vec<T>(static_cast<size_t>(c.M * ldc), 3);
  if (c.beta == 0.0)  // beta 0 must not read C: poison the matrix (not the padding)
    for (long i = 0; i < c.M; ++i)
      for (long j = 0; j < c.N; ++j) C[static_cast<size_t>(i * ldc + j)] = std::numeric_limits<T>::quiet_NaN();
  auto expect = C;
  ref::gemm<T>(c.ta, c.tb, c.M, c.N, c.K, T(c.alpha), A.data(), lda, B.data(), ldb, T(c.beta), expect.data(), ldc);
  fn(c.ta, c.tb, c.M, c.N, c.K, T(c.alpha), A.data(), lda, B.data(), ldb, T(c.beta), C.data(), ldc);
  // Rounding grows like sqrt(K) * eps for random-sign sums; 4*K*eps is a loose, still-failing bound.
  const double tol = 4.0 * static_cast<double>(std::max(c.K, 1L)) * std::numeric_limits<T>::epsilon();
  for (size_t i = 0; i < C.size(); ++i) {
    ASSERT_NEAR(static_cast<double>(C[i]), static_cast<double>(expect[i]), tol)
        << what << " ta=" << c.ta << " tb=" << c.tb << " M=" << c.M << " N=" << c.N << " K=" << c.K
        << " pad=" << c.pad << " alpha=" << c.alpha << " beta=" << c.beta << " at flat index " << i;
  }
}

std::vector<Case> cases() {
  std::vector<Case> out;
  const long sizes[][3] = {{1, 1, 1},   {5, 7, 3},    {6, 16, 8},   {7, 17, 9},     {13, 33, 1},
                           {64, 64, 64}, {37, 71, 300}, {150, 20, 40}, {3, 200, 520}, {145, 4100, 5}};
  for (bool ta : {false, true})
    for (bool tb : {false, true})
      for (const auto& s : sizes) {
        out.push_back({ta, tb, s[0], s[1], s[2], 0, 1.0, 0.0});
        out.push_back({ta, tb, s[0], s[1], s[2], 3, -0.5, 0.75});
      }
  out.push_back({false, false, 4, 5, 0, 2, 1.0, 0.5});  // K = 0: C = beta * C
  out.push_back({false, false, 4, 5, 0, 0, 1.0, 0.0});  // K = 0, beta 0: C = 0 even over NaN
  out.push_back({true, false, 9, 10, 11, 1, 0.0, 2.0});  // alpha = 0
  return out;
}

template <class T>
void check_all_variants() {
  for (const Case& c : cases()) {
    for (Isa isa : {Isa::scalar, Isa::sse2, Isa::avx2, Isa::avx512}) {
      if (!isa_supported(isa)) continue;
      IsaScope scope(isa);
      check<T>(&gemm_packed<T>, c, std::string("packed/") + isa_name(isa));
      check<T>(&gemm<T>, c, std::string("dispatch/") + isa_name(isa));
    }
    if (gemm_eigen_available()) check<T>(&gemm_eigen<T>, c, "eigen");
  }
}

TEST(Gemm, FloatEveryVariantMatchesReference) { check_all_variants<float>(); }
TEST(Gemm, DoubleEveryVariantMatchesReference) { check_all_variants<double>(); }

TEST(Gemm, ReferenceMatchesHandComputed) {
  // [1 2 3; 4 5 6] @ [7 8; 9 10; 11 12] = [58 64; 139 154]
  const double A[] = {1, 2, 3, 4, 5, 6}, B[] = {7, 8, 9, 10, 11, 12};
  double C[4] = {};
  ref::gemm<double>(false, false, 2, 2, 3, 1.0, A, 3, B, 2, 0.0, C, 2);
  EXPECT_EQ(C[0], 58);
  EXPECT_EQ(C[1], 64);
  EXPECT_EQ(C[2], 139);
  EXPECT_EQ(C[3], 154);
  // A^T (A read as 3x2 stored 2x3) @ [1;1] rows: A^T = [1 4; 2 5; 3 6]
  const double ones[] = {1, 1};
  double D[3] = {};
  ref::gemm<double>(true, false, 3, 1, 2, 1.0, A, 3, ones, 1, 0.0, D, 1);
  EXPECT_EQ(D[0], 5);
  EXPECT_EQ(D[1], 7);
  EXPECT_EQ(D[2], 9);
}

TEST(Gemm, ThreadedDispatchMatchesReferenceOnLargeProducts) {
  // Large enough to cross kGemmParallelFlops, with N < M to split rows and N > M to split columns.
  for (const Case& c : {Case{false, true, 300, 97, 130, 1, 1.0, 0.0}, Case{true, false, 70, 530, 90, 0, 1.0, 1.0}}) {
    check<float>(&gemm<float>, c, "threaded");
    check<double>(&gemm<double>, c, "threaded");
  }
}

}  // namespace
}  // namespace pianograd::kernels::cpu
