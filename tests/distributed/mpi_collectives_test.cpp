// The MPI process group and GradReducer across real processes: ctest starts this binary under
// `mpiexec -np 2` (tests/CMakeLists.txt). Every expectation is computed independently of the collective
// under test: closed forms over the ranks' inputs, or the local gradients gathered and averaged by hand.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "autodiff/device.h"
#include "autodiff/distributed/device_comm.h"
#include "pianograd.h"

namespace pianograd {
namespace {

std::shared_ptr<ProcessGroup> group() { return init_process_group("mpi", 60); }

template <class T>
void check_reductions() {
  auto g = group();
  const int r = g->rank(), n = g->size();
  const std::vector<T> mine = {static_cast<T>(r + 1), static_cast<T>(-3 * r), static_cast<T>(10)};
  Tensor s = from_vector(mine), mx = from_vector(mine), mn = from_vector(mine);
  g->all_reduce(s, ReduceOp::sum);
  g->all_reduce(mx, ReduceOp::max);
  g->all_reduce(mn, ReduceOp::min);
  // sum over ranks k of (k + 1), -3k and 10.
  const T tri = static_cast<T>(n * (n - 1) / 2);
  EXPECT_EQ(s.to_vector<T>(), (std::vector<T>{static_cast<T>(tri + n), static_cast<T>(-3 * tri), static_cast<T>(10 * n)}));
  EXPECT_EQ(mx.to_vector<T>(), (std::vector<T>{static_cast<T>(n), 0, 10}));
  EXPECT_EQ(mn.to_vector<T>(), (std::vector<T>{1, static_cast<T>(-3 * (n - 1)), 10}));
}

TEST(MpiGroup, ReducesEveryDtype) {
  check_reductions<float>();
  check_reductions<double>();
  check_reductions<int32_t>();
  check_reductions<int64_t>();
}

TEST(MpiGroup, MeanOfFloatsAndLargeTensors) {
  auto g = group();
  const int n = g->size();
  Tensor t = full({1 << 20}, static_cast<double>(g->rank()));
  g->all_reduce(t, ReduceOp::mean);
  const std::vector<float> v = t.to_vector<float>();
  const float want = static_cast<float>(n - 1) / 2.0f;
  for (size_t i = 0; i < v.size(); i += 4099) ASSERT_FLOAT_EQ(v[i], want) << i;
  Tensor ints = full({3}, 1.0, DType::i64);
  EXPECT_THROW(g->all_reduce(ints, ReduceOp::mean), DistributedError);
}

TEST(MpiGroup, BroadcastAndAllGather) {
  auto g = group();
  const int r = g->rank(), n = g->size();
  Tensor b = full({2, 3}, static_cast<double>(r) * 7.0, DType::f64);
  g->broadcast(b, n - 1);
  for (double x : b.to_vector<double>()) EXPECT_EQ(x, (n - 1) * 7.0);
  EXPECT_THROW(g->broadcast(b, n), DistributedError);
  Tensor a = g->all_gather(from_vector(std::vector<int64_t>{r, 100 + r}));
  ASSERT_EQ(a.shape(), (Shape{n, 2}));
  const std::vector<int64_t> av = a.to_vector<int64_t>();
  for (int k = 0; k < n; ++k) {
    EXPECT_EQ(av[2 * k], k);
    EXPECT_EQ(av[2 * k + 1], 100 + k);
  }
  g->barrier();
}

TEST(MpiGroup, QueuedReductionsFinishInAnyWaitOrder) {
  auto g = group();
  const int n = g->size();
  std::vector<Tensor> ts;
  std::vector<std::shared_ptr<Work>> ws;
  for (int k = 0; k < 5; ++k) {
    ts.push_back(full({1000 * (k + 1)}, static_cast<double>(k + g->rank())));
    ws.push_back(g->all_reduce_async(ts.back(), ReduceOp::sum));
  }
  for (int k = 4; k >= 0; --k) {
    ws[static_cast<size_t>(k)]->wait();
    EXPECT_TRUE(ws[static_cast<size_t>(k)]->done());
    const double want = n * k + n * (n - 1) / 2.0;
    EXPECT_EQ(ts[static_cast<size_t>(k)].to_vector<float>().back(), static_cast<float>(want));
  }
}

// A two-layer net whose input differs per rank; the bias of layer 2 is used on rank 0 only.
struct Net {
  Tensor w1, b1, w2, b2;
  std::vector<Tensor> params() const { return {w1, b1, w2, b2}; }
  Tensor loss(int rank) const {
    manual_seed(100 + static_cast<uint64_t>(rank));
    Tensor x = randn({8, 16});
    Tensor h = tanh(add(matmul(x, w1), b1));
    Tensor y = matmul(h, w2);
    if (rank == 0) y = add(y, b2);
    return mean(mul(y, y));
  }
};

Net make_net() {
  manual_seed(7);
  Net n{randn({16, 32}), randn({32}), randn({32, 4}), randn({4})};
  for (Tensor* t : {&n.w1, &n.b1, &n.w2, &n.b2}) t->requires_grad_();
  return n;
}

TEST(GradReducer, EqualsTheMeanOfTheRanksGradients) {
  auto g = group();
  const int r = g->rank(), n = g->size();
  Net net = make_net();
  broadcast_tensors(*g, net.params());
  // The reference: each rank's own gradients, gathered and averaged here.
  net.loss(r).backward();
  std::vector<std::vector<float>> want;
  for (const Tensor& p : net.params()) {
    const Tensor local = p.grad().defined() ? p.grad() : zeros(p.shape());
    const std::vector<float> all = g->all_gather(local).to_vector<float>();
    std::vector<float> m(static_cast<size_t>(p.numel()), 0.0f);
    for (int k = 0; k < n; ++k)
      for (size_t i = 0; i < m.size(); ++i) m[i] += all[static_cast<size_t>(k) * m.size() + i] / static_cast<float>(n);
    want.push_back(m);
    p.impl()->grad.reset();
  }
  GradReducer red(g, net.params(), 512);  // 512 bytes: w1 (2 KB), b1, w2 and b2 in several buckets
  EXPECT_GE(red.stats().buckets, 3);
  for (int step = 0; step < 2; ++step) {
    for (const Tensor& p : net.params()) p.impl()->grad.reset();
    net.loss(r).backward();
    red.finish();
    const std::vector<Tensor> ps = net.params();
    for (size_t k = 0; k < ps.size(); ++k) {
      ASSERT_TRUE(ps[k].grad().defined()) << k;
      const std::vector<float> got = ps[k].grad().to_vector<float>();
      for (size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], want[k][i], 1e-5f * (1 + std::fabs(want[k][i]))) << k;
    }
    // Rank 0's backward pass started buckets itself; on rank 1 the first bucket (b2's, the last parameter)
    // never fills before finish(), and buckets start in order, so all wait for it there.
    if (r == 0) EXPECT_GE(red.stats().launched_early, 1);
    else EXPECT_EQ(red.stats().launched_early, 0);
  }
}

// CUDA tensors over NCCL: run where every rank has a device of its own (ctest also starts this binary
// with one rank, so a one-GPU machine checks the NCCL path); skipped elsewhere.
Device rank_device(const ProcessGroup& g) { return Device{DeviceType::CUDA, g.rank()}; }

bool gpus_for_every_rank(const ProcessGroup& g) {
  return nccl_built() && cuda::is_available() && cuda::device_count() >= g.size();
}

TEST(MpiGroupCuda, ReducesBroadcastsAndGathersOnTheDevice) {
  auto g = group();
  if (!gpus_for_every_rank(*g)) GTEST_SKIP() << "needs NCCL and one CUDA device per rank";
  const int r = g->rank(), n = g->size();
  const Device d = rank_device(*g);
  Tensor s = full({4096}, r + 1.0).to(d);
  g->all_reduce(s, ReduceOp::sum);
  EXPECT_EQ(s.cpu().to_vector<float>().back(), static_cast<float>(n * (n + 1) / 2));
  Tensor m = full({7}, static_cast<double>(r), DType::f64).to(d);
  g->all_reduce_async(m, ReduceOp::mean)->wait();
  EXPECT_DOUBLE_EQ(m.cpu().to_vector<double>()[3], (n - 1) / 2.0);
  Tensor b = full({5}, r * 3.0).to(d);
  g->broadcast(b, n - 1);
  EXPECT_EQ(b.cpu().to_vector<float>()[0], static_cast<float>((n - 1) * 3));
  Tensor a = g->all_gather(full({2}, static_cast<double>(r), DType::i64).to(d));
  ASSERT_EQ(a.shape(), (Shape{n, 2}));
  const std::vector<int64_t> av = a.cpu().to_vector<int64_t>();
  for (int k = 0; k < n; ++k) EXPECT_EQ(av[2 * static_cast<size_t>(k)], k);
}

TEST(GradReducerCuda, MatchesTheCpuReducer) {
  auto g = group();
  if (!gpus_for_every_rank(*g)) GTEST_SKIP() << "needs NCCL and one CUDA device per rank";
  const Device d = rank_device(*g);
  Net cpu = make_net();
  Net dev{cpu.w1.detach().to(d), cpu.b1.detach().to(d), cpu.w2.detach().to(d), cpu.b2.detach().to(d)};
  for (Tensor* t : {&dev.w1, &dev.b1, &dev.w2, &dev.b2}) t->requires_grad_();
  GradReducer on_cpu(g, cpu.params(), 512), on_dev(g, dev.params(), 512);
  auto loss = [&](const Net& net, const Tensor& in) {
    Tensor y = matmul(tanh(add(matmul(in, net.w1), net.b1)), net.w2);
    if (g->rank() == 0) y = add(y, net.b2);
    return mean(mul(y, y));
  };
  manual_seed(100 + static_cast<uint64_t>(g->rank()));
  Tensor in = randn({8, 16});
  loss(cpu, in).backward();
  on_cpu.finish();
  loss(dev, in.to(d)).backward();
  on_dev.finish();
  const std::vector<Tensor> pc = cpu.params(), pd = dev.params();
  for (size_t k = 0; k < pc.size(); ++k) {
    ASSERT_TRUE(pd[k].grad().defined()) << k;
    EXPECT_TRUE(pd[k].grad().is_cuda()) << k;
    const std::vector<float> a = pc[k].grad().to_vector<float>(), b = pd[k].grad().cpu().to_vector<float>();
    for (size_t i = 0; i < a.size(); ++i) ASSERT_NEAR(b[i], a[i], 1e-4f * (1 + std::fabs(a[i]))) << k;
  }
}

}  // namespace
}  // namespace pianograd

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  pianograd::init_process_group("mpi", 60);  // before the first test: every rank runs every test
  return RUN_ALL_TESTS();
}
