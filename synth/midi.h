// Standard MIDI Files (SMF) <-> Performance (DESIGN.md §5 "M sources").
//
// Reader: formats 0 and 1 (format 2, independent sequences, has no single timeline and is refused);
// division in ticks per quarter note or SMPTE frames x ticks per frame; running status; the tempo map
// (FF 51 from any track, merged) converting ticks to seconds; all tracks merged; note-on with velocity 0
// as note-off; overlapping notes on one key paired first-in first-out per (track, channel, key); notes
// still open at the end of their track closed there; CC64 (sustain) to pedal points value = cc/127;
// sysex, meta and all other channel messages skipped. Every read is bounds-checked against the chunk and
// the file, so a truncated or corrupt file raises MidiError naming the file and the byte offset — never
// a crash, an unbounded allocation or a hang (variable-length quantities are capped at 4 bytes).
//
// Writer: format 1 (a tempo track + one note track) or format 0, `ticks_per_quarter` (480 by default)
// at 120 bpm, so one tick is 1/960 s: seconds -> ticks is round(t * 960) and reading back recovers every
// time within half a tick (0.52 ms), keys and velocities exactly, and pedal values k/127 exactly.
// Written atomically (temp file + rename).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "autodiff/errors.h"
#include "synth/performance.h"

namespace pianograd {

// A malformed or unreadable MIDI file. Derives from IOError (Python: OSError).
struct MidiError : IOError {
  using IOError::IOError;
};

// The latest time a read performance may reach: a day. No performance lasts longer; a file that says
// otherwise has corrupt delta times or tempos (and the writer's default resolution reaches ~77 h, so
// whatever is read can be written back).
inline constexpr double kMaxMidiSeconds = 24.0 * 3600.0;

struct MidiReadOptions {
  // General MIDI reserves channel 10 (index 9) for percussion; its notes are drum hits, not piano keys.
  bool include_drum_channel = false;
  // Notes outside the piano's 21..108 cannot be played on it; they are dropped unless this is set, in
  // which case reading fails with MidiError naming the note.
  bool error_on_out_of_range_keys = false;
};

struct MidiWriteOptions {
  int format = 1;               // 0 (one track) or 1 (tempo track + note track)
  int ticks_per_quarter = 480;  // 1..32767; at 120 bpm one tick = 1 / (2 * ticks_per_quarter) s
  int channel = 0;              // 0..15, the channel of every note and CC64 event
  int program = -1;             // 0..127: a program change at tick 0 (-1: none; GM players default to 0, piano)
};

// Reads a Standard MIDI File. Throws FileNotFound for a missing file and MidiError for a malformed one
// or one whose events reach past kMaxMidiSeconds.
// The returned performance is sorted and valid. Notes that last zero ticks are dropped (inaudible, and
// a Performance requires offset > onset).
Performance read_midi(const std::string& path, const MidiReadOptions& options = {});

// The same from bytes in memory; `name` is used in error messages.
Performance parse_midi(const uint8_t* data, size_t size, const std::string& name = "<memory>",
                       const MidiReadOptions& options = {});
inline Performance parse_midi(const std::vector<uint8_t>& bytes, const std::string& name = "<memory>",
                              const MidiReadOptions& options = {}) {
  return parse_midi(bytes.data(), bytes.size(), name, options);
}

// Encodes a (validated) performance as SMF bytes. A note whose rounded offset tick equals its onset tick
// is lengthened to one tick so that it survives the round trip. Pedal values are written as
// round(value * 127). Events at the same tick are ordered CC64, then note-offs, then note-ons: a pedal
// change at a tick applies to the notes released at that tick, as Performance::pedal_at reads it.
std::vector<uint8_t> encode_midi(const Performance& perf, const MidiWriteOptions& options = {});

// Writes encode_midi(perf, options) to `path` atomically. Throws ValueError for an invalid performance or
// options, IOError when the file cannot be written.
void write_midi(const std::string& path, const Performance& perf, const MidiWriteOptions& options = {});

}  // namespace pianograd
