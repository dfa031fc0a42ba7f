// Model configs from JSON (the checkpoint metadata every load reads): the first byte picks the config,
// the rest is the text. Either it parses into a config that validates and survives to_json -> from_json
// unchanged, or it raises ValueError.
#include <string>

#include "fuzz_common.h"

#include "autodiff/errors.h"
#include "models/motion_gru.h"
#include "models/motion_lm.h"
#include "models/transcriber.h"

using namespace pianograd;

namespace {

template <class C>
void check(const std::string& text) {
  C c;
  try {
    c = C::from_json(text);
  } catch (const Error&) {
    return;
  }
  try {
    c.validate();
  } catch (const Error&) {
    fuzz::violated("from_json returned a config that does not validate");
  }
  if (C::from_json(c.to_json()).to_json() != c.to_json()) fuzz::violated("to_json -> from_json changed a config");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 3) {
    case 0: check<MotionLMConfig>(text); break;
    case 1: check<MotionGRUConfig>(text); break;
    default: check<TranscriberConfig>(text); break;
  }
  return 0;
}
