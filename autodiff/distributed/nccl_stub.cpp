// The NCCL communicator in a build without NCCL (no CUDA, or CMake did not find libnccl): CUDA tensors
// handed to a multi-process group get an error that says what is missing.
#include "autodiff/distributed/device_comm.h"

namespace pianograd {

bool nccl_built() { return false; }

namespace detail {
std::unique_ptr<DeviceComm> make_nccl_comm(ProcessGroup&, int device) {
  throw DistributedError("collectives on cuda:" + std::to_string(device) +
                         " tensors need NCCL, which this build does not have (CUDA with libnccl, "
                         "-DPIANOGRAD_NCCL=ON); move the tensors to the CPU or rebuild with NCCL");
}
}  // namespace detail

}  // namespace pianograd
