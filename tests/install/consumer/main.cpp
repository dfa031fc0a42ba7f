// Uses the installed headers and library: a gradient through a few ops, checked by hand.
#include <pianograd/pianograd.h>

#include <cmath>
#include <cstdio>

int main() {
  using namespace pianograd;
  Tensor x = tensor({1.0, 2.0, 3.0}, DType::f64).requires_grad_();
  Tensor loss = sum(mul(x, x));  // d/dx sum(x^2) = 2x
  loss.backward();
  const auto g = x.grad().to_vector<double>();
  const bool ok = std::fabs(loss.item() - 14.0) < 1e-12 && g[0] == 2.0 && g[1] == 4.0 && g[2] == 6.0;
  std::printf("consumer: loss=%g grad=[%g,%g,%g] %s\n", loss.item(), g[0], g[1], g[2], ok ? "ok" : "WRONG");
  return ok ? 0 : 1;
}
