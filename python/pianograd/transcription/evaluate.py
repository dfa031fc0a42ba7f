"""`pianograd eval` (issue 5, item 5): transcribe the excerpts of a split and score them against their
labels with the C++ metrics (pg.transcription_metrics), writing JSON, Markdown and piano-roll PNGs."""
from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Optional, Tuple, Union

import numpy as np

from .. import _core as pg
from .. import progress as show_progress  # the package's progress wrapper (not in _core)
from ..data import excerpts, load_audio, load_manifest

PathLike = Union[str, Path]

DEFAULT_MODEL = Path(__file__).resolve().parent / "models" / "transcriber.safetensors"


def load_model(path: Optional[PathLike] = None) -> "pg.Transcriber":
    """A trained transcriber; the model shipped with pianograd when path is None."""
    p = Path(path) if path else DEFAULT_MODEL
    if not p.is_file():
        raise FileNotFoundError(f"transcriber checkpoint {p}: no such file"
                                + ("" if path else " (the shipped model is missing from this install)"))
    m = pg.Transcriber.load(str(p))
    m.eval()
    return m


# The "room" listening condition of `pianograd eval --condition room`: every file re-recorded in a room,
# through a coloured microphone chain, with background noise (pianograd.transcription.augment).
ROOM_CONDITION = {"probability": 1.0, "room": 1.0, "rt60_s": [0.3, 1.2], "drr_db": [-3.0, 9.0],
                  "colour": 1.0, "noise": 1.0, "snr_db": [20.0, 40.0], "gain_db": [-12.0, 0.0]}


def condition_audio(x: np.ndarray, sr: float, condition: Optional[dict], seed: int, key: str) -> np.ndarray:
    """x as heard under `condition` (AugmentConfig keys; None = as is), drawn from (seed, key) alone so a
    file sounds the same in every run and for every model compared."""
    if not condition:
        return x
    import zlib

    from .augment import AugmentConfig, Augmenter

    rng = np.random.default_rng([seed, zlib.crc32(key.encode())])
    return Augmenter(AugmentConfig.from_dict(condition), sr, rng)(x)


def transcribe_file(model: "pg.Transcriber", wav: PathLike, condition: Optional[dict] = None,
                    condition_seed: int = 0, **decode) -> "pg.Performance":
    x, sr = load_audio(wav)
    x = condition_audio(np.asarray(x, dtype=np.float32), float(sr), condition, condition_seed, Path(wav).name)
    return model.transcribe(np.ascontiguousarray(x, dtype=np.float32), float(sr), **decode)


def transcribe_split(model: "pg.Transcriber", manifest: dict, split: str = "test", limit: int = 0,
                     progress: bool = False, condition: Optional[dict] = None, condition_seed: int = 0,
                     **decode) -> List[Tuple[str, object, "pg.Performance"]]:
    """(excerpt id, reference performance, transcription) for every excerpt of a split, optionally heard
    under a recording condition (condition_audio)."""
    items = excerpts(manifest, split)
    if limit:
        items = items[:limit]
    if not items:
        raise ValueError(f"split {split!r} has no excerpts")
    if progress:
        items = show_progress(items, desc=f"transcribe {split}", unit="excerpt")
    out = []
    for e in items:
        if e.wav is None:
            raise FileNotFoundError(f"excerpt {e.id}: the data set was prepared without audio")
        out.append((e.id, e.performance(), transcribe_file(model, e.wav, condition, condition_seed, **decode)))
    return out


def mean_metrics(rows: List[Dict[str, Dict[str, float]]]) -> Dict[str, float]:
    """Mean F1 of each metric kind over excerpts (the Onsets&Frames convention). Pedal events are pooled
    over the excerpts instead (F1 of all matched / estimated / reference events): many excerpts have no
    pedalling at all, and their mir_eval-style F1 of 0 would say nothing about the pedal head."""
    kinds = ("note", "note_offset", "note_offset_velocity", "frame")
    out = {k: float(np.mean([r[k]["f1"] for r in rows])) if rows else 0.0 for k in kinds}
    if rows and all("pedal" in r for r in rows):
        from .report import pooled_prf
        out["pedal"] = pooled_prf([r["pedal"] for r in rows])["f1"]
        if all("pedal_onset" in r for r in rows):
            out["pedal_onset"] = pooled_prf([r["pedal_onset"] for r in rows])["f1"]
    return out


def evaluate(model: Union["pg.Transcriber", PathLike, None], data: PathLike, split: str = "test",
             out: Optional[PathLike] = None, limit: int = 0, title: str = "", progress: bool = False,
             condition: Optional[dict] = None, condition_seed: int = 0, **decode) -> Dict[str, object]:
    """Scores a model on a split of a prepared data set, optionally under a recording condition (e.g.
    ROOM_CONDITION). With `out`, writes metrics.json, report.md and one <excerpt>_roll.png per excerpt
    there. Returns {"mean": {kind: F1}, "items": [...]}."""
    m = model if isinstance(model, pg.Transcriber) else load_model(model)
    if not isinstance(model, pg.Transcriber):  # thresholds tuned on the validation split, when stored
        from .tune import decode_options
        decode = {**decode_options(model or DEFAULT_MODEL), **decode}
    manifest = load_manifest(data)
    triples = transcribe_split(m, manifest, split, limit, progress, condition, condition_seed, **decode)
    if out is not None:
        from .report import write_eval_report
        write_eval_report(out, triples, frame_rate=float(m.frame_rate),
                          title=title or f"Transcription on {Path(data).name} / {split}")
    rows = [pg.transcription_metrics(ref, est, frame_rate=float(m.frame_rate)) for _, ref, est in triples]
    return {"mean": mean_metrics(rows), "items": [{"id": i, **r} for (i, _, _), r in zip(triples, rows)]}
