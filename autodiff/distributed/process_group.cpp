#include "autodiff/distributed/process_group.h"

#include <cstdio>
#include <cstdlib>
#include <mutex>

#include "autodiff/tape.h"

namespace pianograd {

ReduceOp parse_reduce_op(const std::string& name) {
  if (name == "sum") return ReduceOp::sum;
  if (name == "mean") return ReduceOp::mean;
  if (name == "max") return ReduceOp::max;
  if (name == "min") return ReduceOp::min;
  throw ValueError("all_reduce: unknown op '" + name + "' (expected sum, mean, max or min)");
}

void ProcessGroup::check_tensor(const Tensor& t, const char* op) {
  if (!t.defined()) throw DistributedError(std::string(op) + ": the tensor is undefined");
}

namespace {

class DoneWork final : public Work {
 public:
  void wait() override {}
  bool done() const override { return true; }
};

// One process: every collective is the identity (a mean of one value is that value).
class SingleGroup final : public ProcessGroup {
 public:
  explicit SingleGroup(double timeout_s) : ProcessGroup(timeout_s) {}
  int rank() const override { return 0; }
  int size() const override { return 1; }
  std::string backend() const override { return "single"; }
  std::shared_ptr<Work> all_reduce_async(const Tensor& t, ReduceOp) override {
    check_tensor(t, "all_reduce");
    return std::make_shared<DoneWork>();
  }
  void broadcast(const Tensor& t, int root) override {
    check_tensor(t, "broadcast");
    if (root != 0) throw DistributedError("broadcast: root " + std::to_string(root) + " is not a rank of a group of 1");
  }
  Tensor all_gather(const Tensor& t) override {
    check_tensor(t, "all_gather");
    NoGrad no_grad;
    Shape s{1};
    s.insert(s.end(), t.shape().begin(), t.shape().end());
    return t.detach().clone().reshape(s);
  }
  void barrier() override {}
  [[noreturn]] void abort(const std::string& message, int code) override {
    std::fprintf(stderr, "pianograd: %s\n", message.c_str());
    std::fflush(stderr);
    std::_Exit(code);
  }
};

double timeout_from_env(double timeout_s) {
  if (timeout_s > 0) return timeout_s;
  if (const char* v = std::getenv("PIANOGRAD_DIST_TIMEOUT")) {
    char* end = nullptr;
    const double t = std::strtod(v, &end);
    if (end == v || *end != '\0' || !(t > 0))
      throw ValueError(std::string("PIANOGRAD_DIST_TIMEOUT='") + v + "': expected a positive number of seconds");
    return t;
  }
  return 300.0;
}

std::mutex g_mutex;
std::shared_ptr<ProcessGroup> g_group;

}  // namespace

bool launched_by_mpi() {
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "MPI_LOCALNRANKS"})
    if (std::getenv(v)) return true;
  return false;
}

namespace detail {
std::shared_ptr<ProcessGroup> make_single_group(double timeout_s) { return std::make_shared<SingleGroup>(timeout_s); }
}

std::shared_ptr<ProcessGroup> init_process_group(const std::string& backend, double timeout_s) {
  if (backend != "auto" && backend != "mpi" && backend != "single")
    throw ValueError("init_process_group: unknown backend '" + backend + "' (expected auto, mpi or single)");
  std::lock_guard<std::mutex> lock(g_mutex);
  const std::string want = backend != "auto" ? backend : (mpi_built() && launched_by_mpi()) ? "mpi" : "single";
  if (g_group) {
    if (g_group->backend() != want)
      throw DistributedError("init_process_group: the process already has a '" + g_group->backend() +
                             "' group; it cannot also start '" + want + "'");
    return g_group;
  }
  const double t = timeout_from_env(timeout_s);
  g_group = want == "mpi" ? detail::make_mpi_group(t) : detail::make_single_group(t);
  return g_group;
}

std::shared_ptr<ProcessGroup> default_process_group() {
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_group) return g_group;
  // Not stored: a later init_process_group may still choose MPI.
  static const std::shared_ptr<ProcessGroup> single = detail::make_single_group(timeout_from_env(0));
  return single;
}

}  // namespace pianograd
