"""Where training segments come from (issue 5, item 4): real labelled pairs, real unlabelled audio, and
synthetic pairs rendered by our own piano with randomised physical parameters.

Every source yields fixed-length segments: audio float32 [N] at the model's sample rate and, for the
labelled ones, piano rolls uint8 [F, 88] (onset, frame, offset; velocity as 0..127) and the sustain
pedal's rolls uint8 [F] (pedal_onset, pedal_frame, pedal_offset) on the model's frame grid,
F = num_frames(N). Segments start on frame boundaries, so frame f of a segment is frame
start_frame + f of its excerpt and labels never need re-quantising.

The synthetic pool is deliberately disjoint from the real data: its scores are corpus pieces that the
prepared set does not use at all (the LM^M setting: symbolic music is plentiful, recordings paired with
it are rare), plus random "note soups" that cover the whole keyboard, which corpus chorales never reach.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence

import numpy as np

from .. import _core as pg
from ..data import Performance as DataPerformance
from ..data import excerpts as data_excerpts
from ..data import load_audio

ROLL_KEYS = ("onset", "frame", "offset", "velocity", "pedal_onset", "pedal_frame", "pedal_offset")


@dataclass
class Segment:
    audio: np.ndarray                             # float32 [N]
    rolls: Optional[Dict[str, np.ndarray]] = None  # uint8 [F, 88] / [F] (pedal); None when unlabelled
    reference: Optional[float] = None  # loudness reference of the piece it was cut from (None: the segment's own)


def rolls_u8(perf, frame_rate: float, num_frames: int) -> Dict[str, np.ndarray]:
    """Piano rolls of a performance (pedal-extended frames) as compact uint8 arrays [F, 88], and the
    sustain pedal's rolls [F]."""
    p = pg.Performance(perf)
    r = pg.performance_to_rolls(p, frame_rate, num_frames=num_frames)
    out = {k: (r[k].numpy() > 0.5).astype(np.uint8) for k in ("onset", "frame", "offset")}
    out["velocity"] = np.rint(r["velocity"].numpy() * 127.0).astype(np.uint8)
    for k, v in pg.performance_to_pedal_rolls(p, frame_rate, num_frames=num_frames).items():
        out["pedal_" + k] = (v.numpy() > 0.5).astype(np.uint8)
    return out


def rolls_to_targets(batch: Sequence[Dict[str, np.ndarray]]) -> Dict[str, "pg.Tensor"]:
    """Stacks uint8 rolls of a batch into the float32 [B, F, 88] ([B, F] pedal) targets transcription_loss
    expects; a roll some segment lacks is left out."""
    out = {}
    for k in ROLL_KEYS:
        if not all(k in b for b in batch):
            continue
        a = np.stack([b[k] for b in batch]).astype(np.float32)
        out[k] = pg.from_numpy(a / 127.0 if k == "velocity" else a)
    return out


class _Frames:
    """The model's framing: hop samples per frame; a segment of N samples has F = num_frames(N) frames."""

    def __init__(self, model) -> None:
        self.sample_rate = float(model.config.sample_rate)
        self.hop = int(model.config.hop)
        self.frame_rate = float(model.frame_rate)
        self._num_frames = model.num_frames

    def num_frames(self, n: int) -> int:
        return int(self._num_frames(n))


class RealSource:
    """Excerpts of prepared data sets (pianograd.data) in one split; labelled or not per the pair budget.

    manifest may be one manifest or a list: the same pieces rendered by several pianos (prepared with the
    same seed, so their splits agree). With an augmenter, a drawn excerpt is re-recorded in a random room
    and chain first (the whole excerpt, so its piece loudness reference describes what h hears)."""

    def __init__(self, manifest, split: str, labelled: Optional[bool], model,
                 rng: np.random.Generator, augmenter=None) -> None:
        self.frames = _Frames(model)
        manifests = manifest if isinstance(manifest, (list, tuple)) else [manifest]
        self.items = [e for m in manifests for e in data_excerpts(m, split, labelled=labelled)]
        self.rng = rng
        self.augmenter = augmenter
        self._model = model
        self._piece_loudness = bool(model.config.piece_loudness)  # else no reference is ever needed
        # caches are keyed by position: an excerpt id repeats across pianos
        self._audio: Dict[int, np.ndarray] = {}
        self._reference: Dict[int, float] = {}
        self._rolls: Dict[int, Dict[str, np.ndarray]] = {}

    def __len__(self) -> int:
        return len(self.items)

    def audio(self, i: int) -> np.ndarray:
        if i not in self._audio:
            x, sr = load_audio(self.items[i].wav)
            if sr != self.frames.sample_rate:
                x = pg.resample(x, sr, self.frames.sample_rate)
            self._audio[i] = np.ascontiguousarray(x, dtype=np.float32)
        return self._audio[i]

    def reference(self, i: int) -> float:
        """The excerpt's loudness reference (the whole excerpt's spectral peak), computed once."""
        if i not in self._reference:
            self._reference[i] = float(self._model.loudness_reference(self.audio(i), self.frames.sample_rate))
        return self._reference[i]

    def rolls(self, i: int) -> Dict[str, np.ndarray]:
        if i not in self._rolls:
            n = len(self.audio(i))
            self._rolls[i] = rolls_u8(self.items[i].performance(), self.frames.frame_rate, self.frames.num_frames(n))
        return self._rolls[i]

    def performance(self, i: int) -> DataPerformance:
        return self.items[i].performance()

    def segment(self, n: int, labelled: bool) -> Segment:
        if not self.items:
            raise ValueError("no excerpts in this source")
        i = int(self.rng.integers(len(self.items)))
        x = self.audio(i)
        hop = self.frames.hop
        max_start = max(0, (len(x) - n) // hop)
        f0 = int(self.rng.integers(max_start + 1))
        augmented = self.augmenter is not None and self.augmenter.draw()
        if augmented:
            x = self.augmenter(x)
        audio = np.zeros(n, np.float32)
        chunk = x[f0 * hop:f0 * hop + n]
        audio[:len(chunk)] = chunk
        ref = None
        if self._piece_loudness:
            ref = (float(self._model.loudness_reference(x, self.frames.sample_rate)) if augmented
                   else self.reference(i))
        if not labelled:
            return Segment(audio, reference=ref)
        F = self.frames.num_frames(n)
        rolls = {}
        for k, r in self.rolls(i).items():
            out = np.zeros((F,) + r.shape[1:], np.uint8)
            part = r[f0:f0 + F]
            out[:len(part)] = part
            rolls[k] = out
        return Segment(audio, rolls, ref)
