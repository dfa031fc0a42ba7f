// Emulated widths (emulated_width.h): the modal bank, forward and backward, W modes per batch and
// kGroupFor<W> batches per group, and the horizontal sums turning lanes into samples. The last test proves on any
// host that the conformance check catches xsimd 8.1.0's AVX-512 haddp defect: the same kernel over a
// 16-float batch whose haddp has that defect's lane swap fails it by orders of magnitude.
#include "emulated_width.h"
#include "kernels/cpu/modal_simd.h"

namespace pianograd::kernels::cpu::simd {
using Emulated16WithXsimd81Haddp = emulated<16, kXsimd81Avx512Haddp>;
}  // namespace pianograd::kernels::cpu::simd

#define PG_DEFINE(ns, W) PG_MODAL_ISA_DEFINE(ns, simd::emulated<W>)
PG_EMULATED_WIDTHS(PG_DEFINE)
#undef PG_DEFINE
PG_MODAL_ISA_DEFINE(emu16_haddp_defect, simd::Emulated16WithXsimd81Haddp)

namespace pianograd::kernels::cpu::emulated_testing {
namespace {

using namespace conformance;

// An ISA's backward takes the forward's tape: run that forward first, as the dispatcher does.
template <class T, class Fwd, class Bwd>
ModalBackwardFn<T> backward_of(Fwd fwd, Bwd bwd) {
  return [fwd, bwd](const ModalBank<T>& b, const T* gate, long rows, long n, const T* gy, const ModalGrads<T>& g,
                    const ModalOptions& o, const ModalTape<T>*) {
    ModalTape<T> tape;
    std::vector<T> y(static_cast<size_t>(n));
    fwd(b, gate, rows, n, y.data(), o, &tape);
    bwd(b, gate, rows, n, gy, g, o, tape);
  };
}

template <class T>
void modal(int W, const ModalForwardFn<T>& fwd, const ModalBackwardFn<T>& bwd) {
  const char* t = type_name<T>();
  // Modes: every tail of a batch, and the ends of one group and of two.
  constexpr auto group = [](long w) { return w * (w >= 16 ? 2 : 4); };  // modal_simd::kGroupFor
  for (long modes : sizes(W, {group(W) - 1, group(W), group(W) + 1, 2 * group(W) + 3})) {
    for (const auto& [damping, thr] : {std::pair<int, double>{0, 1e-3}, {1, 1e-3}, {2, 1e-4}, {1, 0}}) {
      expect_ok(check_modal_forward<T>(damping, thr, modes, fwd), W, t, "modal_forward damping " + std::to_string(damping), modes);
      expect_ok(check_modal_backward<T>(damping, thr, modes, bwd), W, t, "modal_backward damping " + std::to_string(damping), modes);
    }
  }
}

#define PG_TEST(ns, W)                                                                                      \
  TEST(EmulatedWidth, ModalBank##W) {                                                                       \
    modal<float>(W, &ns::modal_forward<float>, backward_of<float>(&ns::modal_forward<float>, &ns::modal_backward<float>)); \
    modal<double>(W, &ns::modal_forward<double>,                                                            \
                  backward_of<double>(&ns::modal_forward<double>, &ns::modal_backward<double>));            \
  }
PG_EMULATED_WIDTHS(PG_TEST)
#undef PG_TEST

TEST(EmulatedWidth, ConformanceCatchesTheXsimd81Avx512HaddpDefect) {
  namespace d = emu16_haddp_defect;
  for (long modes : {5L, 37L}) {
    const Outcome f = check_modal_forward<float>(1, 1e-3, modes, &d::modal_forward<float>);
    EXPECT_FALSE(f.ok()) << "forward, " << modes << " modes";
    EXPECT_GT(f.error, 100 * f.bound) << f.detail;
    // The defect is in 16-float sums only: 8 doubles per batch sum right.
    EXPECT_TRUE(check_modal_forward<double>(1, 1e-3, modes, &d::modal_forward<double>).ok());
  }
  // The backward sums lanes only for the gate gradient of a batch whose modes share one gate row (one
  // note of 5 partials here; with 37 modes every batch mixes notes and goes lane by lane).
  const Outcome b = check_modal_backward<float>(1, 1e-3, 5, backward_of<float>(&d::modal_forward<float>,
                                                                                 &d::modal_backward<float>));
  EXPECT_FALSE(b.ok()) << "backward: the gate gradient of one note";
  EXPECT_NE(b.detail.find("d/dgate"), std::string::npos) << b.detail;
}

}  // namespace
}  // namespace pianograd::kernels::cpu::emulated_testing
