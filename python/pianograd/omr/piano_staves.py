"""Synthetic piano staves and grand staves: random but idiomatic keyboard writing for g to learn from.

The music21 corpus holds about a dozen piano works, so two voices on one staff, chords under a melody,
broken-chord accompaniment, octaves and dense accidentals are rare in the engraved strips, and a piano
page was barely read (issue 13). These staves supply that writing. Each bar draws a texture (melody,
block chords, melody over held chords in a second voice, Alberti or broken chords, octaves, chords with a
melody on top), a rhythm from the beat patterns of its metre (dotted, syncopated, triplets, sixteenths,
rests), notes spelled in a random key with chromatic alterations, ledger lines at both ends of the clef's
range, ties across barlines, and articulation and dynamic marks as clutter the reader must ignore.

They are engraved and labelled exactly as corpus staves are (pianograd.data.engrave.staff_from_part:
MusicXML out and back, then the same token encoder), so their labels are the encoder's, not this file's.
They exist only in the training split; every figure we report is on corpus works.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from fractions import Fraction
from typing import List, Optional, Sequence, Tuple

F = Fraction

# Metres (weighted by how often piano music uses them) and their beat: compound metres beat in dotted
# quarters, cut time in halves.
_METRES = [("4/4", 4), ("3/4", 4), ("2/4", 2), ("6/8", 2), ("3/8", 1), ("2/2", 1), ("12/8", 1),
           ("9/8", 1)]

# Rhythms of one beat, as fractions of that beat, for simple (quarter) and compound (dotted quarter)
# beats; weights favour what keyboard music prints most.
_SIMPLE = [((1,), 5), ((F(1, 2), F(1, 2)), 5), ((F(1, 4),) * 4, 3), ((F(3, 4), F(1, 4)), 2),
           ((F(1, 2), F(1, 4), F(1, 4)), 2), ((F(1, 4), F(1, 4), F(1, 2)), 2), ((F(1, 3),) * 3, 2),
           ((F(1, 4), F(1, 2), F(1, 4)), 1)]
_COMPOUND = [((1,), 4), ((F(1, 3),) * 3, 5), ((F(2, 3), F(1, 3)), 3), ((F(1, 6),) * 6, 2),
             ((F(1, 2), F(1, 6), F(1, 3)), 1), ((F(1, 3), F(2, 3)), 1)]

_TEXTURES = [("melody", 4), ("chords", 2), ("two_voices", 4), ("broken", 3), ("octaves", 1),
             ("melody_chords", 2)]
# The hands of a grand staff: the right leads, the left accompanies.
_RIGHT = [("melody", 5), ("chords", 1), ("two_voices", 3), ("octaves", 1), ("melody_chords", 3)]
_LEFT = [("chords", 3), ("two_voices", 2), ("broken", 4), ("octaves", 1), ("melody", 1)]


@dataclass(frozen=True)
class PianoStyle:
    """How often the rarer signs appear. The defaults drew the first shipped piano data (configs/omr/
    piano.json); the second stage raised both after the test piano work's misreads were mostly sixteenth
    rests and double sharps (configs/omr/piano_more.json); the third also lets second voices fall silent
    (configs/omr/piano_last.json); the fourth holds alterations through the bar (piano_harmony.json)."""
    short_rests: float = 1.0          # a sixteenth or shorter is a rest this many times as often as others
    double_accidentals: float = 0.1   # share of chromatic steps allowed to reach a double sharp or flat
    hidden_rests: float = 0.0         # share of second voices that fall silent after their first note
    # Share of bars that hold an alteration for the whole bar, as harmony does: the leading tone of a
    # minor key, or a secondary dominant's raised or lowered degree (configs/omr/piano_harmony.json).
    # One altered note recurring in a bar is printed with its accidental once and read from memory after,
    # which independent per-note alterations almost never produce and minor-key music does in every bar.
    harmonic: float = 0.0


def _pick(rng: random.Random, table):
    items, weights = zip(*table)
    return rng.choices(items, weights=weights)[0]


def _beat(ts: str) -> Fraction:
    num, den = map(int, ts.split("/"))
    if den == 8 and num % 3 == 0:
        return F(3, 2)
    if ts == "2/2":
        return F(2)
    return F(4, den)


def _bar_length(ts: str) -> Fraction:
    num, den = map(int, ts.split("/"))
    return F(num * 4, den)


def rhythm(rng: random.Random, ts: str, busy: float = 0.5) -> List[Fraction]:
    """Durations (quarter notes) filling one bar of `ts`. `busy` in 0..1 moves the choice from long
    notes spanning beats towards subdivided beats."""
    beat, left = _beat(ts), _bar_length(ts)
    compound = beat == F(3, 2)
    out: List[Fraction] = []
    while left > 0:
        if left >= 2 * beat and rng.random() > busy + 0.2:  # a note over several beats
            span = rng.choice([k for k in (2, 3, 4) if k * beat <= left])
            if span == 2 and not compound and rng.random() < 0.3:
                out += [beat * F(3, 2), beat / 2]  # dotted
            else:
                out.append(span * beat)
            left -= span * beat
            continue
        pattern = _pick(rng, _COMPOUND if compound else _SIMPLE)
        if rng.random() > busy and len(pattern) > 1:
            pattern = (1,)
        if beat == F(2) and rng.random() < 0.5:  # cut time: quarters or a half
            pattern = (F(1, 2), F(1, 2))
        out += [beat * F(p) for p in pattern]
        left -= beat
    return out


class _Pitches:
    """Spelled pitches of a key between two MIDI notes, stepped through by scale degree."""

    def __init__(self, fifths: int, lo: int, hi: int) -> None:
        from music21 import key

        k = key.KeySignature(fifths).asKey("major" if fifths % 2 == 0 else "minor")
        from music21 import pitch as m21pitch

        self.scale = [p for p in k.getScale().getPitches(m21pitch.Pitch(midi=lo - 2), m21pitch.Pitch(midi=hi + 2))
                      if lo <= p.midi <= hi]

    def index_near(self, midi: int) -> int:
        return min(range(len(self.scale)), key=lambda i: abs(self.scale[i].midi - midi))

    def get(self, i: int, rng: random.Random, chromatic: float, doubles: float = 0.1,
            held: Optional[dict] = None):
        from music21 import pitch as m21pitch

        p = m21pitch.Pitch(self.scale[max(0, min(len(self.scale) - 1, i))].nameWithOctave)
        if held and p.step in held:  # the bar's harmony alters this letter wherever it sounds
            alter = (p.accidental.alter if p.accidental else 0) + held[p.step]
            p.accidental = m21pitch.Accidental(int(alter)) if alter else m21pitch.Accidental(0)
            return p
        if rng.random() < chromatic:
            alter = (p.accidental.alter if p.accidental else 0) + rng.choice((-1, 1))
            if -1 <= alter <= 1 or rng.random() < doubles:  # double sharps and flats stay rarer
                p.accidental = m21pitch.Accidental(int(alter)) if alter else m21pitch.Accidental(0)
        return p


def _chord_degrees(rng: random.Random, size: int) -> List[int]:
    """Scale-degree offsets of a chord's notes above its lowest, in thirds, sixths or an octave."""
    shape = rng.choice([[0, 2, 4], [0, 2, 5], [0, 3, 5], [0, 4], [0, 2], [0, 5], [0, 7], [0, 2, 4, 7],
                        [0, 4, 7], [0, 2, 7], [0, 3, 7]])
    return shape[:max(2, size)] if len(shape) > size else shape


def _event(durations: Sequence[Fraction], rng: random.Random, rest_p: float, short_rests: float = 1.0):
    return [(d, rng.random() < (rest_p * short_rests if d <= F(1, 4) else rest_p)) for d in durations]


class _Writer:
    """Builds one staff bar by bar, keeping the melody's position between bars."""

    def __init__(self, rng: random.Random, fifths: int, ts: str, treble: bool, style: PianoStyle) -> None:
        self.rng, self.ts, self.style = rng, ts, style
        lo, hi = (55, 91) if treble else (33, 67)  # up to three ledger lines beyond the staff either way
        self.pitches = _Pitches(fifths, lo, hi)
        self.fifths = fifths
        self.held: dict = {}  # letter -> semitones: the alterations the current bar's harmony holds
        n = len(self.pitches.scale)
        self.pos = rng.randint(n // 3, 2 * n // 3)
        self.chromatic = rng.choice([0.0, 0.03, 0.08, 0.15])
        self.busy = rng.uniform(0.3, 0.9)
        self.tie_next: Optional[object] = None

    def _step(self, leap: float = 0.15) -> int:
        n = len(self.pitches.scale)
        d = self.rng.choice([-7, -5, -4, -3, 3, 4, 5, 7]) if self.rng.random() < leap else \
            self.rng.choice([-2, -1, -1, 1, 1, 2])
        self.pos = max(2, min(n - 3, self.pos + d))
        return self.pos

    def _note(self, dur: Fraction, degrees: Sequence[int], rest: bool):
        from music21 import chord, duration, note

        if rest:
            el = note.Rest()
        elif len(degrees) == 1:
            el = note.Note(self.pitches.get(degrees[0], self.rng, self.chromatic, self.style.double_accidentals,
                                            self.held))
        else:
            ps, seen = [], set()
            for d in degrees:
                p = self.pitches.get(d, self.rng, self.chromatic / 2, self.style.double_accidentals, self.held)
                if p.midi not in seen:
                    seen.add(p.midi)
                    ps.append(p)
            el = chord.Chord(ps) if len(ps) > 1 else note.Note(ps[0])
        el.duration = duration.Duration(dur)
        if not rest and self.rng.random() < 0.12:
            from music21 import articulations

            el.articulations.append(self.rng.choice([articulations.Accent(), articulations.Staccato(),
                                                     articulations.Tenuto()]))
        return el

    def harmonise_bar(self) -> None:
        """Draw the alterations this bar holds (none unless the style asks; no draw at all then, so data
        made before this existed is unchanged)."""
        self.held = {}
        if not self.style.harmonic or self.rng.random() >= self.style.harmonic:
            return
        from music21 import key

        minor = self.fifths % 2 != 0  # as _Pitches names the key
        k = key.KeySignature(self.fifths).asKey("minor" if minor else "major")
        if minor and self.rng.random() < 0.7:
            self.held[k.pitchFromDegree(7).step] = 1  # the leading tone
            if self.rng.random() < 0.2:
                self.held[k.pitchFromDegree(6).step] = 1  # melodic minor, rising
        else:  # a secondary dominant's leading tone, or the flattened seventh or sixth of mixture
            degree, shift = self.rng.choice([(4, 1), (4, 1), (1, 1), (5, 1), (2, 1), (7, -1), (6, -1)])
            self.held[k.pitchFromDegree(degree).step] = shift

    def voice(self, texture: str, durations: Sequence[Fraction], rest_p: float, low: bool = False):
        """Elements of one voice over the bar: `low` keeps a second voice under the melody."""
        els = []
        chord_root = self.pos - self.rng.randint(3, 7) if low else self.pos
        for k, (d, rest) in enumerate(_event(durations, self.rng, rest_p, self.style.short_rests)):
            if texture == "melody":
                degs = [self._step()]
            elif texture == "chords":
                degs = [chord_root + x for x in _chord_degrees(self.rng, self.rng.randint(2, 4))]
                if self.rng.random() < 0.4:
                    chord_root = self._step(0.3) - (5 if low else 0)
            elif texture == "held":  # the lower voice under a melody: roots, thirds or dyads
                degs = [chord_root + x for x in _chord_degrees(self.rng, self.rng.randint(1, 2))][:self.rng.randint(1, 2)]
            elif texture == "broken":
                shape = [0, 4, 2, 4] if self.rng.random() < 0.5 else [0, 2, 4, 7]
                degs = [chord_root + shape[k % len(shape)]]
            elif texture == "octaves":
                s = self._step()
                degs = [s - 7, s]
            else:  # melody_chords: a melody note with chord notes under it
                s = self._step()
                degs = [s - x for x in _chord_degrees(self.rng, self.rng.randint(2, 3))]
            n = len(self.pitches.scale)
            degs = [max(0, min(n - 1, x)) for x in degs]
            els.append(self._note(d, degs, rest))
        return els


def piano_part(rng: random.Random, bars: int, style: PianoStyle = PianoStyle()):
    """A music21 Part: one piano staff of `bars` bars (treble or bass clef) in a random key and metre."""

    ts = _pick(rng, _METRES)
    fifths = rng.randint(-6, 6)
    treble = rng.random() < 0.55
    return _part(rng, bars, ts, fifths, treble, _TEXTURES, style)


def _part(rng: random.Random, bars: int, ts: str, fifths: int, treble: bool, textures, style: PianoStyle):
    from music21 import clef, dynamics, key, meter, stream, tie

    w = _Writer(rng, fifths, ts, treble, style)
    part = stream.Part()
    prev_last = None
    for b in range(bars):
        m = stream.Measure(number=b + 1)
        if b == 0:
            m.insert(0, clef.TrebleClef() if treble else clef.BassClef())
            m.insert(0, key.KeySignature(fifths))
            m.insert(0, meter.TimeSignature(ts))
        if rng.random() < 0.15:
            m.insert(0, dynamics.Dynamic(rng.choice(["pp", "p", "mp", "mf", "f", "ff"])))
        texture = _pick(rng, textures)
        rest_p = rng.choice([0.0, 0.05, 0.15])
        w.harmonise_bar()
        if texture == "two_voices":
            upper = w.voice("melody", rhythm(rng, ts, w.busy), rest_p)
            lower = w.voice("held", rhythm(rng, ts, w.busy * 0.4), rest_p / 2, low=True)
            if style.hidden_rests and rng.random() < style.hidden_rests:
                lower = _fall_silent(lower)
            for vid, els, stem in (("1", upper, "up"), ("2", lower, "down")):
                v = stream.Voice(id=vid)
                for el in els:
                    if hasattr(el, "stemDirection"):
                        el.stemDirection = stem
                    v.append(el)
                m.insert(0, v)
            first = upper[0]
            last = upper[-1]
        else:
            busy = min(1.0, w.busy + 0.3) if texture == "broken" else w.busy * (0.5 if texture == "chords" else 1)
            els = w.voice(texture, rhythm(rng, ts, busy), rest_p)
            for el in els:
                m.append(el)
            first, last = els[0], els[-1]
        # A tie over the barline: the previous bar's last note held into this bar's first.
        if prev_last is not None and rng.random() < 0.12 and _single(prev_last) and _single(first):
            first.pitch = prev_last.pitch
            prev_last.tie = tie.Tie("start")
            first.tie = tie.Tie("stop")
        prev_last = last
        part.append(m)
    return part


def _fall_silent(els: list) -> list:
    """The voice's first note, then an unprinted rest to the bar's end: a held note under a moving
    melody is printed that way, and the encoder states the silent stretch as an explicit advance."""
    from music21 import duration, note

    rest_len = sum(F(e.duration.quarterLength) for e in els[1:])
    if len(els) < 2 or rest_len not in (F(1), F(3, 2), F(2), F(3), F(4)):
        return els
    r = note.Rest()
    r.duration = duration.Duration(rest_len)
    r.style.hideObjectOnPrint = True
    return [els[0], r]


def _single(el) -> bool:
    return el.isNote and el.tie is None


def piano_staves(count: int, seed: int, bars: Tuple[int, int] = (4, 10), style: PianoStyle = PianoStyle()) -> list:
    """`count` engravable synthetic staves (pianograd.data.engrave.Staff), named "synthetic/piano-<seed>-<i>";
    staves music21 cannot export are drawn again."""
    from ..data.engrave import staff_from_part

    out = []
    i = 0
    while len(out) < count:
        rng = random.Random(f"piano-staff-{seed}-{i}")
        staff = staff_from_part(f"synthetic/piano-{seed}-{i}", 0, piano_part(rng, rng.randint(*bars), style))
        if staff is not None:
            out.append(staff)
        i += 1
    return out


def piano_system(rng: random.Random, bars: int, style: PianoStyle = PianoStyle()):
    """A music21 Score: right hand (treble) over left hand (bass), braced, in one key and metre."""
    from music21 import layout, stream

    ts = _pick(rng, _METRES)
    fifths = rng.randint(-6, 6)
    rh = _part(rng, bars, ts, fifths, True, _RIGHT, style)
    lh = _part(rng, bars, ts, fifths, False, _LEFT, style)
    score = stream.Score()
    score.insert(0, rh)
    score.insert(0, lh)
    score.insert(0, layout.StaffGroup([rh, lh], symbol="brace", barTogether=True))
    return score


def piano_systems(count: int, seed: int, bars: Tuple[int, int] = (4, 10), style: PianoStyle = PianoStyle()) -> list:
    """`count` synthetic grand staves (pianograd.data.engrave.System), named "synthetic/grand-<seed>-<i>";
    ones that fail to export or encode are drawn again."""
    from ..data.engrave import score_system

    out = []
    i = 0
    while len(out) < count:
        rng = random.Random(f"piano-system-{seed}-{i}")
        system = score_system(f"synthetic/grand-{seed}-{i}", piano_system(rng, rng.randint(*bars), style))
        if system is not None:
            out.append(system)
        i += 1
    return out
