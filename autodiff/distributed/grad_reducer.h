// Data-parallel gradients: every rank computes the gradient of its own shard of the batch, and the
// reducer turns them into the mean over ranks, i.e. the gradient of the global batch (each rank's loss
// being a mean over an equal share of it).
//
// The parameters go into buckets of about `bucket_bytes`, in the reverse of their order (the order in
// which a backward pass finishes them, for parameters listed as the forward pass uses them). A
// grad-ready hook (tape.h) copies each parameter's gradient into its bucket as soon as the backward
// pass has finished it; a full bucket is handed to the process group's communication thread at once,
// so the reduction overlaps the rest of the backward pass. Buckets always start in the same order on
// every rank (a full bucket waits for the ones before it), as collectives must. CUDA parameters are
// bucketed per device and reduced over NCCL (device_comm.h), their copies queued on the current stream.
#pragma once
#include <cstddef>
#include <memory>
#include <vector>

#include "autodiff/distributed/process_group.h"

namespace pianograd {

struct ReducerStats {
  int buckets = 0;            // buckets per step
  int launched_early = 0;     // of them, started during the backward pass (before finish())
  double wait_seconds = 0;    // the last finish(): time blocked waiting for reductions
  double comm_seconds = 0;    // the last step: time the reductions themselves took
  double finish_seconds = 0;  // the last finish(): wall time, waiting included
};

class GradReducer {
 public:
  GradReducer(std::shared_ptr<ProcessGroup> group, std::vector<Tensor> params, size_t bucket_bytes = 256 * 1024);
  ~GradReducer();  // removes its hooks
  GradReducer(const GradReducer&) = delete;
  GradReducer& operator=(const GradReducer&) = delete;

  // After the backward pass: starts the buckets still waiting, waits for all, and sets every
  // parameter's .grad to the mean over ranks (undefined where no rank had a gradient). Then ready for
  // the next step. A second backward pass before finish() is refused (gradient accumulation over
  // micro-batches: call finish() once, after the last).
  void finish();
  const ReducerStats& stats() const { return stats_; }
  const ProcessGroup& group() const { return *group_; }

 private:
  struct Bucket {
    std::vector<size_t> params;  // indices into params_
    int64_t numel = 0;
    Tensor flat;                 // the gradients, on the parameters' device
    size_t pending = 0;
    std::shared_ptr<Work> work;
  };
  void on_ready(size_t param);
  void launch_ready();  // starts every complete bucket whose predecessors have started

  std::shared_ptr<ProcessGroup> group_;
  std::vector<Tensor> params_;
  std::vector<size_t> bucket_of_;   // per parameter: its bucket
  std::vector<int64_t> offset_of_;  // per parameter: its first element in the bucket
  std::vector<char> seen_;
  Tensor flags_;  // per parameter: had a gradient this step (CPU, summed over ranks in finish())
  std::vector<Bucket> buckets_;
  size_t next_launch_ = 0;
  ReducerStats stats_;
};

// Copies root's values of every tensor into the others' (the initial weights of data-parallel training).
void broadcast_tensors(ProcessGroup& group, const std::vector<Tensor>& tensors, int root = 0);

}  // namespace pianograd
