// Collectives on CUDA tensors for a process group (NCCL). The MPI group makes one per device on the
// first CUDA tensor it is handed: the NCCL communicator's id travels from rank 0 over MPI, then the
// collectives run on a stream of their own, ordered after the work already queued on the caller's
// current stream. Compiled when CMake finds NCCL with CUDA (PIANOGRAD_NCCL); nccl_stub.cpp otherwise.
#pragma once
#include <memory>

#include "autodiff/distributed/process_group.h"

namespace pianograd {

bool nccl_built();

namespace detail {

class DeviceComm {
 public:
  virtual ~DeviceComm() = default;
  virtual std::shared_ptr<Work> all_reduce(const Tensor& t, ReduceOp op) = 0;
  virtual void broadcast(const Tensor& t, int root) = 0;
  virtual Tensor all_gather(const Tensor& t) = 0;
};

// A communicator over every rank of `host` on CUDA device `device` (each rank its own device: NCCL
// refuses two ranks on one GPU). DistributedError when this build has no NCCL. `abort` ends the job
// when a wait passes the group's deadline.
std::unique_ptr<DeviceComm> make_nccl_comm(ProcessGroup& host, int device);

}  // namespace detail
}  // namespace pianograd
