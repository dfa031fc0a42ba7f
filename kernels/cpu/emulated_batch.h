// A portable stand-in for an xsimd batch of W lanes, so the lane-width logic of the SIMD kernel bodies
// (plans, packing, groups, tails, horizontal sums) runs at W = 4, 8 and 16 on any host, the 16-lane
// float layout of AVX-512 included, with no -m flag. xsimd 8.1 has no emulated architecture, so this
// header partially specialises xsimd::batch and xsimd::batch_bool for the tag simd::emulated<W> and
// overloads, in namespace xsimd, every free function the kernel bodies call. Partial ordering prefers
// these overloads to xsimd's generic templates, so a body written as
//   using B = xsimd::batch<T, Arch>; ... xsimd::fma(a, b, c) ...
// compiles unchanged with Arch = simd::emulated<W>. Lanes are plain arrays and every function is the
// scalar <cmath> one per lane: the results match the native ISAs to rounding, never bit for bit.
//
// For tests only (tests/kernels/emulated_*): nothing in the library includes it.
#pragma once
#include <array>
#include <cmath>
#include <cstddef>
#include <xsimd/xsimd.hpp>

namespace pianograd::kernels::cpu::simd {

// Defects of a real ISA the emulation can reproduce, so a test proves on any host that the checks
// would catch them. kXsimd81Avx512Haddp: Debian's xsimd 8.1.0 haddp on 16 floats returns the sums of
// rows 2-3 and 4-5, and of rows 10-11 and 12-13, in each other's lanes (../shared/repro/).
enum EmulatedQuirk : int { kNoQuirk = 0, kXsimd81Avx512Haddp = 1 };

template <int W, int Quirk = kNoQuirk>
struct emulated {
  static_assert(W > 0, "emulated: at least one lane");
  static constexpr int width = W;
  static constexpr const char* name() { return "emulated"; }
};

}  // namespace pianograd::kernels::cpu::simd

namespace xsimd {

template <class T, int W, int Q>
class batch_bool<T, pianograd::kernels::cpu::simd::emulated<W, Q>> {
 public:
  static constexpr std::size_t size = W;
  using value_type = bool;
  using arch_type = pianograd::kernels::cpu::simd::emulated<W, Q>;
  using batch_type = batch<T, arch_type>;

  batch_bool() = default;
  batch_bool(bool b) { v_.fill(b); }  // NOLINT: implicit like xsimd's broadcast
  bool get(std::size_t i) const { return v_[i]; }
  void set(std::size_t i, bool b) { v_[i] = b; }

  template <class F>
  friend batch_bool lanewise(const batch_bool& a, const batch_bool& b, F f) {
    batch_bool r;
    for (int i = 0; i < W; ++i) r.v_[i] = f(a.v_[i], b.v_[i]);
    return r;
  }
  friend batch_bool operator&(const batch_bool& a, const batch_bool& b) { return lanewise(a, b, [](bool x, bool y) { return x && y; }); }
  friend batch_bool operator|(const batch_bool& a, const batch_bool& b) { return lanewise(a, b, [](bool x, bool y) { return x || y; }); }
  friend batch_bool operator^(const batch_bool& a, const batch_bool& b) { return lanewise(a, b, [](bool x, bool y) { return x != y; }); }
  friend batch_bool operator&&(const batch_bool& a, const batch_bool& b) { return a & b; }
  friend batch_bool operator||(const batch_bool& a, const batch_bool& b) { return a | b; }
  friend batch_bool operator==(const batch_bool& a, const batch_bool& b) { return lanewise(a, b, [](bool x, bool y) { return x == y; }); }
  friend batch_bool operator!=(const batch_bool& a, const batch_bool& b) { return a ^ b; }
  batch_bool operator!() const {
    batch_bool r;
    for (int i = 0; i < W; ++i) r.v_[i] = !v_[i];
    return r;
  }
  batch_bool operator~() const { return !*this; }
  batch_bool& operator&=(const batch_bool& o) { return *this = *this & o; }
  batch_bool& operator|=(const batch_bool& o) { return *this = *this | o; }

 private:
  std::array<bool, W> v_{};
};

template <class T, int W, int Q>
class batch<T, pianograd::kernels::cpu::simd::emulated<W, Q>> {
 public:
  static constexpr std::size_t size = W;
  using value_type = T;
  using arch_type = pianograd::kernels::cpu::simd::emulated<W, Q>;
  using batch_bool_type = batch_bool<T, arch_type>;

  batch() = default;
  batch(T val) { v_.fill(val); }  // NOLINT: implicit broadcast, as xsimd's (scalar operands of the operators)

  template <class U>
  static batch broadcast(U val) { return batch(static_cast<T>(val)); }
  template <class U>
  static batch load_unaligned(const U* mem) {
    batch r;
    for (int i = 0; i < W; ++i) r.v_[i] = static_cast<T>(mem[i]);
    return r;
  }
  template <class U>
  static batch load_aligned(const U* mem) { return load_unaligned(mem); }
  template <class U>
  void store_unaligned(U* mem) const {
    for (int i = 0; i < W; ++i) mem[i] = static_cast<U>(v_[i]);
  }
  template <class U>
  void store_aligned(U* mem) const { store_unaligned(mem); }

  T get(std::size_t i) const { return v_[i]; }
  T& operator[](std::size_t i) { return v_[i]; }
  const T& operator[](std::size_t i) const { return v_[i]; }

  template <class F>
  static batch map(const batch& a, F f) {
    batch r;
    for (int i = 0; i < W; ++i) r.v_[i] = f(a.v_[i]);
    return r;
  }
  template <class F>
  static batch map(const batch& a, const batch& b, F f) {
    batch r;
    for (int i = 0; i < W; ++i) r.v_[i] = f(a.v_[i], b.v_[i]);
    return r;
  }
  template <class F>
  static batch map(const batch& a, const batch& b, const batch& c, F f) {
    batch r;
    for (int i = 0; i < W; ++i) r.v_[i] = f(a.v_[i], b.v_[i], c.v_[i]);
    return r;
  }
  template <class F>
  static batch_bool_type test(const batch& a, const batch& b, F f) {
    batch_bool_type r;
    for (int i = 0; i < W; ++i) r.set(i, f(a.v_[i], b.v_[i]));
    return r;
  }

  friend batch operator+(const batch& a, const batch& b) { return map(a, b, [](T x, T y) { return x + y; }); }
  friend batch operator-(const batch& a, const batch& b) { return map(a, b, [](T x, T y) { return x - y; }); }
  friend batch operator*(const batch& a, const batch& b) { return map(a, b, [](T x, T y) { return x * y; }); }
  friend batch operator/(const batch& a, const batch& b) { return map(a, b, [](T x, T y) { return x / y; }); }
  batch& operator+=(const batch& o) { return *this = *this + o; }
  batch& operator-=(const batch& o) { return *this = *this - o; }
  batch& operator*=(const batch& o) { return *this = *this * o; }
  batch& operator/=(const batch& o) { return *this = *this / o; }
  batch operator-() const { return map(*this, [](T x) { return -x; }); }
  batch operator+() const { return *this; }

  friend batch_bool_type operator==(const batch& a, const batch& b) { return test(a, b, [](T x, T y) { return x == y; }); }
  friend batch_bool_type operator!=(const batch& a, const batch& b) { return test(a, b, [](T x, T y) { return x != y; }); }
  friend batch_bool_type operator<(const batch& a, const batch& b) { return test(a, b, [](T x, T y) { return x < y; }); }
  friend batch_bool_type operator<=(const batch& a, const batch& b) { return test(a, b, [](T x, T y) { return x <= y; }); }
  friend batch_bool_type operator>(const batch& a, const batch& b) { return test(a, b, [](T x, T y) { return x > y; }); }
  friend batch_bool_type operator>=(const batch& a, const batch& b) { return test(a, b, [](T x, T y) { return x >= y; }); }

 private:
  std::array<T, W> v_{};
};

#define PG_EMU_BATCH template <class T, int W, int Q> inline batch<T, pianograd::kernels::cpu::simd::emulated<W, Q>>
#define PG_EMU_B batch<T, pianograd::kernels::cpu::simd::emulated<W, Q>>
#define PG_EMU_BOOL batch_bool<T, pianograd::kernels::cpu::simd::emulated<W, Q>>

// Fused multiply-adds as the FMA3 ISAs compute them (one rounding).
PG_EMU_BATCH fma(const PG_EMU_B& x, const PG_EMU_B& y, const PG_EMU_B& z) {
  return PG_EMU_B::map(x, y, z, [](T a, T b, T c) { return std::fma(a, b, c); });
}
PG_EMU_BATCH fms(const PG_EMU_B& x, const PG_EMU_B& y, const PG_EMU_B& z) {
  return PG_EMU_B::map(x, y, z, [](T a, T b, T c) { return std::fma(a, b, -c); });
}
PG_EMU_BATCH fnma(const PG_EMU_B& x, const PG_EMU_B& y, const PG_EMU_B& z) {
  return PG_EMU_B::map(x, y, z, [](T a, T b, T c) { return std::fma(-a, b, c); });
}
PG_EMU_BATCH fnms(const PG_EMU_B& x, const PG_EMU_B& y, const PG_EMU_B& z) {
  return PG_EMU_B::map(x, y, z, [](T a, T b, T c) { return std::fma(-a, b, -c); });
}
PG_EMU_BATCH select(const PG_EMU_BOOL& c, const PG_EMU_B& a, const PG_EMU_B& b) {
  PG_EMU_B r;
  for (int i = 0; i < W; ++i) r[i] = c.get(i) ? a[i] : b[i];
  return r;
}
// x86 max/min: the second operand when the comparison is false (a NaN operand included).
PG_EMU_BATCH max(const PG_EMU_B& x, const PG_EMU_B& y) { return PG_EMU_B::map(x, y, [](T a, T b) { return a > b ? a : b; }); }
PG_EMU_BATCH min(const PG_EMU_B& x, const PG_EMU_B& y) { return PG_EMU_B::map(x, y, [](T a, T b) { return a < b ? a : b; }); }
PG_EMU_BATCH pow(const PG_EMU_B& x, const PG_EMU_B& y) { return PG_EMU_B::map(x, y, [](T a, T b) { return std::pow(a, b); }); }
PG_EMU_BATCH abs(const PG_EMU_B& x) { return PG_EMU_B::map(x, [](T a) { return std::fabs(a); }); }
PG_EMU_BATCH fabs(const PG_EMU_B& x) { return abs(x); }
PG_EMU_BATCH exp(const PG_EMU_B& x) { return PG_EMU_B::map(x, [](T a) { return std::exp(a); }); }
PG_EMU_BATCH log(const PG_EMU_B& x) { return PG_EMU_B::map(x, [](T a) { return std::log(a); }); }
PG_EMU_BATCH log1p(const PG_EMU_B& x) { return PG_EMU_B::map(x, [](T a) { return std::log1p(a); }); }
PG_EMU_BATCH sqrt(const PG_EMU_B& x) { return PG_EMU_B::map(x, [](T a) { return std::sqrt(a); }); }
PG_EMU_BATCH rsqrt(const PG_EMU_B& x) { return PG_EMU_B::map(x, [](T a) { return T(1) / std::sqrt(a); }); }
PG_EMU_BATCH sin(const PG_EMU_B& x) { return PG_EMU_B::map(x, [](T a) { return std::sin(a); }); }
PG_EMU_BATCH cos(const PG_EMU_B& x) { return PG_EMU_B::map(x, [](T a) { return std::cos(a); }); }
PG_EMU_BATCH tanh(const PG_EMU_B& x) { return PG_EMU_B::map(x, [](T a) { return std::tanh(a); }); }

template <class T, int W, int Q>
inline T hadd(const PG_EMU_B& x) {
  T s = x[0];
  for (int i = 1; i < W; ++i) s += x[i];
  return s;
}
// Lane i holds the sum of row[i] (the contract the native haddp keeps on every width but AVX-512 float),
// or, with the kXsimd81Avx512Haddp quirk, xsimd 8.1.0's AVX-512 float result.
PG_EMU_BATCH haddp(const PG_EMU_B* row) {
  PG_EMU_B r;
  for (int i = 0; i < W; ++i) r[i] = hadd(row[i]);
  if constexpr (Q == pianograd::kernels::cpu::simd::kXsimd81Avx512Haddp && W == 16 && sizeof(T) == 4) {
    constexpr int from[16] = {0, 1, 4, 5, 2, 3, 6, 7, 8, 9, 12, 13, 10, 11, 14, 15};
    PG_EMU_B q;
    for (int i = 0; i < 16; ++i) q[i] = r[from[i]];
    return q;
  }
  return r;
}
template <class T, int W, int Q>
inline PG_EMU_BOOL isnan(const PG_EMU_B& x) {
  return PG_EMU_B::test(x, x, [](T a, T) { return std::isnan(a); });
}
template <class T, int W, int Q>
inline bool any(const PG_EMU_BOOL& b) {
  for (int i = 0; i < W; ++i)
    if (b.get(i)) return true;
  return false;
}
template <class T, int W, int Q>
inline bool all(const PG_EMU_BOOL& b) {
  for (int i = 0; i < W; ++i)
    if (!b.get(i)) return false;
  return true;
}

#undef PG_EMU_BATCH
#undef PG_EMU_B
#undef PG_EMU_BOOL

}  // namespace xsimd
