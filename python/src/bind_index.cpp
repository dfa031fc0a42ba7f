// Python indexing on tensors: x[i], x[a:b:s], x[..., None], x[idx_tensor], and tuples of those.
// Every step is a recorded op (select / slice / unsqueeze / index_select), so gradients flow.
#include <string>

#include "autodiff/ops.h"
#include "bind_common.h"

namespace pgpy {
namespace pg = pianograd;

Tensor tensor_getitem(const Tensor& x, const py::object& key) {
  std::vector<py::object> items;
  if (py::isinstance<py::tuple>(key)) {
    for (auto it : key) items.push_back(py::reinterpret_borrow<py::object>(it));
  } else {
    items.push_back(key);
  }
  auto is_int = [](const py::handle& h) {
    return PyIndex_Check(h.ptr()) && !py::isinstance<py::bool_>(h) && !py::isinstance<Tensor>(h);
  };
  // Items that consume a dimension (all but None and Ellipsis).
  int64_t consuming = 0, ellipses = 0;
  for (auto& it : items) {
    if (it.is_none()) continue;
    if (it.ptr() == Py_Ellipsis) {
      ++ellipses;
      continue;
    }
    ++consuming;
  }
  if (ellipses > 1) throw py::index_error("an index can only have a single ellipsis ('...')");
  if (consuming > x.dim())
    throw py::index_error("too many indices for tensor of dimension " + std::to_string(x.dim()) + ": got " +
                          std::to_string(consuming));
  Tensor y = x;
  int64_t d = 0;  // the dimension of y the next item applies to
  for (auto& it : items) {
    if (it.is_none()) {
      y = pg::unsqueeze(y, d++);
    } else if (it.ptr() == Py_Ellipsis) {
      d += x.dim() - consuming;  // dims the ellipsis stands for (all of x's dims not indexed)
    } else if (is_int(it)) {
      y = y.select(d, it.cast<int64_t>());
    } else if (py::isinstance<py::slice>(it)) {
      const auto len = static_cast<size_t>(y.shape()[static_cast<size_t>(d)]);
      size_t start = 0, stop = 0, step = 0, slicelength = 0;
      if (!py::reinterpret_borrow<py::slice>(it).compute(len, &start, &stop, &step, &slicelength))
        throw py::error_already_set();
      const auto sstep = static_cast<py::ssize_t>(step);
      if (sstep <= 0) throw py::value_error("tensor slicing with a negative step is not supported");
      if (!(start == 0 && slicelength == len && sstep == 1))
        // stop = one past the last element taken (start itself when nothing is taken).
        y = pg::slice(y, d, static_cast<int64_t>(start),
                      static_cast<int64_t>(slicelength ? start + (slicelength - 1) * step + 1 : start), sstep);
      ++d;
    } else if (py::isinstance<Tensor>(it) || py::isinstance<py::list>(it) ||
               py::hasattr(it, "__array_interface__")) {
      Tensor idx = tensor_from_array(it);
      if (pg::is_floating(idx.dtype()))
        throw py::index_error("tensors used as indices must be integer tensors, got " +
                              std::string(pg::dtype_name(idx.dtype())));
      if (idx.dim() != 1)
        throw py::index_error("index tensors must be 1-D, got shape " + pg::shape_str(idx.shape()));
      y = pg::index_select(y, d++, idx);
    } else {
      throw py::type_error("tensor indices must be integers, slices, None, ..., or 1-D integer tensors, got " +
                           py::str(py::type::of(it)).cast<std::string>());
    }
  }
  return y;
}

}  // namespace pgpy
