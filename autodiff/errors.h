// Typed exceptions of the public API. Python maps each to its builtin counterpart (python/), so a
// message must name the op or file, what was expected and what was found.
#pragma once
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace pianograd {

struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};
struct ShapeError : Error { using Error::Error; };      // -> ValueError
struct ValueError : Error { using Error::Error; };      // -> ValueError
struct DTypeError : Error { using Error::Error; };      // -> TypeError
struct IndexError : Error { using Error::Error; };      // -> IndexError
struct IOError : Error { using Error::Error; };         // -> OSError
struct FileNotFound : IOError { using IOError::IOError; };  // -> FileNotFoundError
struct DeviceError : Error { using Error::Error; };     // -> RuntimeError
struct GraphError : Error { using Error::Error; };      // -> RuntimeError (misuse of backward)

// "[8,16]" — the spelling every shape takes in an error message.
std::string shape_str(const std::vector<int64_t>& shape);

}  // namespace pianograd
