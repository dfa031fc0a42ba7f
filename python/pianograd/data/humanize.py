"""A score (quarter-note time) performed as a pianist might: tempo, rubato, humanised timing,
phrase-level dynamics and sustain pedalling. Deterministic from a seed.

Model (each aspect draws from its own child stream of numpy's SeedSequence, so switching one aspect
off - e.g. timing jitter for a test - leaves the others bit-identical):
* Tempo: the score's metronome mark if it has a real one, else a beat tempo drawn from the category's
  range (converted to quarters per minute through the beat unit), times U(1 - tempo_jitter, 1 + ...).
  The local tempo drifts slowly (three sinusoids, +-tempo_drift), slows by up to phrase_rit over the
  last beat of each phrase, and a fermata note lasts fermata_stretch times longer. Score time maps to
  seconds through the integral of 60 / bpm(q) on a 1/48-quarter grid.
* Unisons between voices (same key, same written onset) become one key press before anything else.
* Timing: onsets and offsets get Gaussian jitter (onset_sigma, offset_sigma) truncated at
  +-jitter_clip sigma; notes are held for an articulation fraction of their written length (per-piece
  mean, per-note spread), never shorter than min_note_s; a re-struck key releases before it is struck.
* Dynamics: a base level from the score's dynamic marks (vel = 10 + 110 * volumeScalar) or a per-piece
  draw, an arch over each phrase (phrases end at fermatas, else every 2 or 4 bars) peaking at 45-70 %
  of it, bonuses for the top voice, the bass and metric accents, and per-note Gaussian jitter
  truncated at +-jitter_clip sigma; clipped to velocity_range.
* Pedal (with probability pedal_prob per piece): legato ("syncopated") pedalling - the pedal is
  lifted just after each harmony change and pressed again 70-140 ms later; harmony changes are
  approximated by bar lines and beats at which the set of sounding pitch classes changes.
"""
from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from typing import Dict, List, Tuple

import numpy as np

from .._core import Note, Performance
from .score import ScoreData, ScoreNote

# Beat-level tempo ranges (beats per minute) when the score gives no tempo.
BEAT_BPM: Dict[str, Tuple[float, float]] = {
    "chorale": (58.0, 80.0), "keyboard": (66.0, 108.0), "song": (56.0, 84.0), "quartet": (66.0, 104.0),
}
_GRID = 48  # time-map resolution: 1/48 quarter note


@dataclass(frozen=True)
class HumanizeConfig:
    tempo_jitter: float = 0.08
    tempo_drift: float = 0.04
    phrase_rit: float = 0.15
    fermata_stretch: Tuple[float, float] = (1.4, 2.0)
    qpm_range: Tuple[float, float] = (40.0, 180.0)   # clamp on quarter notes per minute
    lead_in_s: float = 0.25                           # silence before the first note
    onset_sigma: float = 0.010
    offset_sigma: float = 0.015
    jitter_clip: float = 3.0                          # Gaussian jitter truncated at this many sigma
    articulation: Tuple[float, float] = (0.82, 0.98)  # per-piece mean held fraction of written length
    articulation_sigma: float = 0.04
    min_note_s: float = 0.04
    base_velocity: Tuple[float, float] = (54.0, 80.0)
    phrase_amp: Tuple[float, float] = (8.0, 20.0)
    top_voice_bonus: float = 8.0
    bass_bonus: float = 3.0
    downbeat_bonus: float = 5.0
    beat_bonus: float = 2.0
    velocity_sigma: float = 4.0
    velocity_range: Tuple[int, int] = (12, 120)
    pedal_prob: float = 0.7
    pedal_up_delay: Tuple[float, float] = (0.01, 0.04)
    pedal_down_delay: Tuple[float, float] = (0.07, 0.14)
    min_pedal_span_s: float = 0.3


def truncated_normal(rng: np.random.Generator, sigma: float, clip: float, n: int) -> np.ndarray:
    """N(0, sigma^2) samples truncated at +-clip*sigma (by clipping: the bound is hard)."""
    if sigma <= 0 or n == 0:
        return np.zeros(n)
    return np.clip(rng.normal(0.0, sigma, n), -clip * sigma, clip * sigma)


def _streams(seed: int) -> Dict[str, np.random.Generator]:
    names = ("tempo", "timing", "dynamics", "pedal")
    kids = np.random.SeedSequence(seed).spawn(len(names))
    return {n: np.random.Generator(np.random.PCG64(k)) for n, k in zip(names, kids)}


def _phrase_bounds(score: ScoreData, rng: np.random.Generator) -> List[float]:
    end = max(score.length_q, max((n.q_on + n.q_dur for n in score.notes), default=0.0))
    ferm = sorted({n.q_on + n.q_dur for n in score.notes if n.fermata})
    if len(ferm) >= 2:
        b = [0.0] + [q for q in ferm if 0 < q < end] + [end]
    else:
        every = int(rng.choice([2, 4]))
        b = [0.0] + score.bars[every::every] + [end]
    return sorted(set(b))


def tempo_map(score: ScoreData, category: str, cfg: HumanizeConfig, rng: np.random.Generator,
              phrases: List[float]) -> Tuple[np.ndarray, float]:
    """Seconds at each grid point q = i / _GRID, and the base quarter tempo chosen."""
    if score.tempo_qpm is not None:
        qpm = score.tempo_qpm
    else:
        lo, hi = BEAT_BPM.get(category, BEAT_BPM["keyboard"])
        qpm = rng.uniform(lo, hi) * score.beat_q
    qpm *= rng.uniform(1 - cfg.tempo_jitter, 1 + cfg.tempo_jitter)
    qpm = float(np.clip(qpm, *cfg.qpm_range))
    end_q = max(phrases[-1], 1.0) + 4.0
    q = np.arange(int(math.ceil(end_q * _GRID)) + 1) / _GRID
    drift = np.zeros_like(q)
    for period in (29.0, 11.0, 4.7):  # quarters; incommensurate so the drift does not repeat
        drift += np.sin(2 * np.pi * q / period + rng.uniform(0, 2 * np.pi)) / 3
    bpm = qpm * (1 + cfg.tempo_drift * drift)
    beat = score.beat_q
    for e in phrases[1:]:  # ritardando over the last beat of each phrase: linear ramp to phrase_rit
        m = (q > e - beat) & (q <= e)
        bpm[m] /= 1 + cfg.phrase_rit * (q[m] - (e - beat)) / beat
    # One stretch per fermata onset (all notes of a fermata chord share it; overlapping spans take the
    # larger stretch rather than compounding).
    spans: Dict[float, float] = {}
    for n in score.notes:
        if n.fermata:
            spans[n.q_on] = max(spans.get(n.q_on, 0.0), n.q_dur)
    stretch = np.ones_like(q)
    for on in sorted(spans):
        m = (q >= on) & (q < on + spans[on])
        stretch[m] = np.maximum(stretch[m], rng.uniform(*cfg.fermata_stretch))
    bpm /= stretch
    dt = 60.0 / bpm / _GRID
    secs = np.concatenate([[0.0], np.cumsum(dt[:-1])])
    return secs, qpm


def _at(secs: np.ndarray, qs: np.ndarray) -> np.ndarray:
    return np.interp(qs * _GRID, np.arange(len(secs)), secs)


def perform(score: ScoreData, category: str, seed: int, cfg: HumanizeConfig = HumanizeConfig(),
            max_seconds: float = math.inf) -> Tuple[Performance, dict]:
    """The performance (notes with onsets before max_seconds) and facts about it (tempo, pedalled)."""
    rs = _streams(seed)
    phrases = _phrase_bounds(score, rs["tempo"])
    secs, qpm = tempo_map(score, category, cfg, rs["tempo"], phrases)
    # Voices in unison (same key, same written onset) are one key press: keep the longer note.
    uniq: Dict[Tuple[int, float], ScoreNote] = {}
    for n in score.notes:
        k = (n.pitch, n.q_on)
        if k not in uniq or n.q_dur > uniq[k].q_dur:
            uniq[k] = n
    cand = sorted(uniq.values(), key=lambda n: (n.q_on, n.pitch))
    starts = _at(secs, np.array([n.q_on for n in cand])) if cand else np.zeros(0)
    notes = [n for n, t in zip(cand, starts) if t < max_seconds]
    if not notes:
        return Performance(), {"qpm": qpm, "pedalled": False}
    pitch = np.array([n.pitch for n in notes])
    q_on = np.array([n.q_on for n in notes])
    q_off = q_on + np.array([n.q_dur for n in notes])

    # --- timing
    t_on, t_off = _at(secs, q_on), _at(secs, q_off)
    r = rs["timing"]
    art_mean = r.uniform(*cfg.articulation)
    art = np.clip(art_mean + cfg.articulation_sigma * r.standard_normal(len(notes)), 0.5, 1.0)
    on = t_on + truncated_normal(r, cfg.onset_sigma, cfg.jitter_clip, len(notes))
    off = on + (t_off - t_on) * art + truncated_normal(r, cfg.offset_sigma, cfg.jitter_clip, len(notes))
    off = np.maximum(off, on + cfg.min_note_s)
    shift = cfg.lead_in_s - min(0.0, float(on.min()))
    on, off = on + shift, off + shift

    # --- dynamics
    vel = _velocities(score, cfg, rs["dynamics"], phrases, pitch, q_on, q_off)

    perf = Performance([Note(int(k), float(a), float(b), int(v)) for k, a, b, v in zip(pitch, on, off, vel)])
    perf = resolve_same_key(perf, cfg.min_note_s)

    # --- pedal
    pedalled = bool(rs["pedal"].uniform() < cfg.pedal_prob)
    if pedalled:
        perf.pedal = _pedal(score, cfg, rs["pedal"], secs, shift, pitch, q_on, q_off, perf.duration)
    perf.validate()
    return perf.sort(), {"qpm": round(qpm, 3), "pedalled": pedalled}


def _velocities(score: ScoreData, cfg: HumanizeConfig, r: np.random.Generator, phrases: List[float],
                pitch: np.ndarray, q_on: np.ndarray, q_off: np.ndarray) -> np.ndarray:
    n = len(pitch)
    if score.dynamics:
        qs = [q for q, _ in score.dynamics]
        lv = [10 + 110 * v for _, v in score.dynamics]
        base = np.array([lv[max(0, bisect.bisect_right(qs, q) - 1)] for q in q_on])
        base += r.uniform(-6, 6)
    else:
        base = np.full(n, r.uniform(*cfg.base_velocity))
    pb = np.array(phrases)
    idx = np.clip(np.searchsorted(pb, q_on, side="right") - 1, 0, len(pb) - 2)
    n_ph = len(pb) - 1
    amp = r.uniform(*cfg.phrase_amp, n_ph)
    peak = r.uniform(0.45, 0.7, n_ph)
    level = r.normal(0.0, 4.0, n_ph)  # phrase-to-phrase variation of the overall level
    a, b = pb[idx], pb[idx + 1]
    u = np.clip((q_on - a) / np.maximum(b - a, 1e-9), 0, 1)
    p = peak[idx]
    w = np.where(u < p, 0.5 * u / p, 0.5 + 0.5 * (u - p) / (1 - p))
    arch = amp[idx] * (np.sin(np.pi * w) - 0.5) + level[idx]

    # Voice emphasis: the highest (lowest) key sounding at a note's onset carries the tune (bass).
    order = np.argsort(q_on, kind="stable")
    top = np.zeros(n, bool)
    low = np.zeros(n, bool)
    for i in order:
        sounding = (q_on <= q_on[i]) & (q_off > q_on[i])
        top[i] = pitch[i] >= pitch[sounding].max()
        low[i] = pitch[i] <= pitch[sounding].min() and sounding.sum() > 1
    bars = np.array(score.bars)
    bar_start = bars[np.clip(np.searchsorted(bars, q_on, side="right") - 1, 0, len(bars) - 1)]
    pos = q_on - bar_start
    downbeat = np.isclose(pos, 0.0, atol=1e-6)
    on_beat = np.isclose(np.mod(pos + 1e-9, score.beat_q), 0.0, atol=1e-6) & ~downbeat
    vel = (base + arch + cfg.top_voice_bonus * top + cfg.bass_bonus * low
           + cfg.downbeat_bonus * downbeat + cfg.beat_bonus * on_beat
           + truncated_normal(r, cfg.velocity_sigma, cfg.jitter_clip, n))
    return np.clip(np.rint(vel), *cfg.velocity_range).astype(int)


def resolve_same_key(perf: Performance, min_note_s: float) -> Performance:
    """One key cannot sound twice: unisons between voices (struck within min_note_s) become one note
    (the louder velocity, the later release); otherwise a held note is released min_note_s / 2 before
    its key is struck again (never shorter than min_note_s / 2)."""
    by_key: Dict[int, List[Note]] = {}
    for n in perf.notes:
        by_key.setdefault(n.key, []).append(n)
    out: List[Note] = []
    gap = min_note_s / 2
    for key, ns in by_key.items():
        ns.sort(key=lambda n: (n.onset, n.offset))
        merged: List[Note] = []
        for n in ns:
            if merged and n.onset - merged[-1].onset < min_note_s:
                m = merged[-1]
                merged[-1] = Note(key, m.onset, max(m.offset, n.offset), max(m.velocity, n.velocity))
            else:
                merged.append(n)
        for i, n in enumerate(merged):
            off = n.offset
            if i + 1 < len(merged):
                off = min(off, merged[i + 1].onset - gap)
            out.append(Note(key, n.onset, max(off, n.onset + gap), n.velocity))
    return Performance(out, list(perf.pedal)).sort()


def _pedal(score: ScoreData, cfg: HumanizeConfig, r: np.random.Generator, secs: np.ndarray,
           shift: float, pitch: np.ndarray, q_on: np.ndarray, q_off: np.ndarray, end_s: float) -> List[Tuple[float, float]]:
    beats: List[float] = []
    bars = list(score.bars) + [max(score.length_q, float(q_on.max()) + score.beat_q)]
    for a, b in zip(bars[:-1], bars[1:]):
        q = a
        while q < b - 1e-9:
            beats.append(q)
            q += score.beat_q
    bar_set = set(score.bars)
    changes: List[float] = []
    prev: frozenset = frozenset()
    for q in beats:
        # Harmony proxy: the pitch classes sounding at the beat (a passing note between beats does
        # not count). A new set, or a bar line, is a pedal change.
        sounding = (q_on <= q + 1e-6) & (q_off > q + 1e-6)
        pcs = frozenset(int(p) % 12 for p in pitch[sounding])
        if pcs and (q in bar_set or pcs != prev):
            changes.append(q)
        if pcs:
            prev = pcs
    times: List[float] = []
    for t in _at(secs, np.array(changes)) + shift if changes else []:
        if not times or t - times[-1] >= cfg.min_pedal_span_s:
            times.append(float(t))
    events: List[Tuple[float, float]] = []
    for i, t in enumerate(times):
        if t > end_s:
            break
        if i > 0:
            events.append((t + r.uniform(*cfg.pedal_up_delay), 0.0))
        events.append((t + r.uniform(*cfg.pedal_down_delay), 1.0))
    if events:
        events.append((max(end_s, events[-1][0]) + r.uniform(0.05, 0.2), 0.0))
    return events
