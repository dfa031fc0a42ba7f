"""`prepare`: K corpus pieces -> performances -> excerpts (labels JSON + MIDI) -> FluidSynth WAVs,
with a manifest recording splits, the pair budget and every file; cached by content hash.

Layout of an output folder (all paths in the manifest are relative to it):
    manifest.json                     config, splits, pair budget, one entry per excerpt
    scores/<piece>_<hash>.json        the music21 reduction (ScoreData), keyed by the corpus file's sha256
    labels/<piece>__<k>_<hash>.json   the performance (Performance.to_dict), keyed by its own content
    midi/<piece>__<k>_<hash>.mid      the same performance as a Standard MIDI File
    wav/<piece>__<k>_<hash>.wav       FluidSynth at 16 kHz mono, keyed by performance + renderer + SoundFont
A file that exists under its hashed name is reused (a cache hit); the manifest itself is rewritten each
run and is byte-identical for identical inputs. Excerpts of training pieces beyond the pair budget are
marked "labelled": false - their label files exist (the audio is rendered from them) but training code
must read excerpts through `dataset.excerpts`, which withholds them.
"""
from __future__ import annotations

import json
import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple, Union

from .cache import CODE_VERSION, atomic_write_json, hash_file, hash_obj
from .catalog import CATEGORIES, Piece, catalog
from .humanize import HumanizeConfig, perform
from .._core import Performance
from ..progress_report import progress_bar
from .render import RenderConfig, render_midi_array, renderer_id, write_wav
from .score import ScoreData, corpus_file, load_score
from .splits import SPLITS, labelled_subset, select_pieces

PathLike = Union[str, Path]
MANIFEST = "manifest.json"


@dataclass(frozen=True)
class DataConfig:
    name: str = "demo"
    pieces: int = 12                 # K pieces in all splits together
    seed: int = 0
    n_pairs: int = 4                 # training pieces that keep their labels
    categories: Tuple[str, ...] = ("keyboard", "chorale")
    f_valid: float = 0.1
    f_test: float = 0.15
    excerpts_per_piece: int = 1
    excerpt_s: float = 10.0          # maximum excerpt length (seconds, before the render tail)
    min_notes: int = 8               # shorter excerpts are dropped
    audio: bool = True               # render WAVs with FluidSynth
    humanize: HumanizeConfig = field(default_factory=HumanizeConfig)
    render: RenderConfig = field(default_factory=RenderConfig)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["categories"] = list(self.categories)
        return d

    @staticmethod
    def from_dict(d: Dict[str, Any], base: Optional["DataConfig"] = None) -> "DataConfig":
        """Overrides `base` (default DataConfig()) with the keys of d; nested humanize/render too."""
        base = base or DataConfig()
        known = {f.name for f in fields(DataConfig)}
        bad = set(d) - known
        if bad:
            raise ValueError(f"data config: unknown keys {sorted(bad)}; known: {sorted(known)}")
        kw = {k: v for k, v in d.items() if k not in ("humanize", "render")}
        if "categories" in kw:
            kw["categories"] = tuple(kw["categories"])
            unknown = set(kw["categories"]) - set(CATEGORIES)
            if unknown:
                raise ValueError(f"data config: unknown categories {sorted(unknown)}; known: {CATEGORIES}")
        hz = replace(base.humanize, **_tuples(d.get("humanize", {})))
        rd = replace(base.render, **d.get("render", {}))
        return replace(base, humanize=hz, render=rd, **kw)


def _tuples(d: Dict[str, Any]) -> Dict[str, Any]:
    return {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}


# The embedded presets. "demo" is what `make demo` and CI prepare: 12 short excerpts (keyboard pieces
# and chorales), ~10 s each; "full" is the experiment's set: 200 pieces, up to 3 x 15 s each.
PRESETS: Dict[str, DataConfig] = {
    "demo": DataConfig(),
    "full": DataConfig(name="full", pieces=200, n_pairs=64, categories=CATEGORIES, f_valid=0.1,
                       f_test=0.1, excerpts_per_piece=3, excerpt_s=15.0),
}


def piece_seed(seed: int, piece_id: str) -> int:
    """A piece's performance depends on (seed, piece) only, not on K or on which pieces came before."""
    return int(hash_obj("perf", seed, piece_id)[:16], 16)


# ---------------------------------------------------------------------------------------------------
# One piece: score (cached) -> performance -> excerpts -> files


def _score(piece: Piece, out: Path, stats: Dict[str, int]) -> Tuple[ScoreData, str]:
    h = hash_obj("score", piece.id, hash_file(corpus_file(piece.id)))
    path = out / "scores" / f"{piece.slug}_{h[:12]}.json"
    if path.exists():
        stats["score_hits"] += 1
        return ScoreData.from_dict(json.loads(path.read_text())), h
    stats["score_misses"] += 1
    sd = load_score(piece.id)
    atomic_write_json(path, sd.to_dict())
    return sd, h


def excerpt_windows(perf: Performance, length_s: float, count: int, min_notes: int,
                    lead_s: float = 0.1) -> List[Tuple[float, Performance]]:
    """Up to `count` consecutive windows of at most length_s. The first starts at 0; each later one
    starts lead_s before the first onset at or after the previous window's end, so no window begins
    inside a note it cannot see. Windows with fewer than min_notes notes (an introduction of two chords
    and rests) are skipped, up to 3 * count windows in all."""
    out: List[Tuple[float, Performance]] = []
    start = 0.0
    onsets = sorted(n.onset for n in perf.notes)
    for _ in range(3 * count):
        w = perf.window(start, start + length_s)
        if len(w.notes) >= min_notes:
            out.append((start, w))
            if len(out) == count:
                break
        nxt = next((t for t in onsets if t >= start + length_s), None)
        if nxt is None:
            break
        start = round(max(start + length_s - lead_s, nxt - lead_s), 3)
    return out


def prepare_piece(piece: Piece, split: str, labelled: bool, cfg: DataConfig, out: PathLike,
                  render_key: Optional[dict]) -> Tuple[List[dict], Dict[str, int]]:
    out = Path(out)
    stats = {k: 0 for k in ("score_hits", "score_misses", "midi_hits", "midi_misses", "wav_hits", "wav_misses")}
    score, score_hash = _score(piece, out, stats)
    max_s = 3 * cfg.excerpts_per_piece * cfg.excerpt_s + 5.0  # room for skipped sparse windows
    perf, facts = perform(score, piece.category, piece_seed(cfg.seed, piece.id), cfg.humanize, max_s)
    perf = perf.quantized()
    entries = []
    for k, (start, w) in enumerate(excerpt_windows(perf, cfg.excerpt_s, cfg.excerpts_per_piece, cfg.min_notes)):
        w = w.quantized()
        duration = round(min(cfg.excerpt_s, w.duration), 3)
        h = hash_obj("excerpt", w.to_dict(), duration)
        stem = f"{piece.slug}__{k:02d}_{h[:12]}"
        labels, midi = Path("labels") / f"{stem}.json", Path("midi") / f"{stem}.mid"
        if (out / labels).exists() and (out / midi).exists():
            stats["midi_hits"] += 1
        else:
            stats["midi_misses"] += 1
            w.save_json(out / labels)
            w.to_midi(out / midi, program=cfg.render.program)
        e = {"id": f"{piece.slug}__{k:02d}", "piece": piece.id, "category": piece.category,
             "group": piece.group, "split": split, "labelled": labelled, "k": k, "start_s": start,
             "duration_s": duration, "n_notes": len(w.notes), "n_pedal": len(w.pedal),
             "qpm": facts["qpm"], "pedalled": facts["pedalled"], "hash": h,
             "labels": labels.as_posix(), "midi": midi.as_posix(), "wav": None}
        if render_key is not None:
            ah = hash_obj("wav", h, render_key)
            wav = Path("wav") / f"{piece.slug}__{k:02d}_{ah[:12]}.wav"
            meta = out / "wav" / f".{wav.stem}.json"  # peak/length recorded next to the WAV
            if (out / wav).exists() and meta.exists():
                stats["wav_hits"] += 1
                info = json.loads(meta.read_text())
            else:
                stats["wav_misses"] += 1
                audio = render_midi_array(out / midi, duration, cfg.render)
                peak = write_wav(out / wav, audio, cfg.render.sample_rate)
                info = {"peak": round(peak, 6), "samples": int(audio.size)}
                atomic_write_json(meta, info)
            e.update(wav=wav.as_posix(), peak=info["peak"], samples=info["samples"])
        entries.append(e)
    return entries, stats


# ---------------------------------------------------------------------------------------------------


def prepare(cfg: DataConfig, out: PathLike, jobs: Optional[int] = None,
            progress: bool = True) -> Tuple[dict, dict]:
    """Prepares (or finds in the cache) the data set; writes and returns the manifest, plus run stats
    (cache hits/misses, seconds) that are deliberately kept out of the manifest."""
    t0 = time.perf_counter()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    pool = [p for p in catalog() if p.category in cfg.categories]
    chosen = select_pieces(pool, cfg.pieces, cfg.seed, cfg.f_valid, cfg.f_test)
    train_ids = [p.id for p in chosen["train"]]
    keep = set(labelled_subset(train_ids, cfg.n_pairs, cfg.seed))
    render_key = renderer_id(cfg.render) if cfg.audio else None
    tasks = [(p, s, s != "train" or p.id in keep) for s in SPLITS for p in chosen[s]]

    results: Dict[str, List[dict]] = {}
    stats: Dict[str, int] = {}
    jobs = max(1, min(jobs or os.cpu_count() or 1, len(tasks)))
    bar = progress_bar(total=len(tasks), desc=f"prepare {cfg.name}", unit="piece", disable=not progress)

    def done(pid: str, res: Tuple[List[dict], Dict[str, int]]) -> None:
        results[pid] = res[0]
        for k, v in res[1].items():
            stats[k] = stats.get(k, 0) + v
        bar.update(1)

    if jobs == 1:
        for p, s, lab in tasks:
            done(p.id, prepare_piece(p, s, lab, cfg, out, render_key))
    else:
        with ProcessPoolExecutor(max_workers=jobs) as ex:
            futs = {ex.submit(prepare_piece, p, s, lab, cfg, out, render_key): p.id for p, s, lab in tasks}
            for f in as_completed(futs):
                done(futs[f], f.result())
    bar.close()

    excerpts = [e for p, _, _ in tasks for e in results[p.id]]
    manifest = {
        "format": 1, "code_version": CODE_VERSION, "config": cfg.to_dict(),
        "renderer": render_key, "sample_rate": cfg.render.sample_rate if cfg.audio else None,
        "splits": {s: [p.id for p in chosen[s]] for s in SPLITS},
        "groups": {p.id: p.group for s in SPLITS for p in chosen[s]},
        "categories": {p.id: p.category for s in SPLITS for p in chosen[s]},
        "n_pairs": len(keep), "labelled_train": sorted(keep),
        "unlabelled_train": sorted(set(train_ids) - keep),
        "excerpts": excerpts,
    }
    atomic_write_json(out / MANIFEST, manifest)
    stats["seconds"] = round(time.perf_counter() - t0, 2)
    stats["excerpts"] = len(excerpts)
    stats["max_peak"] = max((e.get("peak", 0.0) for e in excerpts), default=0.0)
    return manifest, stats

