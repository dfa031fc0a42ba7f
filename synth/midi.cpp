#include "synth/midi.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <tuple>

#include "synth/atomic_file.h"

namespace pianograd {

namespace {

std::string hex(unsigned v) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "0x%02X", v & 0xFFu);
  return buf;
}

// A note as found in a track, in ticks; paired later with the merged tempo map.
struct TickNote {
  int64_t on, off;
  int key, velocity;
};
struct TickValue {
  int64_t tick;
  uint32_t value;
};

// Bounds-checked big-endian reader over the whole file. Every accessor takes the limit it may not cross
// (the end of the current chunk), so corrupt lengths can never read past the buffer.
class SmfParser {
 public:
  SmfParser(const uint8_t* data, size_t size, const std::string& name, const MidiReadOptions& opt)
      : d_(data), n_(size), name_(name), opt_(opt) {}

  Performance parse();

 private:
  [[noreturn]] void fail(size_t off, const std::string& msg) const {
    throw MidiError("read_midi: " + name_ + ": byte " + std::to_string(off) + ": " + msg);
  }
  uint32_t be(size_t off, int bytes) const {  // caller has checked off + bytes <= n_
    uint32_t v = 0;
    for (int i = 0; i < bytes; ++i) v = (v << 8) | d_[off + i];
    return v;
  }
  // Variable-length quantity: 7 bits per byte, high bit = "more follows"; at most 4 bytes (28 bits).
  uint32_t vlq(size_t& p, size_t end) const {
    const size_t start = p;
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      if (p >= end) fail(start, "truncated variable-length quantity at the end of the track");
      const uint8_t b = d_[p++];
      v = (v << 7) | (b & 0x7Fu);
      if (!(b & 0x80u)) return v;
    }
    fail(start, "variable-length quantity longer than 4 bytes");
  }
  void parse_track(size_t begin, size_t end);
  double tick_seconds(int64_t tick) const;
  double within_a_day(int64_t tick, const char* what) const;  // tick_seconds, or MidiError past kMaxMidiSeconds

  const uint8_t* d_;
  size_t n_;
  const std::string& name_;
  const MidiReadOptions& opt_;
  int tpq_ = 0;                 // ticks per quarter note (0 when SMPTE)
  double smpte_tick_s_ = 0.0;   // seconds per tick (SMPTE division only)
  std::vector<TickNote> notes_;
  std::vector<TickValue> pedal_;  // CC64 value 0..127
  std::vector<TickValue> tempo_;  // microseconds per quarter note
  std::vector<double> tempo_start_s_;  // seconds at each tempo_ change (after merging)
};

Performance SmfParser::parse() {
  if (n_ < 14 || std::memcmp(d_, "MThd", 4) != 0)
    fail(0, "not a Standard MIDI File (expected the 'MThd' header chunk)");
  const uint32_t hlen = be(4, 4);
  if (hlen < 6) fail(4, "header chunk length " + std::to_string(hlen) + " < 6");
  if (hlen > n_ - 8)
    fail(4, "header chunk of " + std::to_string(hlen) + " bytes runs past the end of the file (" +
                std::to_string(n_) + " bytes)");
  const uint32_t format = be(8, 2), ntrks = be(10, 2), division = be(12, 2);
  if (format == 2) fail(8, "format 2 (independent sequences) is not supported; only formats 0 and 1");
  if (format > 2) fail(8, "unknown SMF format " + std::to_string(format));
  if (ntrks == 0) fail(10, "the header announces no tracks");
  if (format == 0 && ntrks != 1) fail(10, "format 0 requires exactly 1 track, header says " + std::to_string(ntrks));
  if (division & 0x8000u) {
    // SMPTE: high byte = -frames per second (24, 25, 29 = 29.97 drop-frame, 30), low byte = ticks/frame.
    const int fps = -static_cast<int>(static_cast<int8_t>(division >> 8));
    const int tpf = static_cast<int>(division & 0xFFu);
    if (fps != 24 && fps != 25 && fps != 29 && fps != 30)
      fail(12, "SMPTE division with " + std::to_string(fps) + " frames/s (expected 24, 25, 29 or 30)");
    if (tpf == 0) fail(12, "SMPTE division with 0 ticks per frame");
    const double frame_rate = fps == 29 ? 30000.0 / 1001.0 : fps;
    smpte_tick_s_ = 1.0 / (frame_rate * tpf);
  } else {
    if (division == 0) fail(12, "division of 0 ticks per quarter note");
    tpq_ = static_cast<int>(division);
  }

  size_t pos = 8 + hlen;
  uint32_t found = 0;
  while (found < ntrks) {  // bytes after the announced tracks are ignored, as the standard allows
    if (pos >= n_)
      fail(pos, "the header announces " + std::to_string(ntrks) + " tracks, the file ends after " +
                    std::to_string(found));
    if (n_ - pos < 8) fail(pos, "truncated chunk header (" + std::to_string(n_ - pos) + " bytes left)");
    const uint32_t len = be(pos + 4, 4);
    if (len > n_ - pos - 8)
      fail(pos + 4, "chunk of " + std::to_string(len) + " bytes runs past the end of the file (" +
                        std::to_string(n_ - pos - 8) + " bytes left)");
    if (std::memcmp(d_ + pos, "MTrk", 4) == 0) {
      parse_track(pos + 8, pos + 8 + len);
      ++found;
    }  // else: an alien chunk, which readers must skip
    pos += 8 + static_cast<size_t>(len);
  }

  // Merge the tempo map of all tracks (format 1 keeps it in track 0, but nothing forbids others). A
  // stable sort keeps file order among changes at one tick: the last one wins.
  std::stable_sort(tempo_.begin(), tempo_.end(), [](const TickValue& a, const TickValue& b) { return a.tick < b.tick; });
  if (tempo_.empty() || tempo_.front().tick != 0) tempo_.insert(tempo_.begin(), {0, 500000});  // 120 bpm default
  tempo_start_s_.assign(tempo_.size(), 0.0);
  for (size_t i = 1; tpq_ > 0 && i < tempo_.size(); ++i)  // SMPTE time ignores tempo
    tempo_start_s_[i] = tempo_start_s_[i - 1] + static_cast<double>(tempo_[i].tick - tempo_[i - 1].tick) *
                                                    tempo_[i - 1].value / (1e6 * tpq_);

  Performance perf;
  for (const TickNote& t : notes_) {
    if (t.key < kMinKey || t.key > kMaxKey) {
      if (opt_.error_on_out_of_range_keys)
        throw MidiError("read_midi: " + name_ + ": note with key " + std::to_string(t.key) + " at tick " +
                        std::to_string(t.on) + " is outside the piano's 21..108");
      continue;
    }
    if (t.off <= t.on) continue;  // zero-length: inaudible, and not a valid Note
    perf.notes.push_back({t.key, tick_seconds(t.on), within_a_day(t.off, "note-off"), t.velocity});
  }
  std::stable_sort(pedal_.begin(), pedal_.end(), [](const TickValue& a, const TickValue& b) { return a.tick < b.tick; });
  for (const TickValue& p : pedal_) perf.pedal.push_back({within_a_day(p.tick, "pedal event"), p.value / 127.0});
  perf.sort();
  return perf;
}

double SmfParser::within_a_day(int64_t tick, const char* what) const {
  const double t = tick_seconds(tick);
  if (!(t <= kMaxMidiSeconds))
    throw MidiError("read_midi: " + name_ + ": " + what + " at tick " + std::to_string(tick) + " falls at " +
                    std::to_string(t) + " s, past the " + std::to_string(static_cast<int>(kMaxMidiSeconds)) +
                    " s a performance may span (corrupt delta times or tempo?)");
  return t;
}

double SmfParser::tick_seconds(int64_t tick) const {
  if (tpq_ == 0) return static_cast<double>(tick) * smpte_tick_s_;
  auto it = std::upper_bound(tempo_.begin(), tempo_.end(), tick,
                             [](int64_t t, const TickValue& v) { return t < v.tick; });
  const size_t i = static_cast<size_t>(std::distance(tempo_.begin(), it)) - 1;  // tempo_[0].tick == 0
  return tempo_start_s_[i] + static_cast<double>(tick - tempo_[i].tick) * tempo_[i].value / (1e6 * tpq_);
}

void SmfParser::parse_track(size_t begin, size_t end) {
  // Open note-ons per (channel, key), oldest first: overlapping notes on one key pair FIFO.
  std::map<int, std::deque<std::pair<int64_t, int>>> open;
  int64_t tick = 0;
  uint8_t running = 0;  // running status; 0 = none
  size_t p = begin;
  auto close = [&](int ch_key, int64_t at) {
    auto it = open.find(ch_key);
    if (it == open.end() || it->second.empty()) return;  // a stray note-off: ignored
    const auto [on, vel] = it->second.front();
    it->second.pop_front();
    notes_.push_back({on, at, ch_key & 0x7F, vel});
  };
  while (p < end) {
    tick += vlq(p, end);
    if (p >= end) fail(p, "truncated event: delta time without a status byte");
    const size_t ev = p;
    uint8_t status = d_[p];
    if (status & 0x80u) {
      ++p;
    } else {
      if (running == 0) fail(p, "data byte " + hex(status) + " without a preceding status (running status)");
      status = running;
    }
    if (status < 0xF0) {  // channel message
      running = status;
      const int type = status & 0xF0, ch = status & 0x0F;
      const size_t len = (type == 0xC0 || type == 0xD0) ? 1 : 2;
      if (end - p < len) fail(ev, "truncated channel message " + hex(status));
      for (size_t i = 0; i < len; ++i)
        if (d_[p + i] & 0x80u) fail(p + i, "data byte " + hex(d_[p + i]) + " has its high bit set");
      const int a = d_[p], b = len > 1 ? d_[p + 1] : 0;
      p += len;
      if (ch == 9 && !opt_.include_drum_channel) continue;
      const int ch_key = (ch << 7) | a;
      if (type == 0x90 && b > 0) {
        open[ch_key].emplace_back(tick, b);
      } else if (type == 0x80 || type == 0x90) {  // note-off, or note-on with velocity 0
        close(ch_key, tick);
      } else if (type == 0xB0 && a == 64) {
        pedal_.push_back({tick, static_cast<uint32_t>(b)});
      } else if (type == 0xB0 && (a == 120 || a == 123)) {  // all sound / all notes off on this channel
        for (auto& [k, q] : open)
          while ((k >> 7) == ch && !q.empty()) close(k, tick);
      }
    } else if (status == 0xFF) {  // meta event: type, length, data. Cancels running status.
      running = 0;
      if (p >= end) fail(ev, "truncated meta event");
      const uint8_t type = d_[p++];
      const uint32_t len = vlq(p, end);
      if (len > end - p) fail(ev, "meta event " + hex(type) + " of " + std::to_string(len) + " bytes runs past the end of the track");
      if (type == 0x51) {
        if (len != 3) fail(ev, "tempo event with length " + std::to_string(len) + " (expected 3)");
        const uint32_t us = be(p, 3);
        if (us == 0) fail(ev, "tempo of 0 microseconds per quarter note");
        tempo_.push_back({tick, us});
      }
      p += len;
      if (type == 0x2F) break;  // end of track; anything after it in the chunk is ignored
    } else if (status == 0xF0 || status == 0xF7) {  // sysex / escape: length + data. Cancels running status.
      running = 0;
      const uint32_t len = vlq(p, end);
      if (len > end - p) fail(ev, "sysex event of " + std::to_string(len) + " bytes runs past the end of the track");
      p += len;
    } else {
      fail(ev, "status byte " + hex(status) + " (system common/real-time) is not allowed in a MIDI file");
    }
  }
  // Notes still held when the track ends are released there.
  for (auto& [k, q] : open)
    while (!q.empty()) close(k, tick);
}

// ---- writer -------------------------------------------------------------------------------------

void put_be(std::vector<uint8_t>& out, uint32_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
void put_vlq(std::vector<uint8_t>& out, uint32_t v) {
  uint8_t buf[4];
  int n = 0;
  do {
    buf[n++] = static_cast<uint8_t>(v & 0x7Fu);
    v >>= 7;
  } while (v && n < 4);
  while (n-- > 0) out.push_back(static_cast<uint8_t>(buf[n] | (n > 0 ? 0x80u : 0u)));
}
void put_chunk(std::vector<uint8_t>& out, const char* type, const std::vector<uint8_t>& body) {
  out.insert(out.end(), type, type + 4);
  put_be(out, static_cast<uint32_t>(body.size()), 4);
  out.insert(out.end(), body.begin(), body.end());
}
// Tempo 120 bpm (500000 us per quarter) and 4/4, at tick 0.
void put_tempo_events(std::vector<uint8_t>& trk) {
  const uint8_t ev[] = {0x00, 0xFF, 0x58, 0x04, 0x04, 0x02, 0x18, 0x08,   // time signature 4/4
                        0x00, 0xFF, 0x51, 0x03, 0x07, 0xA1, 0x20};        // tempo 500000 us/quarter
  trk.insert(trk.end(), std::begin(ev), std::end(ev));
}
void put_end_of_track(std::vector<uint8_t>& trk) {
  const uint8_t ev[] = {0x00, 0xFF, 0x2F, 0x00};
  trk.insert(trk.end(), std::begin(ev), std::end(ev));
}

}  // namespace

Performance parse_midi(const uint8_t* data, size_t size, const std::string& name, const MidiReadOptions& options) {
  if (data == nullptr && size != 0) throw ValueError("parse_midi: null data with size " + std::to_string(size));
  return SmfParser(data, size, name, options).parse();
}

Performance read_midi(const std::string& path, const MidiReadOptions& options) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    if (!std::filesystem::exists(path, ec)) throw FileNotFound("read_midi: no such file: " + path);
    throw IOError("read_midi: not a regular file: " + path);
  }
  std::ifstream f(path, std::ios::binary);
  if (!f) throw IOError("read_midi: cannot open " + path);
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  if (f.bad()) throw IOError("read_midi: read error in " + path);
  return parse_midi(bytes.data(), bytes.size(), path, options);
}

std::vector<uint8_t> encode_midi(const Performance& perf, const MidiWriteOptions& opt) {
  if (opt.format != 0 && opt.format != 1)
    throw ValueError("write_midi: format must be 0 or 1, got " + std::to_string(opt.format));
  if (opt.ticks_per_quarter < 1 || opt.ticks_per_quarter > 32767)
    throw ValueError("write_midi: ticks_per_quarter must be 1..32767, got " + std::to_string(opt.ticks_per_quarter));
  if (opt.channel < 0 || opt.channel > 15)
    throw ValueError("write_midi: channel must be 0..15, got " + std::to_string(opt.channel));
  if (opt.program < -1 || opt.program > 127)
    throw ValueError("write_midi: program must be 0..127 (or -1 for none), got " + std::to_string(opt.program));
  perf.validate();

  // At 120 bpm a quarter lasts 0.5 s, so there are 2 * ticks_per_quarter ticks per second.
  const double ticks_per_s = 2.0 * opt.ticks_per_quarter;
  constexpr double kMaxTick = 0x0FFFFFFF;  // deltas are at most 4 VLQ bytes; absolute ticks stay below too
  auto to_tick = [&](double t, const char* what, size_t i) {
    const double x = std::round(t * ticks_per_s);
    if (x > kMaxTick)
      throw ValueError("write_midi: " + std::string(what) + " " + std::to_string(i) + " at " + std::to_string(t) +
                       " s is beyond the range of a MIDI file at this resolution");
    return static_cast<int64_t>(x);
  };
  struct Ev {
    int64_t tick;
    int order;  // 0 CC64, 1 note-off, 2 note-on: the pedal as pedal_at(t) reads it, releases before presses
    size_t seq;
    uint8_t status, a, b;
  };
  std::vector<Ev> evs;
  evs.reserve(perf.notes.size() * 2 + perf.pedal.size());
  const auto ch = static_cast<uint8_t>(opt.channel);
  for (size_t i = 0; i < perf.notes.size(); ++i) {
    const Note& n = perf.notes[i];
    const int64_t on = to_tick(n.onset, "note", i);
    const int64_t off = std::max(on + 1, to_tick(n.offset, "note", i));
    const auto key = static_cast<uint8_t>(n.key);
    evs.push_back({on, 2, i, static_cast<uint8_t>(0x90 | ch), key, static_cast<uint8_t>(n.velocity)});
    evs.push_back({off, 1, i, static_cast<uint8_t>(0x80 | ch), key, 0x40});
  }
  for (size_t i = 0; i < perf.pedal.size(); ++i) {
    const PedalPoint& p = perf.pedal[i];
    evs.push_back({to_tick(p.time, "pedal point", i), 0, i, static_cast<uint8_t>(0xB0 | ch), 64,
                   static_cast<uint8_t>(std::lround(p.value * 127.0))});
  }
  std::sort(evs.begin(), evs.end(), [](const Ev& x, const Ev& y) {
    return std::tie(x.tick, x.order, x.seq) < std::tie(y.tick, y.order, y.seq);
  });

  std::vector<uint8_t> trk;
  if (opt.format == 0) put_tempo_events(trk);
  if (opt.program >= 0) {  // a 2-byte message: program change carries one data byte
    put_vlq(trk, 0);
    trk.push_back(static_cast<uint8_t>(0xC0 | ch));
    trk.push_back(static_cast<uint8_t>(opt.program));
  }
  int64_t last = 0;
  uint8_t running = 0;
  for (const Ev& e : evs) {
    put_vlq(trk, static_cast<uint32_t>(e.tick - last));
    last = e.tick;
    if (e.status != running) trk.push_back(e.status);  // running status: repeat statuses are omitted
    running = e.status;
    trk.push_back(e.a);
    trk.push_back(e.b);
  }
  put_end_of_track(trk);

  std::vector<uint8_t> out;
  std::vector<uint8_t> header;
  put_be(header, static_cast<uint32_t>(opt.format), 2);
  put_be(header, opt.format == 0 ? 1u : 2u, 2);
  put_be(header, static_cast<uint32_t>(opt.ticks_per_quarter), 2);
  put_chunk(out, "MThd", header);
  if (opt.format == 1) {
    std::vector<uint8_t> tempo;
    put_tempo_events(tempo);
    put_end_of_track(tempo);
    put_chunk(out, "MTrk", tempo);
  }
  put_chunk(out, "MTrk", trk);
  return out;
}

void write_midi(const std::string& path, const Performance& perf, const MidiWriteOptions& options) {
  const std::vector<uint8_t> bytes = encode_midi(perf, options);
  detail::write_bytes_atomically(path, "write_midi", bytes.data(), bytes.size());
}

}  // namespace pianograd
