// Checkpoints in the safetensors format (https://github.com/huggingface/safetensors), readable by
// NumPy/PyTorch (`safetensors.torch.load_file`):
//
//   [8 bytes: N, little-endian u64][N bytes: UTF-8 JSON header, space-padded][raw little-endian data]
//   header = {"name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, ...,
//             "__metadata__": {"key": "string value"}}
//
// Offsets are relative to the start of the data section. save_safetensors adds a CRC-32 of every
// tensor's name, dtype, shape and data under the metadata key kChecksumKey; load_safetensors checks it
// when present (so a tensor relabelled [3, 4] -> [4, 3] or F32 -> I32 is refused) and hides the key.
// Files are written atomically (a temp file
// in the same directory, fsync, rename) so a crash never leaves a half-written checkpoint in place.
#pragma once
#include <map>
#include <string>

#include "autodiff/tensor.h"

namespace pianograd {

inline constexpr const char* kChecksumKey = "pianograd.crc32";

struct SafetensorsFile {
  std::map<std::string, Tensor> tensors;
  std::map<std::string, std::string> metadata;
};

// Tensors of dtype f32/f64/i32/i64 ("F32", "F64", "I32", "I64"), CPU or not (copied to the host).
// Throws IOError naming the file when it cannot be written, ValueError for an empty or "__metadata__"
// tensor name or metadata that uses kChecksumKey.
void save_safetensors(const std::string& path, const std::map<std::string, Tensor>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

// Validates the whole file before trusting any of it: FileNotFound when absent; IOError naming the
// file and the problem for a truncated file, a header length beyond the file, malformed JSON, a
// missing/ill-typed field, an unsupported dtype, a shape whose byte size disagrees with its offsets,
// offsets out of range, overlapping, or leaving holes in the data section, or tensors that do not
// match the file's checksum.
SafetensorsFile load_safetensors(const std::string& path);

}  // namespace pianograd
