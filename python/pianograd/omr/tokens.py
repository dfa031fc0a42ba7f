"""The semantic token encoding of one staff, and its lossless decoding to notes in beats.

A staff reads left to right, so a CTC model can only emit its symbols in that order: the encoding
groups the notes and rests that start together (across voices) and lets time advance between groups.

    clef:G2 key:1 time:3/4 G4 2 D5 1 | B4 3/2 A4 1/2 G4 1 | ...

* ``clef:<sign><line>[<octave shift>]``, ``key:<fifths>``, ``time:<n>/<d>`` where the score has them.
* A *unit* is one or more pitch tokens (``C#4``; spelled, as printed with the key) followed by one
  duration token in quarter notes (``1``, ``1/2``, ``3/2``, ``1/3``): a note, or a chord whose notes
  share that duration; ``r`` in place of the pitches is a rest. ``~`` right after a pitch ties that
  note to the next note of the same pitch.
* Units follow one another in time, except after ``&``: the next unit starts together with the
  previous one (a second voice, or chord notes of another length).
* Time then advances by the shortest duration of the group, which is what the eye reads in almost all
  music; where a voice holds while silent space follows (hidden rests), ``+<q>`` states the advance.
* ``|`` is a barline. It carries no time: bars are as long as their contents, so pickups and
  incomplete bars need no special case.

Grace notes carry no time and are left out (their ornament is not part of a note list in beats).
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

BAR, JOIN, TIE, REST = "|", "&", "~", "r"
BLANK = "<blank>"  # index 0: the CTC blank

_STEPS = "CDEFGAB"
_STEP_SEMI = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_ALTERS = {"bb": -2, "b": -1, "": 0, "#": 1, "##": 2}
_CLEFS = ["G2", "G2-8", "G2+8", "G1", "F4", "F4-8", "F4+8", "F3", "F5", "C1", "C2", "C3", "C4", "C5",
          "percussion"]
_TIMES = ["2/2", "3/2", "4/2", "1/4", "2/4", "3/4", "4/4", "5/4", "6/4", "7/4", "3/8", "5/8", "6/8",
          "7/8", "9/8", "12/8", "2/8", "4/8", "2/16", "3/16", "6/16", "9/16", "12/16"]


class TokenError(ValueError):
    """A score element the encoding cannot represent, or a token sequence that does not decode."""


def _durations() -> List[Fraction]:
    """Every printable duration in quarter notes: plain values (breve .. 128th), one or two dots,
    and those values inside the common tuplets (3:2, 5:4, 6:4, 7:4, 2:3, 4:3)."""
    base = [Fraction(8), Fraction(4), Fraction(2), Fraction(1)] + [Fraction(1, 2 ** k) for k in range(1, 6)]
    dots = [Fraction(1), Fraction(3, 2), Fraction(7, 4)]
    tuplets = [Fraction(1), Fraction(2, 3), Fraction(4, 5), Fraction(4, 6), Fraction(4, 7), Fraction(3, 2),
               Fraction(3, 4)]
    out = {b * d * t for b in base for d in dots for t in tuplets}
    return sorted(out)


def fmt_q(q: Fraction) -> str:
    return str(q.numerator) if q.denominator == 1 else f"{q.numerator}/{q.denominator}"


@lru_cache(maxsize=1)
def vocabulary() -> Tuple[str, ...]:
    """The fixed token list (index 0 = CTC blank). Stable across runs, so a shipped model's output
    layer keeps its meaning; extending it appends at the end."""
    toks = [BLANK, BAR, JOIN, TIE, REST]
    toks += [f"clef:{c}" for c in _CLEFS]
    toks += [f"key:{k}" for k in range(-7, 8)]
    toks += [f"time:{t}" for t in _TIMES]
    for octave in range(0, 9):
        for step in _STEPS:
            for acc in _ALTERS:
                toks.append(f"{step}{acc}{octave}")
    durs = _durations()
    toks += [fmt_q(q) for q in durs]
    toks += ["+" + fmt_q(q) for q in durs]
    return tuple(toks)


@lru_cache(maxsize=1)
def token_index() -> Dict[str, int]:
    return {t: i for i, t in enumerate(vocabulary())}


def encode_ids(tokens: Sequence[str]) -> List[int]:
    idx = token_index()
    try:
        return [idx[t] for t in tokens]
    except KeyError as e:
        raise TokenError(f"token {e.args[0]!r} is not in the OMR vocabulary") from None


def decode_ids(ids: Iterable[int]) -> List[str]:
    voc = vocabulary()
    out = []
    for i in ids:
        if not 0 < int(i) < len(voc):
            raise TokenError(f"token id {i} outside the OMR vocabulary (1..{len(voc) - 1})")
        out.append(voc[int(i)])
    return out


def pitch_midi(tok: str) -> Optional[int]:
    """MIDI number of a pitch token such as 'F#4' (C4 = 60), or None for any other token."""
    if len(tok) < 2 or tok[0] not in _STEP_SEMI or not tok[-1].isdigit():
        return None
    acc = tok[1:-1]
    if acc not in _ALTERS:
        return None
    return 12 * (int(tok[-1]) + 1) + _STEP_SEMI[tok[0]] + _ALTERS[acc]


def _parse_q(tok: str) -> Optional[Fraction]:
    if not tok or not (tok[0].isdigit()):
        return None
    try:
        return Fraction(tok)
    except (ValueError, ZeroDivisionError):
        return None


@dataclass(frozen=True)
class StaffNote:
    """One sounding note of a staff: tied notes are merged into one."""
    pitch: int          # MIDI number
    onset: Fraction     # quarter notes from the start of the excerpt
    duration: Fraction  # quarter notes

    def as_tuple(self) -> Tuple[int, Fraction, Fraction]:
        return (self.pitch, self.onset, self.duration)


def tokens_to_notes(tokens: Sequence[str], strict: bool = True,
                    bars: Optional[List[Fraction]] = None,
                    units: Optional[List[Tuple[Fraction, int]]] = None,
                    bar_tokens: Optional[List[int]] = None) -> List[StaffNote]:
    """Notes in beats from a staff's tokens. With strict=False (model output), malformed stretches are
    skipped instead of raising: a pitch run with no duration is dropped, a dangling tie is released.
    `bars`, when given, receives the time of every barline and, last, the end of the staff; `units`
    the start time and first token index of every unit (note, chord or rest); `bar_tokens` the token
    index of every barline counted in `bars`."""
    notes: List[StaffNote] = []
    open_ties: Dict[int, int] = {}  # pitch -> index in notes of the tied note still growing
    t = Fraction(0)
    group_min: Optional[Fraction] = None
    pitches: List[Tuple[int, bool]] = []
    rest = False
    joined = False
    first = 0  # token index where the open unit began

    def fail(msg: str) -> None:
        if strict:
            raise TokenError(msg)

    pending: List[Tuple[int, Fraction, bool]] = []  # the open group's notes: pitch, duration, tie

    def settle() -> None:
        """Attach the group's notes to the ties that reach them. By (pitch, duration), so the result does
        not depend on the order units were written in (two unison voices, one tied)."""
        for p, q, tie in sorted(pending, key=lambda x: (x[0], x[1])):
            i = open_ties.pop(p, None)
            # A tie whose arc does not land on the next note of its pitch (a gap, another voice's
            # note) ties nothing, as a player would read it.
            if i is not None and notes[i].onset + notes[i].duration == t:
                notes[i] = StaffNote(p, notes[i].onset, notes[i].duration + q)
            else:
                notes.append(StaffNote(p, t, q))
                i = len(notes) - 1
            if tie:
                open_ties[p] = i
        pending.clear()

    def end_group(advance: Optional[Fraction]) -> None:
        nonlocal t, group_min
        settle()
        if group_min is not None:
            t += group_min if advance is None else advance
        elif advance is not None:
            t += advance
        group_min = None

    for pos, tok in enumerate(tokens):
        q = _parse_q(tok)
        if q is not None:  # a duration closes the unit
            if not pitches and not rest:
                fail(f"duration {tok!r} at token {pos} follows no pitch or rest")
                continue
            if not joined:
                end_group(None)
            if units is not None:
                units.append((t, first))
            pending.extend((p, q, tie) for p, tie in pitches)
            group_min = q if group_min is None or not joined else min(group_min, q)
            pitches, rest, joined = [], False, False
            continue
        if tok == JOIN:
            if group_min is None:
                fail(f"'&' at token {pos} joins nothing")
            joined = group_min is not None
            continue
        if tok.startswith("+") and _parse_q(tok[1:]) is not None:
            end_group(_parse_q(tok[1:]))
            continue
        if tok == TIE:
            if not pitches:
                fail(f"'~' at token {pos} follows no pitch")
            else:
                pitches[-1] = (pitches[-1][0], True)
            continue
        if tok == REST:
            if not pitches and not rest:
                first = pos
            rest = True
            continue
        m = pitch_midi(tok)
        if m is not None:
            if not pitches and not rest:
                first = pos
            pitches.append((m, False))
            continue
        if pitches or rest:
            fail(f"{tok!r} at token {pos} interrupts a unit with no duration")
            pitches, rest = [], False
        if tok == BAR or tok.startswith(("clef:", "key:", "time:")):
            if tok == BAR and not joined:
                end_group(None)
                if bars is not None:
                    bars.append(t)
                if bar_tokens is not None:
                    bar_tokens.append(pos)
            continue
        fail(f"unknown token {tok!r} at token {pos}")
    if bars is not None:
        end_group(None)
        bars.append(t)
    settle()
    return sorted(notes, key=lambda n: (n.onset, n.pitch, n.duration))
