// Image files for optical music recognition (DESIGN.md §1 "V": score images in, M out): PNG through libpng,
// JPEG through libjpeg-turbo, per DESIGN.md §3 "libraries before hand-rolled code".
//
// Errors, all naming the file (or `what` for in-memory data) and the problem:
//  * FileNotFound: the path does not exist.
//  * IOError: anything wrong with the file or its bytes — a directory, an unreadable file, an empty file,
//    bytes that are neither PNG nor JPEG ("not a PNG or JPEG image"), a truncated stream ("truncated"), data
//    the library rejects ("corrupt": bad CRC, bad Huffman code, a header with width or height 0), a JPEG
//    colour space other than grey/RGB/YCbCr (CMYK, YCCK). Python sees OSError, like read_audio's and
//    read_midi's junk files and like Pillow's UnidentifiedImageError.
//  * ValueError: an image larger than kMaxImageSide pixels per side or kMaxImagePixels in all — a request
//    we refuse rather than a broken file, decided from the header before any pixel buffer is allocated.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace pianograd {

struct Image {
  int64_t height = 0, width = 0, channels = 0;  // channels: 1 grey, 2 grey+alpha, 3 RGB, 4 RGBA
  std::vector<float> data;                      // [H, W, C] row-major, values in [0, 1]
};

// A score page at 600 dpi is about 5000 x 7000 pixels; these bounds leave room for that and refuse
// decompression bombs (a 100-byte PNG can claim 10^6 x 10^6 pixels).
inline constexpr int64_t kMaxImageSide = 16384;
inline constexpr int64_t kMaxImagePixels = 100'000'000;

// Reads a PNG or JPEG file; the format comes from the leading magic bytes, not the extension.
// PNG: every colour type (grey, grey+alpha, RGB, RGBA, palette — tRNS transparency becomes an alpha
// channel), bit depths 1..16, interlaced or not; samples are the stored values scaled to [0, 1] (no gamma
// correction, as Pillow). JPEG: grey (1 channel) or colour (3 channels, RGB).
Image read_image(const std::string& path);

// The same from memory; `what` names the data in error messages.
Image decode_image(const uint8_t* data, size_t size, const std::string& what);

// One channel: alpha composited over white paper (a transparent pixel reads as blank page), then ITU-R
// BT.601 luma 0.299 R + 0.587 G + 0.114 B. Throws ValueError for channels outside 1..4 or a data size
// that is not H*W*C.
Image to_grey(const Image& image);

// Writes `image` as a PNG (colour type from its channel count), bit_depth 8 or 16, atomically (temp +
// rename). Throws ValueError for an empty or oversized image, channels outside 1..4, a data size that is
// not H*W*C, samples outside [0, 1] or NaN, or another bit depth; IOError when the file cannot be written.
void write_png(const std::string& path, const Image& image, int bit_depth = 8);

}  // namespace pianograd
