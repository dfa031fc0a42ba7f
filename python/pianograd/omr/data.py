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
from .staff import deskew, find_staves, staff_strip
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


def build(cfg: OmrDataConfig, split: str, font_set: str = "train", progress: bool = True) -> StripSet:
    """The strips of one split; font_set "train" draws from cfg.fonts, "held_out" uses cfg.held_out_font."""
    from ..data.engrave import EngraveStyle, Engraver, piece_staves, staff_segments
    from .degrade import degrade

    fonts = list(cfg.fonts) if font_set == "train" else [cfg.held_out_font]
    pieces = split_pieces(cfg, split)
    key = hash_obj("omr-strips", DATA_VERSION, asdict(cfg), split, font_set, pieces)
    path = CACHE / f"{split}_{font_set}_{key[:16]}.npz"
    if path.exists():
        return load(path)
    out = StripSet([], [], [], [])
    eng = Engraver()
    missed = 0
    for pi, piece in enumerate(progress_bar(pieces, desc=f"omr {split}/{font_set}", disable=not progress)):
        rng = random.Random(f"{cfg.seed}-{piece}")
        nrng = np.random.default_rng(int(hash_obj("omr-noise", cfg.seed, split, font_set, piece)[:8], 16))
        segs = [(staff, seg) for staff in piece_staves(piece)
                for seg in staff_segments(staff, rng, cfg.min_bars, cfg.max_bars)]
        if len(segs) > cfg.max_segments:
            keep = sorted(rng.sample(range(len(segs)), cfg.max_segments))
            segs = [segs[i] for i in keep]
        for staff, seg in segs:
            for _ in range(cfg.variants):
                style = EngraveStyle.sample(rng, fonts)
                grey = eng.render(staff, seg.first, seg.last, style)
                if cfg.degrade > 0:
                    grey = degrade(grey, nrng, cfg.degrade)
                grey = deskew(grey)
                boxes = find_staves(grey)
                if len(boxes) != 1:
                    missed += 1
                    continue
                out.strips.append(staff_strip(grey, boxes[0], jitter=nrng))
                out.ids.append(encode_ids(seg.tokens))
                out.notes.append([list(n) for n in seg.notes])
                out.meta.append({"piece": piece, "staff": seg.staff, "bars": [seg.first, seg.last],
                                 "font": style.font, "space_px": round(boxes[0].space, 2)})
    if progress:
        print(f"omr {split}/{font_set}: {len(out)} strips from {len(pieces)} pieces; "
              f"{missed} renderings without exactly one detected staff left out")
    save(path, out)
    return out


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
