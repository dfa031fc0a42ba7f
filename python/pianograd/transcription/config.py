"""Training configuration for the transcriber (JSON files under configs/transcription/)."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Dict, List, Union

PathLike = Union[str, Path]


@dataclass(frozen=True)
class TrainConfig:
    # data: a prepared folder (pianograd.data); prepared from `data_preset` when missing
    data: str = "data/cache/demo-s0"
    data_preset: str = "demo"
    n_pairs: int = 4                 # pair budget N: real training pieces whose labels may be used
    pair_seed: int = -1              # which N pieces keep their labels (-1: the data set's own seed)
    # more prepared folders with the same pieces (same seed and preset) played by other pianos
    # (configs/data/piano_*.json); their labelled training excerpts join the real pairs
    extra_data: List[str] = field(default_factory=list)
    # recording-condition augmentation of supervised segments (pianograd.transcription.augment.AugmentConfig
    # keys, e.g. {"probability": 0.7}); {} = none
    augment: Dict[str, Any] = field(default_factory=dict)
    # what teaches the model (any combination)
    real: bool = True                # (b) supervised on the N real pairs
    synthetic: bool = True           # (a) supervised on synthetic pairs from our randomised piano
    synth_loop: bool = False         # (c) unlabelled real audio -> h -> roll renderer -> spectral loss
    learn_piano: bool = False        # (c') the piano's physical parameters learn too (synth loop only)
    init: str = ""                   # start from this model checkpoint (e.g. after synthetic pre-training)
    model: Dict[str, Any] = field(default_factory=dict)  # TranscriberConfig overrides
    # names of the parameters that train, by prefix ([] = all): ["pedal"] teaches a pedal head grown onto a
    # trained model without touching its note layers (the others stop requiring gradients)
    trainable: List[str] = field(default_factory=list)
    # pg.LossWeights overrides, e.g. {"velocity": 4} or {"velocity_spread": 1, "velocity_relative": 0.9}
    loss_weights: Dict[str, float] = field(default_factory=dict)
    # optimisation
    steps: int = 1000
    time_budget_s: float = 0.0       # stop early after this many seconds of training (0: no limit)
    batch: int = 8
    segment_s: float = 4.0
    lr: float = 2e-3
    min_lr: float = 1e-4
    warmup_steps: int = 50
    clip_norm: float = 3.0
    real_fraction: float = 0.5       # share of supervised segments drawn from real pairs when both are on
    # synth loop
    loop_weight: float = 0.003     # the spectral loss is ~300x the BCE terms of a pre-trained model
    loop_batch: int = 2
    loop_segment_s: float = 2.0
    loop_onset_threshold: float = 0.05  # soft strikes weaker than this are not rendered (cost, DESIGN §4)
    # which of h's outputs the loop's gradient reaches (of "onset", "velocity", "frame"); [] = none: the loop
    # then fits only the piano (learn_piano) and h learns from labelled pairs alone, so h cannot bend its
    # rolls toward whatever lowers the spectral loss
    loop_trains: List[str] = field(default_factory=lambda: ["onset", "velocity", "frame"])
    piano_lr: float = 3e-3
    # synthetic data
    synth_pool_pieces: int = 60      # corpus pieces outside the real set, humanised, for synthetic pairs
    soup_fraction: float = 0.5       # share of synthetic segments that are random note soups
    # share of synthetic segments rendered by a lightly perturbed copy of the piano the synth loop is
    # fitting (learn_piano; pianograd adapt), instead of one drawn around the concert grand
    fitted_piano_fraction: float = 0.0
    # bookkeeping
    seed: int = 0
    threads: int = 0                 # 0: the engine's default
    out: str = "runs/transcription"
    checkpoint_every: int = 100
    log_every: int = 10

    def to_dict(self) -> dict:
        return asdict(self)

    def save(self, path: PathLike) -> None:
        from ..data.cache import atomic_write_json
        atomic_write_json(Path(path), self.to_dict())

    @staticmethod
    def from_dict(d: Dict[str, Any], base: "TrainConfig" = None) -> "TrainConfig":
        base = base or TrainConfig()
        known = {f.name for f in fields(TrainConfig)}
        bad = set(d) - known
        if bad:
            raise ValueError(f"train config: unknown keys {sorted(bad)}; known: {sorted(known)}")
        return replace(base, **d)

    @staticmethod
    def load(path: PathLike, **overrides: Any) -> "TrainConfig":
        p = Path(path)
        if not p.is_file():
            raise FileNotFoundError(f"train config {p}: no such file")
        try:
            d = json.loads(p.read_text())
        except json.JSONDecodeError as e:
            raise ValueError(f"train config {p}: not valid JSON ({e})") from None
        d.update({k: v for k, v in overrides.items() if v is not None})
        return TrainConfig.from_dict(d)
