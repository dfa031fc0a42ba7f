"""`pianograd adapt` (issue 15, item 5): adapting the transcriber to a new piano from its unlabelled audio,
through the synth loop.

The recordings (no labels) go through h; h's rolls drive our differentiable piano; the spectral distance
between the resynthesis and the recording fits the piano's physical parameters (tuning, inharmonicity,
decay, hammer, loudness) to the instrument and trains h's frame gates (how long the new instrument's
notes sound). Synthetic pairs keep h anchored to what notes are: half of them are rendered by a lightly
perturbed copy of the piano being fitted, so as the piano comes to sound like the new instrument, h also
gets labelled examples that sound like it; with `replay`, the labelled pairs h was trained on are mixed in
too. No label of the new instrument is used.

    pianograd adapt --audio recordings/ --out adapted.safetensors [--model M] [--minutes 10] \
        [--replay data/cache/full-s0]

writes the adapted transcriber (with the decoding thresholds of the model it started from) and the fitted
piano beside it (`<out>.piano.safetensors`).
"""
from __future__ import annotations

import json
import shutil
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Union

import numpy as np

from .. import _core as pg
from ..data import load_audio
from .config import TrainConfig
from .sources import Segment, _Frames
from .train import Trainer

PathLike = Union[str, Path]
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".oga", ".aif", ".aiff", ".mp3", ".opus")

# The adaptation recipe, chosen by measurements on a held-out FluidSynth instrument (README, "Adapting to a
# new piano"): the loop's gradient reaches h through the frame gates only (let through the onsets too, h
# bends its onsets toward whatever lowers the spectral loss: note F1 0.921 -> 0.798 in 10 minutes), half the
# synthetic note soups come from the piano being fitted, and the labelled pairs h was trained on are
# replayed when given (`replay`): without them h drifts toward the synthetic domain (about -2 points).
ADAPT_DEFAULTS = TrainConfig(data="", real=False, synthetic=True, synth_loop=True, learn_piano=True,
                             loop_trains=["frame"], steps=1, batch=4, segment_s=2.0, lr=3e-4, min_lr=3e-4,
                             warmup_steps=10, loop_weight=0.01, loop_batch=2, loop_segment_s=2.0,
                             loop_onset_threshold=0.1, piano_lr=3e-3, synth_pool_pieces=0, soup_fraction=1.0,
                             fitted_piano_fraction=0.5, real_fraction=0.7, checkpoint_every=100, log_every=10)


def audio_files(paths: Sequence[PathLike]) -> List[Path]:
    """The audio files named by `paths` (files, or folders searched recursively), in sorted order."""
    out: List[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out += sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in AUDIO_SUFFIXES)
        elif p.is_file():
            out.append(p)
        else:
            raise FileNotFoundError(f"adapt: {p}: no such file or folder")
    if not out:
        raise FileNotFoundError(f"adapt: no audio files ({', '.join(AUDIO_SUFFIXES)}) in {[str(p) for p in paths]}")
    return out


def load_clips(files: Sequence[Path], sample_rate: float, max_seconds: float) -> List[np.ndarray]:
    """Mono float32 clips at sample_rate, the first max_seconds of audio over the files in order."""
    clips, total = [], 0.0
    for f in files:
        if total >= max_seconds:
            break
        x, sr = load_audio(f)  # typed errors naming the file
        if sr != sample_rate:
            x = pg.resample(x, sr, sample_rate)
        x = np.ascontiguousarray(x[: int((max_seconds - total) * sample_rate)], dtype=np.float32)
        if len(x):
            clips.append(x)
            total += len(x) / sample_rate
    return clips


class AudioSource:
    """Unlabelled recordings as fixed-length segments on the model's frame grid (what RealSource gives for
    a data set's unlabelled excerpts): a clip drawn in proportion to its length, a start on a frame."""

    def __init__(self, clips: List[np.ndarray], model, rng: Optional[np.random.Generator] = None) -> None:
        if not clips:
            raise ValueError("AudioSource: no audio")
        self.frames = _Frames(model)
        self.clips = clips
        self.references = [float(model.loudness_reference(c, self.frames.sample_rate)) if model.config.piece_loudness
                           else None for c in clips]
        self.rng = rng or np.random.default_rng(0)
        lengths = np.array([len(c) for c in clips], dtype=np.float64)
        self.weights = lengths / lengths.sum()

    def __len__(self) -> int:
        return len(self.clips)

    def segment(self, n: int, labelled: bool = False) -> Segment:
        if labelled:
            raise ValueError("AudioSource: recordings have no labels")
        i = int(self.rng.choice(len(self.clips), p=self.weights))
        x = self.clips[i]
        hop = self.frames.hop
        f0 = int(self.rng.integers(max(0, (len(x) - n) // hop) + 1))
        out = np.zeros(n, np.float32)
        chunk = x[f0 * hop:f0 * hop + n]
        out[:len(chunk)] = chunk
        return Segment(out, reference=self.references[i])


def adapt(audio: Sequence[PathLike], out: PathLike, model: Optional[PathLike] = None, minutes: float = 10.0,
          max_audio_minutes: float = 10.0, threads: int = 0, seed: int = 0, quiet: bool = False,
          replay: Optional[PathLike] = None, overrides: Optional[Dict[str, object]] = None) -> Dict[str, object]:
    """Adapts `model` (the shipped transcriber by default) to the instrument of the recordings; writes
    `out` (+ `.decode.json`, `.piano.safetensors`). `minutes` bounds the training time, `max_audio_minutes`
    the audio read; `replay` is a prepared data set (pianograd data prepare) whose labelled training pairs
    are replayed alongside (for the shipped model: `--preset full`, data/cache/full-s0). Returns a summary
    (steps, seconds, audio seconds, files, paths)."""
    from .evaluate import DEFAULT_MODEL
    from .tune import sidecar

    src = Path(model) if model else DEFAULT_MODEL
    if not src.is_file():
        raise FileNotFoundError(f"adapt: model {src}: no such file")
    if not (minutes > 0) or not (max_audio_minutes > 0):
        raise ValueError(f"adapt: minutes and max_audio_minutes must be > 0, got {minutes}, {max_audio_minutes}")
    out = Path(out)
    files = audio_files(audio)
    start = pg.Transcriber.load(str(src))
    sr = float(start.config.sample_rate)
    clips = load_clips(files, sr, 60.0 * max_audio_minutes)
    seconds = sum(len(c) for c in clips) / sr
    if seconds < 2.0:
        raise ValueError(f"adapt: {seconds:.1f} s of audio in {len(files)} file(s); at least 2 s are needed")
    extra: Dict[str, object] = {}
    if replay is not None:
        from ..data import load_manifest
        manifest = load_manifest(replay)  # FileNotFoundError / ValueError naming the folder
        extra = {"real": True, "data": str(replay), "n_pairs": int(manifest["n_pairs"])}
    work = Path(tempfile.mkdtemp(prefix=".adapt-", dir=out.parent if out.parent.exists() else None))
    try:
        # The time budget ends the run; the step cap (a little above what 2 cores manage in that time) only
        # gives the progress output a sensible total.
        cfg = replace(ADAPT_DEFAULTS, init=str(src), time_budget_s=60.0 * minutes, steps=max(10, int(300 * minutes)),
                      threads=threads, seed=seed, out=str(work), **{**extra, **(overrides or {})})
        t0 = time.perf_counter()
        trainer = Trainer(cfg, quiet=quiet, unlabelled=AudioSource(clips, start))
        summary = trainer.run()
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name("." + out.name + ".tmp")
        shutil.copyfile(work / "model.safetensors", tmp)
        tmp.replace(out)
        piano = out.with_name(out.name + ".piano.safetensors")
        trainer.piano.save(str(piano))
        if sidecar(src).is_file():  # the starting model's tuned thresholds, noted as inherited
            d = json.loads(sidecar(src).read_text())
            d["tuned_on"] = f"inherited from {src.name} ({d.get('tuned_on', 'untuned')})"
            from ..data.cache import atomic_write_json
            atomic_write_json(sidecar(out), d)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {"steps": summary["steps"], "seconds": time.perf_counter() - t0, "audio_seconds": seconds,
            "files": len(files), "model": str(out), "piano": str(piano)}
