// Integer fields of the model configs' JSON (MotionLMConfig, MotionGRUConfig, TranscriberConfig
// from_json). nlohmann parses an integer past 64 bits as a double, and get<int64_t>() then converts it
// with a cast whose result is undefined (UBSan; found by tests/fuzz/fuzz_config_json.cpp). These read
// only true integers in range and throw std::range_error otherwise; the callers turn any such
// non-pianograd exception into a ValueError naming the key.
#pragma once
#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <vector>

namespace pianograd::json_fields {

inline int64_t integer(const nlohmann::json& v) {
  if (!v.is_number_integer()) throw std::range_error("expected an integer, got " + v.dump());
  if (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
    throw std::range_error("integer " + v.dump() + " is beyond int64");
  return v.get<int64_t>();
}

inline uint64_t unsigned_integer(const nlohmann::json& v) {
  if (!v.is_number_unsigned()) throw std::range_error("expected a non-negative integer, got " + v.dump());
  return v.get<uint64_t>();
}

inline std::vector<int64_t> integers(const nlohmann::json& v) {
  if (!v.is_array()) throw std::range_error("expected an array of integers, got " + v.dump());
  std::vector<int64_t> out;
  for (const auto& x : v) out.push_back(integer(x));
  return out;
}

}  // namespace pianograd::json_fields
