// The MPI process group (compiled when CMake finds MPI; mpi_stub.cpp otherwise).
//
// One thread owns MPI: it initialises the library, runs every queued collective in the order the
// ranks queued them (the same program order on every rank, as MPI requires), and finalises at exit.
// Blocking MPI calls on that thread give the overlap a data-parallel step wants without relying on
// the library's asynchronous progress (Open MPI's nonblocking collectives only advance inside MPI
// calls), and the library never sees a second thread.
#include <mpi.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <exception>
#include <functional>
#include <limits>
#include <mutex>
#include <thread>

#include "autodiff/distributed/device_comm.h"
#include "autodiff/distributed/process_group.h"
#include "autodiff/tape.h"

namespace pianograd {

bool mpi_built() { return true; }

namespace {

MPI_Datatype mpi_type(DType d) {
  switch (d) {
    case DType::f32: return MPI_FLOAT;
    case DType::f64: return MPI_DOUBLE;
    case DType::i32: return MPI_INT32_T;
    case DType::i64: return MPI_INT64_T;
  }
  return MPI_DATATYPE_NULL;
}

MPI_Op mpi_op(ReduceOp op) {
  switch (op) {
    case ReduceOp::sum:
    case ReduceOp::mean: return MPI_SUM;
    case ReduceOp::max: return MPI_MAX;
    case ReduceOp::min: return MPI_MIN;
  }
  return MPI_SUM;
}

void check_mpi(int rc, const char* what) {
  if (rc == MPI_SUCCESS) return;
  char msg[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, msg, &len);
  throw DistributedError(std::string(what) + ": MPI error: " + std::string(msg, static_cast<size_t>(len)));
}

class MpiGroup;

class MpiWork final : public Work {
 public:
  MpiWork(MpiGroup* g, std::string what, std::function<void()> fn) : group(g), what(std::move(what)), fn(std::move(fn)) {}
  void wait() override;
  bool done() const override {
    std::lock_guard<std::mutex> lock(m);
    return finished;
  }
  double seconds() const override {
    std::lock_guard<std::mutex> lock(m);
    return took;
  }
  void run() {
    const auto t0 = std::chrono::steady_clock::now();
    try {
      fn();
    } catch (...) {
      err = std::current_exception();
    }
    fn = nullptr;  // drops the tensors it holds
    {
      std::lock_guard<std::mutex> lock(m);
      took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      finished = true;
    }
    cv.notify_all();
  }

  MpiGroup* group;
  std::string what;
  std::function<void()> fn;
  mutable std::mutex m;
  std::condition_variable cv;
  bool finished = false;
  double took = 0.0;
  std::exception_ptr err;
};

class MpiGroup final : public ProcessGroup {
 public:
  explicit MpiGroup(double timeout_s) : ProcessGroup(timeout_s) {
    thread_ = std::thread([this] { loop(); });
    std::unique_lock<std::mutex> lock(m_);
    cv_.wait(lock, [this] { return started_; });
    if (!init_error_.empty()) {
      lock.unlock();
      thread_.join();
      throw DistributedError(init_error_);
    }
    // Finalise at exit, after the program's last collective (before static destructors run).
    instance_ = this;
    std::atexit([] {
      if (instance_) instance_->shutdown();
    });
  }
  ~MpiGroup() override {
    shutdown();
    instance_ = nullptr;
  }

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string backend() const override { return "mpi"; }

  std::shared_ptr<Work> all_reduce_async(const Tensor& t, ReduceOp op) override {
    check_tensor(t, "all_reduce");
    if (t.is_cuda()) return device_comm(t).all_reduce(t, op);
    if (op == ReduceOp::mean && !is_floating(t.dtype()))
      throw DistributedError(std::string("all_reduce: a mean of ") + dtype_name(t.dtype()) + " values; use sum");
    Tensor keep = t;  // alive until the thread is done with it
    const int world = size_;
    return submit(describe("all_reduce", t), [keep, op, world] {
      for_chunks(keep, [&](char* p, int n) {
        check_mpi(MPI_Allreduce(MPI_IN_PLACE, p, n, mpi_type(keep.dtype()), mpi_op(op), MPI_COMM_WORLD), "all_reduce");
      });
      if (op != ReduceOp::mean || world == 1) return;
      if (keep.dtype() == DType::f32) {
        float* p = keep.data<float>();
        for (int64_t i = 0, n = keep.numel(); i < n; ++i) p[i] /= static_cast<float>(world);
      } else {
        double* p = keep.data<double>();
        for (int64_t i = 0, n = keep.numel(); i < n; ++i) p[i] /= static_cast<double>(world);
      }
    });
  }

  void broadcast(const Tensor& t, int root) override {
    check_tensor(t, "broadcast");
    if (root < 0 || root >= size_)
      throw DistributedError("broadcast: root " + std::to_string(root) + " is not a rank of a group of " +
                             std::to_string(size_));
    if (t.is_cuda()) return device_comm(t).broadcast(t, root);
    Tensor keep = t;
    submit(describe("broadcast", t), [keep, root] {
      for_chunks(keep, [&](char* p, int n) {
        check_mpi(MPI_Bcast(p, n, mpi_type(keep.dtype()), root, MPI_COMM_WORLD), "broadcast");
      });
    })->wait();
    t.note_inplace_write();
  }

  Tensor all_gather(const Tensor& t) override {
    check_tensor(t, "all_gather");
    if (t.is_cuda()) return device_comm(t).all_gather(t);
    if (t.numel() > std::numeric_limits<int>::max())
      throw DistributedError("all_gather: " + std::to_string(t.numel()) + " values per rank exceed MPI's int count");
    Shape s{size_};
    s.insert(s.end(), t.shape().begin(), t.shape().end());
    Tensor out = Tensor::empty(s, t.dtype());
    Tensor in = t;
    submit(describe("all_gather", t), [in, out] {
      const int n = static_cast<int>(in.numel());
      check_mpi(MPI_Allgather(in.raw_data(), n, mpi_type(in.dtype()), out.raw_data(), n, mpi_type(in.dtype()),
                              MPI_COMM_WORLD), "all_gather");
    })->wait();
    return out;
  }

  void barrier() override {
    submit("barrier", [] { check_mpi(MPI_Barrier(MPI_COMM_WORLD), "barrier"); })->wait();
  }

  [[noreturn]] void abort(const std::string& message, int code) override {
    std::fprintf(stderr, "pianograd: rank %d of %d: %s\n", rank_, size_, message.c_str());
    std::fflush(stderr);
    // MPI_Abort from a thread that does not own MPI is outside FUNNELED's promise; leaving without
    // MPI_Finalize is enough: the launcher then ends every other rank of the job.
    std::_Exit(code);
  }

  [[noreturn]] void timed_out(const std::string& what) {
    abort(what + " waited " + std::to_string(static_cast<int>(timeout_s_)) +
              " s for the other ranks: one has stopped, crashed or taken another path through the program. "
              "Ending the job (PIANOGRAD_DIST_TIMEOUT sets the limit in seconds)",
          3);
  }

 private:
  static std::string describe(const char* op, const Tensor& t) {
    return std::string(op) + " of " + std::to_string(t.numel()) + " " + dtype_name(t.dtype()) + " values (shape " +
           shape_str(t.shape()) + ")";
  }

  // MPI counts are ints: larger tensors go in pieces (the same pieces on every rank).
  template <class F>
  static void for_chunks(const Tensor& t, F&& f) {
    const int64_t max_n = std::numeric_limits<int>::max() / 2;
    char* p = static_cast<char*>(t.raw_data());
    const size_t es = dtype_size(t.dtype());
    for (int64_t done = 0, n = t.numel(); done < n;) {
      const int64_t k = std::min(max_n, n - done);
      f(p + done * static_cast<int64_t>(es), static_cast<int>(k));
      done += k;
    }
  }

  // NCCL for CUDA tensors, made on the first one (its id goes out over this group).
  detail::DeviceComm& device_comm(const Tensor& t) {
    std::lock_guard<std::mutex> lock(dev_m_);
    if (!device_comm_) device_comm_ = detail::make_nccl_comm(*this, t.device().index);
    return *device_comm_;
  }

  std::shared_ptr<Work> submit(std::string what, std::function<void()> fn) {
    auto w = std::make_shared<MpiWork>(this, std::move(what), std::move(fn));
    {
      std::lock_guard<std::mutex> lock(m_);
      if (stopped_) throw DistributedError(w->what + ": the MPI group has been shut down");
      queue_.push_back(w);
    }
    cv_.notify_all();
    return w;
  }

  void loop() {
    int provided = 0;
    int rc = MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
    {
      std::lock_guard<std::mutex> lock(m_);
      if (rc != MPI_SUCCESS) {
        init_error_ = "init_process_group: MPI_Init_thread failed (error " + std::to_string(rc) + ")";
      } else {
        MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
        MPI_Comm_size(MPI_COMM_WORLD, &size_);
        // Errors come back as codes (a DistributedError naming the op), not as the default abort.
        MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
      }
      started_ = true;
    }
    cv_.notify_all();
    if (rc != MPI_SUCCESS) return;
    for (;;) {
      std::shared_ptr<MpiWork> w;
      {
        std::unique_lock<std::mutex> lock(m_);
        cv_.wait(lock, [this] { return !queue_.empty() || stopping_; });
        if (queue_.empty()) break;
        w = std::move(queue_.front());
        queue_.pop_front();
      }
      w->run();
    }
    MPI_Finalize();
  }

  void shutdown() {
    {
      std::lock_guard<std::mutex> lock(dev_m_);
      device_comm_.reset();  // before exit tears the CUDA runtime down
    }
    {
      std::lock_guard<std::mutex> lock(m_);
      if (stopped_) return;
      stopped_ = stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

  static inline MpiGroup* instance_ = nullptr;
  std::mutex dev_m_;
  std::unique_ptr<detail::DeviceComm> device_comm_;
  std::thread thread_;
  std::mutex m_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<MpiWork>> queue_;
  bool started_ = false, stopping_ = false, stopped_ = false;
  std::string init_error_;
  int rank_ = 0, size_ = 1;
};

void MpiWork::wait() {
  {
    std::unique_lock<std::mutex> lock(m);
    const auto limit = std::chrono::duration<double>(group->timeout_s());
    if (!cv.wait_for(lock, limit, [this] { return finished; })) {
      lock.unlock();
      group->timed_out(what);
    }
  }
  if (err) std::rethrow_exception(err);
}

}  // namespace

namespace detail {
std::shared_ptr<ProcessGroup> make_mpi_group(double timeout_s) { return std::make_shared<MpiGroup>(timeout_s); }
}

}  // namespace pianograd
