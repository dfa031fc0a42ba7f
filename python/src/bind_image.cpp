// Score images for OMR (models/image_io.h): PNG/JPEG files <-> float32 NumPy arrays in [0, 1]. Decoding and
// encoding release the GIL, so a data loader's threads decode pages in parallel.
#include <pybind11/numpy.h>

#include <functional>

#include "autodiff/errors.h"
#include "bind_common.h"
#include "models/image_io.h"

namespace pgpy {
namespace pg = pianograd;

namespace {

std::string fspath(const py::handle& p) { return py::str(py::module_::import("os").attr("fspath")(p)); }

// Hands the pixels to NumPy without a copy: [H, W] for grey output, else [H, W, C].
py::array_t<float> image_to_array(pg::Image&& img, bool grey) {
  auto* heap = new std::vector<float>(std::move(img.data));
  py::capsule owner(heap, [](void* p) { delete static_cast<std::vector<float>*>(p); });
  const auto h = static_cast<py::ssize_t>(img.height), w = static_cast<py::ssize_t>(img.width);
  const auto c = static_cast<py::ssize_t>(img.channels);
  const auto f = static_cast<py::ssize_t>(sizeof(float));
  if (grey) return py::array_t<float>({h, w}, {w * f, f}, heap->data(), owner);
  return py::array_t<float>({h, w, c}, {w * c * f, c * f, f}, heap->data(), owner);
}

pg::Image decode(const std::function<pg::Image()>& read, bool grey) {
  py::gil_scoped_release rel;
  pg::Image img = read();
  if (grey && img.channels != 1) img = pg::to_grey(img);
  return img;
}

// [H, W] or [H, W, C] (C in 1..4), float in [0, 1] (checked by write_png) or uint8 / uint16 (full scale).
pg::Image array_to_image(const py::handle& obj) {
  py::array a = py::module_::import("numpy").attr("asarray")(obj);
  const auto nd = a.ndim();
  if (nd != 2 && nd != 3)
    throw pg::ShapeError("write_png: expected an array [H, W] or [H, W, C], got ndim " + std::to_string(nd));
  pg::Image img;
  img.height = a.shape(0);
  img.width = a.shape(1);
  img.channels = nd == 3 ? a.shape(2) : 1;
  if (img.channels < 1 || img.channels > 4)
    throw pg::ShapeError("write_png: expected 1..4 channels (grey, grey+alpha, RGB, RGBA), got shape " +
                         pg::shape_str({img.height, img.width, img.channels}));
  const char kind = a.dtype().kind();
  const auto size = a.dtype().itemsize();
  auto scaled = [&](auto tag, float full) {
    using T = decltype(tag);
    auto c = a.cast<py::array_t<T, py::array::c_style | py::array::forcecast>>();
    img.data.resize(static_cast<size_t>(c.size()));
    for (size_t i = 0; i < img.data.size(); ++i) img.data[i] = static_cast<float>(c.data()[i]) / full;
  };
  if (kind == 'u' && size == 1) {
    scaled(uint8_t{}, 255.0f);
  } else if (kind == 'u' && size == 2) {
    scaled(uint16_t{}, 65535.0f);
  } else if (kind == 'f') {
    scaled(float{}, 1.0f);
  } else {
    throw pg::DTypeError("write_png: expected float samples in [0, 1], uint8 or uint16, got dtype " +
                         std::string(py::str(a.dtype())));
  }
  return img;
}

}  // namespace

void bind_image(py::module_& m) {
  m.def(
      "read_image",
      [](const py::object& path, bool grey) {
        const std::string p = fspath(path);
        return image_to_array(decode([&] { return pg::read_image(p); }, grey), grey);
      },
      py::arg("path"), py::arg("grey") = false,
      "Reads a PNG or JPEG (sniffed from its bytes) as float32 in [0, 1]: [H, W, C] with C = 1 grey, 2 grey+alpha,\n"
      "3 RGB, 4 RGBA as stored; with grey=True [H, W], alpha composited over white, BT.601 luma.\n"
      "FileNotFoundError for a missing file; OSError for a directory, an unreadable, empty, truncated or corrupt\n"
      "file or one that is no PNG/JPEG; ValueError for images over 16384 px per side or 100 megapixels.");
  m.def(
      "decode_image",
      [](const py::buffer& data, bool grey, const std::string& name) {
        const py::buffer_info info = data.request();
        if (info.itemsize != 1 || info.ndim > 1 || (info.ndim == 1 && info.strides[0] != 1))
          throw py::type_error("decode_image: expected contiguous bytes (bytes, bytearray, memoryview, uint8 array)");
        const auto* bytes = static_cast<const uint8_t*>(info.ptr);
        const auto n = static_cast<size_t>(info.size);
        return image_to_array(decode([&] { return pg::decode_image(bytes, n, name); }, grey), grey);
      },
      py::arg("data"), py::arg("grey") = false, py::arg("name") = "<memory>",
      "read_image for PNG/JPEG bytes in memory; `name` stands for the file in error messages.");
  m.def(
      "write_png",
      [](const py::object& path, const py::object& array, int bit_depth) {
        const std::string p = fspath(path);
        const pg::Image img = array_to_image(array);
        py::gil_scoped_release rel;
        pg::write_png(p, img, bit_depth);
      },
      py::arg("path"), py::arg("array"), py::arg("bit_depth") = 8,
      "Writes [H, W] or [H, W, C] (C = 1..4: grey, grey+alpha, RGB, RGBA) as an 8- or 16-bit PNG, atomically.\n"
      "Floats must lie in [0, 1]; uint8 / uint16 are full-scale integers (rescaled to bit_depth).");
}

}  // namespace pgpy
