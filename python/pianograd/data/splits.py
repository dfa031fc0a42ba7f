"""Seeded, leak-free train/valid/test splits by work, piece selection, and the pair budget N.

* A work's split is a function of (seed, work id) alone: u = sha256(seed, group) mapped to [0, 1),
  test if u < f_test, valid if u < f_test + f_valid, else train. So with one seed a work is in the same
  split whatever the data-set size or the categories chosen: a test piece of the 12-piece demo set is
  never a training piece of the 400-piece set.
* Selection of K pieces takes, within each split, a prefix of a seeded order that interleaves the
  categories (round robin), so small sets still mix styles and a larger K extends a smaller one.
* The pair budget keeps labels for the first N training pieces of a seeded order (nested: the N = 4
  pieces are among the N = 16 ones), so the sample-efficiency curve compares like with like.
"""
from __future__ import annotations

import hashlib
import random
from typing import Dict, List, Sequence

from .catalog import CATEGORIES, Piece, by_category

SPLITS = ("train", "valid", "test")


def _unit(*parts: object) -> float:
    h = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(h[:8], "big") / 2.0**64


def split_of(group: str, seed: int, f_valid: float, f_test: float) -> str:
    u = _unit("split", seed, group)
    if u < f_test:
        return "test"
    if u < f_test + f_valid:
        return "valid"
    return "train"


def split_counts(k: int, f_valid: float, f_test: float) -> Dict[str, int]:
    """Pieces per split for a K-piece set: at least one valid and one test piece once K >= 3."""
    if k < 3:
        raise ValueError(f"need at least 3 pieces for train/valid/test, got {k}")
    n_test = max(1, round(k * f_test))
    n_valid = max(1, round(k * f_valid))
    n_train = k - n_test - n_valid
    if n_train < 1:
        raise ValueError(f"{k} pieces leave no training piece with f_valid={f_valid}, f_test={f_test}")
    return {"train": n_train, "valid": n_valid, "test": n_test}


def select_pieces(pool: Sequence[Piece], k: int, seed: int, f_valid: float = 0.1,
                  f_test: float = 0.1) -> Dict[str, List[Piece]]:
    """K pieces from `pool`, by split. Raises ValueError when a split's pool is too small."""
    want = split_counts(k, f_valid, f_test)
    out: Dict[str, List[Piece]] = {}
    for split in SPLITS:
        members = [p for p in pool if split_of(p.group, seed, f_valid, f_test) == split]
        order = _interleaved(members, seed, split)
        if len(order) < want[split]:
            raise ValueError(f"split {split!r} has {len(order)} pieces in the chosen categories, "
                             f"{want[split]} wanted (K={k}); use fewer pieces or more categories")
        out[split] = order[: want[split]]
    return out


def _interleaved(members: Sequence[Piece], seed: int, split: str) -> List[Piece]:
    cats = by_category(sorted(members, key=lambda p: p.id))
    queues = []
    for c in CATEGORIES:
        q = list(cats[c])
        random.Random(f"{seed}/{split}/{c}").shuffle(q)
        queues.append(q)
    out: List[Piece] = []
    while any(queues):
        for q in queues:
            if q:
                out.append(q.pop(0))
    return out


def labelled_subset(train: Sequence[str], n_pairs: int, seed: int) -> List[str]:
    """The N training pieces that keep their labels (nested in N for a fixed seed and train list)."""
    if n_pairs < 0:
        raise ValueError(f"n_pairs must be >= 0, got {n_pairs}")
    order = sorted(train)
    random.Random(f"{seed}/pairs").shuffle(order)
    return order[: min(n_pairs, len(order))]
