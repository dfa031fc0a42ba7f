"""Reading a prepared data set: the manifest, its excerpts by split, the pair budget, audio."""
from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Tuple, Union

import numpy as np

from .._core import Performance, read_audio
from .prepare import MANIFEST
from .splits import labelled_subset

PathLike = Union[str, Path]


@dataclass(frozen=True)
class Excerpt:
    id: str
    piece: str
    category: str
    split: str
    labelled: bool
    duration_s: float
    wav: Optional[Path]          # None when the set was prepared without audio
    labels: Optional[Path]       # None when the pair budget withholds this excerpt's labels
    midi: Optional[Path]         # likewise

    def performance(self) -> Performance:
        if self.labels is None:
            raise PermissionError(f"excerpt {self.id}: labels withheld by the pair budget (unlabelled)")
        return Performance.load_json(self.labels)

    def audio(self) -> Tuple[np.ndarray, int]:
        if self.wav is None:
            raise FileNotFoundError(f"excerpt {self.id}: the data set was prepared without audio")
        return load_audio(self.wav)


def load_manifest(path: PathLike) -> dict:
    """The manifest of a prepared folder (or of the manifest file itself); 'root' is added."""
    p = Path(path)
    if p.is_dir():
        p = p / MANIFEST
    m = json.loads(p.read_text())
    m["root"] = str(p.parent.resolve())
    return m


def with_pair_budget(manifest: dict, n_pairs: int, pair_seed: Optional[int] = None) -> dict:
    """A copy of the manifest keeping labels for n_pairs training pieces (nested in n_pairs), so one
    prepared set serves every point of the sample-efficiency curve without re-rendering. pair_seed picks
    which pieces (default: the data set's seed); seeds of an experiment draw different pairs, because with
    N = 1 the one piece matters as much as the method."""
    m = copy.deepcopy(manifest)
    train = m["splits"]["train"]
    keep = set(labelled_subset(train, n_pairs, m["config"]["seed"] if pair_seed is None else pair_seed))
    m["n_pairs"] = len(keep)
    m["labelled_train"] = sorted(keep)
    m["unlabelled_train"] = sorted(set(train) - keep)
    for e in m["excerpts"]:
        e["labelled"] = e["split"] != "train" or e["piece"] in keep
    return m


def excerpts(manifest: dict, split: str, labelled: Optional[bool] = None) -> List[Excerpt]:
    """Excerpts of one split in manifest order; labelled=True/False filters by the pair budget.
    Labels of unlabelled excerpts are withheld (Excerpt.labels is None)."""
    if split not in manifest["splits"]:
        raise KeyError(f"split {split!r} not in {list(manifest['splits'])}")
    root = Path(manifest.get("root", "."))
    out = []
    for e in manifest["excerpts"]:
        if e["split"] != split or (labelled is not None and e["labelled"] != labelled):
            continue
        lab = e["labelled"]
        out.append(Excerpt(
            id=e["id"], piece=e["piece"], category=e["category"], split=split, labelled=lab,
            duration_s=e["duration_s"], wav=root / e["wav"] if e.get("wav") else None,
            labels=root / e["labels"] if lab else None, midi=root / e["midi"] if lab else None))
    return out


def load_audio(path: PathLike) -> Tuple[np.ndarray, int]:
    """Mono float32 samples in [-1, 1] and the sample rate, through the engine's reader (pg.read_audio:
    libsndfile, channels mixed down), so an unreadable file is an OSError naming it, which the CLI
    prints as one line (soundfile's LibsndfileError is a RuntimeError and came out as a traceback)."""
    x, sr = read_audio(str(path))
    return np.ascontiguousarray(x, dtype=np.float32), int(sr)
