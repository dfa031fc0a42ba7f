// Shared by the fuzz targets (tests/fuzz/README.md): the entry point every target defines, and a scratch
// file for the readers that take a path (libsndfile and the safetensors reader open files, as users call
// them). A reader may refuse its input only with one of our typed errors (autodiff/errors.h): anything
// else that escapes — another exception, a crash, a sanitizer report, a hang — is a finding.
#pragma once
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace pianograd::fuzz {

// The input written to a per-process file (rewritten on every call; the target reads it back by path).
inline const std::string& scratch_file(const uint8_t* data, size_t size, const char* ext) {
  static const std::string path = [ext] {
    const char* dir = std::getenv("TMPDIR");
    return std::string(dir && *dir ? dir : "/tmp") + "/pianograd_fuzz_" + std::to_string(getpid()) + ext;
  }();
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) std::abort();  // the harness itself is broken, not the reader
  if (size && std::fwrite(data, 1, size, f) != size) std::abort();
  std::fclose(f);
  return path;
}

// A property of accepted input that does not hold: a finding, reported as a crash with its reason.
[[noreturn]] inline void violated(const char* what) {
  std::fprintf(stderr, "fuzz property violated: %s\n", what);
  std::abort();
}

}  // namespace pianograd::fuzz
