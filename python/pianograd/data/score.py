"""Scores from the music21 corpus, reduced to what a performance needs: pitched notes in quarter-note
time, bar lines, the beat unit, fermatas, dynamic levels and an explicit tempo if the score has one.

The reduction is cached as JSON (ScoreData.to_dict) because music21 parsing costs 0.2-20 s per file;
everything after it (performing, windowing, rendering) is cheap. music21 is imported lazily, so code
that only reads cached scores or performances does not pay for it.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import List, Optional, Tuple

from .._core import MAX_KEY, MIN_KEY

# Level markings only (accents such as sf/fp are not levels). music21's volumeScalar in [0, 1].
_LEVELS = {"pppp", "ppp", "pp", "p", "mp", "mf", "f", "ff", "fff", "ffff"}


@dataclass
class ScoreNote:
    pitch: int        # MIDI pitch after folding into the piano range
    q_on: float       # onset, quarter notes from the start of the score
    q_dur: float      # written duration in quarters (ties merged), > 0
    fermata: bool


@dataclass
class ScoreData:
    piece: str                         # corpus path, e.g. "bach/bwv269.mxl"
    notes: List[ScoreNote]
    bars: List[float]                  # bar-line positions (quarters), ascending
    beat_q: float                      # beat unit in quarters (1.5 in 6/8, 2 in 2/2)
    tempo_qpm: Optional[float]         # explicit quarter-note tempo, None when the score gives none
    dynamics: List[Tuple[float, float]] = field(default_factory=list)  # (quarter, volumeScalar)
    length_q: float = 0.0              # highest time of the score
    n_folded: int = 0                  # notes moved by octaves into 21..108

    def to_dict(self) -> dict:
        d = asdict(self)
        d["notes"] = [[n.pitch, n.q_on, n.q_dur, int(n.fermata)] for n in self.notes]
        return d

    @staticmethod
    def from_dict(d: dict) -> "ScoreData":
        d = dict(d)
        d["notes"] = [ScoreNote(int(p), float(a), float(b), bool(f)) for p, a, b, f in d["notes"]]
        d["dynamics"] = [(float(q), float(v)) for q, v in d["dynamics"]]
        return ScoreData(**d)


def fold_to_piano(pitch: int) -> int:
    """Octave-shifts a MIDI pitch into the piano's 21..108 (a double bass's low notes, a piccolo's)."""
    while pitch < MIN_KEY:
        pitch += 12
    while pitch > MAX_KEY:
        pitch -= 12
    return pitch


def corpus_file(piece: str) -> Path:
    """Absolute path of a music21 core-corpus file given its corpus-relative path."""
    from music21 import corpus

    for p in corpus.getCorePaths():
        s = str(p)
        if s.endswith("/corpus/" + piece) or s.endswith("\\corpus\\" + piece.replace("/", "\\")):
            return Path(s)
    raise FileNotFoundError(f"music21 corpus has no piece {piece!r}")


def load_score(piece: str) -> ScoreData:
    """Parses one corpus file with music21 (no network) and reduces it."""
    import warnings

    from music21 import chord, converter, dynamics, expressions, harmony, meter, note, stream, tempo

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        score = converter.parse(str(corpus_file(piece)))
    parts = list(score.parts) if hasattr(score, "parts") and len(score.parts) else [score]

    notes: List[ScoreNote] = []
    n_folded = 0
    for part in parts:
        for pitch, q_on, q_dur, fermata in _merge_ties(_part_events(part, chord, harmony, note, expressions)):
            k = fold_to_piano(pitch)
            n_folded += k != pitch
            notes.append(ScoreNote(k, q_on, q_dur, fermata))
    notes.sort(key=lambda n: (n.q_on, n.pitch, n.q_dur))

    measures = parts[0].getElementsByClass(stream.Measure)
    bars = sorted({float(m.offset) for m in measures}) or [0.0]
    ts = score.recurse().getElementsByClass(meter.TimeSignature).first()
    beat_q = float(ts.beatDuration.quarterLength) if ts is not None else 1.0

    tempo_qpm = None
    for mm in score.flatten().getElementsByClass(tempo.MetronomeMark):
        q = mm.getQuarterBPM()
        # 120 is what notation programs write when the user set nothing: treat it as no tempo.
        if q is not None and 30 <= q <= 240 and abs(q - 120) > 1e-6:
            tempo_qpm = float(q)
            break

    dyn = sorted({(float(d.getOffsetInHierarchy(score)), float(d.volumeScalar))
                  for d in score.recurse().getElementsByClass(dynamics.Dynamic)
                  if d.value in _LEVELS and d.volumeScalar is not None})
    return ScoreData(piece=piece, notes=notes, bars=bars, beat_q=beat_q if beat_q > 0 else 1.0,
                     tempo_qpm=tempo_qpm, dynamics=dyn, length_q=float(score.highestTime),
                     n_folded=n_folded)


def _part_events(part, chord, harmony, note, expressions) -> List[Tuple[int, float, float, str, bool]]:
    """(midi, onset, duration, tie type, fermata) of every sounding pitch of one part, absolute
    offsets in quarters. Chord symbols, grace notes and unpitched notes are skipped."""
    ev = []
    for el in part.flatten().notes:
        if isinstance(el, harmony.Harmony) or el.duration.isGrace:
            continue
        dur = float(el.duration.quarterLength)
        if dur <= 0:
            continue
        fermata = any(isinstance(e, expressions.Fermata) for e in el.expressions)
        if isinstance(el, chord.Chord):
            members = [(n.pitch.midi, n.tie or el.tie) for n in el.notes]
        elif isinstance(el, note.Note):
            members = [(el.pitch.midi, el.tie)]
        else:
            continue
        for midi, tie in members:
            ev.append((int(midi), float(el.offset), dur, tie.type if tie is not None else "", fermata))
    ev.sort(key=lambda e: (e[1], e[0]))
    return ev


def _merge_ties(events) -> List[Tuple[int, float, float, bool]]:
    """Tied notes become one key press (what music21's stripTies does, in linear time: stripTies
    costs seconds on a quartet movement). A 'continue'/'stop' note extends the open tie of its pitch
    when it starts where that note ends."""
    out: List[list] = []
    open_tie: dict = {}
    for midi, on, dur, tie, fermata in events:
        i = open_tie.get(midi)
        if i is not None and tie in ("continue", "stop") and abs(out[i][1] + out[i][2] - on) < 1e-6:
            out[i][2] += dur
            out[i][3] = out[i][3] or fermata
            if tie == "stop":
                del open_tie[midi]
            continue
        out.append([midi, on, dur, fermata])
        if tie in ("start", "continue"):
            open_tie[midi] = len(out) - 1
        else:
            open_tie.pop(midi, None)
    return [(m, on, d, f) for m, on, d, f in out]
