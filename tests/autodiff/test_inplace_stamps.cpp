// The tape's write stamps (tape.h, issue 17 item 4): an input changed in place between an op and the
// backward through it is refused (GraphError naming the op), whether the change came from an optimizer
// step, note_inplace_write, or a write into external memory the engine was not told about; an ordinary
// training loop and a NumPy export after the op raise nothing.
#include <gtest/gtest.h>

#include <vector>

#include "autodiff/optim/sgd.h"
#include "pianograd.h"

namespace pianograd {
namespace {

void expect_stale(const Tensor& y, const char* op) {
  try {
    y.backward();
    ADD_FAILURE() << "backward through a changed input succeeded";
  } catch (const GraphError& e) {
    EXPECT_NE(std::string(e.what()).find(op), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("modified in place"), std::string::npos) << e.what();
  }
}

TEST(InplaceStamps, OptimizerStepBeforeBackwardIsRefused) {
  Tensor w = ones({3});
  w.requires_grad_(true);
  Tensor y = sum(mul(w, w));
  y.backward(Tensor(), true);  // keep the graph: a second backward follows
  optim::SGD opt({w}, optim::SGDOptions{0.1});
  opt.step();  // w changes; the graph of y saved the old w
  expect_stale(y, "mul");
}

TEST(InplaceStamps, NotedWriteToAPlainInputIsRefused) {
  Tensor w = ones({3});
  w.requires_grad_(true);
  Tensor x = full({3}, 2.0);  // no grad, but mul's VJP for w reads it
  Tensor y = sum(mul(w, x));
  x.data<float>()[0] = 5.0f;
  x.note_inplace_write();
  expect_stale(y, "mul");
}

TEST(InplaceStamps, SilentWriteIntoExternalMemoryIsRefused) {
  std::vector<float> buf = {1.0f, 1.0f, 1.0f};
  Tensor x = Tensor::from_blob(buf.data(), {3}, DType::f32, [](void*) {});
  x.requires_grad_(true);
  Tensor y = sum(mul(x, x));
  buf[1] = 5.0f;  // as NumPy would: the engine is not told
  expect_stale(y, "mul");
  buf[1] = 1.0f;  // the same bytes again: the gradient is valid
  y.backward();
  EXPECT_EQ(x.grad().to_vector<float>(), (std::vector<float>{2.0f, 2.0f, 2.0f}));
}

TEST(InplaceStamps, TrainingLoopAndLateExportRaiseNothing) {
  Tensor w = ones({4});
  w.requires_grad_(true);
  optim::SGD opt({w}, optim::SGDOptions{0.1});
  for (int step = 0; step < 3; ++step) {
    opt.zero_grad();
    Tensor h = mul(w, w);
    Tensor y = sum(h);
    h.impl()->storage->external = true;  // exported to NumPy after the op (read only): no false alarm
    ASSERT_NO_THROW(y.backward());
    opt.step();
  }
}

}  // namespace
}  // namespace pianograd
