"""Generation with the motion LM (issue 14, item 8): continue a prompt (or start from nothing), decode
to a performance (every sampled note-on closed, within the piano's range by construction of the
vocabulary) and optionally render it with our piano.

    pianograd generate [--model M] [--prompt in.mid] [--seconds 30] [--temperature T] [--top-p P] out.mid [--wav out.wav]
    pg.generate(model=None, prompt=None, seconds=30.0, ...) -> pg.Performance
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Union

import numpy as np

from .. import _core as pg

PathLike = Union[str, Path]


def _model(model) -> "pg.MotionLM":
    if model is None or isinstance(model, (str, Path)):
        from .evaluate import DEFAULT_MODEL

        path = Path(model) if model else DEFAULT_MODEL
        if not path.is_file():
            raise FileNotFoundError(f"generate: no model at {path}")
        return pg.MotionLM.load(str(path))
    return model


def generate(model=None, prompt: Optional[Union["pg.Performance", PathLike]] = None, seconds: float = 30.0,
             temperature: float = 1.0, top_k: int = 0, top_p: float = 0.95, seed: int = 0,
             include_prompt: bool = True, max_new_tokens: int = 100_000) -> "pg.Performance":
    """A performance continuing `prompt` (a pg.Performance or a MIDI file; None: from scratch) by
    `seconds` of sampled music (EOS is not sampled: the continuation runs its full length, or until
    max_new_tokens). model: a pg.MotionLM, a checkpoint path, or None for the shipped one.
    A prompt longer than the model's context keeps its last context / 2 tokens as the model's history."""
    if not seconds > 0:
        raise ValueError(f"generate: seconds must be > 0, got {seconds}")
    lm = _model(model)
    tok = pg.MotionTokenizer()
    if isinstance(prompt, (str, Path)):
        prompt = pg.read_midi(prompt)
    start = tok.encode(prompt, bos=True) if prompt is not None and prompt.notes else np.array([tok.BOS], np.int32)
    cont = pg.generate_tokens(lm, tok, [start], temperature=temperature, top_k=top_k, top_p=top_p, seed=seed,
                              max_new_tokens=max_new_tokens, max_seconds=seconds,
                              min_new_tokens=max_new_tokens)[0]
    return tok.decode(np.concatenate([start, cont]) if include_prompt else np.concatenate([[tok.BOS], cont]))


def render(perf: "pg.Performance", path: PathLike, sample_rate: float = 16000.0, piano=None) -> float:
    """Renders with `piano` (default: the default piano) and writes audio peak-normalised to 0.9 (a
    second of silence for a performance without notes); returns its length (s)."""
    piano = piano if piano is not None else pg.Piano()
    with _NoGrad():
        audio = piano.render(perf, sample_rate=sample_rate).numpy() if len(perf.notes) else \
            np.zeros(int(sample_rate), np.float32)
    peak = float(np.abs(audio).max()) if audio.size else 0.0
    pg.write_audio(str(path), audio / peak * 0.9 if peak > 0 else audio, int(sample_rate))
    return audio.size / sample_rate


class _NoGrad:  # pianograd.no_grad, without importing the package from inside it
    def __enter__(self):
        self.prev = pg.is_grad_enabled()
        pg.set_grad_enabled(False)

    def __exit__(self, *exc):
        pg.set_grad_enabled(self.prev)
