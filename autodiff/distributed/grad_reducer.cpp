#include "autodiff/distributed/grad_reducer.h"

#include <chrono>
#include <cstring>

#include "autodiff/grad_hooks.h"
#include "autodiff/tape.h"

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
    if (!p.defined() || !p.is_leaf() || !p.requires_grad() || !is_floating(p.dtype()) || p.is_cuda())
      throw DistributedError("GradReducer: parameter " + std::to_string(i) +
                             " must be a floating CPU leaf tensor that requires grad");
    for (size_t j = 0; j < i; ++j)
      if (params_[j].is_same(p)) throw DistributedError("GradReducer: parameter " + std::to_string(i) + " is listed twice");
  }
  bucket_of_.assign(params_.size(), 0);
  seen_.assign(params_.size(), 0);
  // Reverse order: the backward pass finishes the last layers first.
  size_t bytes = 0;
  for (size_t k = params_.size(); k-- > 0;) {
    const Tensor& p = params_[k];
    const bool fits = !buckets_.empty() && bytes + p.nbytes() <= bucket_bytes &&
                      params_[buckets_.back().params.front()].dtype() == p.dtype();
    if (!fits) {
      buckets_.emplace_back();
      bytes = 0;
    }
    Bucket& b = buckets_.back();
    b.offsets.push_back(b.params.empty() ? 0 : b.offsets.back() + params_[b.params.back()].numel());
    b.params.push_back(k);
    bucket_of_[k] = buckets_.size() - 1;
    bytes += p.nbytes();
  }
  for (Bucket& b : buckets_) {
    const int64_t n = b.offsets.back() + params_[b.params.back()].numel();
    b.flat = zeros({n + static_cast<int64_t>(b.params.size())}, params_[b.params.front()].dtype());
    b.pending = b.params.size();
  }
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
  size_t slot = 0;
  while (b.params[slot] != i) ++slot;
  const Tensor g = params_[i].grad();
  const int64_t n = params_[i].numel();
  const int64_t flag_at = b.flat.numel() - static_cast<int64_t>(b.params.size()) + static_cast<int64_t>(slot);
  const size_t es = dtype_size(b.flat.dtype());
  char* base = static_cast<char*>(b.flat.raw_data());
  if (g.defined()) {
    const Tensor gc = g.dtype() == b.flat.dtype() ? g : g.to(b.flat.dtype());
    std::memcpy(base + b.offsets[slot] * static_cast<int64_t>(es), gc.raw_data(), static_cast<size_t>(n) * es);
  } else {
    std::memset(base + b.offsets[slot] * static_cast<int64_t>(es), 0, static_cast<size_t>(n) * es);
  }
  if (b.flat.dtype() == DType::f32) b.flat.data<float>()[flag_at] = g.defined() ? 1.0f : 0.0f;
  else b.flat.data<double>()[flag_at] = g.defined() ? 1.0 : 0.0;
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
      NoGrad no_grad;
      const Tensor none;
      params_[i].set_grad(none);
      on_ready(i);
    }
  double wait = 0, comm = 0;
  const double world = static_cast<double>(group_->size());
  for (Bucket& b : buckets_) {
    const auto w0 = std::chrono::steady_clock::now();
    b.work->wait();
    wait += std::chrono::duration<double>(std::chrono::steady_clock::now() - w0).count();
    comm += b.work->seconds();
    b.work.reset();
    const size_t es = dtype_size(b.flat.dtype());
    const char* base = static_cast<const char*>(b.flat.raw_data());
    const int64_t flags = b.flat.numel() - static_cast<int64_t>(b.params.size());
    for (size_t slot = 0; slot < b.params.size(); ++slot) {
      Tensor& p = params_[b.params[slot]];
      const bool any = b.flat.dtype() == DType::f32 ? b.flat.data<float>()[flags + slot] > 0.5f
                                                    : b.flat.data<double>()[flags + slot] > 0.5;
      if (!any) {
        p.set_grad(Tensor());
        continue;
      }
      Tensor g = Tensor::empty(p.shape(), b.flat.dtype());
      const char* src = base + b.offsets[slot] * static_cast<int64_t>(es);
      if (b.flat.dtype() == DType::f32)
        scaled_copy(reinterpret_cast<const float*>(src), g.data<float>(), g.numel(), static_cast<float>(1.0 / world));
      else
        scaled_copy(reinterpret_cast<const double*>(src), g.data<double>(), g.numel(), 1.0 / world);
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
