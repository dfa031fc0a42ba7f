"""Choosing the decoding thresholds of a trained transcriber on the VALIDATION split (never on test).

The network's sigmoid outputs are probabilities; where to cut them into notes (onset peak threshold,
frame threshold, whether the offset head may end a note) trades precision against recall differently for
each model. `tune_decoding` predicts the rolls of every validation excerpt once and decodes them under a
grid of thresholds, keeping the one with the best mean note F1 + note-with-offset F1; for a model with a
pedal head the pedal threshold is chosen next, on note F1 + note-with-offset F1 + pooled pedal event F1
(the decoded pedal extends the decoded notes, so it moves the note scores too). The choice is
stored beside the checkpoint as `<model>.decode.json`, which `pianograd transcribe` and `pianograd eval`
use as their defaults.
"""
from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Dict, Optional, Sequence, Union

import numpy as np

from .. import _core as pg
from .. import progress as show_progress  # the package's progress wrapper (not in _core)
from ..data import excerpts, load_audio, load_manifest

PathLike = Union[str, Path]
DEFAULT = {"onset_threshold": 0.5, "frame_threshold": 0.5, "offset_threshold": 0.5, "pedal_threshold": 0.5,
           "pedal_min_seconds": 0.04, "pedal_median_frames": 1}
INTEGER_OPTIONS = ("pedal_median_frames",)


def sidecar(model_path: PathLike) -> Path:
    return Path(str(model_path) + ".decode.json")


def decode_options(model_path: Optional[PathLike]) -> Dict[str, float]:
    """The tuned thresholds stored beside a checkpoint, or the defaults (0.5 each)."""
    if model_path is None:
        return dict(DEFAULT)
    p = sidecar(model_path)
    if not p.is_file():
        return dict(DEFAULT)
    d = json.loads(p.read_text())
    return {k: (int if k in INTEGER_OPTIONS else float)(d.get(k, v)) for k, v in DEFAULT.items()}


def tune_decoding(model: "pg.Transcriber", data: PathLike, split: str = "valid", limit: int = 0,
                  onset: Sequence[float] = (0.3, 0.4, 0.5, 0.6), frame: Sequence[float] = (0.3, 0.4, 0.5, 0.6),
                  offset: Sequence[float] = (0.5, 0.7, 1.01), pedal: Sequence[float] = (0.3, 0.4, 0.5, 0.6, 0.7),
                  pedal_min_seconds: Sequence[float] = (0.04, 0.1, 0.2, 0.3),
                  pedal_median_frames: Sequence[int] = (1, 5, 9),
                  save_to: Optional[PathLike] = None,
                  progress: bool = False) -> Dict[str, float]:
    """Grid search of the decoding thresholds on a split; offset 1.01 means "the offset head never ends a
    note" (the frame head alone does). Returns the best options with their score."""
    manifest = load_manifest(data)
    items = excerpts(manifest, split)[: limit or None]
    if not items:
        raise ValueError(f"split {split!r} has no excerpts")
    fr = float(model.frame_rate)
    cached = []
    for e in (show_progress(items, desc=f"predict {split}") if progress else items):
        x, sr = load_audio(e.wav)
        r = model.predict_rolls(np.ascontiguousarray(x, dtype=np.float32), float(sr))
        cached.append((e.performance(), {k: pg.from_numpy(np.ascontiguousarray(v)) for k, v in r.items()}))
    has_pedal = all("pedal_frame" in r for _, r in cached)

    def scores(on: float, fm: float, off: float, ped: float, ped_min: float = DEFAULT["pedal_min_seconds"],
               ped_median: int = DEFAULT["pedal_median_frames"]) -> Dict[str, float]:
        rows = []
        for ref, r in cached:
            pedal_rolls = {k: r[k] for k in ("pedal_frame", "pedal_onset", "pedal_offset")} if has_pedal else {}
            est = pg.rolls_to_performance(r["onset"], r["frame"], fr, offset=r["offset"], velocity=r["velocity"],
                                          onset_threshold=on, frame_threshold=fm, offset_threshold=off,
                                          pedal_threshold=ped, pedal_min_seconds=ped_min,
                                          pedal_median_frames=ped_median, **pedal_rolls)
            rows.append(pg.transcription_metrics(ref, est, frame_rate=fr))
        out = {"note_f1": float(np.mean([m["note"]["f1"] for m in rows])),
               "note_offset_f1": float(np.mean([m["note_offset"]["f1"] for m in rows]))}
        if has_pedal:
            from .report import pooled_prf
            out["pedal_f1"] = pooled_prf([m["pedal"] for m in rows])["f1"]
        return out

    best = None
    for on, fm, off in itertools.product(onset, frame, offset):
        sc = scores(on, fm, off, DEFAULT["pedal_threshold"])
        score = sc["note_f1"] + sc["note_offset_f1"]
        if best is None or score > best["score"]:
            best = {"onset_threshold": on, "frame_threshold": fm, "offset_threshold": off, "score": score, **sc}
    if has_pedal:
        notes = {k: best[k] for k in ("onset_threshold", "frame_threshold", "offset_threshold")}
        ranked = []
        for ped, ped_min, ped_median in itertools.product(pedal, pedal_min_seconds, pedal_median_frames):
            sc = scores(notes["onset_threshold"], notes["frame_threshold"], notes["offset_threshold"], ped, ped_min,
                        ped_median)
            ranked.append((sc["note_f1"] + sc["note_offset_f1"] + sc["pedal_f1"], -len(ranked),
                           {"pedal_threshold": ped, "pedal_min_seconds": ped_min, "pedal_median_frames": ped_median},
                           sc))
        score, _, chosen, sc = max(ranked, key=lambda r: r[:2])  # the first of equals in grid order
        best = {**notes, **chosen, "score": score, **sc}
    best["tuned_on"] = f"{Path(data).name}/{split} ({len(cached)} excerpts)"
    if save_to is not None:
        from ..data.cache import atomic_write_json
        atomic_write_json(sidecar(save_to), best)
    return best
