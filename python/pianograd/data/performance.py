"""The motion (M) modality on the Python side: a performance = notes + sustain pedal, in seconds.

Mirrors synth/performance.h (same fields, same validity rules: keys 21..108, offset > onset,
velocity 1..127, pedal values in [0, 1] as a step function, CC64 = round(value * 127)) so the data
pipeline needs no compiled code. Standard MIDI Files are written and read with `mido`.

Times are quantised to the MIDI grid (1 ms, see MIDI_TICK_S) before anything is written, so the
label JSON, the MIDI file and the rendered audio all describe exactly the same performance.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Tuple, Union

import numpy as np

MIN_KEY = 21   # A0
MAX_KEY = 108  # C8
NUM_KEYS = MAX_KEY - MIN_KEY + 1

# 1000 ticks per beat at 1 000 000 µs per beat: one tick is exactly one millisecond.
MIDI_TICKS_PER_BEAT = 1000
MIDI_TEMPO_US = 1_000_000
MIDI_TICK_S = MIDI_TEMPO_US / 1e6 / MIDI_TICKS_PER_BEAT

PathLike = Union[str, Path]


@dataclass(frozen=True)
class Note:
    key: int          # MIDI key number, 21..108
    onset: float      # key press, seconds
    offset: float     # key release, seconds (> onset); the pedal may sustain the sound beyond it
    velocity: int     # MIDI velocity 1..127


@dataclass
class Performance:
    notes: List[Note] = field(default_factory=list)
    # Step function (time s, value in [0, 1]) sorted by time; the pedal is up before the first point.
    pedal: List[Tuple[float, float]] = field(default_factory=list)

    # ---- invariants -------------------------------------------------------------------------
    def validate(self) -> None:
        """Raises ValueError naming the offending note/pedal index and field."""
        for i, n in enumerate(self.notes):
            if not (MIN_KEY <= n.key <= MAX_KEY):
                raise ValueError(f"note {i}: key {n.key} outside {MIN_KEY}..{MAX_KEY}")
            if not (math.isfinite(n.onset) and n.onset >= 0):
                raise ValueError(f"note {i}: onset {n.onset} must be finite and >= 0")
            if not (math.isfinite(n.offset) and n.offset > n.onset):
                raise ValueError(f"note {i}: offset {n.offset} must be finite and > onset {n.onset}")
            if not (1 <= n.velocity <= 127):
                raise ValueError(f"note {i}: velocity {n.velocity} outside 1..127")
        prev = -math.inf
        for i, (t, v) in enumerate(self.pedal):
            if not (math.isfinite(t) and t >= 0):
                raise ValueError(f"pedal {i}: time {t} must be finite and >= 0")
            if not (0.0 <= v <= 1.0):
                raise ValueError(f"pedal {i}: value {v} outside [0, 1]")
            if t < prev:
                raise ValueError(f"pedal {i}: time {t} before previous point {prev}")
            prev = t

    def sort(self) -> "Performance":
        self.notes.sort(key=lambda n: (n.onset, n.key, n.offset, n.velocity))
        self.pedal.sort(key=lambda p: p[0])
        return self

    def duration(self) -> float:
        """End of the last event: max over note offsets and pedal times (0 when empty)."""
        ends = [n.offset for n in self.notes] + [t for t, _ in self.pedal]
        return max(ends, default=0.0)

    def pedal_at(self, t: float) -> float:
        v = 0.0
        for pt, pv in self.pedal:
            if pt > t:
                break
            v = pv
        return v

    def quantized(self, step: float = MIDI_TICK_S) -> "Performance":
        """Times rounded to the MIDI grid; notes that collapse keep one tick of length."""
        def q(t: float) -> float:
            return round(round(t / step) * step, 6)
        notes = [Note(n.key, q(n.onset), max(q(n.offset), q(n.onset) + round(step, 6)), n.velocity)
                 for n in self.notes]
        return Performance(notes, [(q(t), v) for t, v in self.pedal]).sort()

    # ---- arrays and JSON ----------------------------------------------------------------------
    def to_arrays(self) -> dict:
        """NumPy view for models: keys/velocities int32, onsets/offsets float64, pedal (P, 2)."""
        return {
            "key": np.array([n.key for n in self.notes], dtype=np.int32),
            "onset": np.array([n.onset for n in self.notes], dtype=np.float64),
            "offset": np.array([n.offset for n in self.notes], dtype=np.float64),
            "velocity": np.array([n.velocity for n in self.notes], dtype=np.int32),
            "pedal": np.array(self.pedal, dtype=np.float64).reshape(-1, 2),
        }

    def to_dict(self) -> dict:
        return {"notes": [[n.key, n.onset, n.offset, n.velocity] for n in self.notes],
                "pedal": [[t, v] for t, v in self.pedal]}

    @staticmethod
    def from_dict(d: dict) -> "Performance":
        return Performance([Note(int(k), float(on), float(off), int(v)) for k, on, off, v in d["notes"]],
                           [(float(t), float(v)) for t, v in d.get("pedal", [])])

    def save_json(self, path: PathLike) -> None:
        from .cache import atomic_write_text
        atomic_write_text(path, json.dumps(self.to_dict(), separators=(",", ":")))

    @staticmethod
    def load_json(path: PathLike) -> "Performance":
        return Performance.from_dict(json.loads(Path(path).read_text()))

    # ---- MIDI ---------------------------------------------------------------------------------
    def to_midi(self, path: PathLike, program: int = 0) -> None:
        """Type-0 SMF: program change, CC64 for the pedal, note on/off; 1 tick = 1 ms."""
        import mido

        events = []  # (tick, order, message); at equal ticks: pedal, note-offs, then note-ons
        for t, v in self.pedal:
            events.append((_tick(t), 0, mido.Message("control_change", control=64,
                                                     value=int(round(v * 127)), channel=0)))
        for n in self.notes:
            events.append((_tick(n.offset), 1, mido.Message("note_off", note=n.key, velocity=0, channel=0)))
            events.append((_tick(n.onset), 2, mido.Message("note_on", note=n.key, velocity=n.velocity,
                                                           channel=0)))
        events.sort(key=lambda e: (e[0], e[1], e[2].bytes()))
        mid = mido.MidiFile(type=0, ticks_per_beat=MIDI_TICKS_PER_BEAT)
        track = mido.MidiTrack()
        mid.tracks.append(track)
        track.append(mido.MetaMessage("set_tempo", tempo=MIDI_TEMPO_US, time=0))
        track.append(mido.Message("program_change", program=program, channel=0, time=0))
        now = 0
        for tick, _, msg in events:
            track.append(msg.copy(time=tick - now))
            now = tick
        track.append(mido.MetaMessage("end_of_track", time=0))
        from .cache import atomic_write_with
        atomic_write_with(path, mid.save)

    @staticmethod
    def from_midi(path: PathLike) -> "Performance":
        """Reads any SMF (all tracks/channels merged; tempo map honoured). Unterminated notes end at
        the file's last event; a re-struck key ends the sounding note first."""
        import mido

        mid = mido.MidiFile(str(path))
        open_notes: dict = {}
        notes: List[Note] = []
        pedal: List[Tuple[float, float]] = []
        t = 0.0
        for msg in mid:  # iterating a MidiFile yields messages with delta times in seconds
            t += msg.time
            if msg.type == "note_on" and msg.velocity > 0:
                if msg.note in open_notes:
                    on, vel = open_notes.pop(msg.note)
                    if t > on:
                        notes.append(Note(msg.note, on, t, vel))
                open_notes[msg.note] = (t, msg.velocity)
            elif msg.type in ("note_off", "note_on"):
                if msg.note in open_notes:
                    on, vel = open_notes.pop(msg.note)
                    if t > on:
                        notes.append(Note(msg.note, on, t, vel))
            elif msg.type == "control_change" and msg.control == 64:
                pedal.append((t, msg.value / 127.0))
        for k, (on, vel) in open_notes.items():
            if t > on:
                notes.append(Note(k, on, t, vel))
        perf = Performance([Note(n.key, round(n.onset, 6), round(n.offset, 6), n.velocity) for n in notes],
                           [(round(pt, 6), pv) for pt, pv in pedal])
        return perf.sort()

    # ---- windows -------------------------------------------------------------------------------
    def window(self, start: float, end: float, min_len: float = 0.03) -> "Performance":
        """Notes with onsets in [start, end - min_len), offsets clipped to `end`, times shifted by
        -start; the pedal state at `start` is carried in as a point at 0."""
        def rel(t: float) -> float:  # rounded to 1 ns so that window shifts leave no float residue
            return round(t - start, 9)
        notes = [Note(n.key, rel(n.onset), rel(min(n.offset, end)), n.velocity)
                 for n in self.notes if start <= n.onset < end - min_len]
        pedal: List[Tuple[float, float]] = []
        v0 = self.pedal_at(start)
        if v0 > 0:
            pedal.append((0.0, v0))
        pedal += [(rel(t), v) for t, v in self.pedal if start < t < end]
        if self.pedal_at(end) > 0:
            pedal.append((rel(end), 0.0))  # lift at the cut, so the excerpt's audio ends cleanly
        return Performance(notes, pedal).sort()


def sustained_offsets(perf: Performance, threshold: float = 0.5) -> Performance:
    """Note offsets extended while the sustain pedal is down (MAESTRO's convention for "sounding"
    labels): a note released under the pedal sounds until the pedal lifts or the key is re-struck."""
    ups = [t for (t, v), prev in zip(perf.pedal, [0.0] + [v for _, v in perf.pedal[:-1]])
           if v < threshold <= prev]
    by_key: dict = {}
    for i, n in enumerate(perf.notes):
        by_key.setdefault(n.key, []).append(i)
    out = list(perf.notes)
    for idxs in by_key.values():
        idxs.sort(key=lambda i: perf.notes[i].onset)
        for j, i in enumerate(idxs):
            n = perf.notes[i]
            end = n.offset
            if perf.pedal_at(n.offset) >= threshold:
                end = next((u for u in ups if u > n.offset), perf.duration())
            if j + 1 < len(idxs):
                end = min(end, perf.notes[idxs[j + 1]].onset)
            out[i] = Note(n.key, n.onset, max(end, n.offset), n.velocity)
    return Performance(out, list(perf.pedal))


def _tick(t: float) -> int:
    return int(round(t / MIDI_TICK_S))

