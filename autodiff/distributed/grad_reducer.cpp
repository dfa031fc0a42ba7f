#include "autodiff/distributed/grad_reducer.h"

#include <chrono>
#include <cstring>

#include "autodiff/grad_hooks.h"
#include "autodiff/ops.h"
#include "autodiff/tape.h"
#include "kernels/cuda/device.h"

namespace pianograd {

namespace {
template <class T>
void scaled_copy(const T* src, T* dst, int64_t n, T scale) {
  for (int64_t i = 0; i < n; ++i) dst[i] = src[i] * scale;
}
}  // namespace

GradReducer::GradReducer(std::shared_ptr<ProcessGroup> group, std::vector<Tensor> params, size_t bucket_bytes)
    : group_(std::move(group)), params_(std::move(params)) {
  if (!group_) throw DistributedError("GradReducer: no process group");
  if (bucket_bytes == 0) throw ValueError("GradReducer: bucket_bytes must be positive");
  for (size_t i = 0; i < params_.size(); ++i) {
    const Tensor& p = params_[i];
    if (!p.defined() || !p.is_leaf() || !p.requires_grad() || !is_floating(p.dtype()))
      throw DistributedError("GradReducer: parameter " + std::to_string(i) +
                             " must be a floating leaf tensor that requires grad");
    for (size_t j = 0; j < i; ++j)
      if (params_[j].is_same(p)) throw DistributedError("GradReducer: parameter " + std::to_string(i) + " is listed twice");
  }
  bucket_of_.assign(params_.size(), 0);
  offset_of_.assign(params_.size(), 0);
  seen_.assign(params_.size(), 0);
  // Reverse order: the backward pass finishes the last layers first.
  size_t bytes = 0;
  for (size_t k = params_.size(); k-- > 0;) {
    const Tensor& p = params_[k];
    const Tensor* first = buckets_.empty() ? nullptr : &params_[buckets_.back().params.front()];
    const bool fits = first && bytes + p.nbytes() <= bucket_bytes && first->dtype() == p.dtype() &&
                      first->device() == p.device();
    if (!fits) {
      buckets_.emplace_back();
      bytes = 0;
    }
    Bucket& b = buckets_.back();
    offset_of_[k] = b.numel;
    b.numel += p.numel();
    b.params.push_back(k);
    bucket_of_[k] = buckets_.size() - 1;
    bytes += p.nbytes();
  }
  for (Bucket& b : buckets_) {
    const Tensor& p0 = params_[b.params.front()];
    b.flat = zeros({b.numel}, p0.dtype(), p0.device());
    b.pending = b.params.size();
  }
  flags_ = zeros({static_cast<int64_t>(params_.size())}, DType::f32);
  stats_.buckets = static_cast<int>(buckets_.size());
  for (size_t i = 0; i < params_.size(); ++i) set_grad_ready_hook(params_[i], [this, i](const Tensor&) { on_ready(i); });
}

GradReducer::~GradReducer() {
  for (const Tensor& p : params_) set_grad_ready_hook(p, nullptr);
  for (Bucket& b : buckets_)
    if (b.work) b.work->wait();  // the communication thread must not write into freed buffers
}

void GradReducer::on_ready(size_t i) {
  if (seen_[i])
    throw DistributedError("GradReducer: parameter " + std::to_string(i) +
                           " got a second gradient before finish(); call finish() once after each backward pass");
  seen_[i] = 1;
  Bucket& b = buckets_[bucket_of_[i]];
  const Tensor g = params_[i].grad();
  const size_t bytes = static_cast<size_t>(params_[i].numel()) * dtype_size(b.flat.dtype());
  char* dst = static_cast<char*>(b.flat.device_ptr()) + offset_of_[i] * static_cast<int64_t>(dtype_size(b.flat.dtype()));
  const Tensor gc = !g.defined() || g.dtype() == b.flat.dtype() ? g : g.to(b.flat.dtype());
  if (b.flat.is_cuda()) {
    // Queued on the stream the backward pass runs on, before the bucket's collective (ordered after it).
    void* stream = kernels::cuda::current_stream();
    if (gc.defined()) kernels::cuda::copy_device_async(dst, gc.device_ptr(), bytes, stream);
    else kernels::cuda::memset_zero_async(dst, bytes, stream);
  } else if (gc.defined()) {
    std::memcpy(dst, gc.raw_data(), bytes);
  } else {
    std::memset(dst, 0, bytes);
  }
  flags_.data<float>()[i] = g.defined() ? 1.0f : 0.0f;
  --b.pending;
  launch_ready();
}

void GradReducer::launch_ready() {
  while (next_launch_ < buckets_.size() && buckets_[next_launch_].pending == 0) {
    Bucket& b = buckets_[next_launch_++];
    b.work = group_->all_reduce_async(b.flat, ReduceOp::sum);
  }
}

void GradReducer::finish() {
  const auto t0 = std::chrono::steady_clock::now();
  stats_.launched_early = static_cast<int>(next_launch_);
  // Parameters this pass did not reach contribute zeros (and a zero flag).
  for (size_t i = 0; i < params_.size(); ++i)
    if (!seen_[i]) {
      params_[i].set_grad(Tensor());  // a stale gradient of an earlier step must not be sent
      on_ready(i);
    }
  // Which parameters had a gradient on some rank: one small reduction per step, on the CPU.
  group_->all_reduce(flags_, ReduceOp::sum);
  double wait = 0, comm = 0;
  const double scale = 1.0 / static_cast<double>(group_->size());
  for (Bucket& b : buckets_) {
    const auto w0 = std::chrono::steady_clock::now();
    b.work->wait();
    wait += std::chrono::duration<double>(std::chrono::steady_clock::now() - w0).count();
    comm += b.work->seconds();
    b.work.reset();
    const size_t es = dtype_size(b.flat.dtype());
    const char* base = static_cast<const char*>(b.flat.device_ptr());
    for (size_t k : b.params) {
      Tensor& p = params_[k];
      if (!(flags_.data<float>()[k] > 0.5f)) {
        p.set_grad(Tensor());
        continue;
      }
      const char* src = base + offset_of_[k] * static_cast<int64_t>(es);
      Tensor g = Tensor::empty(p.shape(), b.flat.dtype(), b.flat.device());
      if (b.flat.is_cuda()) {
        NoGrad no_grad;
        kernels::cuda::copy_device_async(g.device_ptr(), src, static_cast<size_t>(g.numel()) * es,
                                         kernels::cuda::current_stream());
        g = mul(g, scale);
      } else if (b.flat.dtype() == DType::f32) {
        scaled_copy(reinterpret_cast<const float*>(src), g.data<float>(), g.numel(), static_cast<float>(scale));
      } else {
        scaled_copy(reinterpret_cast<const double*>(src), g.data<double>(), g.numel(), scale);
      }
      p.set_grad(g.dtype() == p.dtype() ? g : g.to(p.dtype()));
    }
    b.pending = b.params.size();
  }
  std::fill(seen_.begin(), seen_.end(), 0);
  next_launch_ = 0;
  stats_.wait_seconds = wait;
  stats_.comm_seconds = comm;
  stats_.finish_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void broadcast_tensors(ProcessGroup& group, const std::vector<Tensor>& tensors, int root) {
  for (const Tensor& t : tensors) group.broadcast(t, root);
}

}  // namespace pianograd
