// Atomic file replacement (DESIGN.md §6: outputs are written temp + rename), so a crash or a full disk
// never leaves a half-written MIDI/WAV where a good file used to be: readers see the old file or the
// new one, nothing in between.
#pragma once
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

namespace pianograd::detail {

// A unique temporary path in the same directory as `target` (rename is atomic only within one file
// system), named "<target>.tmp-<pid>-<counter>".
std::filesystem::path temp_sibling(const std::filesystem::path& target);

// Calls `write(tmp)` to produce the file at a temporary sibling path, then renames it over `target`.
// If `write` throws or the rename fails, the temporary is removed and the target left untouched;
// rename failures throw IOError naming `what` and the target.
void write_atomically(const std::filesystem::path& target, const char* what,
                      const std::function<void(const std::filesystem::path& tmp)>& write);

// Writes `bytes` to `target` atomically (flushed and closed before the rename).
void write_bytes_atomically(const std::filesystem::path& target, const char* what, const uint8_t* bytes,
                            size_t size);

}  // namespace pianograd::detail
