"""Synthetic labelled pairs: performances rendered by our piano with randomised physical parameters.

Why randomise: a transcriber trained on one synthetic instrument learns that instrument. Drawing the
tuning, inharmonicity, damping, hammer and loudness curves of every clip from a wide distribution
around the concert-grand defaults (domain randomisation) makes the real pianos we meet look like one
more draw. The ranges are those over which real instruments differ (tuning ±15 cents, B ±30%, decay
±50%, hammer hardness), widened a little.

Performances come from two places, both disjoint from the prepared real data:
* corpus pieces the prepared set does not use (humanised by pianograd.data with their own seed);
* "note soups": random notes, chords and runs over all 88 keys with random velocities, durations and
  pedal, so the extremes of the keyboard and of the dynamics are seen too.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, List, Optional

import numpy as np

from .. import _core as pg
from ..data import DataConfig, Note, Performance, catalog, load_manifest, prepare
from .sources import Segment, rolls_u8


def random_piano(rng: np.random.Generator, sample_rate: float, base: Optional["pg.Piano"] = None,
                 scale: float = 1.0) -> "pg.Piano":
    """A concert grand (or a copy of `base`) whose physical parameters are perturbed per clip (see the module
    docstring); `scale` shrinks the perturbations (e.g. 0.3 to stay near a piano fitted to recordings)."""
    p = pg.Piano(sample_rate)
    if base is not None:
        for name, v in base.tensors.items():
            p[name] = pg.from_numpy(np.array(v.numpy(), dtype=np.float32))
    t = p.tensors

    def perturb(name: str, fn) -> None:
        a = t[name].numpy().astype(np.float64)
        p[name] = pg.from_numpy(np.asarray(a + scale * (fn(a) - a), dtype=np.float32))

    keys = np.arange(88) / 87.0
    smooth = lambda s: s * np.polynomial.legendre.legval(2 * keys - 1, rng.normal(0, 1, 3))  # noqa: E731
    perturb("tuning_cents", lambda a: a + rng.normal(0, 6) + smooth(2.0) + rng.normal(0, 1.0, 88))
    perturb("log_B", lambda a: a + rng.normal(0, 0.25) + smooth(0.1))
    perturb("detune_cents", lambda a: a + rng.uniform(0, 2.5) * rng.uniform(-1, 1, a.shape))
    perturb("log_b1", lambda a: a + rng.normal(0, 0.4) + smooth(0.15))
    perturb("log_b3", lambda a: a + rng.normal(0, 0.4))
    perturb("strike_position", lambda a: np.clip(a * rng.uniform(0.8, 1.2), 0.06, 0.25))
    perturb("log_cutoff_hz", lambda a: a + rng.normal(0, 0.3))
    perturb("brightness", lambda a: a + rng.normal(0, 0.25))
    perturb("loudness_range_db", lambda a: np.clip(a + rng.normal(0, 6), 20, 60))
    perturb("loudness_db", lambda a: a + smooth(3.0))
    perturb("log_damper_rate", lambda a: a + rng.normal(0, 0.3))
    perturb("knock_db", lambda a: a + rng.normal(0, 4))
    return p


def note_soup(rng: np.random.Generator, duration: float) -> Performance:
    """Random notes over the keyboard: single notes, chords and runs, random velocity and pedal."""
    notes: List[Note] = []
    t = rng.uniform(0.0, 0.3)
    centre = rng.integers(30, 100)
    while t < duration - 0.05:
        centre = int(np.clip(centre + rng.integers(-7, 8), 21, 108))
        poly = int(rng.choice([1, 1, 2, 3, 4, 5, 6]))
        keys = np.unique(np.clip(centre + rng.integers(-14, 15, poly), 21, 108))
        base_v = rng.integers(15, 126)
        for k in keys:
            on = t + abs(rng.normal(0, 0.008))
            dur = float(np.exp(rng.uniform(np.log(0.06), np.log(2.0))))
            v = int(np.clip(base_v + rng.integers(-12, 13), 1, 127))
            notes.append(Note(int(k), round(on, 3), round(min(on + dur, duration), 3) + 0.001, v))
        t += float(np.exp(rng.uniform(np.log(0.07), np.log(0.8))))
    pedal = []
    if rng.random() < 0.5:
        s = rng.uniform(0, 1.0)
        while s < duration:
            e = s + rng.uniform(0.5, 2.5)
            pedal += [(round(s, 3), 1.0), (round(min(e, duration), 3), 0.0)]
            s = e + rng.uniform(0.1, 1.0)
    return _resolve_overlaps(Performance(notes, pedal))


def _resolve_overlaps(perf: Performance) -> Performance:
    """A key cannot sound twice at once: cut a note where the next strike of its key begins."""
    by_key = {}
    for n in sorted(perf.notes, key=lambda n: (n.key, n.onset)):
        by_key.setdefault(n.key, []).append(n)
    notes = []
    for ns in by_key.values():
        for a, b in zip(ns, ns[1:] + [None]):
            off = a.offset if b is None else min(a.offset, b.onset - 0.001)
            if off - a.onset >= 0.03:
                notes.append(Note(a.key, a.onset, off, a.velocity))
    return Performance(sorted(notes, key=lambda n: (n.onset, n.key)), perf.pedal)


def corpus_pool(real_manifest: Optional[dict], pieces: int, seed: int, cache_root: str,
                quiet: bool = True) -> List[Performance]:
    """Humanised performances (no audio) of `pieces` corpus pieces that the real data set does not use."""
    cfg = DataConfig(name="synthpool", pieces=pieces, seed=seed + 7919, n_pairs=0, audio=False,
                     categories=("keyboard", "chorale", "quartet", "song"), excerpts_per_piece=3,
                     excerpt_s=12.0)
    out = f"{cache_root}/synthpool-{pieces}-s{cfg.seed}"
    prepare(cfg, out, progress=not quiet)
    m = load_manifest(out)
    used_groups = set()
    if real_manifest:
        real_ids = set().union(*map(set, real_manifest["splits"].values()))
        # exclude whole works (groups), not just pieces: two harmonisations of one chorale tune share it
        used_groups = {p.group for p in catalog() if p.id in real_ids}
    group_of = {p.id: p.group for p in catalog()}
    root = Path(m["root"])
    return [Performance.load_json(root / e["labels"]) for e in m["excerpts"] if group_of.get(e["piece"]) not in used_groups]


class SyntheticSource:
    """Labelled segments rendered on the fly: a random performance (corpus pool or note soup) on a freshly
    randomised piano, with a random gain and a little noise."""

    def __init__(self, model, rng: np.random.Generator, pool: Optional[List[Performance]] = None,
                 soup_fraction: float = 0.5, base_piano: Optional[Callable[[], "pg.Piano"]] = None,
                 base_fraction: float = 0.0) -> None:
        from .sources import _Frames
        self.frames = _Frames(model)
        self.rng = rng
        self.pool = pool or []
        self.soup_fraction = soup_fraction if self.pool else 1.0
        # With base_piano, a base_fraction of the clips is rendered by a lightly perturbed copy of that piano
        # (pianograd adapt: the piano the synth loop is fitting to a new instrument), the rest as before.
        self.base_piano = base_piano
        self.base_fraction = base_fraction if base_piano is not None else 0.0

    def performance(self, seconds: float) -> Performance:
        if self.rng.random() < self.soup_fraction:
            return note_soup(self.rng, seconds)
        perf = self.pool[int(self.rng.integers(len(self.pool)))]
        start = self.rng.uniform(0, max(0.0, perf.duration - seconds))
        return perf.window(start, start + seconds)

    def segment(self, n: int, labelled: bool = True) -> Segment:
        sr = self.frames.sample_rate
        seconds = n / sr
        perf = self.performance(seconds)
        if self.base_fraction > 0 and self.rng.random() < self.base_fraction:
            piano = random_piano(self.rng, sr, base=self.base_piano(), scale=0.3)
        else:
            piano = random_piano(self.rng, sr)
        x = np.zeros(n, np.float32)
        if perf.notes:
            pg.set_grad_enabled(False)
            try:
                y = piano.render(perf, sr, room=bool(self.rng.random() < 0.6)).numpy()
            finally:
                pg.set_grad_enabled(True)
            x[:min(n, len(y))] = y[:n]
        x *= np.float32(self.rng.uniform(0.2, 1.0) / max(1e-4, float(np.abs(x).max())))
        x += np.float32(10 ** self.rng.uniform(-5, -3)) * self.rng.standard_normal(n).astype(np.float32)
        rolls = rolls_u8(perf, self.frames.frame_rate, self.frames.num_frames(n)) if labelled else None
        return Segment(x, rolls)
