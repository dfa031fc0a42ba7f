// The grad-ready hook (tape.h) and the process groups in one process: the hook fires once per pass,
// after the last op that feeds a leaf, and GradReducer over a group of one leaves the gradients as they
// were. tests/distributed/ runs the same classes under `mpirun -np 2`.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "pianograd.h"

namespace pianograd {
namespace {

using VD = std::vector<double>;

Tensor leaf(const VD& v) { return from_vector(v).requires_grad_(); }

TEST(GradReadyHook, FiresOnceAfterTheLastConsumerWithTheFinalGradient) {
  Tensor x = leaf({1, 2});
  Tensor y = leaf({3, 4});
  std::vector<std::string> log;
  VD x_grad_at_hook;
  set_grad_ready_hook(x, [&](const Tensor& t) {
    log.push_back("x");
    x_grad_at_hook = t.grad().to_vector<double>();
  });
  set_grad_ready_hook(y, [&](const Tensor&) { log.push_back("y"); });
  // x feeds two ops, one early (x*x) and one late (x*y): its gradient is complete only after both.
  Tensor a = mul(x, x);
  Tensor b = mul(a, y);
  Tensor c = add(b, mul(x, 5.0));
  sum(c).backward();
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(x_grad_at_hook, x.grad().to_vector<double>());
  EXPECT_EQ(x.grad().to_vector<double>(), (VD{2 * 1 * 3 + 5, 2 * 2 * 4 + 5}));
  sum(c.detach().requires_grad_()).backward();  // a graph without x: no call
  EXPECT_EQ(log.size(), 2u);
  sum(mul(x, y)).backward();
  EXPECT_EQ(log.size(), 4u);
  set_grad_ready_hook(x, nullptr);
  set_grad_ready_hook(y, nullptr);
  sum(mul(x, y)).backward();
  EXPECT_EQ(log.size(), 4u);
}

TEST(GradReadyHook, RefusesANonLeaf) {
  Tensor x = leaf({1});
  EXPECT_THROW(set_grad_ready_hook(mul(x, 2.0), [](const Tensor&) {}), GraphError);
}

TEST(ProcessGroup, SingleProcessGroupIsTheIdentity) {
  auto g = default_process_group();
  EXPECT_EQ(g->size(), 1);
  EXPECT_EQ(g->rank(), 0);
  Tensor t = from_vector(VD{1, -2});
  g->all_reduce(t, ReduceOp::mean);
  EXPECT_EQ(t.to_vector<double>(), (VD{1, -2}));
  Tensor all = g->all_gather(t);
  EXPECT_EQ(all.shape(), (Shape{1, 2}));
  EXPECT_THROW(g->broadcast(t, 1), DistributedError);
  EXPECT_THROW(g->all_reduce(Tensor()), DistributedError);
  EXPECT_THROW(parse_reduce_op("prod"), ValueError);
  EXPECT_THROW(init_process_group("nccl"), ValueError);
}

TEST(GradReducer, OneProcessKeepsGradientsAndMarksUnusedParameters) {
  auto g = detail::make_single_group(10);
  Tensor w = leaf({1, 2, 3, 4});
  Tensor b = leaf({0.5});
  Tensor unused = leaf({7});
  // Buckets of 8 bytes, filled from the back of the list: {b}, {w}, {unused}.
  GradReducer r(g, {unused, w, b}, 8);
  EXPECT_EQ(r.stats().buckets, 3);
  for (int step = 0; step < 2; ++step) {
    w.zero_grad();
    b.zero_grad();
    sum(add(mul(w, w), b)).backward();
    r.finish();
    EXPECT_EQ(w.grad().to_vector<double>(), (VD{2, 4, 6, 8}));
    EXPECT_EQ(b.grad().to_vector<double>(), (VD{4}));
    EXPECT_FALSE(unused.grad().defined());
    EXPECT_EQ(r.stats().launched_early, 2);  // b's and w's during backward; unused's only in finish()
  }
  // Two passes without finish() in between would send a stale bucket: refused.
  sum(w).backward();
  EXPECT_THROW(sum(w).backward(), DistributedError);
}

TEST(GradReducer, RefusesBadParameters) {
  auto g = detail::make_single_group(10);
  Tensor w = leaf({1});
  EXPECT_THROW(GradReducer(g, {w, w}), DistributedError);
  EXPECT_THROW(GradReducer(g, {from_vector(VD{1})}), DistributedError);
  EXPECT_THROW(GradReducer(nullptr, {w}), DistributedError);
}

}  // namespace
}  // namespace pianograd
