"""Training configuration of the motion language model (JSON files under configs/lm/)."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Dict, List, Union

PathLike = Union[str, Path]


@dataclass(frozen=True)
class LMConfig:
    # data (pianograd.lm.data): where the performances come from, split by work as for transcription
    source: str = "corpus"           # corpus | midi | transcribed
    pieces: int = 60                 # corpus: K catalogue pieces in all splits together
    categories: List[str] = field(default_factory=lambda: ["keyboard", "song", "chorale", "quartet"])
    renditions: int = 1              # corpus: humanised performances per piece (different seeds)
    path: str = ""                   # midi: a folder of .mid files; transcribed: a prepared data folder
    transcriber: str = ""            # transcribed: the model that transcribes (default: the shipped one)
    n_true: int = 0                  # > 0: only the first N training works keep their performances (N)
    data_seed: int = 0               # the split seed (0: the transcription data's)
    cache: str = "data/cache"        # where built performance sets are kept (content-hashed)
    # model: "transformer" (MotionLM), "gru" (the baseline, sized to match the transformer's count) or
    # "ngram" (model: {"order": 5})
    arch: str = "transformer"
    model: Dict[str, Any] = field(default_factory=dict)  # MotionLMConfig overrides
    # augmentation, drawn per crop
    transpose: int = 5               # semitones, uniform in [-transpose, transpose]
    tempo: float = 0.1               # time scale uniform in [1 - tempo, 1 + tempo]
    velocity: float = 0.15           # velocity scale uniform in [1 - velocity, 1 + velocity]
    # optimisation
    steps: int = 2000
    time_budget_s: float = 0.0       # stop after this many seconds of training (0: no limit)
    batch: int = 16
    lr: float = 2e-3
    min_lr: float = 1e-4
    warmup_steps: int = 100
    weight_decay: float = 0.05
    clip_norm: float = 1.0
    # bookkeeping
    seed: int = 0
    threads: int = 0                 # 0: the engine's default
    out: str = "runs/lm"
    eval_every: int = 250            # validation NLL (on at most eval_pieces pieces)
    eval_pieces: int = 8
    checkpoint_every: int = 250
    log_every: int = 25

    def to_dict(self) -> dict:
        return asdict(self)

    def save(self, path: PathLike) -> None:
        from ..data.cache import atomic_write_json
        atomic_write_json(Path(path), self.to_dict())

    @staticmethod
    def from_dict(d: Dict[str, Any], base: "LMConfig" = None) -> "LMConfig":
        base = base or LMConfig()
        known = {f.name for f in fields(LMConfig)}
        bad = set(d) - known
        if bad:
            raise ValueError(f"lm config: unknown keys {sorted(bad)}; known: {sorted(known)}")
        cfg = replace(base, **d)
        if cfg.source not in ("corpus", "midi", "transcribed"):
            raise ValueError(f"lm config: source must be corpus, midi or transcribed, got {cfg.source!r}")
        if cfg.arch not in ("transformer", "gru", "ngram"):
            raise ValueError(f"lm config: arch must be transformer, gru or ngram, got {cfg.arch!r}")
        if cfg.source != "corpus" and not cfg.path:
            raise ValueError(f"lm config: source {cfg.source!r} needs a path")
        return cfg

    @staticmethod
    def load(path: PathLike, **overrides: Any) -> "LMConfig":
        p = Path(path)
        if not p.is_file():
            raise FileNotFoundError(f"lm config {p}: no such file")
        try:
            d = json.loads(p.read_text())
        except json.JSONDecodeError as e:
            raise ValueError(f"lm config {p}: not valid JSON ({e})") from None
        d.update({k: v for k, v in overrides.items() if v is not None})
        return LMConfig.from_dict(d)
