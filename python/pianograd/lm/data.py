"""Performances for the motion LM, split by work exactly as the transcription data is (pianograd.data:
the same split function and seed, so a work's score, audio and performance stay on one side), and
swappable by config (issue 14, item 5; the LMM experiment feeds pseudo-performances through here):

* corpus      humanised performances of catalogue pieces (pianograd.data.perform), `renditions` per
              piece with different seeds; whole pieces, not excerpts.
* midi        every .mid file of a folder (split by the file's content hash).
* transcribed pseudo-M: the training audio of a prepared data folder transcribed by the shipped (or a
              given) transcriber; valid and test keep their true labels, so NLL is measured on true M.

Built sets are cached under cfg.cache by content hash (scores, performances, transcriptions). With
n_true > 0 only the first N training works (the pair budget's nested order) keep their performances.
"""
from __future__ import annotations

import hashlib
import json
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from .. import _core as pg
from ..data.cache import CODE_VERSION, atomic_write_json, hash_file, hash_obj
from ..data.catalog import Piece, catalog
from ..data.humanize import HumanizeConfig, perform
from ..data.prepare import _score, piece_seed
from ..data.splits import SPLITS, labelled_subset, select_pieces, split_of
from .config import LMConfig

F_VALID, F_TEST = 0.1, 0.15  # the transcription data's fractions (pianograd.data.DataConfig)

Split = Dict[str, List["pg.Performance"]]


def _corpus_piece(piece: Piece, seed: int, renditions: int, cache: str) -> List[dict]:
    """Performances (as dicts) of one piece, cached; runs in a worker process."""
    stats = {"score_hits": 0, "score_misses": 0}
    score, score_hash = _score(piece, Path(cache), stats)
    out = []
    for r in range(renditions):
        s = piece_seed(seed, piece.id) + r
        h = hash_obj("lm-performance", score_hash, piece.category, s, asdict(HumanizeConfig()), CODE_VERSION)
        path = Path(cache) / "lm" / f"{piece.slug}_{h[:12]}.json"
        if path.is_file():
            out.append(json.loads(path.read_text()))
            continue
        perf, _ = perform(score, piece.category, s, HumanizeConfig())
        d = perf.quantized().to_dict()
        atomic_write_json(path, d)
        out.append(d)
    return out


def _corpus(cfg: LMConfig, progress: bool) -> Tuple[Split, Dict[str, List[str]]]:
    pool = [p for p in catalog() if p.category in cfg.categories]
    sel = select_pieces(pool, cfg.pieces, cfg.data_seed, F_VALID, F_TEST)
    pieces = [(split, p) for split in SPLITS for p in sel[split]]
    jobs = max(1, min(os.cpu_count() or 1, len(pieces)))
    bar = None
    if progress:
        from ..progress_report import progress_bar
        bar = progress_bar(total=len(pieces), desc="lm data", unit="piece")
    out: Split = {s: [] for s in SPLITS}
    names: Dict[str, List[str]] = {s: [] for s in SPLITS}
    with ProcessPoolExecutor(jobs) as ex:
        futures = [(split, p, ex.submit(_corpus_piece, p, cfg.data_seed, cfg.renditions, cfg.cache))
                   for split, p in pieces]
        for split, p, f in futures:
            for d in f.result():
                out[split].append(pg.Performance.from_dict(d))
                names[split].append(p.group)
            if bar is not None:
                bar.update(1)
    if bar is not None:
        bar.close()
    return out, names


def _midi(cfg: LMConfig) -> Tuple[Split, Dict[str, List[str]]]:
    root = Path(cfg.path)
    files = sorted(list(root.rglob("*.mid")) + list(root.rglob("*.midi")))
    if not files:
        raise FileNotFoundError(f"lm data: no .mid files under {root}")
    out: Split = {s: [] for s in SPLITS}
    names: Dict[str, List[str]] = {s: [] for s in SPLITS}
    for f in files:
        perf = pg.read_midi(f)
        if not perf.notes:
            continue
        split = split_of(hash_file(f), cfg.data_seed, F_VALID, F_TEST)
        out[split].append(perf)
        names[split].append(str(f.relative_to(root)))
    return out, names


def _transcribed(cfg: LMConfig, progress: bool) -> Tuple[Split, Dict[str, List[str]]]:
    from ..data import load_manifest
    from ..transcription.evaluate import DEFAULT_MODEL, load_model, transcribe_file

    root = Path(cfg.path)
    manifest = load_manifest(root)
    model_path = Path(cfg.transcriber) if cfg.transcriber else DEFAULT_MODEL
    model = load_model(model_path)
    model_hash = hash_file(model_path)
    out: Split = {s: [] for s in SPLITS}
    names: Dict[str, List[str]] = {s: [] for s in SPLITS}
    for e in manifest["excerpts"]:
        split = e["split"]
        if split != "train":  # held-out pieces keep their true performances
            out[split].append(pg.Performance.load_json(root / e["labels"]))
        elif not e.get("wav"):
            continue  # prepared without audio: nothing to transcribe
        else:
            wav = root / e["wav"]
            h = hash_obj("lm-transcribed", hash_file(wav), model_hash)
            path = Path(cfg.cache) / "lm" / f"transcribed_{h[:16]}.json"
            if not path.is_file():
                atomic_write_json(path, transcribe_file(model, wav).to_dict())
            out[split].append(pg.Performance.from_dict(json.loads(path.read_text())))
        names[split].append(e["group"])
    return out, names


def performances(cfg: LMConfig, progress: bool = True) -> Tuple[Split, Dict[str, List[str]]]:
    """{split: [pg.Performance]} and the matching {split: [work or file name]} for a config."""
    if cfg.source == "corpus":
        out, names = _corpus(cfg, progress)
    elif cfg.source == "midi":
        out, names = _midi(cfg)
    else:
        out, names = _transcribed(cfg, progress)
    if cfg.n_true > 0:  # the pair budget: N training works keep their performances
        keep = set(labelled_subset(sorted(set(names["train"])), cfg.n_true, cfg.data_seed))
        pairs = [(p, n) for p, n in zip(out["train"], names["train"]) if n in keep]
        out["train"], names["train"] = [p for p, _ in pairs], [n for _, n in pairs]
    if not out["train"]:
        raise ValueError("lm data: no training performances")
    return out, names


def fingerprint(perfs: List["pg.Performance"]) -> str:
    """A content hash of a list of performances (ties a trained model to its data in reports)."""
    h = hashlib.sha256()
    for p in perfs:
        h.update(json.dumps(p.to_dict(), separators=(",", ":")).encode())
    return h.hexdigest()[:16]
