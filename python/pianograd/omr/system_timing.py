"""One timeline for the staves of a system: bar lengths decided across the staves, and notes of a staff
that misread its bar put where the page prints them.

g reads each staff on its own, so one misread duration shifts every later note of that staff. What the
staves of a system share is the page: their barlines cross all of them, and notes that sound together
are printed one above the other (every engraver spaces a system as one column of time). Two stages use
that:

1. `anchor_bars`: where the staves read the same number of bars, each bar's length is the one most
   staves read (on a tie the metre's bar, or what completes a short bar after it, as at a repeat that
   splits a bar), and every staff restarts at each barline.
2. x positions (`StaffPositions`, from the CTC path of each token): in a bar a staff misread (its
   length differs from the agreed one), each note takes the onset of the note or rest printed above or
   below it in a staff that read the bar right; notes with no partner keep their own spacing between
   partners where it is consistent, and otherwise are placed by x between partners, on the beat grid.
"""
from __future__ import annotations

from bisect import bisect_right
from collections import Counter
from dataclasses import dataclass
from fractions import Fraction
from typing import Callable, Dict, List, Optional, Sequence, Set, Tuple

import numpy as np

from .tokens import StaffNote

# Notes printed within this many staff spaces of a partner in another staff sound with it: measured on
# MuseScore and Verovio pages, simultaneous notes' CTC positions differ by <= 0.7 spaces, while the
# closest successive notes (sixteenths in a dense system) are >= 1.4 spaces apart.
MATCH_SPACES = 0.9


@dataclass
class StaffPositions:
    """Where a staff's tokens sit on the page, in the staff's own reading: the time and x (px) at which
    each unit (note, chord or rest) starts, and the x of each barline it read."""
    units: List[Tuple[Fraction, float]]
    bar_x: List[float]


def _bar_starts(marks: Sequence[Fraction]) -> List[Fraction]:
    """Where each bar of a reading starts, from its barline times (the last mark is the staff's end)."""
    return [Fraction(0)] + list(marks[:-1])


def _bar_of(starts: Sequence[Fraction], t: Fraction) -> int:
    """Index of the bar that holds time t (a time before the first barline is in the first bar)."""
    return max(bisect_right(starts, t) - 1, 0)


def on_grid(q: Fraction, unit: Optional[Fraction]) -> Fraction:
    """q moved to the nearest whole number of beat units (at least one). A bar, or a bar split at a repeat,
    holds whole beats; a reading a quarter of a beat off (a misread dot or tuplet) would otherwise put
    every later note of the page off the beat."""
    if unit is None or q <= 0:
        return q
    return max(unit, unit * round(q / unit))


def agreed_bars(readings: Sequence[Sequence[Fraction]], bar: Optional[Fraction], unit: Optional[Fraction] = None,
                free_first: bool = False, silent: Optional[Sequence[Set[int]]] = None,
                pickup: Optional[Callable[[List[Fraction]], Fraction]] = None) -> Optional[List[Fraction]]:
    """Each bar's length across staves that read the same number of bars (None where the counts differ).
    The length most staves read, where a staff that holds a single rest of at least half a bar (`silent`:
    per staff, the bars with a single rest) votes for the metre's bar: a whole-bar rest fills any bar and
    looks the same in every metre, so the duration g gives it is a guess, and in a choir's or a song's
    score such staves can outnumber the ones that play. On a tie, what completes the next bar to the metre's bar where the
    staves agree that bar is short (a bar split at a repeat sign prints its beats on both sides), else
    the metre's bar, else the longest reading; on the beat-unit grid (but the first bar with
    free_first, a pickup's)."""
    if not readings or any(not m for m in readings) or len({len(m) for m in readings}) != 1:
        return None
    lengths = [[b - a for a, b in zip(_bar_starts(m), m)] for m in readings]
    if silent and bar is not None:
        lengths = [[bar if j in rests and 2 * q >= bar else q for j, q in enumerate(ls)]
                   for ls, rests in zip(lengths, silent)]
    ties: List[List[Fraction]] = []
    for j in range(len(readings[0])):
        votes = Counter(ls[j] for ls in lengths)
        top = max(votes.values())
        ties.append(sorted(q for q, c in votes.items() if c == top))
    agreed: List[Fraction] = []
    for j, tied in enumerate(ties):
        nxt = ties[j + 1] if j + 1 < len(ties) else []
        if len(tied) == 1:
            q = tied[0]
        elif bar is not None and len(nxt) == 1 and nxt[0] < bar and bar - nxt[0] in tied:
            q = bar - nxt[0]
        elif bar is not None:
            # Staves that disagree with no majority: the metre's bar is a better guess than either reading.
            q = bar
        else:
            q = max(tied)
        agreed.append(q if free_first and j == 0 else on_grid(q, unit))
    if free_first and pickup is not None and len(ties[0]) > 1:
        agreed[0] = pickup(agreed)
    return agreed


def anchor_bars(staff_notes: Sequence[Sequence[StaffNote]], readings: Sequence[Sequence[Fraction]],
                bar: Optional[Fraction], unit: Optional[Fraction] = None, free_first: bool = False,
                positions: Optional[Sequence[Optional[StaffPositions]]] = None,
                space: float = 0.0) -> Optional[Tuple[List[List[StaffNote]], Fraction]]:
    """The system's notes on one timeline (see the module docstring) and its length in beats; None where
    the staves read different numbers of bars. `positions` (one per staff, or None) and the staff
    `space` in px turn on the x alignment of misread bars."""
    with_x = positions is not None and space > 0 and len(positions) == len(staff_notes) and \
        all(p is not None for p in positions)
    if with_x and len({len(m) for m in readings}) > 1:
        fixed = reconcile_barlines(readings, positions, space, bar)
        if fixed is not None:
            readings, positions = fixed
    silent = _silent_bars(staff_notes, readings, positions) if with_x else None
    agreed = agreed_bars(readings, bar, unit, free_first, silent,
                         pickup=(lambda ag: _pickup_by_x(readings, positions, ag, bar)) if with_x else None)
    if agreed is None:
        return None
    begin = [Fraction(0)]
    for q in agreed[:-1]:
        begin.append(begin[-1] + q)
    starts = [_bar_starts(m) for m in readings]
    out: List[List[StaffNote]] = []
    for k, (ns, st) in enumerate(zip(staff_notes, starts)):
        moved = []
        for n in ns:
            j = _bar_of(st, n.onset)
            moved.append(StaffNote(n.pitch, begin[j] + (n.onset - st[j]), n.duration))
        out.append(moved)
    if with_x:
        out = _align_by_x(staff_notes, out, readings, agreed, begin, positions, space, unit)
    return out, begin[-1] + agreed[-1]


def reconcile_barlines(readings: Sequence[Sequence[Fraction]], positions: Sequence[StaffPositions], space: float,
                       bar: Optional[Fraction]) -> Optional[Tuple[List[List[Fraction]], List[StaffPositions]]]:
    """Staves that read different numbers of bars, made to agree by where their barlines are printed. A
    barline crosses every staff of a system, so one that some staves read and others did not was either
    imagined (a stem, a repeat dot) or missed. Each is settled by the choice that leaves more bars of
    the metre's length (the majority of staves where that does not decide, or no metre is known): drop
    it from the staves that read it (their two bars merge), or add it to the others (the bar splits
    before the first unit printed right of it). None where positions are incomplete."""
    bars_at: List[List[Tuple[Fraction, float]]] = []
    for m, pos in zip(readings, positions):
        if not m or len(pos.bar_x) != len(m) - 1:
            return None
        bars_at.append(list(zip(m[:-1], pos.bar_x)))
    ends = [m[-1] for m in readings]
    events = sorted((x, k) for k, bl in enumerate(bars_at) for _, x in bl)
    clusters: List[Dict[int, float]] = []
    for x, k in events:
        c = clusters[-1] if clusters else None
        if c is not None and k not in c and x - min(c.values()) <= 1.5 * space:
            c[k] = x
        else:
            clusters.append({k: x})
    K = len(readings)

    def bar_of(k: int, x: float) -> Tuple[Fraction, Fraction]:
        """Start and end (own time) of staff k's bar that holds x."""
        lo, hi = Fraction(0), ends[k]
        for t, bx in bars_at[k]:
            if bx < x:
                lo = t
            elif t > lo:
                hi = t
                break
        return lo, hi

    for c in clusters:
        if len(c) == K:
            continue
        cx = float(np.median(list(c.values())))
        dropped, added = [], []  # bar lengths each choice leaves, across all staves
        splits: Dict[int, Fraction] = {}
        for k in range(K):
            if k in c:
                i = next(i for i, (_, bx) in enumerate(bars_at[k]) if bx == c[k])
                lo = bars_at[k][i - 1][0] if i else Fraction(0)
                t = bars_at[k][i][0]
                hi = bars_at[k][i + 1][0] if i + 1 < len(bars_at[k]) else ends[k]
                dropped.append(hi - lo)
                added += [t - lo, hi - t]
            else:
                lo, hi = bar_of(k, cx)
                dropped.append(hi - lo)
                t = min((u for u, ux in positions[k].units if lo < u < hi and ux > cx), default=None)
                if t is not None:
                    splits[k] = t
                    added += [t - lo, hi - t]
        can_add = len(splits) == K - len(c)
        if bar is not None and can_add:
            f_drop = sum(q == bar for q in dropped) / len(dropped)
            f_add = sum(q == bar for q in added) / len(added)
            add = f_add > f_drop or (f_add == f_drop and 2 * len(c) > K)
        else:
            add = can_add and 2 * len(c) > K
        for k in range(K):
            if add and k in splits:
                bars_at[k] = sorted(bars_at[k] + [(splits[k], cx)])
            elif not add and k in c:
                bars_at[k] = [(t, bx) for t, bx in bars_at[k] if bx != c[k]]
    fixed = [[t for t, _ in bl] + [e] for bl, e in zip(bars_at, ends)]
    if len({len(m) for m in fixed}) != 1:
        return None
    return fixed, [StaffPositions(list(p.units), [x for _, x in bl]) for p, bl in zip(positions, bars_at)]


def _silent_bars(staff_notes: Sequence[Sequence[StaffNote]], readings: Sequence[Sequence[Fraction]],
                 positions: Sequence[StaffPositions]) -> List[Set[int]]:
    """Per staff, the bars that hold one unit and no note: a single rest."""
    out = []
    for ns, m, pos in zip(staff_notes, readings, positions):
        starts = _bar_starts(m)
        count = Counter(_bar_of(starts, t) for t, _ in pos.units)
        sounding = {_bar_of(starts, n.onset) for n in ns}
        out.append({j for j in range(len(m)) if count[j] == 1 and j not in sounding})
    return out


def _pickup_by_x(readings: Sequence[Sequence[Fraction]], positions: Sequence[StaffPositions],
                 agreed: List[Fraction], bar: Optional[Fraction]) -> Fraction:
    """The first bar's length where the staves read it differently, from its width on the page: from
    its first note to its barline, at the px per beat the system's later bars show over the same span.
    A pickup must look clearly shorter than a bar (at most 0.6 of one: a bar of long notes is printed
    narrower per beat than one of short notes) to be read as one, and is then the
    reading nearest to that width; otherwise the first bar is whole. Either is common (an eighth's
    pickup read as a quarter, a full first bar with a misread note), and only the page tells them apart."""
    if bar is None or len(agreed) < 2:
        return agreed[0]
    widths, rates = [], []
    for k, m in enumerate(readings):
        pos = positions[k]
        if len(pos.bar_x) < 1:
            continue
        for j, (a, b) in enumerate(zip(_bar_starts(m), m[:len(pos.bar_x)])):
            x0 = min((x for t, x in pos.units if a <= t < b), default=None)
            if x0 is None or pos.bar_x[j] <= x0:
                continue
            if j == 0:
                widths.append(pos.bar_x[0] - x0)
            else:
                rates.append((pos.bar_x[j] - x0) / float(agreed[j]))
    if not widths or not rates:
        return agreed[0]
    beats = float(np.median(widths)) / float(np.median(rates))
    short = sorted({m[0] for m in readings if 0 < m[0] < bar})
    if beats > 0.6 * float(bar) or not short:
        return bar
    return min(short, key=lambda q: abs(np.log(float(q) / beats)))


def _align_by_x(own: Sequence[Sequence[StaffNote]], moved: List[List[StaffNote]],
                readings: Sequence[Sequence[Fraction]], agreed: List[Fraction], begin: List[Fraction],
                positions: Sequence[StaffPositions], space: float,
                unit: Optional[Fraction]) -> List[List[StaffNote]]:
    starts = [_bar_starts(m) for m in readings]
    right = [[m[j] - st[j] == agreed[j] for j in range(len(agreed))] for m, st in zip(readings, starts)]
    if all(all(r) for r in right) or not any(any(r) for r in right):
        return moved
    # Partners per bar: the units of the staves that read the bar right, and the barline that ends it.
    partners: List[List[Tuple[float, Fraction]]] = [[] for _ in agreed]
    for k, pos in enumerate(positions):
        for t, x in pos.units:
            j = _bar_of(starts[k], t)
            if right[k][j]:
                partners[j].append((x, begin[j] + (t - starts[k][j])))
        for j, x in enumerate(pos.bar_x[:len(agreed)]):
            if right[k][j]:
                partners[j].append((x, begin[j] + agreed[j]))
    for p in partners:
        p.sort()
    tol = MATCH_SPACES * space
    out = []
    for k, (ns, pos) in enumerate(zip(own, positions)):
        where: Dict[Fraction, float] = {}
        for t, x in pos.units:
            where.setdefault(t, x)
        bars_notes: Dict[int, List[int]] = {}
        for i, n in enumerate(ns):
            bars_notes.setdefault(_bar_of(starts[k], n.onset), []).append(i)
        result = list(moved[k])
        for j, idx in bars_notes.items():
            if right[k][j] or not partners[j]:
                continue
            onsets = _place_bar([(ns[i].onset, where.get(ns[i].onset)) for i in idx], starts[k][j],
                                readings[k][j], begin[j], agreed[j], partners[j], tol, unit)
            for i, o in zip(idx, onsets):
                result[i] = StaffNote(ns[i].pitch, o, ns[i].duration)
        placed = sorted(result, key=lambda n: (n.onset, n.pitch, n.duration))
        out.append(placed)
    return out


def _place_bar(notes: List[Tuple[Fraction, Optional[float]]], own_start: Fraction, own_end: Fraction,
               begin: Fraction, length: Fraction, partners: List[Tuple[float, Fraction]], tol: float,
               unit: Optional[Fraction]) -> List[Fraction]:
    """Onsets for one misread bar's notes, given as (own time, x)."""
    times = sorted({t for t, _ in notes})
    xs = {t: x for t, x in notes if x is not None}
    matched: Dict[Fraction, Fraction] = {}
    for t in times:
        if t in xs:
            x, o = min(partners, key=lambda p: abs(p[0] - xs[t]))
            if abs(x - xs[t]) <= tol:
                matched[t] = o
    # A stretch between two partners whose own spacing agrees with theirs was read right: keep it.
    pairs = [(own_start, begin)] + sorted(matched.items()) + [(own_end, begin + length)]
    placed: Dict[Fraction, Fraction] = {}
    for t in times:
        if t in matched:
            placed[t] = matched[t]
            continue
        a = max((p for p in pairs if p[0] <= t), key=lambda p: p[0])
        b = min((p for p in pairs if p[0] > t), key=lambda p: p[0], default=None)
        if b is not None and b[1] - a[1] == b[0] - a[0]:
            placed[t] = a[1] + (t - a[0])
        elif t in xs:
            placed[t] = _by_x(xs[t], partners, begin, length, unit)
        else:
            placed[t] = min(max(a[1] + (t - a[0]), begin), begin + length)
    return [placed[t] for t, _ in notes]


def _by_x(x: float, partners: List[Tuple[float, Fraction]], begin: Fraction, length: Fraction,
          unit: Optional[Fraction]) -> Fraction:
    """Onset of a note at x between the partners around it, linear in x (engravers space a bar roughly
    evenly in time at this scale), rounded to the nearest quarter or third of the beat unit."""
    left = [p for p in partners if p[0] <= x]
    rite = [p for p in partners if p[0] > x]
    if not left:
        return begin
    if not rite:
        return left[-1][1]
    (xa, oa), (xb, ob) = left[-1], rite[0]
    f = (x - xa) / (xb - xa) if xb > xa else 0.0
    est = float(oa) + f * float(ob - oa)
    u = unit or Fraction(1)
    grid = [begin + u * Fraction(round((est - float(begin)) / float(u / d)), d) for d in (4, 3)]
    o = min(grid, key=lambda g: abs(float(g) - est))
    return min(max(o, oa), ob)


def system_length(readings: Sequence[Sequence[Fraction]], bar: Optional[Fraction],
                  unit: Optional[Fraction] = None, free_first: bool = False) -> Fraction:
    """The system's duration from the staff read most consistently: the one with the most bars exactly
    as long as the time signature says (one staff's misread duration must not shift every later
    system), then the length most staves agree on, then the longest; on the beat-unit grid when `unit`
    is known (after the first bar with free_first)."""
    if not readings:
        return Fraction(0)
    ends = [m[-1] if m else Fraction(0) for m in readings]

    def full_bars(m: Sequence[Fraction]) -> int:
        if bar is None or not m:
            return 0
        starts = _bar_starts(m)
        return sum(b - a == bar for a, b in zip(starts, m))

    best, end = max(zip(readings, ends), key=lambda r: (full_bars(r[0]), ends.count(r[1]), r[1]))
    first = best[0] if free_first and best else Fraction(0)
    return first + on_grid(end - first, unit) if end > first else end
