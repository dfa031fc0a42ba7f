// C++ exceptions -> Python builtins (DESIGN.md §3): the message is the C++ one, which names the op,
// the expectation and what was found. Most specific types first.
#include <cstring>
#include <exception>

#include "autodiff/errors.h"
#include "bind_common.h"

namespace pgpy {

namespace {
// Raises `type` with the C++ message. A message may quote bytes of a corrupt file (a JSON parser's "last
// read" of a safetensors header): they are not valid UTF-8, and PyErr_SetString would turn the error into
// a UnicodeDecodeError. Decoding with backslashreplace keeps the promised type and shows the bytes as \xNN.
void raise(PyObject* type, const char* what) {
  PyObject* msg = PyUnicode_DecodeUTF8(what, static_cast<Py_ssize_t>(std::strlen(what)), "backslashreplace");
  if (!msg) {  // out of memory while building the message
    PyErr_Clear();
    PyErr_SetString(type, "pianograd: error (message not decodable)");
    return;
  }
  PyErr_SetObject(type, msg);
  Py_DECREF(msg);
}
}  // namespace

void bind_errors(py::module_& m) {
  namespace pg = pianograd;
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const pg::ShapeError& e) {
      raise(PyExc_ValueError, e.what());
    } catch (const pg::ValueError& e) {
      raise(PyExc_ValueError, e.what());
    } catch (const pg::DTypeError& e) {
      raise(PyExc_TypeError, e.what());
    } catch (const pg::IndexError& e) {
      raise(PyExc_IndexError, e.what());
    } catch (const pg::FileNotFound& e) {
      raise(PyExc_FileNotFoundError, e.what());
    } catch (const pg::IOError& e) {
      raise(PyExc_OSError, e.what());
    } catch (const pg::Error& e) {  // DeviceError, GraphError and any later subtype
      raise(PyExc_RuntimeError, e.what());
    } catch (const std::bad_alloc&) {
      PyErr_SetString(PyExc_MemoryError, "pianograd: out of memory");
    }
    // Anything else falls through to pybind11's own translators (std::invalid_argument -> ValueError,
    // std::out_of_range -> IndexError, std::exception -> RuntimeError).
  });
}

}  // namespace pgpy
