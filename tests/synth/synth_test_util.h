// Helpers shared by the synth tests: unique temporary paths that clean themselves up.
#pragma once
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <string>

namespace pianograd::test {

// A unique path under the system temp directory, removed (if it exists) when this object dies.
class TempPath {
 public:
  explicit TempPath(const std::string& suffix) {
    static std::atomic<int> counter{0};
    path_ = std::filesystem::temp_directory_path() /
            ("pianograd_synth_" + std::to_string(::getpid()) + "_" + std::to_string(counter++) + suffix);
  }
  ~TempPath() {
    std::error_code ec;
    std::filesystem::remove(path_, ec);
  }
  TempPath(const TempPath&) = delete;
  TempPath& operator=(const TempPath&) = delete;
  std::string str() const { return path_.string(); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace pianograd::test
