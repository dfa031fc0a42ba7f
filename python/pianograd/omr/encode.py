"""music21 staff -> semantic tokens (pianograd.omr.tokens), and the staff's notes in beats read
independently of the tokens (the round-trip reference).

Both read the same music21 stream; ``staff_notes`` walks it by absolute offsets and merges ties, while
``staff_tokens`` serialises it group by group. Agreement of ``tokens_to_notes(staff_tokens(s))`` with
``staff_notes(s)`` on every corpus staff is what "lossless" means here (tests/python/test_omr_tokens.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Dict, List, Optional, Sequence, Tuple

from .tokens import BAR, JOIN, REST, TIE, StaffNote, TokenError, fmt_q, token_index, vocabulary

_ACC = {-2: "bb", -1: "b", 0: "", 1: "#", 2: "##"}


def _q(x) -> Fraction:
    return x if isinstance(x, Fraction) else Fraction(x).limit_denominator(1 << 12)


def _pitch_token(p) -> str:
    alter = p.accidental.alter if p.accidental is not None else 0
    if alter not in _ACC:
        raise TokenError(f"microtonal accidental {p.accidental} on {p.nameWithOctave}")
    octave = p.octave if p.octave is not None else p.implicitOctave
    return f"{p.step}{_ACC[int(alter)]}{octave}"


def _clef_token(c) -> str:
    if c.sign == "percussion":
        return "clef:percussion"
    shift = {0: "", -1: "-8", 1: "+8"}.get(getattr(c, "octaveChange", 0) or 0)
    if shift is None or c.sign not in ("G", "F", "C") or c.line is None:
        raise TokenError(f"clef {c!r} has no token")
    return f"clef:{c.sign}{c.line}{shift}"


def _checked(tok: str) -> str:
    if tok not in token_index():
        raise TokenError(f"{tok!r} is not in the OMR vocabulary")
    return tok


def _advance_tokens(q: Fraction) -> List[str]:
    """An advance as '+d' tokens summing to q, largest first (any positive q of the vocabulary's grid)."""
    durs = sorted((Fraction(t[1:]) for t in vocabulary() if t.startswith("+")), reverse=True)
    out, left = [], q
    while left > 0:
        d = next((d for d in durs if d <= left), None)
        if d is None:
            raise TokenError(f"advance of {q} quarter notes is not a sum of printable durations")
        out.append("+" + fmt_q(d))
        left -= d
    return out


def _visible(el) -> bool:
    return not (el.style.hideObjectOnPrint if el.hasStyleInformation else False)


def _measure_events(m) -> Tuple[Dict[Fraction, List], List[Tuple[Fraction, str]]]:
    from music21 import clef, note

    groups: Dict[Fraction, List] = {}
    clefs: List[Tuple[Fraction, str]] = []
    for el in m.recurse():
        if isinstance(el, clef.Clef):
            off = _q(el.getOffsetInHierarchy(m))
            if off > 0:
                clefs.append((off, _clef_token(el)))
            continue
        if not isinstance(el, note.GeneralNote) or el.duration.isGrace:
            continue
        if isinstance(el, note.Rest) and not _visible(el):
            continue
        if isinstance(el, note.Unpitched):
            raise TokenError(f"unpitched note in measure {m.number}")
        groups.setdefault(_q(el.getOffsetInHierarchy(m)), []).append(el)
    return groups, clefs


def _group_tokens(els) -> Tuple[List[str], Fraction]:
    """Units of one onset: equal durations share a unit (chord); units ordered by lowest pitch, rests
    last; returns the tokens and the group's shortest duration."""
    from music21 import chord, note

    units: Dict[Tuple[bool, Fraction], List] = {}
    for el in els:
        units.setdefault((isinstance(el, note.Rest), _q(el.duration.quarterLength)), []).append(el)
    order = []
    for (is_rest, q), members in units.items():
        if is_rest:
            order.append((1, 0, q, [REST]))
            continue
        pitched = []
        for el in members:
            ns = list(el.notes) if isinstance(el, chord.Chord) else [el]
            for n in ns:
                tie = n.tie is not None and n.tie.type in ("start", "continue")
                pitched.append((n.pitch.midi, _pitch_token(n.pitch), tie))
        pitched.sort()
        toks = []
        for _, tok, tie in pitched:
            toks.append(_checked(tok))
            if tie:
                toks.append(TIE)
        order.append((0, pitched[0][0], q, toks))
    order.sort(key=lambda u: (u[0], u[1], u[2]))
    out: List[str] = []
    for i, (_, _, q, toks) in enumerate(order):
        if i:
            out.append(JOIN)
        out += toks
        out.append(_checked(fmt_q(q)))
    return out, min(u[2] for u in order)


@dataclass
class MeasureTokens:
    """One bar of a staff: its tokens (state changes included; None when the bar cannot be encoded)
    and the state it opens with."""
    tokens: Optional[List[str]]
    clef: Optional[str]
    key: Optional[str]
    time: Optional[str]
    error: str = ""


def staff_measures(part) -> List[MeasureTokens]:
    """Tokens of each bar of one staff (a music21 Part/PartStaff holding Measures), left to right."""
    from music21 import stream

    measures = list(part.getElementsByClass(stream.Measure))
    if not measures:
        raise TokenError("staff has no measures")
    bars: List[MeasureTokens] = []
    cur = {"clef": None, "key": None, "time": None}
    for i, m in enumerate(measures):
        out: List[str] = []
        opening = dict(cur)
        try:
            out += _bar_state_changes(m, cur)
        except TokenError as e:
            bars.append(MeasureTokens(None, opening["clef"], opening["key"], opening["time"], str(e)))
            continue
        bar_len = (_q(measures[i + 1].offset) - _q(m.offset)) if i + 1 < len(measures) else None
        try:
            out += _bar_body(m, bar_len, cur)
        except TokenError as e:
            # One odd bar (an inexpressible tuplet, a microtone) costs its own systems, not the staff.
            bars.append(MeasureTokens(None, opening["clef"], opening["key"], opening["time"], str(e)))
            continue
        bars.append(MeasureTokens(out, opening["clef"], opening["key"], opening["time"]))
    return bars


def _bar_state_changes(m, cur: Dict[str, Optional[str]]) -> List[str]:
    """Clef, key and time signature set at the bar's start, where they change the state in force."""
    from music21 import clef, key, meter

    out: List[str] = []
    for cls, kind, fmt in ((clef.Clef, "clef", _clef_token), (key.KeySignature, "key", lambda k: f"key:{k.sharps}"),
                           (meter.TimeSignature, "time", lambda t: f"time:{t.ratioString}")):
        found = [e for e in m.getElementsByClass(cls) if _q(e.offset) == 0]
        if not found:
            for v in m.voices:
                found += [e for e in v.getElementsByClass(cls) if _q(e.offset) == 0]
        if found:
            tok = _checked(fmt(found[0]))
            if tok != cur[kind]:
                out.append(tok)
                cur[kind] = tok
    return out


def _bar_body(m, bar_len: Optional[Fraction], cur: Dict[str, Optional[str]]) -> List[str]:
    """The groups of one bar with the advances between them and its clef changes (cur is updated)."""
    out: List[str] = []
    groups, clefs = _measure_events(m)
    for _, c in clefs:  # the state after this bar, even when the bar itself fails below
        _checked(c)
    onsets = sorted(groups)
    if onsets and onsets[0] > 0:  # the bar opens with hidden rests or a voice's silence
        out += _advance_tokens(onsets[0])
    for j, on in enumerate(onsets):
        while clefs and clefs[0][0] <= on:
            out.append(clefs.pop(0)[1])
            cur["clef"] = out[-1]
        toks, shortest = _group_tokens(groups[on])
        out += toks
        nxt = onsets[j + 1] if j + 1 < len(onsets) else bar_len
        if nxt is None:
            nxt = max(on + _q(e.duration.quarterLength) for e in groups[on])
            nxt = max(nxt, on + shortest)
        if nxt != on + shortest:
            out += _advance_tokens(nxt - on)
    if not onsets and bar_len:
        out += _advance_tokens(bar_len)
    for _, c in clefs:
        out.append(c)
        cur["clef"] = c
    return out


def segment_tokens(bars: Sequence[MeasureTokens], first: int, last: int) -> List[str]:
    """Tokens of bars first..last (0-based, inclusive) engraved as one system: the system opens with
    the clef and key signature in force (an engraver repeats them on every system; key:0 is the empty
    signature), the time signature only where it is printed (at the piece's start or a change)."""
    bad = next((b for b in bars[first:last + 1] if b.tokens is None), None)
    if bad is not None:
        raise TokenError(f"bars {first}..{last} hold one that cannot be encoded: {bad.error}")
    head = bars[first]
    body = list(head.tokens)
    lead = {}
    while body and body[0].split(":")[0] in ("clef", "key", "time") and body[0].split(":")[0] not in lead:
        lead[body[0].split(":")[0]] = body.pop(0)
    out: List[str] = []
    for kind in ("clef", "key", "time"):
        tok = lead.get(kind, getattr(head, kind) if kind != "time" else None)
        if tok is not None:
            out.append(tok)
    out += body
    for b in bars[first + 1:last + 1]:
        out.append(BAR)
        out += b.tokens
    return out


def staff_tokens(part) -> List[str]:
    """Tokens of a whole staff."""
    bars = staff_measures(part)
    return segment_tokens(bars, 0, len(bars) - 1)


def staff_notes(part, first: int = 0, last: Optional[int] = None,
                starts: Optional[Sequence[Fraction]] = None) -> List[StaffNote]:
    """The sounding notes of bars first..last (0-based, inclusive; all by default) read by absolute
    offsets, onsets from the first bar's start; ties merged within the range, graces dropped. `starts`,
    when given, is where each of those bars starts instead (printed_bar_starts)."""
    from music21 import chord, note, stream

    measures = list(part.getElementsByClass(stream.Measure))
    measures = measures[first:(len(measures) if last is None else last + 1)]
    start = _q(measures[0].offset) if measures else Fraction(0)
    if starts is not None and len(starts) < len(measures):
        raise ValueError(f"staff_notes: {len(starts)} bar starts for {len(measures)} bars")
    raw: List[Tuple[Fraction, int, Fraction, bool]] = []  # onset, pitch, duration, tie-start
    for k, m in enumerate(measures):
        base = _q(m.offset) - start if starts is None else starts[k]
        for el in m.recurse().getElementsByClass(note.NotRest):
            if el.duration.isGrace:
                continue
            on = base + _q(el.getOffsetInHierarchy(m))
            q = _q(el.duration.quarterLength)
            for n in (el.notes if isinstance(el, chord.Chord) else [el]):
                t = n.tie.type if n.tie is not None else None
                raw.append((on, n.pitch.midi, q, t in ("start", "continue")))
    raw.sort(key=lambda r: (r[0], r[1], r[2]))
    out: List[StaffNote] = []
    growing: Dict[int, int] = {}
    for on, p, q, tie_start in raw:
        i: Optional[int] = growing.pop(p, None)
        # The arc decides, as for a reader: a tie start joins the next note of its pitch when that
        # note begins where it ends, whether or not the file marked a matching stop.
        if i is not None and out[i].onset + out[i].duration == on:
            out[i] = StaffNote(p, out[i].onset, out[i].duration + q)
        else:
            out.append(StaffNote(p, on, q))
            i = len(out) - 1
        if tie_start:
            growing[p] = i
    return sorted(out, key=lambda n: (n.onset, n.pitch, n.duration))


def printed_bar_starts(parts: Sequence, n_bars: int) -> List[Fraction]:
    """Where each of the first n_bars bars starts when every bar lasts as long as what is printed in it:
    from the earliest start to the latest end of a visible note or rest over all parts. Encodings pad a
    bar split at a repeat (two beats before the sign, one after) with unprinted rests to a full bar
    each, and some pad a pickup in front with an unprinted rest; a reader sees, and a player plays, only
    what is printed, so the padding would put silence into the page's timeline that no image shows. A
    bar's notes lie at its start plus their offset in the bar, so a bar padded in front starts before
    the previous bar ends (the first bar before 0). A bar with nothing printed keeps its length."""
    from music21 import note, stream

    spans: List[Tuple[Fraction, Fraction]] = []
    per_part = [list(p.getElementsByClass(stream.Measure))[:n_bars] for p in parts]
    for j in range(max((len(ms) for ms in per_part), default=0)):
        full, seen, lead = Fraction(0), Fraction(0), None
        for ms in per_part:
            if j >= len(ms):
                continue
            m = ms[j]
            full = max(full, _q(m.duration.quarterLength))
            for el in m.recurse().notesAndRests:
                if el.duration.isGrace or (isinstance(el, note.Rest) and el.style.hideObjectOnPrint):
                    continue
                at = _q(el.getOffsetInHierarchy(m))
                seen = max(seen, at + _q(el.duration.quarterLength))
                lead = at if lead is None else min(lead, at)
        spans.append((lead, seen) if seen > 0 else (Fraction(0), full))
    out, t = [], Fraction(0)
    for lead, seen in spans:
        out.append(t - lead)
        t += seen - lead
    return out
