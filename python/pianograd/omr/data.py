"""Engraved staff strips with token and note ground truth, by split, cached by content hash.

Splits are the transcription data's (pianograd.data.splits.split_of over the catalogue's works), so a
work's image, audio and performance stay on one side. One font is held out of training (Leland by
default) and the test split is engraved in it as well as in the training fonts.
"""
from __future__ import annotations

import json
import random
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np

from ..data.cache import atomic_write_with, hash_obj
from ..progress_report import progress_bar
from .staff import deskew, find_staves, neighbour_limits, staff_strip
from .tokens import encode_ids

DATA_VERSION = 2
CACHE = Path("data/cache/omr")


@dataclass
class OmrDataConfig:
    categories: Sequence[str] = ("chorale", "keyboard", "song", "quartet")
    max_pieces: Dict[str, int] = field(default_factory=lambda: {"train": 400, "valid": 12, "test": 24})
    fonts: Sequence[str] = ("Leipzig", "Bravura", "Gootville", "Petaluma")
    held_out_font: str = "Leland"
    variants: int = 1             # engravings per segment (style and degradation drawn anew)
    degrade: float = 0.7          # degradation strength (0 = clean renderings)
    max_segments: int = 40       # per piece: a quartet movement would otherwise outweigh 20 chorales
    min_bars: int = 2
    max_bars: int = 4
    seed: int = 0
    split_seed: int = 0           # the transcription data's split seed
    f_valid: float = 0.1
    f_test: float = 0.1
    piano_staves: int = 0         # synthetic piano staves added to the training split (omr.piano_staves)
    piano_systems: int = 0        # synthetic grand staves, engraved braced and cut into their two staves
    corpus_systems: int = 0       # training works (piano first) also engraved as whole systems, cut per staff
    piano_seed: int = 0           # draws the synthetic staves (piece names carry it)
    piano_short_rests: float = 1.0        # omr.piano_staves.PianoStyle
    piano_double_accidentals: float = 0.1
    piano_hidden_rests: float = 0.0
    piano_harmonic: float = 0.0


@dataclass
class StripSet:
    """Strips (uint8, 64 rows, varying width) with token ids and notes (pitch, onset, duration)."""
    strips: List[np.ndarray]
    ids: List[List[int]]
    notes: List[List[List[float]]]
    meta: List[dict]

    def __len__(self) -> int:
        return len(self.strips)


def split_pieces(cfg: OmrDataConfig, split: str) -> List[str]:
    from ..data.catalog import catalog
    from ..data.splits import split_of

    pieces = [p for p in catalog() if p.category in cfg.categories
              and split_of(p.group, cfg.split_seed, cfg.f_valid, cfg.f_test) == split]
    rng = random.Random(f"omr-{cfg.seed}-{split}")
    # Interleave categories so a small cap still sees every kind of writing.
    by_cat: Dict[str, List[str]] = {}
    for p in sorted(pieces, key=lambda p: p.id):
        by_cat.setdefault(p.category, []).append(p.id)
    for v in by_cat.values():
        rng.shuffle(v)
    order: List[str] = []
    while any(by_cat.values()):
        for c in sorted(by_cat):
            if by_cat[c]:
                order.append(by_cat[c].pop())
    return order[: cfg.max_pieces.get(split, len(order))]


_SYNTHETIC_FIELDS = ("piano_staves", "piano_systems", "corpus_systems", "piano_seed", "piano_short_rests",
                     "piano_double_accidentals", "piano_hidden_rests", "piano_harmonic")
_PIANO_STYLE = ("piano_seed", "piano_short_rests", "piano_double_accidentals", "piano_hidden_rests",
                "piano_harmonic")
# Style fields added after caches were made: hashed only away from their default, so those caches'
# keys (and the data they hold, which these fields at their default do not change) stay valid.
_LATER_DEFAULTS = {"piano_harmonic": 0.0}


def _hashed_cfg(cfg: OmrDataConfig, keep: Sequence[str] = ()) -> dict:
    # The synthetic sources do not change the corpus strips (nor each other), so each cache is keyed
    # without the fields that do not feed it.
    d = asdict(cfg)
    for k in _SYNTHETIC_FIELDS:
        if k not in keep or (k in _LATER_DEFAULTS and d[k] == _LATER_DEFAULTS[k]):
            del d[k]
    return d


def build(cfg: OmrDataConfig, split: str, font_set: str = "train", progress: bool = True) -> StripSet:
    """The strips of one split; font_set "train" draws from cfg.fonts, "held_out" uses cfg.held_out_font."""
    from ..data.engrave import Engraver, piece_staves

    fonts = list(cfg.fonts) if font_set == "train" else [cfg.held_out_font]
    pieces = split_pieces(cfg, split)
    key = hash_obj("omr-strips", DATA_VERSION, _hashed_cfg(cfg), split, font_set, pieces)
    path = CACHE / f"{split}_{font_set}_{key[:16]}.npz"
    if path.exists():
        return load(path)
    out = StripSet([], [], [], [])
    eng = Engraver()
    missed = 0
    for pi, piece in enumerate(progress_bar(pieces, desc=f"omr {split}/{font_set}", disable=not progress)):
        missed += _engrave_into(out, eng, cfg, list(piece_staves(piece)), piece, split, font_set, fonts)
    if progress:
        print(f"omr {split}/{font_set}: {len(out)} strips from {len(pieces)} pieces; "
              f"{missed} renderings without exactly one detected staff left out")
    save(path, out)
    return out


def build_piano(cfg: OmrDataConfig, progress: bool = True) -> StripSet:
    """Strips of cfg.piano_staves synthetic piano staves and of cfg.piano_systems synthetic grand staves
    (pianograd.omr.piano_staves), engraved in the training fonts and cached like the corpus strips. Meta
    marks them "synthetic": they are engraver pairs (signal a) whatever the pair budget N."""
    from ..data.engrave import Engraver
    from .piano_staves import PianoStyle, piano_staves, piano_systems

    style = PianoStyle(cfg.piano_short_rests, cfg.piano_double_accidentals, cfg.piano_hidden_rests,
                       cfg.piano_harmonic)

    def engrave_staves() -> StripSet:
        out, eng, missed = StripSet([], [], [], []), Engraver(), 0
        staves = piano_staves(cfg.piano_staves, cfg.piano_seed, style=style)
        for staff in progress_bar(staves, desc="omr piano staves", disable=not progress):
            missed += _engrave_into(out, eng, cfg, [staff], staff.piece, "train", "train", list(cfg.fonts))
        if progress:
            print(f"omr piano staves: {len(out)} strips from {len(staves)} staves; {missed} left out")
        return out

    def engrave_systems() -> StripSet:
        out, eng, missed = StripSet([], [], [], []), Engraver(), 0
        systems = piano_systems(cfg.piano_systems, cfg.piano_seed, style=style)
        for sy in progress_bar(systems, desc="omr grand staves", disable=not progress):
            missed += _engrave_system_into(out, eng, cfg, sy, list(cfg.fonts))
        if progress:
            print(f"omr grand staves: {len(out)} strips from {len(systems)} systems; {missed} left out")
        return out

    out = StripSet([], [], [], [])
    if cfg.piano_staves:
        out = concat(out, _cached(cfg, "omr-piano-strips", "piano", ("piano_staves",) + _PIANO_STYLE,
                                  engrave_staves))
    if cfg.piano_systems:
        out = concat(out, _cached(cfg, "omr-grand-strips", "grand", ("piano_systems",) + _PIANO_STYLE,
                                  engrave_systems))
    return out


def _cached(cfg: OmrDataConfig, tag: str, prefix: str, fields: Sequence[str], make) -> StripSet:
    """A synthetic strip set keyed by the config without the other synthetic sources; made, marked
    synthetic and saved on a miss."""
    key = hash_obj(tag, DATA_VERSION, _hashed_cfg(cfg, fields))
    path = CACHE / f"{prefix}_{key[:16]}.npz"
    if path.exists():
        return load(path)
    s = make()
    for m in s.meta:
        m["synthetic"] = True
    save(path, s)
    return s


def build_systems(cfg: OmrDataConfig, progress: bool = True) -> StripSet:
    """The training split's works (keyboard works first, then the categories interleaved as the split
    orders them; cfg.corpus_systems of them) engraved as whole systems and cut into one strip per staff,
    as a page shows them: a staff's strip holds what reaches in from its neighbours. Labelled or not by
    the pair budget like the works' single-staff strips."""
    from ..data.catalog import catalog
    from ..data.engrave import Engraver, piece_system

    cat = {p.id: p.category for p in catalog()}
    pieces = split_pieces(cfg, "train")
    pieces = [p for p in pieces if cat[p] == "keyboard"] + [p for p in pieces if cat[p] != "keyboard"]
    key = hash_obj("omr-system-strips", DATA_VERSION, _hashed_cfg(cfg, ("corpus_systems",)), pieces)
    path = CACHE / f"systems_{key[:16]}.npz"
    if path.exists():
        return load(path)
    out, eng, missed, used = StripSet([], [], [], []), Engraver(), 0, 0
    for piece in progress_bar(pieces, desc="omr corpus systems", disable=not progress):
        if used >= cfg.corpus_systems:
            break
        system = piece_system(piece)
        if system is None or len(system.staves) > 4:
            continue
        used += 1
        missed += _engrave_system_into(out, eng, cfg, system, list(cfg.fonts))
    if progress:
        print(f"omr corpus systems: {len(out)} strips from {used} works; {missed} renderings left out")
    save(path, out)
    return out


def _engrave_system_into(out: StripSet, eng, cfg: OmrDataConfig, system, fonts: Sequence[str]) -> int:
    """Engraves a braced system a few bars at a time and cuts it into one strip per staff as the page
    reader does, so a strip shows what reaches into it from the staff above or below and loses what
    lies past halfway to them. Returns the renderings left out for not showing exactly its staves."""
    from ..data.engrave import EngraveStyle, staff_segments
    from ..omr.encode import segment_tokens, staff_notes
    from .tokens import TokenError

    rng = random.Random(f"{cfg.seed}-{system.piece}")
    nrng = np.random.default_rng(int(hash_obj("omr-noise", cfg.seed, system.piece)[:8], 16))
    missed = 0
    segs = staff_segments(system.staves[0], rng, cfg.min_bars, cfg.max_bars)
    if len(segs) > cfg.max_segments // len(system.staves):
        segs = [segs[i] for i in sorted(rng.sample(range(len(segs)), cfg.max_segments // len(system.staves)))]
    for seg in segs:
        labels = []
        try:
            for st in system.staves:
                toks = segment_tokens(st.bars, seg.first, seg.last)
                labels.append((encode_ids(toks), [[n.pitch, float(n.onset), float(n.duration)]
                                                  for n in staff_notes(st.part, seg.first, seg.last)]))
        except TokenError:
            continue
        style = EngraveStyle.sample(rng, fonts)
        grey, boxes = _render(eng, cfg, system.engraved, seg, style, nrng)
        if len(boxes) != len(system.staves):
            missed += 1
            continue
        for k, (box, (ids, notes)) in enumerate(zip(boxes, labels)):
            # Cut as the page reader cuts (halfway to the neighbours), so training sees what it will.
            out.strips.append(staff_strip(grey, box, jitter=nrng, limits=neighbour_limits(boxes, k)))
            out.ids.append(ids)
            out.notes.append(notes)
            out.meta.append({"piece": system.piece, "staff": k, "bars": [seg.first, seg.last],
                             "font": style.font, "space_px": round(box.space, 2)})
    return missed


def _engrave_into(out: StripSet, eng, cfg: OmrDataConfig, staves, piece: str, split: str, font_set: str,
                  fonts: Sequence[str]) -> int:
    """Engraves the systems of `staves` (one piece) into `out`; returns how many renderings were left
    out for not showing exactly one detected staff."""
    from ..data.engrave import EngraveStyle, staff_segments

    rng = random.Random(f"{cfg.seed}-{piece}")
    nrng = np.random.default_rng(int(hash_obj("omr-noise", cfg.seed, split, font_set, piece)[:8], 16))
    segs = [(staff, seg) for staff in staves for seg in staff_segments(staff, rng, cfg.min_bars, cfg.max_bars)]
    if len(segs) > cfg.max_segments:
        keep = sorted(rng.sample(range(len(segs)), cfg.max_segments))
        segs = [segs[i] for i in keep]
    missed = 0
    for staff, seg in segs:
        for _ in range(cfg.variants):
            style = EngraveStyle.sample(rng, fonts)
            grey, boxes = _render(eng, cfg, staff, seg, style, nrng)
            if len(boxes) != 1:
                missed += 1
                continue
            out.strips.append(staff_strip(grey, boxes[0], jitter=nrng))
            out.ids.append(encode_ids(seg.tokens))
            out.notes.append([list(n) for n in seg.notes])
            out.meta.append({"piece": piece, "staff": seg.staff, "bars": [seg.first, seg.last],
                             "font": style.font, "space_px": round(boxes[0].space, 2)})
    return missed


def _render(eng, cfg: OmrDataConfig, staff, seg, style, nrng):
    """A segment engraved, degraded and straightened, with the staves found on it."""
    from .degrade import degrade

    grey = eng.render(staff, seg.first, seg.last, style)
    if cfg.degrade > 0:
        grey = degrade(grey, nrng, cfg.degrade)
    grey = deskew(grey)
    return grey, find_staves(grey)


def concat(a: StripSet, b: StripSet) -> StripSet:
    return StripSet(a.strips + b.strips, a.ids + b.ids, a.notes + b.notes, a.meta + b.meta)


def save(path: Path, s: StripSet) -> None:
    widths = np.array([a.shape[1] for a in s.strips], dtype=np.int64)
    flat = np.concatenate([a.reshape(-1) for a in s.strips]) if s.strips else np.zeros(0, np.uint8)
    lens = np.array([len(i) for i in s.ids], dtype=np.int64)
    ids = np.array([t for i in s.ids for t in i], dtype=np.int32)
    side = json.dumps({"notes": s.notes, "meta": s.meta})

    def write(tmp: str) -> None:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, strips=flat, widths=widths, ids=ids, lens=lens, side=np.array(side))

    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_with(path, write)


def load(path: Path) -> StripSet:
    z = np.load(path, allow_pickle=False)
    widths, lens = z["widths"], z["lens"]
    flat, ids = z["strips"], z["ids"]
    side = json.loads(str(z["side"]))
    strips, toks = [], []
    o = 0
    for w in widths:
        n = 64 * int(w)
        strips.append(flat[o:o + n].reshape(64, int(w)))
        o += n
    o = 0
    for n in lens:
        toks.append(ids[o:o + int(n)].tolist())
        o += int(n)
    return StripSet(strips, toks, side["notes"], side["meta"])
