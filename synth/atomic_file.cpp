#include "synth/atomic_file.h"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <system_error>

#include "autodiff/errors.h"

namespace pianograd::detail {

std::filesystem::path temp_sibling(const std::filesystem::path& target) {
  static std::atomic<uint64_t> counter{0};
  std::filesystem::path p = target;
  p += ".tmp-" + std::to_string(static_cast<long>(::getpid())) + "-" + std::to_string(counter++);
  return p;
}

void write_atomically(const std::filesystem::path& target, const char* what,
                      const std::function<void(const std::filesystem::path& tmp)>& write) {
  const std::filesystem::path tmp = temp_sibling(target);
  try {
    write(tmp);
    std::error_code ec;
    std::filesystem::rename(tmp, target, ec);
    if (ec) throw IOError(std::string(what) + ": cannot move the written file onto " + target.string() + ": " +
                          ec.message());
  } catch (...) {
    std::error_code ignored;
    std::filesystem::remove(tmp, ignored);
    throw;
  }
}

void write_bytes_atomically(const std::filesystem::path& target, const char* what, const uint8_t* bytes,
                            size_t size) {
  write_atomically(target, what, [&](const std::filesystem::path& tmp) {
    std::FILE* f = std::fopen(tmp.c_str(), "wb");
    if (!f) throw IOError(std::string(what) + ": cannot write " + target.string() + ": " + std::strerror(errno));
    // fsync before the rename: otherwise a power cut can leave the renamed file empty.
    bool ok = std::fwrite(bytes, 1, size, f) == size && std::fflush(f) == 0 && ::fsync(fileno(f)) == 0;
    int err = ok ? 0 : errno;
    if (std::fclose(f) != 0 && ok) {
      ok = false;
      err = errno;
    }
    if (!ok)
      throw IOError(std::string(what) + ": cannot write " + target.string() + ": " + std::strerror(err));
  });
}

}  // namespace pianograd::detail
