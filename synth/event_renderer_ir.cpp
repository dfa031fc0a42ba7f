// The event renderer's last stage (event_renderer.h): the dry modal signal through the body and room
// impulse responses, as one merged response (shared with render_roll, roll_renderer.cpp).
#include <algorithm>

#include "autodiff/dispatch.h"
#include "autodiff/ops.h"
#include "autodiff/tape.h"
#include "synth/event_renderer.h"

namespace pianograd {

namespace {
// The merged body+room response. Without a gradient to either IR (inference, or the IRs frozen) it
// depends only on their values: the last one is kept per thread and reused while both IRs compare
// equal value by value (a 20k-tap compare costs ~1% of recomputing it: 0.5 ms at 16 kHz, ~8% of a
// chord's forward).
Tensor merged_ir(const Tensor& lng, const Tensor& sht) {
  auto compute = [&] { return fft_convolve(pad(lng, {0, sht.numel() - 1}), sht); };
  if ((grad_enabled() && (lng.requires_grad() || sht.requires_grad())) || lng.is_cuda() || sht.is_cuda())
    return compute();
  struct Cache {
    Tensor a, b, h;
  };
  thread_local Cache cache;
  auto same = [](const Tensor& kept, const Tensor& x) {
    if (!kept.defined() || kept.dtype() != x.dtype() || kept.shape() != x.shape()) return false;
    return dispatch_floating(x.dtype(), "render_events", [&](auto tag) {
      using T = decltype(tag);
      return std::equal(kept.data<T>(), kept.data<T>() + kept.numel(), x.data<T>());
    });
  };
  if (same(cache.a, lng) && same(cache.b, sht)) return cache.h;
  Tensor h = compute();
  cache = Cache{lng.detach().clone(), sht.detach().clone(), h.detach()};
  return cache.h;
}
}  // namespace

namespace detail {
// Body then room is one causal LTI filter: ((x*b)[:T] * r)[:T] = (x * (b*r))[:T], since output n < T only
// reads (x*b) at indices <= n. So convolve the two IRs first (a short convolution, differentiable through
// fft_convolve like the rest) and the signal once: one long convolution instead of two, forward and
// backward (6 -> 3 long ones per forward+backward). Shared with render_roll (roll_renderer.cpp).
Tensor apply_body_room(const Tensor& dry, PianoParams& params, const RenderOptions& ro) {
  // A dry signal rendered on CUDA (CUDA controls) meets IRs kept elsewhere: the IR moves to the dry
  // signal's device by a recorded copy, so its gradient returns to the params' device (fft_convolve
  // has a cuFFT path). On one device this is the IR itself.
  auto on_dry = [&](const Tensor& h) { return h.device() == dry.device() ? h : h.to(dry.device()); };
  if (ro.body && ro.room) {
    const Tensor& b = params[kBodyIr];
    const Tensor& r = params[kRoomIr];
    // fft_convolve keeps its first operand's length: zero-pad the longer IR to the full Kb+Kr-1 taps
    // and convolve it with the shorter one (the cheaper FFT size).
    const bool b_longer = b.numel() > r.numel();
    const Tensor& lng = b_longer ? b : r;
    const Tensor& sht = b_longer ? r : b;
    return fft_convolve(dry, on_dry(merged_ir(lng, sht)));
  }
  if (ro.body) return fft_convolve(dry, on_dry(params[kBodyIr]));
  if (ro.room) return fft_convolve(dry, on_dry(params[kRoomIr]));
  return dry;
}
}  // namespace detail
}  // namespace pianograd
