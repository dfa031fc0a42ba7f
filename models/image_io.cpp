#include "models/image_io.h"

// <cstdio> before <jpeglib.h>, which uses FILE without including it.
#include <cstdio>
#include <jpeglib.h>
#include <jerror.h>  // after jpeglib.h: the JWRN_ message codes
#include <png.h>
#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <csetjmp>
#include <cstring>
#include <memory>

#include "autodiff/errors.h"
#include "synth/atomic_file.h"

// libpng and libjpeg report errors by longjmp. The rule kept below: every setjmp sits in a small "stage"
// function in whose frame nothing with a destructor lives, and the callbacks that longjmp hold none
// either, so a longjmp skips no destructor. The C++ objects (buffers, the handle guards) live in the
// callers, which the longjmp never crosses: a stage returns 1 and its caller throws the typed error.

namespace pianograd {

namespace {

constexpr std::array<uint8_t, 8> kPngMagic{0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
constexpr std::array<uint8_t, 3> kJpegMagic{0xFF, 0xD8, 0xFF};

std::string dims(uint64_t w, uint64_t h) { return std::to_string(w) + " x " + std::to_string(h); }

// Called with the header's size before anything of that size is allocated.
void check_size(const std::string& what, const char* format, uint64_t w, uint64_t h) {
  if (w == 0 || h == 0)
    throw IOError(what + ": corrupt " + format + ": the header gives a size of " + dims(w, h) + " pixels");
  const auto side = static_cast<uint64_t>(kMaxImageSide), total = static_cast<uint64_t>(kMaxImagePixels);
  if (w > side || h > side || w * h > total)
    throw ValueError(what + ": image of " + dims(w, h) + " pixels is too large (at most " + std::to_string(side) +
                     " per side and " + std::to_string(total) + " pixels in all)");
}

// ---------------------------------------------------------------- PNG (libpng)

// Trivially destructible: the callbacks below see it from frames a longjmp leaves.
struct PngIo {
  const uint8_t* data = nullptr;  // reading: the encoded bytes
  size_t size = 0, pos = 0;
  std::vector<uint8_t>* out = nullptr;  // writing: where the encoded bytes go
  bool truncated = false;
  char msg[256] = {};
};

[[noreturn]] void png_on_error(png_structp png, png_const_charp msg) {
  auto* io = static_cast<PngIo*>(png_get_error_ptr(png));
  std::snprintf(io->msg, sizeof io->msg, "%s", msg);
  png_longjmp(png, 1);
}

// Warnings concern ancillary data (a bad gamma chunk, an sRGB profile mismatch); the pixels are intact.
void png_on_warning(png_structp, png_const_charp) {}

void png_read_mem(png_structp png, png_bytep out, size_t n) {
  auto* io = static_cast<PngIo*>(png_get_io_ptr(png));
  if (n > io->size - io->pos) {
    io->truncated = true;
    png_error(png, "the data ends early");
  }
  std::memcpy(out, io->data + io->pos, n);
  io->pos += n;
}

void png_write_mem(png_structp png, png_bytep data, size_t n) {
  auto* io = static_cast<PngIo*>(png_get_io_ptr(png));
  bool ok = true;
  try {
    io->out->insert(io->out->end(), data, data + n);
  } catch (...) {  // out of memory: an exception must not unwind through libpng's C frames
    ok = false;
  }
  if (!ok) png_error(png, "out of memory");
}

void png_flush_mem(png_structp) {}

struct PngHeader {
  png_uint_32 width = 0, height = 0;
  int bit_depth = 0, color_type = 0, interlace = 0, channels = 0;
  size_t rowbytes = 0;
};

int png_stage_header(png_structp png, png_infop info, PngHeader* h) {
  if (setjmp(png_jmpbuf(png))) return 1;
  png_read_info(png, info);
  png_get_IHDR(png, info, &h->width, &h->height, &h->bit_depth, &h->color_type, &h->interlace, nullptr, nullptr);
  return 0;
}

// Expands every colour type to 1..4 channels of 8 or 16 bits: palette -> RGB, low-bit grey -> 8 bits,
// tRNS (a palette's alphas or a grey/RGB colour key) -> an alpha channel.
int png_stage_transforms(png_structp png, png_infop info, PngHeader* h) {
  if (setjmp(png_jmpbuf(png))) return 1;
  if (h->color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  if (h->color_type == PNG_COLOR_TYPE_GRAY && h->bit_depth < 8) png_set_expand_gray_1_2_4_to_8(png);
  if (png_get_valid(png, info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(png);
  png_set_interlace_handling(png);  // png_read_image then runs the Adam7 passes
  png_read_update_info(png, info);
  h->channels = png_get_channels(png, info);
  h->bit_depth = png_get_bit_depth(png, info);
  h->rowbytes = png_get_rowbytes(png, info);
  return 0;
}

int png_stage_pixels(png_structp png, png_bytepp rows) {
  if (setjmp(png_jmpbuf(png))) return 1;
  png_read_image(png, rows);
  png_read_end(png, nullptr);  // up to IEND: a file cut after its pixels is still refused as truncated
  return 0;
}

struct PngReadGuard {
  png_structp png = nullptr;
  png_infop info = nullptr;
  ~PngReadGuard() { png_destroy_read_struct(&png, info ? &info : nullptr, nullptr); }
};

[[noreturn]] void png_failed(const std::string& what, const PngIo& io) {
  if (io.truncated)
    throw IOError(what + ": truncated PNG: the data ends after " + std::to_string(io.size) + " bytes");
  throw IOError(what + ": corrupt PNG: " + io.msg);
}

Image decode_png(const uint8_t* data, size_t size, const std::string& what) {
  PngIo io;
  io.data = data;
  io.size = size;
  PngReadGuard g;
  g.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &io, png_on_error, png_on_warning);
  if (!g.png) throw IOError(what + ": cannot initialise libpng");
  g.info = png_create_info_struct(g.png);
  if (!g.info) throw IOError(what + ": cannot initialise libpng");
  png_set_read_fn(g.png, &io, png_read_mem);
  // libpng's own size limit (10^6 per side) would fail as a corrupt file; ours, below, is a ValueError.
  png_set_user_limits(g.png, 0x7fffffff, 0x7fffffff);

  PngHeader h;
  if (png_stage_header(g.png, g.info, &h)) png_failed(what, io);
  check_size(what, "PNG", h.width, h.height);
  if (png_stage_transforms(g.png, g.info, &h)) png_failed(what, io);
  const auto w = static_cast<size_t>(h.width), ht = static_cast<size_t>(h.height);
  const auto c = static_cast<size_t>(h.channels);
  if (c < 1 || c > 4 || (h.bit_depth != 8 && h.bit_depth != 16) || h.rowbytes != w * c * (h.bit_depth / 8u))
    throw IOError(what + ": corrupt PNG: unexpected layout after expansion (" + std::to_string(c) + " channels, " +
                  std::to_string(h.bit_depth) + " bits)");
  std::vector<uint8_t> pixels(h.rowbytes * ht);
  std::vector<png_bytep> rows(ht);
  for (size_t y = 0; y < ht; ++y) rows[y] = pixels.data() + y * h.rowbytes;
  if (png_stage_pixels(g.png, rows.data())) png_failed(what, io);

  Image img;
  img.height = static_cast<int64_t>(ht);
  img.width = static_cast<int64_t>(w);
  img.channels = static_cast<int64_t>(c);
  const size_t n = w * ht * c;
  img.data.resize(n);
  if (h.bit_depth == 8) {
    for (size_t i = 0; i < n; ++i) img.data[i] = static_cast<float>(pixels[i]) / 255.0f;
  } else {  // PNG stores 16-bit samples big-endian
    for (size_t i = 0; i < n; ++i)
      img.data[i] = static_cast<float>((pixels[2 * i] << 8) | pixels[2 * i + 1]) / 65535.0f;
  }
  return img;
}

// ---------------------------------------------------------------- JPEG (libjpeg-turbo)

struct JpegErr {
  jpeg_error_mgr mgr;  // first member: libjpeg hands the callbacks a pointer to it
  std::jmp_buf jump;
  bool truncated;
  char msg[JMSG_LENGTH_MAX];
};

[[noreturn]] void jpeg_on_error(j_common_ptr cinfo) {
  auto* e = reinterpret_cast<JpegErr*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, e->msg);
  std::longjmp(e->jump, 1);
}

// libjpeg only warns where the data ends early (jpeg_mem_src then feeds a fake end-of-image marker and the
// rest of the picture comes out grey) or the entropy-coded data is damaged; a silently grey half page
// would poison training data, so those warnings fail. Harmless ones (extra bytes between markers, an
// unknown JFIF revision) pass.
void jpeg_on_message(j_common_ptr cinfo, int level) {
  if (level >= 0) return;  // trace output
  auto* e = reinterpret_cast<JpegErr*>(cinfo->err);
  switch (cinfo->err->msg_code) {
    case JWRN_JPEG_EOF:
      e->truncated = true;
      jpeg_on_error(cinfo);
    case JWRN_HIT_MARKER:
    case JWRN_HUFF_BAD_CODE:
    case JWRN_ARITH_BAD_CODE:
    case JWRN_MUST_RESYNC:
    case JWRN_NOT_SEQUENTIAL:
    case JWRN_BOGUS_PROGRESSION:
      jpeg_on_error(cinfo);
    default:
      break;
  }
}

int jpeg_stage_create(jpeg_decompress_struct* c, JpegErr* e) {
  if (setjmp(e->jump)) return 1;
  jpeg_create_decompress(c);
  return 0;
}

int jpeg_stage_header(jpeg_decompress_struct* c, JpegErr* e, const uint8_t* data, size_t size) {
  if (setjmp(e->jump)) return 1;
  jpeg_mem_src(c, data, static_cast<unsigned long>(size));
  jpeg_read_header(c, TRUE);
  return 0;
}

int jpeg_stage_start(jpeg_decompress_struct* c, JpegErr* e) {
  if (setjmp(e->jump)) return 1;
  jpeg_start_decompress(c);
  return 0;
}

int jpeg_stage_pixels(jpeg_decompress_struct* c, JpegErr* e, uint8_t* out, size_t stride) {
  if (setjmp(e->jump)) return 1;
  while (c->output_scanline < c->output_height) {
    JSAMPROW row = out + static_cast<size_t>(c->output_scanline) * stride;
    jpeg_read_scanlines(c, &row, 1);
  }
  jpeg_finish_decompress(c);  // up to EOI, so a stream cut after its last scanline is refused too
  return 0;
}

struct JpegGuard {
  jpeg_decompress_struct* c;
  ~JpegGuard() { jpeg_destroy_decompress(c); }
};

[[noreturn]] void jpeg_failed(const std::string& what, const JpegErr& e) {
  if (e.truncated) throw IOError(what + ": truncated JPEG: " + e.msg);
  throw IOError(what + ": corrupt JPEG: " + e.msg);
}

Image decode_jpeg(const uint8_t* data, size_t size, const std::string& what) {
  JpegErr err{};
  jpeg_decompress_struct c{};
  c.err = jpeg_std_error(&err.mgr);
  err.mgr.error_exit = jpeg_on_error;
  err.mgr.emit_message = jpeg_on_message;
  if (jpeg_stage_create(&c, &err)) jpeg_failed(what, err);
  JpegGuard guard{&c};
  if (jpeg_stage_header(&c, &err, data, size)) jpeg_failed(what, err);
  check_size(what, "JPEG", c.image_width, c.image_height);
  if (c.jpeg_color_space == JCS_GRAYSCALE) {
    c.out_color_space = JCS_GRAYSCALE;
  } else if (c.jpeg_color_space == JCS_YCbCr || c.jpeg_color_space == JCS_RGB) {
    c.out_color_space = JCS_RGB;
  } else {
    const char* name = c.jpeg_color_space == JCS_CMYK ? "CMYK" : c.jpeg_color_space == JCS_YCCK ? "YCCK" : "unknown";
    throw IOError(what + ": unsupported JPEG colour space " + name + " (" + std::to_string(c.num_components) +
                  " components); expected greyscale or RGB/YCbCr");
  }
  if (jpeg_stage_start(&c, &err)) jpeg_failed(what, err);
  const auto w = static_cast<size_t>(c.output_width), ht = static_cast<size_t>(c.output_height);
  const auto ch = static_cast<size_t>(c.output_components);
  if (ch != 1 && ch != 3) throw IOError(what + ": corrupt JPEG: " + std::to_string(ch) + " output components");
  std::vector<uint8_t> pixels(w * ht * ch);
  if (jpeg_stage_pixels(&c, &err, pixels.data(), w * ch)) jpeg_failed(what, err);

  Image img;
  img.height = static_cast<int64_t>(ht);
  img.width = static_cast<int64_t>(w);
  img.channels = static_cast<int64_t>(ch);
  img.data.resize(pixels.size());
  for (size_t i = 0; i < pixels.size(); ++i) img.data[i] = static_cast<float>(pixels[i]) / 255.0f;
  return img;
}

// ---------------------------------------------------------------- files

template <size_t N>
bool starts_with(const uint8_t* data, size_t size, const std::array<uint8_t, N>& magic) {
  return size >= N && std::memcmp(data, magic.data(), N) == 0;
}

// A strict prefix of a magic number: the data was cut inside the signature.
template <size_t N>
bool is_cut_magic(const uint8_t* data, size_t size, const std::array<uint8_t, N>& magic) {
  return size < N && std::memcmp(data, magic.data(), size) == 0;
}

Image decode_any(const uint8_t* data, size_t size, const std::string& what) {
  if (size == 0) throw IOError(what + ": empty (0 bytes), not an image");
  if (starts_with(data, size, kPngMagic)) return decode_png(data, size, what);
  if (starts_with(data, size, kJpegMagic)) return decode_jpeg(data, size, what);
  if (is_cut_magic(data, size, kPngMagic) || is_cut_magic(data, size, kJpegMagic))
    throw IOError(what + ": truncated image: " + std::to_string(size) + " bytes, cut inside the signature");
  std::string head;
  for (size_t i = 0; i < std::min<size_t>(size, 8); ++i) {
    char b[4];
    std::snprintf(b, sizeof b, "%02x", data[i]);
    if (i) head += ' ';
    head += b;
  }
  throw IOError(what + ": not a PNG or JPEG image (it starts with bytes " + head + ")");
}

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};

std::vector<uint8_t> read_file(const std::string& path) {
  std::unique_ptr<std::FILE, FileCloser> f(std::fopen(path.c_str(), "rb"));
  if (!f) {
    const int err = errno;
    if (err == ENOENT) throw FileNotFound("read_image: no such file: " + path);
    throw IOError("read_image: cannot open " + path + ": " + std::strerror(err));
  }
  struct stat st {};
  if (::fstat(::fileno(f.get()), &st) != 0)
    throw IOError("read_image: cannot read " + path + ": " + std::strerror(errno));
  if (S_ISDIR(st.st_mode)) throw IOError("read_image: " + path + " is a directory, not an image file");
  std::vector<uint8_t> bytes;
  if (S_ISREG(st.st_mode)) bytes.reserve(static_cast<size_t>(st.st_size));
  std::array<uint8_t, 1 << 16> buf;
  for (;;) {
    const size_t got = std::fread(buf.data(), 1, buf.size(), f.get());
    bytes.insert(bytes.end(), buf.data(), buf.data() + got);
    if (got < buf.size()) break;
  }
  if (std::ferror(f.get())) throw IOError("read_image: error while reading " + path + ": " + std::strerror(errno));
  return bytes;
}

}  // namespace

Image read_image(const std::string& path) {
  const std::vector<uint8_t> bytes = read_file(path);
  return decode_any(bytes.data(), bytes.size(), "read_image: " + path);
}

Image decode_image(const uint8_t* data, size_t size, const std::string& what) {
  if (!data && size > 0) throw ValueError("decode_image: " + what + ": null data of " + std::to_string(size) + " bytes");
  return decode_any(data, size, "decode_image: " + what);
}

namespace {

void check_layout(const char* op, const Image& img) {
  if (img.channels < 1 || img.channels > 4)
    throw ValueError(std::string(op) + ": expected 1..4 channels, got " + std::to_string(img.channels));
  if (img.height < 0 || img.width < 0 ||
      img.data.size() != static_cast<size_t>(img.height) * static_cast<size_t>(img.width) * static_cast<size_t>(img.channels))
    throw ValueError(std::string(op) + ": data holds " + std::to_string(img.data.size()) + " values, expected " +
                     shape_str({img.height, img.width, img.channels}));
}

}  // namespace

Image to_grey(const Image& image) {
  check_layout("to_grey", image);
  Image out;
  out.height = image.height;
  out.width = image.width;
  out.channels = 1;
  const auto c = static_cast<size_t>(image.channels);
  const size_t n = static_cast<size_t>(image.height) * static_cast<size_t>(image.width);
  out.data.resize(n);
  const float* in = image.data.data();
  for (size_t i = 0; i < n; ++i) {
    const float* p = in + i * c;
    const float luma = c >= 3 ? 0.299f * p[0] + 0.587f * p[1] + 0.114f * p[2] : p[0];
    const bool has_alpha = c == 2 || c == 4;
    const float a = has_alpha ? p[c - 1] : 1.0f;
    // Compositing each channel over white and then taking luma equals this, as luma weights sum to 1.
    out.data[i] = has_alpha ? luma * a + (1.0f - a) : luma;
  }
  return out;
}

namespace {

int png_stage_write(png_structp png, png_infop info, const PngHeader* h, png_bytepp rows) {
  if (setjmp(png_jmpbuf(png))) return 1;
  png_set_IHDR(png, info, h->width, h->height, h->bit_depth, h->color_type, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  png_write_image(png, rows);
  png_write_end(png, nullptr);
  return 0;
}

struct PngWriteGuard {
  png_structp png = nullptr;
  png_infop info = nullptr;
  ~PngWriteGuard() { png_destroy_write_struct(&png, info ? &info : nullptr); }
};

}  // namespace

void write_png(const std::string& path, const Image& image, int bit_depth) {
  const std::string op = "write_png: " + path;
  check_layout(op.c_str(), image);
  if (bit_depth != 8 && bit_depth != 16)
    throw ValueError(op + ": bit_depth must be 8 or 16, got " + std::to_string(bit_depth));
  if (image.height == 0 || image.width == 0)
    throw ValueError(op + ": empty image (" + dims(static_cast<uint64_t>(image.width), static_cast<uint64_t>(image.height)) +
                     " pixels)");
  check_size(op, "PNG", static_cast<uint64_t>(image.width), static_cast<uint64_t>(image.height));
  const size_t n = image.data.size();
  for (size_t i = 0; i < n; ++i) {
    const float v = image.data[i];
    if (!(v >= 0.0f && v <= 1.0f))  // NaN fails too
      throw ValueError(op + ": sample " + std::to_string(i) + " is " + std::to_string(v) + ", outside [0, 1]");
  }
  const auto w = static_cast<size_t>(image.width), ht = static_cast<size_t>(image.height);
  const auto c = static_cast<size_t>(image.channels);
  const size_t bytes_per = static_cast<size_t>(bit_depth / 8);
  std::vector<uint8_t> pixels(n * bytes_per);
  if (bit_depth == 8) {
    for (size_t i = 0; i < n; ++i) pixels[i] = static_cast<uint8_t>(std::lround(image.data[i] * 255.0f));
  } else {
    for (size_t i = 0; i < n; ++i) {
      const auto v = static_cast<uint16_t>(std::lround(static_cast<double>(image.data[i]) * 65535.0));
      pixels[2 * i] = static_cast<uint8_t>(v >> 8);
      pixels[2 * i + 1] = static_cast<uint8_t>(v & 0xff);
    }
  }
  std::vector<png_bytep> rows(ht);
  for (size_t y = 0; y < ht; ++y) rows[y] = pixels.data() + y * w * c * bytes_per;

  static constexpr int kColorTypes[4] = {PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA, PNG_COLOR_TYPE_RGB,
                                         PNG_COLOR_TYPE_RGB_ALPHA};
  PngHeader h;
  h.width = static_cast<png_uint_32>(w);
  h.height = static_cast<png_uint_32>(ht);
  h.bit_depth = bit_depth;
  h.color_type = kColorTypes[c - 1];

  std::vector<uint8_t> encoded;
  PngIo io;
  io.out = &encoded;
  PngWriteGuard g;
  g.png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &io, png_on_error, png_on_warning);
  if (!g.png) throw IOError(op + ": cannot initialise libpng");
  g.info = png_create_info_struct(g.png);
  if (!g.info) throw IOError(op + ": cannot initialise libpng");
  png_set_write_fn(g.png, &io, png_write_mem, png_flush_mem);
  if (png_stage_write(g.png, g.info, &h, rows.data())) throw IOError(op + ": libpng: " + io.msg);
  detail::write_bytes_atomically(path, "write_png", encoded.data(), encoded.size());
}

}  // namespace pianograd
