// Performance tokens (models/motion_tokens.h) as a sampler may emit them: any sequence of ids (two
// bytes each, some past the vocabulary) either decodes into a valid performance or raises ValueError
// for an id outside the vocabulary; a decoded performance is on the grid, so encoding it and decoding
// again gives it back; the piano state (models/motion_state.h) reads any sequence.
#include <vector>

#include "fuzz_common.h"

#include "autodiff/errors.h"
#include "models/motion_state.h"
#include "models/motion_tokens.h"

using namespace pianograd;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const MotionTokenizer tok;
  std::vector<int32_t> t;
  for (size_t i = 0; i + 1 < size; i += 2) t.push_back(static_cast<int32_t>((data[i] | (data[i + 1] << 8)) % (tok.vocab_size() + 8)));
  bool in_vocab = true;
  for (int32_t v : t) in_vocab = in_vocab && v < tok.vocab_size();
  Performance p;
  try {
    p = tok.decode(t);
  } catch (const ValueError&) {
    if (in_vocab) fuzz::violated("decode refused tokens of its own vocabulary");
    return 0;
  }
  if (!in_vocab) fuzz::violated("decode accepted a token outside the vocabulary");
  try {
    p.validate();
  } catch (const Error&) {
    fuzz::violated("decode returned an invalid performance");
  }
  if (tok.decode(tok.encode(p)) != p) fuzz::violated("decode(encode(decode(t))) != decode(t)");
  MotionState s;
  for (int32_t v : t) advance(tok, s, v);
  return 0;
}
