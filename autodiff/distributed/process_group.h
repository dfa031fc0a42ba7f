// Collective communication between the processes of one training job (issue 18): rank, world size,
// all-reduce / broadcast / all-gather on tensors. A group of one process (no launcher, or a build
// without MPI) does nothing, so the same training code runs alone or under `mpirun -np K`.
//
// The MPI group runs every MPI call on one communication thread that owns MPI (MPI_THREAD_FUNNELED is
// all it asks of the library): the caller queues work and gets a handle, so a data-parallel step can go
// on with its backward pass while a bucket of gradients is being reduced (grad_reducer.h). Every wait
// has a deadline: a rank that stops answering ends the whole job with an error naming the operation
// and the rank that waited, instead of a hang.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "autodiff/errors.h"
#include "autodiff/tensor.h"

namespace pianograd {

struct DistributedError : Error { using Error::Error; };  // -> RuntimeError

enum class ReduceOp { sum, mean, max, min };
ReduceOp parse_reduce_op(const std::string& name);  // "sum", "mean", "max", "min"

// A queued collective. wait() returns when it has finished (rethrowing its error, if any).
class Work {
 public:
  virtual ~Work() = default;
  virtual void wait() = 0;
  virtual bool done() const = 0;
  // Seconds the collective itself took once it started (0 for the single-process group).
  virtual double seconds() const { return 0.0; }
};

class ProcessGroup {
 public:
  virtual ~ProcessGroup() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual std::string backend() const = 0;  // "single" or "mpi"
  double timeout_s() const { return timeout_s_; }

  // In place; every rank passes the same shape and dtype, in the same order. CPU tensors go over MPI,
  // CUDA tensors over NCCL (device_comm.h; one device per rank).
  virtual std::shared_ptr<Work> all_reduce_async(const Tensor& t, ReduceOp op) = 0;
  void all_reduce(const Tensor& t, ReduceOp op = ReduceOp::sum) { all_reduce_async(t, op)->wait(); }
  // Overwrites t on every rank with root's values.
  virtual void broadcast(const Tensor& t, int root) = 0;
  // [size, *t.shape]: every rank's t, in rank order.
  virtual Tensor all_gather(const Tensor& t) = 0;
  virtual void barrier() = 0;
  // Ends every process of the job at once with `message` on stderr (a rank that cannot go on must not
  // leave the others waiting in a collective).
  [[noreturn]] virtual void abort(const std::string& message, int code) = 0;

 protected:
  explicit ProcessGroup(double timeout_s) : timeout_s_(timeout_s) {}
  static void check_tensor(const Tensor& t, const char* op);  // defined: DistributedError otherwise
  double timeout_s_;
};

// Whether this build can talk MPI (CMake found it: PIANOGRAD_MPI).
bool mpi_built();
// Whether this process was started by an MPI launcher (mpirun/mpiexec, srun with PMI/PMIx): the
// launchers' environment variables, read without initialising MPI.
bool launched_by_mpi();

// The job's group, made on the first call and kept for the life of the process: backend "auto" picks
// MPI when launched by an MPI launcher and built with it, else the single-process group; "mpi" insists
// (DistributedError when unavailable); "single" never talks. timeout_s <= 0 takes
// PIANOGRAD_DIST_TIMEOUT from the environment, else 300 s. A later call with another backend fails.
std::shared_ptr<ProcessGroup> init_process_group(const std::string& backend = "auto", double timeout_s = 0);
// The group made by init_process_group, or a single-process group when none was made.
std::shared_ptr<ProcessGroup> default_process_group();

namespace detail {
std::shared_ptr<ProcessGroup> make_single_group(double timeout_s);
std::shared_ptr<ProcessGroup> make_mpi_group(double timeout_s);  // mpi_group.cpp, or the stub without MPI
}

}  // namespace pianograd
