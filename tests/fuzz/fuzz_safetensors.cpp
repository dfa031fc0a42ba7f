// Safetensors checkpoints (autodiff/checkpoint.h): any bytes either load as tensors whose element
// counts match their shapes, or raise IOError naming the problem.
#include "fuzz_common.h"

#include "autodiff/checkpoint.h"
#include "autodiff/errors.h"

using namespace pianograd;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  SafetensorsFile f;
  try {
    f = load_safetensors(fuzz::scratch_file(data, size, ".safetensors"));
  } catch (const Error&) {
    return 0;
  }
  for (const auto& [name, t] : f.tensors) {
    int64_t n = 1;
    for (int64_t d : t.shape()) n *= d;
    if (name.empty() || n != t.numel()) fuzz::violated("load_safetensors returned an inconsistent tensor");
    if (t.numel() > 0 && t.raw_data() == nullptr) fuzz::violated("load_safetensors returned a tensor without data");
  }
  return 0;
}
