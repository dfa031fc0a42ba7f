#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <initializer_list>
#include <random>

#include "autodiff/errors.h"
#include "synth/midi.h"
#include "tests/synth/synth_test_util.h"

namespace pg = pianograd;
using Bytes = std::vector<uint8_t>;

namespace {

void append(Bytes& b, std::initializer_list<int> v) {
  for (int x : v) b.push_back(static_cast<uint8_t>(x));
}
void append_be(Bytes& b, uint32_t v, int n) {
  for (int i = n - 1; i >= 0; --i) b.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
Bytes header(int format, int ntrks, int division) {
  Bytes b = {'M', 'T', 'h', 'd'};
  append_be(b, 6, 4);
  append_be(b, static_cast<uint32_t>(format), 2);
  append_be(b, static_cast<uint32_t>(ntrks), 2);
  append_be(b, static_cast<uint32_t>(division), 2);
  return b;
}
void add_chunk(Bytes& file, const char* type, const Bytes& body) {
  file.insert(file.end(), type, type + 4);
  append_be(file, static_cast<uint32_t>(body.size()), 4);
  file.insert(file.end(), body.begin(), body.end());
}

// Format 0, 96 ticks/quarter (120 bpm: 96 ticks = 0.5 s), running status throughout.
Bytes format0_file() {
  Bytes t;
  append(t, {0x00, 0xFF, 0x51, 0x03, 0x07, 0xA1, 0x20});  // tempo 500000 us/quarter
  append(t, {0x00, 0x90, 60, 64});                          // C4 on, t=0
  append(t, {0x60, 62, 80});                                // running status: D4 on, t=0.5
  append(t, {0x60, 60, 0});                                 // C4 on vel 0 = off, t=1.0
  append(t, {0x00, 0xB0, 64, 127});                         // pedal down, t=1.0
  append(t, {0x60, 64, 0});                                 // running status CC64 up, t=1.5
  append(t, {0x00, 0x80, 62, 64});                          // D4 off, t=1.5
  append(t, {0x00, 0xFF, 0x2F, 0x00});
  Bytes f = header(0, 1, 96);
  add_chunk(f, "MTrk", t);
  return f;
}

// Format 1, 480 ticks/quarter, tempo 120 bpm at 0 (track 0) and 240 bpm from tick 960 = 1.0 s set in
// track 2: the reader must merge tempo maps across tracks. Sysex, text meta and an alien chunk interleave.
Bytes format1_file() {
  Bytes t0;
  append(t0, {0x00, 0xFF, 0x51, 0x03, 0x07, 0xA1, 0x20});
  append(t0, {0x00, 0xFF, 0x03, 0x04, 'p', 'i', 'a', 'n'});  // track name
  append(t0, {0x00, 0xFF, 0x2F, 0x00});
  Bytes t1;
  append(t1, {0x00, 0xF0, 0x05, 0x7E, 0x7F, 0x09, 0x01, 0xF7});  // GM reset sysex
  append(t1, {0x83, 0x60, 0x90, 60, 100});                         // delta 480: C4 on at 0.5 s
  append(t1, {0x87, 0x40, 0x80, 60, 0});                           // delta 960 -> tick 1440: 1.25 s
  append(t1, {0x00, 0xFF, 0x01, 0x02, 'h', 'i'});                  // text meta cancels running status
  append(t1, {0x83, 0x60, 0x91, 67, 90});                          // tick 1920 (1.5 s), channel 2
  append(t1, {0x83, 0x60, 0x91, 67, 0});                           // tick 2400 (1.75 s)
  append(t1, {0x00, 0xFF, 0x2F, 0x00});
  Bytes t2;
  append(t2, {0x87, 0x40, 0xFF, 0x51, 0x03, 0x03, 0xD0, 0x90});  // tick 960: 250000 us/quarter
  append(t2, {0x00, 0xFF, 0x2F, 0x00});
  Bytes f = header(1, 3, 480);
  add_chunk(f, "MTrk", t0);
  add_chunk(f, "XFIH", Bytes{1, 2, 3});  // unknown chunk type: skipped
  add_chunk(f, "MTrk", t1);
  add_chunk(f, "MTrk", t2);
  return f;
}

void expect_note(const pg::Note& n, int key, double on, double off, int vel) {
  EXPECT_EQ(n.key, key);
  EXPECT_NEAR(n.onset, on, 1e-12);
  EXPECT_NEAR(n.offset, off, 1e-12);
  EXPECT_EQ(n.velocity, vel);
}

void expect_midi_error(const Bytes& b, const std::string& fragment) {
  try {
    pg::parse_midi(b, "bad.mid");
    FAIL() << "expected MidiError containing '" << fragment << "'";
  } catch (const pg::MidiError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("bad.mid"), std::string::npos) << msg;
    EXPECT_NE(msg.find(fragment), std::string::npos) << msg;
  }
}

// Random piano performance: per key, non-overlapping notes at least 3 ms long and apart (so each
// survives tick quantisation), and a pedal curve of k/127 values.
pg::Performance random_performance(std::mt19937& rng) {
  std::uniform_real_distribution<double> u(0.0, 1.0);
  pg::Performance p;
  for (int key = pg::kMinKey; key <= pg::kMaxKey; ++key) {
    double t = 2.0 * u(rng);
    const int count = static_cast<int>(rng() % 4);
    for (int i = 0; i < count; ++i) {
      const double len = 0.003 + 1.5 * u(rng);
      p.notes.push_back({key, t, t + len, 1 + static_cast<int>(rng() % 127)});
      t += len + 0.003 + 0.5 * u(rng);
    }
  }
  double t = 0.0;
  for (int i = 0; i < 20; ++i) {
    t += 0.003 + 0.3 * u(rng);
    p.pedal.push_back({t, static_cast<int>(rng() % 128) / 127.0});
  }
  p.sort();
  return p;
}

bool by_key_onset(const pg::Note& a, const pg::Note& b) {
  return a.key != b.key ? a.key < b.key : a.onset < b.onset;
}

}  // namespace

TEST(Midi, Format0RunningStatusVelocityZeroAndPedal) {
  const pg::Performance p = pg::parse_midi(format0_file());
  ASSERT_EQ(p.notes.size(), 2u);
  expect_note(p.notes[0], 60, 0.0, 1.0, 64);
  expect_note(p.notes[1], 62, 0.5, 1.5, 80);
  ASSERT_EQ(p.pedal.size(), 2u);
  EXPECT_EQ(p.pedal[0], (pg::PedalPoint{1.0, 1.0}));
  EXPECT_EQ(p.pedal[1], (pg::PedalPoint{1.5, 0.0}));
  EXPECT_NO_THROW(p.validate());
}

TEST(Midi, Format1TempoChangeAcrossTracks) {
  const pg::Performance p = pg::parse_midi(format1_file());
  ASSERT_EQ(p.notes.size(), 2u);
  expect_note(p.notes[0], 60, 0.5, 1.25, 100);  // spans the tempo change at 1.0 s
  expect_note(p.notes[1], 67, 1.5, 1.75, 90);
}

TEST(Midi, OverlappingNotesPairFifoAndOpenNotesCloseAtTrackEnd) {
  Bytes t;
  append(t, {0x00, 0x90, 60, 10});   // first C4 at 0
  append(t, {0x00, 62, 30});         // D4 at 0, never released
  append(t, {0x60, 60, 20});         // second C4 at 0.5 (first still held)
  append(t, {0x60, 0x80, 60, 0});    // releases the first C4 (FIFO) at 1.0
  append(t, {0x60, 60, 0});          // releases the second at 1.5
  append(t, {0x60, 0x80, 61, 0});    // stray note-off: ignored
  append(t, {0x60, 0xFF, 0x2F, 0x00});  // end of track at tick 384 + 96 = 480: 2.5 s
  Bytes f = header(0, 1, 96);
  add_chunk(f, "MTrk", t);
  const pg::Performance p = pg::parse_midi(f);
  ASSERT_EQ(p.notes.size(), 3u);
  expect_note(p.notes[0], 60, 0.0, 1.0, 10);
  expect_note(p.notes[1], 62, 0.0, 2.5, 30);
  expect_note(p.notes[2], 60, 0.5, 1.5, 20);
}

TEST(Midi, SmpteDivisionDrumsAndOutOfRangeKeys) {
  Bytes t;
  append(t, {0x00, 0x99, 40, 100});             // drum channel: ignored by default
  append(t, {0x00, 0x90, 10, 100});             // key 10: not on a piano
  append(t, {0x83, 0x74, 0x90, 60, 100});       // 500 ticks = 0.5 s at 25 fps x 40 ticks
  append(t, {0x83, 0x74, 0x80, 60, 0});         // 1.0 s
  append(t, {0x00, 0x89, 40, 0, 0x00, 0x80, 10, 0});
  append(t, {0x00, 0xFF, 0x2F, 0x00});
  Bytes f = header(0, 1, 0xE728);  // -25 fps, 40 ticks per frame
  add_chunk(f, "MTrk", t);
  pg::Performance p = pg::parse_midi(f);
  ASSERT_EQ(p.notes.size(), 1u);
  expect_note(p.notes[0], 60, 0.5, 1.0, 100);

  pg::MidiReadOptions opt;
  opt.include_drum_channel = true;
  EXPECT_EQ(pg::parse_midi(f, "x", opt).notes.size(), 2u);
  opt.error_on_out_of_range_keys = true;
  EXPECT_THROW(pg::parse_midi(f, "x", opt), pg::MidiError);
}

TEST(Midi, MalformedFilesNameTheByteOffset) {
  Bytes f2 = header(2, 1, 96);
  add_chunk(f2, "MTrk", Bytes{0x00, 0xFF, 0x2F, 0x00});
  expect_midi_error(f2, "format 2");
  expect_midi_error(Bytes{'R', 'I', 'F', 'F'}, "byte 0");

  Bytes no_status = header(0, 1, 96);
  add_chunk(no_status, "MTrk", Bytes{0x00, 60, 64, 0x00, 0xFF, 0x2F, 0x00});
  expect_midi_error(no_status, "byte 23: data byte 0x3C");

  Bytes long_vlq = header(0, 1, 96);
  add_chunk(long_vlq, "MTrk", Bytes{0xFF, 0xFF, 0xFF, 0xFF, 0x7F, 0x90, 60, 64});
  expect_midi_error(long_vlq, "longer than 4 bytes");

  Bytes past_end = header(0, 1, 96);
  add_chunk(past_end, "MTrk", Bytes{0x00, 0xFF, 0x2F, 0x00});
  past_end[21] = 0x50;  // chunk length 0x50 > 4 bytes present
  expect_midi_error(past_end, "byte 18: chunk of 80 bytes runs past the end");

  Bytes meta_past_end = header(0, 1, 96);
  add_chunk(meta_past_end, "MTrk", Bytes{0x00, 0xFF, 0x01, 0x7F, 'x'});
  expect_midi_error(meta_past_end, "runs past the end of the track");

  Bytes missing_track = header(1, 2, 96);
  add_chunk(missing_track, "MTrk", Bytes{0x00, 0xFF, 0x2F, 0x00});
  expect_midi_error(missing_track, "announces 2 tracks");

  EXPECT_THROW(pg::read_midi("/nonexistent/dir/none.mid"), pg::FileNotFound);
}

TEST(Midi, WriteReadRoundTripIsLosslessUpToHalfATick) {
  std::mt19937 rng(1234);
  for (int trial = 0; trial < 6; ++trial) {
    const pg::Performance p = random_performance(rng);
    pg::MidiWriteOptions opt;
    opt.format = trial % 2;
    opt.ticks_per_quarter = trial < 4 ? 480 : 960;
    const double half_tick = 0.5 / (2.0 * opt.ticks_per_quarter) + 1e-12;
    pg::test::TempPath path(".mid");
    pg::write_midi(path.str(), p, opt);
    pg::Performance q = pg::read_midi(path.str());

    ASSERT_EQ(q.notes.size(), p.notes.size());
    std::vector<pg::Note> a = p.notes, b = q.notes;
    std::sort(a.begin(), a.end(), by_key_onset);
    std::sort(b.begin(), b.end(), by_key_onset);
    for (size_t i = 0; i < a.size(); ++i) {
      ASSERT_EQ(b[i].key, a[i].key) << i;
      EXPECT_EQ(b[i].velocity, a[i].velocity) << i;
      EXPECT_NEAR(b[i].onset, a[i].onset, half_tick) << i;
      EXPECT_NEAR(b[i].offset, a[i].offset, half_tick) << i;
    }
    ASSERT_EQ(q.pedal.size(), p.pedal.size());
    for (size_t i = 0; i < p.pedal.size(); ++i) {
      EXPECT_NEAR(q.pedal[i].time, p.pedal[i].time, half_tick);
      EXPECT_EQ(q.pedal[i].value, p.pedal[i].value);  // k/127 survives exactly
    }
    // A second round trip is exact: the times are now on the tick grid.
    EXPECT_EQ(pg::parse_midi(pg::encode_midi(q, opt)), q);
  }
}

TEST(Midi, WriterValidatesAndWritesAtomically) {
  pg::Performance bad;
  bad.notes = {{60, 1.0, 0.5, 64}};
  pg::test::TempPath path(".mid");
  EXPECT_THROW(pg::write_midi(path.str(), bad), pg::ValueError);
  EXPECT_FALSE(std::filesystem::exists(path.path()));
  pg::MidiWriteOptions opt;
  opt.ticks_per_quarter = 0;
  EXPECT_THROW(pg::encode_midi(pg::Performance{}, opt), pg::ValueError);
  EXPECT_THROW(pg::write_midi("/nonexistent/dir/x.mid", pg::Performance{}), pg::IOError);

  // Overwriting replaces the file; no temporary is left beside it.
  pg::Performance one;
  one.notes = {{60, 0.0, 0.5, 64}};
  pg::write_midi(path.str(), pg::Performance{});
  pg::write_midi(path.str(), one);
  EXPECT_EQ(pg::read_midi(path.str()).notes.size(), 1u);
  for (const auto& e : std::filesystem::directory_iterator(path.path().parent_path()))
    EXPECT_EQ(e.path().string().find(path.str() + ".tmp"), std::string::npos) << e.path();
}

// Every prefix of a valid file and hundreds of random mutations either parse or raise pianograd::Error:
// no crash, no hang, no other exception type.
TEST(Midi, CorruptInputNeverCrashes) {
  std::mt19937 rng(99);
  std::vector<Bytes> valid = {format0_file(), format1_file(), pg::encode_midi(random_performance(rng))};
  auto parse_or_error = [](const Bytes& b) {
    try {
      const pg::Performance p = pg::parse_midi(b, "fuzz.mid");
      p.validate();  // what parses must be a valid performance
      return true;
    } catch (const pg::Error&) {
      return false;
    }
  };
  int errors = 0;
  for (const Bytes& v : valid)
    for (size_t n = 0; n < v.size(); ++n) errors += !parse_or_error(Bytes(v.begin(), v.begin() + static_cast<long>(n)));
  EXPECT_GT(errors, 0);
  for (int trial = 0; trial < 600; ++trial) {
    Bytes b = valid[static_cast<size_t>(trial) % valid.size()];
    const int edits = 1 + static_cast<int>(rng() % 8);
    for (int e = 0; e < edits; ++e) {
      const size_t at = rng() % b.size();
      switch (rng() % 3) {
        case 0: b[at] = static_cast<uint8_t>(rng()); break;
        case 1: b.insert(b.begin() + static_cast<long>(at), static_cast<uint8_t>(rng())); break;
        default: if (b.size() > 1) b.erase(b.begin() + static_cast<long>(at)); break;
      }
    }
    parse_or_error(b);
  }
  Bytes noise(4096);
  for (uint8_t& x : noise) x = static_cast<uint8_t>(rng());
  EXPECT_FALSE(parse_or_error(noise));
}

// A pedal change and a release at one tick: the pedal event comes first, so a player holds the note
// as Performance::pedal_at (and the renderers and roll labels) read it; a program change leads the track.
TEST(Midi, PedalBeforeReleasesAtOneTickAndProgramChange) {
  pg::Performance p;
  p.notes = {{60, 0.0, 0.5, 64}};
  p.pedal = {{0.5, 1.0}, {1.0, 0.0}};
  pg::MidiWriteOptions opt;
  opt.format = 0;
  opt.program = 5;
  const std::vector<uint8_t> b = pg::encode_midi(p, opt);
  auto find = [&](std::initializer_list<uint8_t> seq) {
    return std::search(b.begin(), b.end(), seq.begin(), seq.end()) - b.begin();
  };
  const auto prog = find({0xC0, 5}), cc = find({0xB0, 64, 127}), off = find({0x80, 60});
  ASSERT_LT(prog, static_cast<long>(b.size()));
  ASSERT_LT(cc, static_cast<long>(b.size()));
  ASSERT_LT(off, static_cast<long>(b.size()));
  EXPECT_LT(prog, cc);
  EXPECT_LT(cc, off);
  EXPECT_EQ(pg::parse_midi(b).notes, p.notes);
  opt.program = 128;
  EXPECT_THROW(pg::encode_midi(p, opt), pg::ValueError);
}
