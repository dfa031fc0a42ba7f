// Conformance cases of the training kernels: the fused pointwise losses (value and the three partials,
// with no weight, a broadcast pos_weight and a per-element one) against ref::pointwise_loss, the fused
// Adam/AdamW step against ref::adam_update, and the SGD step (plain, momentum, Nesterov) against the
// per-element formula the CUDA kernel shares (kernels/common/sgd_math.h).
#include <vector>

#include "kernels/common/sgd_math.h"
#include "kernels/cpu/conformance_checks.h"
#include "kernels/cpu/conformance_util.h"
#include "kernels/cpu/optim.h"
#include "kernels/cpu/pointwise_loss.h"

namespace pianograd::kernels::cpu::conformance::detail {
namespace {

enum class Weight { none, scalar, each };

template <class T>
Outcome loss_case(PointwiseLoss kind, Weight wk, long n, const LossFn<T>& fn) {
  const auto a = uniform<T>(n, 3 + n, -8, 8);
  auto b = uniform<T>(n, 5 + n, kind == PointwiseLoss::bce_with_logits ? 0 : -8, kind == PointwiseLoss::bce_with_logits ? 1 : 8);
  const auto w = uniform<T>(wk == Weight::each ? n : 1, 7 + n, 0.5, 3);
  const T* wp = wk == Weight::none ? nullptr : w.data();
  const long ws = wk == Weight::each ? 1 : 0;
  Guarded<T> e(n), da(n), db(n), dw(n);
  std::vector<T> e0(static_cast<size_t>(n)), da0(e0.size()), db0(e0.size()), dw0(e0.size());
  fn(kind, a.data(), b.data(), wp, ws, e.data(), da.data(), db.data(), dw.data(), n);
  ref::pointwise_loss<T>(kind, a.data(), b.data(), wp, ws, e0.data(), da0.data(), db0.data(), dw0.data(), n);
  // exp and log1p of the SIMD softplus/sigmoid: a few ulps, relative to max(|value|, 1).
  const double bound = kind == PointwiseLoss::bce_with_logits ? 16 : 0;
  Outcome o = ulps_each(e.data(), e0.data(), n, 1, bound, "loss");
  o = worst(o, ulps_each(da.data(), da0.data(), n, 1, bound, "d/da"));
  o = worst(o, ulps_each(db.data(), db0.data(), n, 1, bound, "d/db"));
  o = worst(o, ulps_each(dw.data(), dw0.data(), n, 1, bound, "d/dw"));
  for (const Guarded<T>* g : {&e, &da, &db, &dw}) o = worst(o, guards(*g, "loss outputs"));
  return o;
}

template <class T>
Outcome adam_case(bool decoupled, long n, const AdamFn<T>& fn) {
  AdamStep s;
  s.lr = 1e-2;
  s.weight_decay = 0.1;
  s.decoupled = decoupled;
  s.bias_correction1 = 1 - 0.9 * 0.9 * 0.9;  // step 3
  s.bias_correction2 = 1 - 0.999 * 0.999 * 0.999;
  const auto p0 = uniform<T>(n, 1 + n), g = uniform<T>(n, 2 + n), m0 = uniform<T>(n, 3 + n, -0.1, 0.1);
  const auto v0 = uniform<T>(n, 4 + n, 0, 0.01);
  Guarded<T> p(p0), m(m0), v(v0);
  std::vector<T> pr = p0, mr = m0, vr = v0;
  fn(p.data(), g.data(), m.data(), v.data(), n, s);
  ref::adam_update<T>(pr.data(), g.data(), mr.data(), vr.data(), n, s);
  // The SIMD body fuses the moment updates (one rounding fewer): a few ulps of the unit scale.
  Outcome o = ulps_each(p.data(), pr.data(), n, 1, 8, "p");
  o = worst(o, ulps_each(m.data(), mr.data(), n, 1, 8, "m"));
  o = worst(o, ulps_each(v.data(), vr.data(), n, 1, 8, "v"));
  for (const Guarded<T>* b : {&p, &m, &v}) o = worst(o, guards(*b, "adam state"));
  return o;
}

template <class T>
Outcome sgd_case(double momentum, bool nesterov, bool first, long n) {
  SgdStep s;
  s.lr = 0.1;
  s.momentum = momentum;
  s.dampening = 0.1;
  s.weight_decay = 0.01;
  s.nesterov = nesterov;
  s.first = first;
  const auto p0 = uniform<T>(n, 1 + n), g = uniform<T>(n, 2 + n), b0 = uniform<T>(n, 3 + n);
  Guarded<T> p(p0), buf(b0);
  std::vector<T> pr = p0, br = b0;
  sgd_update<T>(p.data(), g.data(), buf.data(), n, s);
  const SgdCoeffs<T> c = sgd_coeffs<T>(s.lr, s.momentum, s.dampening, s.weight_decay, s.nesterov, s.first);
  for (long i = 0; i < n; ++i) sgd_element(pr[static_cast<size_t>(i)], g[static_cast<size_t>(i)], &br[static_cast<size_t>(i)], c);
  Outcome o = worst(ulps_each(p.data(), pr.data(), n, 1, 2, "p"), ulps_each(buf.data(), br.data(), n, 1, 2, "momentum"));
  return worst(worst(o, guards(p, "p")), guards(buf, "momentum"));
}

}  // namespace

void add_training_cases(std::vector<Case>& out) {
  const std::vector<long> large = {1000, 40003};  // the second spans three loss chunks and two threads
  const std::pair<PointwiseLoss, const char*> kinds[] = {
      {PointwiseLoss::mse, "mse"}, {PointwiseLoss::l1, "l1"}, {PointwiseLoss::bce_with_logits, "bce"}};
  for (const auto& [kind, name] : kinds)
    for (const auto& [wk, wname] : {std::pair<Weight, const char*>{Weight::none, ""}, {Weight::scalar, "_weight"},
                                    {Weight::each, "_weights"}}) {
      if (kind != PointwiseLoss::bce_with_logits && wk != Weight::none) continue;  // only BCE reads w
      out.push_back(make_case("pointwise_loss", std::string(name) + wname,
                              [kind = kind, wk = wk](auto t, long n) {
                                using T = decltype(t);
                                return loss_case<T>(kind, wk, n, &pointwise_loss<T>);
                              },
                              large));
    }
  for (const bool decoupled : {false, true})
    out.push_back(make_case("adam_update", decoupled ? "adamw" : "adam",
                            [decoupled](auto t, long n) {
                              using T = decltype(t);
                              return adam_case<T>(decoupled, n, &adam_update<T>);
                            }, large));
  struct Sgd { const char* name; double momentum; bool nesterov, first; };
  for (const Sgd& s : {Sgd{"plain", 0, false, false}, Sgd{"momentum_first", 0.9, false, true},
                       Sgd{"momentum", 0.9, false, false}, Sgd{"nesterov", 0.9, true, false}})
    out.push_back(make_case("sgd_update", s.name,
                            [s](auto t, long n) { return sgd_case<decltype(t)>(s.momentum, s.nesterov, s.first, n); },
                            large));
}

}  // namespace pianograd::kernels::cpu::conformance::detail

namespace pianograd::kernels::cpu::conformance {

template <class T>
Outcome check_pointwise_loss(PointwiseLoss kind, int weight, long n, const LossFn<T>& fn) {
  return detail::loss_case<T>(kind, static_cast<detail::Weight>(weight), n, fn);
}
template <class T>
Outcome check_adam(bool decoupled, long n, const AdamFn<T>& fn) {
  return detail::adam_case<T>(decoupled, n, fn);
}
template Outcome check_pointwise_loss<float>(PointwiseLoss, int, long, const LossFn<float>&);
template Outcome check_pointwise_loss<double>(PointwiseLoss, int, long, const LossFn<double>&);
template Outcome check_adam<float>(bool, long, const AdamFn<float>&);
template Outcome check_adam<double>(bool, long, const AdamFn<double>&);

}  // namespace pianograd::kernels::cpu::conformance
