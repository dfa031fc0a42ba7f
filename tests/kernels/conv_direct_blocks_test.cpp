// The forward row kernel's input-channel blocking (conv_direct_simd.h: channels in blocks of 8, partial
// sums parked in y between blocks, bias only in the first block, ReLU only after the last): with more
// than one block, every ISA against the scalar reference, for tap counts with and without a
// compile-time specialisation, with the two-input split inside a block and on a block boundary.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu/conv_direct.h"
#include "kernels/cpu/isa.h"
#include "random_vec.h"

namespace pianograd::kernels::cpu {
namespace {

using testing::random_vec;

template <class T>
void check_blocked(double tol) {
  const Isa isas[] = {Isa::sse2, Isa::avx2, Isa::avx512};
  const long L = 203, xs = 251, ys = L + 3;
  for (long C : {9L, 19L, 33L})
    for (long ntaps : {3L, 5L, 4L})
      for (long cout : {4L, 7L})
        for (long c1 : {0L, 8L, 11L}) {  // 0: one input array; else [x (c1 channels) | x2]
          if (c1 >= C) continue;
          std::vector<long> off(static_cast<size_t>(ntaps));
          for (long t = 0; t < ntaps; ++t) off[static_cast<size_t>(t)] = t * 11;  // 44 + 202 < 251
          const auto xall = random_vec<T>(static_cast<size_t>(C * xs), 1);
          const auto w = random_vec<T>(static_cast<size_t>(cout * C * ntaps), 2);
          const auto bias = random_vec<T>(static_cast<size_t>(cout), 3);
          const std::vector<T> x2(xall.begin() + c1 * xs, xall.end());
          const T* x2p = c1 > 0 ? x2.data() : nullptr;
          for (bool relu : {false, true}) {
            std::vector<T> y_ref(static_cast<size_t>(cout * ys), T(7));
            ref::taps_forward<T>(xall.data(), xs, C, off.data(), ntaps, w.data(), cout, y_ref.data(), ys, L,
                                 bias.data(), relu);
            for (Isa isa : isas) {
              if (!isa_supported(isa)) continue;
              IsaScope scope(isa);
              std::vector<T> y(y_ref.size(), T(7));
              taps_forward<T>(xall.data(), xs, C, off.data(), ntaps, w.data(), cout, y.data(), ys, L, bias.data(),
                              relu, x2p, c1);
              double worst = 0;
              for (size_t i = 0; i < y.size(); ++i)  // also: the gap columns [L, ys) left untouched
                worst = std::max(worst, std::abs(static_cast<double>(y[i]) - static_cast<double>(y_ref[i])) /
                                            (1 + std::abs(static_cast<double>(y_ref[i]))));
              EXPECT_LE(worst, tol) << isa_name(isa) << " C=" << C << " taps=" << ntaps << " cout=" << cout
                                    << " c1=" << c1 << " relu=" << relu;
            }
          }
        }
}

TEST(ConvDirectBlocks, ChannelBlocksMatchReferenceFloat) { check_blocked<float>(2e-5); }
TEST(ConvDirectBlocks, ChannelBlocksMatchReferenceDouble) { check_blocked<double>(1e-12); }

}  // namespace
}  // namespace pianograd::kernels::cpu
