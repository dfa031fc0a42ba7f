// Score images (models/image_io.h: PNG of every colour type and depth, JPEG): any bytes either decode
// into H x W x C samples in [0, 1] within the size bounds, or raise our typed errors.
#include <cmath>

#include "fuzz_common.h"

#include "autodiff/errors.h"
#include "models/image_io.h"

using namespace pianograd;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Image im;
  try {
    im = decode_image(data, size, "fuzz");
  } catch (const Error&) {
    return 0;
  }
  if (im.height < 1 || im.width < 1 || im.height > kMaxImageSide || im.width > kMaxImageSide ||
      im.height * im.width > kMaxImagePixels)
    fuzz::violated("decode_image returned a size out of bounds");
  if (im.channels < 1 || im.channels > 4) fuzz::violated("decode_image returned a bad channel count");
  if (im.data.size() != static_cast<size_t>(im.height * im.width * im.channels)) fuzz::violated("decode_image: data size");
  for (float v : im.data)
    if (!(v >= 0.0f && v <= 1.0f)) fuzz::violated("decode_image returned a sample outside [0, 1]");
  if (to_grey(im).data.size() != static_cast<size_t>(im.height * im.width)) fuzz::violated("to_grey: data size");
  return 0;
}
