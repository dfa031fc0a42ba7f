// Process groups and the data-parallel gradient reducer (autodiff/distributed/). Every wait releases the
// GIL: the communication thread never touches Python.
#include "autodiff/distributed/device_comm.h"
#include "autodiff/distributed/grad_reducer.h"
#include "autodiff/distributed/process_group.h"
#include "bind_common.h"

namespace pgpy {

void bind_distributed(py::module_& m) {
  namespace pg = pianograd;
  using Group = pg::ProcessGroup;
  py::class_<pg::Work, std::shared_ptr<pg::Work>>(m, "Work", "A queued collective (ProcessGroup.all_reduce_async).")
      .def("wait", &pg::Work::wait, py::call_guard<py::gil_scoped_release>(),
           "Returns when the collective has finished; a rank that never joins it ends the job after the group's timeout.")
      .def("done", &pg::Work::done)
      .def_property_readonly("seconds", &pg::Work::seconds, "How long the collective took once it started.");

  py::class_<Group, std::shared_ptr<Group>>(m, "ProcessGroup", R"doc(
The processes of one training job. `size` is 1 and every collective the identity when the program was
not started by an MPI launcher (or the build has no MPI); under `mpirun -np K` each rank holds one.)doc")
      .def_property_readonly("rank", &Group::rank)
      .def_property_readonly("size", &Group::size)
      .def_property_readonly("backend", &Group::backend, "'single' or 'mpi'.")
      .def_property_readonly("timeout_s", &Group::timeout_s)
      .def("all_reduce", [](Group& g, const Tensor& t, const std::string& op) {
        const pg::ReduceOp o = pg::parse_reduce_op(op);
        py::gil_scoped_release rel;
        g.all_reduce(t, o);
      }, py::arg("tensor"), py::arg("op") = "sum", "In place over every rank: sum, mean, max or min. Returns None.")
      .def("all_reduce_async", [](Group& g, const Tensor& t, const std::string& op) {
        return g.all_reduce_async(t, pg::parse_reduce_op(op));
      }, py::arg("tensor"), py::arg("op") = "sum", "Queues all_reduce and returns its Work; keep the tensor untouched until wait().")
      .def("broadcast", &Group::broadcast, py::arg("tensor"), py::arg("root") = 0,
           py::call_guard<py::gil_scoped_release>(), "Overwrites tensor on every rank with root's values.")
      .def("all_gather", &Group::all_gather, py::arg("tensor"), py::call_guard<py::gil_scoped_release>(),
           "A new tensor [size, *tensor.shape]: every rank's values in rank order.")
      .def("barrier", &Group::barrier, py::call_guard<py::gil_scoped_release>())
      .def("abort", [](Group& g, const std::string& message, int code) { g.abort(message, code); },
           py::arg("message"), py::arg("code") = 1,
           "Prints message (with this rank) and ends every process of the job at once.");

  m.def("mpi_built", &pg::mpi_built, "Whether this build has the MPI process group.");
  m.def("nccl_built", &pg::nccl_built, "Whether this build reduces CUDA tensors over NCCL (with MPI and CUDA).");
  m.def("launched_by_mpi", &pg::launched_by_mpi, "Whether an MPI launcher (mpirun, srun) started this process.");
  m.def("init_process_group", &pg::init_process_group, py::arg("backend") = "auto", py::arg("timeout_s") = 0.0,
        py::call_guard<py::gil_scoped_release>(), R"doc(
The job's process group, made once per process. backend "auto": MPI when launched by mpirun/srun and
built with MPI, else a group of one; "mpi" insists; "single" never talks. timeout_s (<= 0: the
PIANOGRAD_DIST_TIMEOUT environment variable, else 300) bounds every wait: a rank that stops answering
ends the job with an error naming the operation.)doc");
  m.def("default_process_group", &pg::default_process_group,
        "The group made by init_process_group, or a group of one when none was made.");

  py::class_<pg::GradReducer>(m, "GradReducer", R"doc(
Averages gradients over the ranks of a group: buckets of about bucket_bytes start reducing during the
backward pass as soon as their gradients are complete. Call finish() after each backward pass; it leaves
every parameter's .grad equal to the mean over ranks.)doc")
      .def(py::init<std::shared_ptr<Group>, std::vector<Tensor>, size_t>(), py::arg("group"), py::arg("params"),
           py::arg("bucket_bytes") = 256 * 1024)
      .def("finish", &pg::GradReducer::finish, py::call_guard<py::gil_scoped_release>())
      .def_property_readonly("stats", [](const pg::GradReducer& r) {
        const pg::ReducerStats& s = r.stats();
        py::dict d;
        d["buckets"] = s.buckets;
        d["launched_early"] = s.launched_early;
        d["wait_seconds"] = s.wait_seconds;
        d["comm_seconds"] = s.comm_seconds;
        d["finish_seconds"] = s.finish_seconds;
        return d;
      }, "The last step's figures: buckets, launched_early (started during backward), wait_seconds, "
         "comm_seconds, finish_seconds.");
  m.def("broadcast_tensors", [](Group& g, const std::vector<Tensor>& ts, int root) {
    py::gil_scoped_release rel;
    pg::broadcast_tensors(g, ts, root);
  }, py::arg("group"), py::arg("tensors"), py::arg("root") = 0, "Copies root's values of every tensor to every rank.");
}

}  // namespace pgpy
