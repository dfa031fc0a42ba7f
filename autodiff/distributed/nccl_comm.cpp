// NCCL collectives on CUDA tensors (device_comm.h). Compiled only with PIANOGRAD_NCCL.
//
// libnccl is opened on first use (dlopen), not linked: a process that never reduces a CUDA tensor must
// not load the system's NCCL, which would then stand in for the newer one PyTorch ships and break
// `import torch` after `import pianograd` (an undefined ncclCommResume).
//
// Ordering: a collective waits (cudaStreamWaitEvent) for the work already queued on the caller's
// current stream, the one that produced the tensor, and runs on the communicator's own stream, so a
// gradient bucket is reduced while the backward pass keeps queueing kernels. Work::wait() polls the
// collective's completion event against the group's deadline (a peer that never joins must end the job,
// not hang it) and then orders the caller's stream after it.
#include <cuda_runtime.h>
#include <dlfcn.h>
#include <nccl.h>

#include <chrono>
#include <cstring>
#include <thread>
#include <type_traits>

#include "autodiff/distributed/device_comm.h"
#include "kernels/cuda/device.h"

namespace pianograd {

bool nccl_built() { return true; }

namespace detail {
namespace {

// The NCCL entry points this file calls, resolved from the library once.
struct Nccl {
  decltype(&::ncclGetUniqueId) get_unique_id = nullptr;
  decltype(&::ncclCommInitRank) comm_init_rank = nullptr;
  decltype(&::ncclCommDestroy) comm_destroy = nullptr;
  decltype(&::ncclAllReduce) all_reduce = nullptr;
  decltype(&::ncclBroadcast) broadcast = nullptr;
  decltype(&::ncclAllGather) all_gather = nullptr;
  decltype(&::ncclGetErrorString) error_string = nullptr;
};

const Nccl& nccl() {
  static const Nccl api = [] {
    // The library already in the process (e.g. PyTorch's) first, then the one CMake found.
    void* h = dlopen("libnccl.so.2", RTLD_NOW | RTLD_LOCAL);
    if (!h) h = dlopen(PIANOGRAD_NCCL_LIBRARY, RTLD_NOW | RTLD_LOCAL);
    if (!h)
      throw DistributedError(std::string("NCCL: cannot open libnccl.so.2 or " PIANOGRAD_NCCL_LIBRARY ": ") + dlerror());
    Nccl a;
    auto get = [h](auto& fn, const char* name) {
      fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(dlsym(h, name));
      if (!fn) throw DistributedError(std::string("NCCL: the library has no ") + name);
    };
    get(a.get_unique_id, "ncclGetUniqueId");
    get(a.comm_init_rank, "ncclCommInitRank");
    get(a.comm_destroy, "ncclCommDestroy");
    get(a.all_reduce, "ncclAllReduce");
    get(a.broadcast, "ncclBroadcast");
    get(a.all_gather, "ncclAllGather");
    get(a.error_string, "ncclGetErrorString");
    return a;
  }();
  return api;
}

void check_cuda(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw DistributedError(std::string(what) + ": CUDA error: " + cudaGetErrorString(e));
}

void check_nccl(ncclResult_t r, const char* what) {
  if (r != ncclSuccess) throw DistributedError(std::string(what) + ": NCCL error: " + nccl().error_string(r));
}

ncclDataType_t nccl_type(DType d) {
  switch (d) {
    case DType::f32: return ncclFloat32;
    case DType::f64: return ncclFloat64;
    case DType::i32: return ncclInt32;
    case DType::i64: return ncclInt64;
  }
  return ncclFloat32;
}

ncclRedOp_t nccl_op(ReduceOp op) {
  switch (op) {
    case ReduceOp::sum: return ncclSum;
    case ReduceOp::mean: return ncclAvg;  // NCCL >= 2.10
    case ReduceOp::max: return ncclMax;
    case ReduceOp::min: return ncclMin;
  }
  return ncclSum;
}

// Makes `device` current for a scope.
class DeviceGuard {
 public:
  explicit DeviceGuard(int device) : prev_(kernels::cuda::current_device()) { kernels::cuda::set_device(device); }
  ~DeviceGuard() {
    try {
      kernels::cuda::set_device(prev_);
    } catch (...) {
    }
  }
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int prev_;
};

class NcclWork final : public Work {
 public:
  NcclWork(ProcessGroup& host, int device, cudaStream_t stream, std::string what, Tensor keep)
      : host_(host), device_(device), what_(std::move(what)), keep_(std::move(keep)) {
    DeviceGuard g(device_);
    check_cuda(cudaEventCreateWithFlags(&done_, cudaEventDisableTiming), "NCCL work");
    check_cuda(cudaEventRecord(done_, stream), "NCCL work");
    t0_ = std::chrono::steady_clock::now();
  }
  ~NcclWork() override {
    if (done_) cudaEventDestroy(done_);
  }
  void wait() override {
    if (finished_) return;
    DeviceGuard g(device_);
    const auto deadline = t0_ + std::chrono::duration<double>(host_.timeout_s());
    for (;;) {
      const cudaError_t e = cudaEventQuery(done_);
      if (e == cudaSuccess) break;
      if (e != cudaErrorNotReady) check_cuda(e, what_.c_str());
      if (std::chrono::steady_clock::now() > deadline)
        host_.abort(what_ + " on cuda:" + std::to_string(device_) + " waited " +
                        std::to_string(static_cast<int>(host_.timeout_s())) +
                        " s for the other ranks: one has stopped, crashed or taken another path through the "
                        "program. Ending the job (PIANOGRAD_DIST_TIMEOUT sets the limit in seconds)",
                    3);
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
    took_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
    check_cuda(cudaStreamWaitEvent(static_cast<cudaStream_t>(kernels::cuda::current_stream()), done_, 0), what_.c_str());
    finished_ = true;
    keep_ = Tensor();
  }
  bool done() const override { return finished_ || cudaEventQuery(done_) == cudaSuccess; }
  double seconds() const override { return took_; }  // from queueing to completion, queue time included

 private:
  ProcessGroup& host_;
  int device_;
  std::string what_;
  Tensor keep_;
  cudaEvent_t done_ = nullptr;
  std::chrono::steady_clock::time_point t0_;
  bool finished_ = false;
  double took_ = 0.0;
};

class NcclComm final : public DeviceComm {
 public:
  NcclComm(ProcessGroup& host, int device) : host_(host), device_(device) {
    // The unique id is 128 opaque bytes: rank 0 makes it, the host group carries it to the others.
    ncclUniqueId id;
    std::memset(&id, 0, sizeof(id));
    if (host.rank() == 0) check_nccl(nccl().get_unique_id(&id), "NCCL communicator");
    static_assert(sizeof(ncclUniqueId) % sizeof(int64_t) == 0, "ncclUniqueId is a whole number of int64s");
    Tensor buf = Tensor::empty({static_cast<int64_t>(sizeof(id) / sizeof(int64_t))}, DType::i64);
    std::memcpy(buf.raw_data(), &id, sizeof(id));
    host.broadcast(buf, 0);
    std::memcpy(&id, buf.raw_data(), sizeof(id));
    DeviceGuard g(device_);
    check_nccl(nccl().comm_init_rank(&comm_, host.size(), id, host.rank()), "NCCL communicator");
    check_cuda(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "NCCL communicator");
  }
  ~NcclComm() override {
    if (stream_) cudaStreamSynchronize(stream_);
    if (comm_) nccl().comm_destroy(comm_);
    if (stream_) cudaStreamDestroy(stream_);
  }

  std::shared_ptr<Work> all_reduce(const Tensor& t, ReduceOp op) override {
    check(t, "all_reduce");
    DeviceGuard g(device_);
    after_caller();
    void* p = t.device_ptr();
    check_nccl(nccl().all_reduce(p, p, static_cast<size_t>(t.numel()), nccl_type(t.dtype()), nccl_op(op), comm_, stream_),
               "all_reduce");
    return std::make_shared<NcclWork>(host_, device_, stream_, describe("all_reduce", t), t);
  }

  void broadcast(const Tensor& t, int root) override {
    check(t, "broadcast");
    DeviceGuard g(device_);
    after_caller();
    void* p = t.device_ptr();
    check_nccl(nccl().broadcast(p, p, static_cast<size_t>(t.numel()), nccl_type(t.dtype()), root, comm_, stream_),
               "broadcast");
    NcclWork(host_, device_, stream_, describe("broadcast", t), t).wait();
    t.note_inplace_write();
  }

  Tensor all_gather(const Tensor& t) override {
    check(t, "all_gather");
    Shape s{host_.size()};
    s.insert(s.end(), t.shape().begin(), t.shape().end());
    Tensor out = Tensor::empty(s, t.dtype(), t.device());
    DeviceGuard g(device_);
    after_caller();
    check_nccl(nccl().all_gather(t.device_ptr(), out.device_ptr(), static_cast<size_t>(t.numel()), nccl_type(t.dtype()),
                             comm_, stream_),
               "all_gather");
    NcclWork(host_, device_, stream_, describe("all_gather", t), t).wait();
    return out;
  }

 private:
  void check(const Tensor& t, const char* op) const {
    if (t.device().index != device_)
      throw DistributedError(std::string(op) + ": a " + t.device().str() + " tensor, but this rank's NCCL "
                             "communicator is on cuda:" + std::to_string(device_) + " (one device per rank)");
  }
  // The collective starts after everything the caller has queued on its current stream.
  void after_caller() {
    cudaEvent_t ready;
    check_cuda(cudaEventCreateWithFlags(&ready, cudaEventDisableTiming), "NCCL ordering");
    check_cuda(cudaEventRecord(ready, static_cast<cudaStream_t>(kernels::cuda::current_stream())), "NCCL ordering");
    check_cuda(cudaStreamWaitEvent(stream_, ready, 0), "NCCL ordering");
    cudaEventDestroy(ready);  // released once recorded work completes
  }
  static std::string describe(const char* op, const Tensor& t) {
    return std::string(op) + " of " + std::to_string(t.numel()) + " " + dtype_name(t.dtype()) + " values (shape " +
           shape_str(t.shape()) + ")";
  }

  ProcessGroup& host_;
  int device_;
  ncclComm_t comm_ = nullptr;
  cudaStream_t stream_ = nullptr;
};

}  // namespace

std::unique_ptr<DeviceComm> make_nccl_comm(ProcessGroup& host, int device) {
  return std::make_unique<NcclComm>(host, device);
}

}  // namespace detail
}  // namespace pianograd
