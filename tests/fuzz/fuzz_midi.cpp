// Standard MIDI Files (synth/midi.h): any bytes either parse into a valid performance or raise our
// MidiError/ValueError; what parses must be written back and read again (we can save what we load).
#include "fuzz_common.h"

#include "autodiff/errors.h"
#include "synth/midi.h"

using namespace pianograd;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Performance p;
  try {
    p = parse_midi(data, size, "fuzz");
  } catch (const Error&) {
    return 0;
  }
  try {
    p.validate();
  } catch (const Error&) {
    fuzz::violated("parse_midi returned an invalid performance");
  }
  const std::vector<uint8_t> again = encode_midi(p);
  const Performance q = parse_midi(again, "re-encoded");
  if (q.notes.size() > p.notes.size()) fuzz::violated("re-encoding added notes");
  return 0;
}
