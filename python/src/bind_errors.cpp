// C++ exceptions -> Python builtins (DESIGN.md §3): the message is the C++ one, which names the op,
// the expectation and what was found. Most specific types first.
#include <exception>

#include "autodiff/errors.h"
#include "bind_common.h"

namespace pgpy {

void bind_errors(py::module_& m) {
  namespace pg = pianograd;
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const pg::ShapeError& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    } catch (const pg::ValueError& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    } catch (const pg::DTypeError& e) {
      PyErr_SetString(PyExc_TypeError, e.what());
    } catch (const pg::IndexError& e) {
      PyErr_SetString(PyExc_IndexError, e.what());
    } catch (const pg::FileNotFound& e) {
      PyErr_SetString(PyExc_FileNotFoundError, e.what());
    } catch (const pg::IOError& e) {
      PyErr_SetString(PyExc_OSError, e.what());
    } catch (const pg::Error& e) {  // DeviceError, GraphError and any later subtype
      PyErr_SetString(PyExc_RuntimeError, e.what());
    } catch (const std::bad_alloc&) {
      PyErr_SetString(PyExc_MemoryError, "pianograd: out of memory");
    }
    // Anything else falls through to pybind11's own translators (std::invalid_argument -> ValueError,
    // std::out_of_range -> IndexError, std::exception -> RuntimeError).
  });
}

}  // namespace pgpy
