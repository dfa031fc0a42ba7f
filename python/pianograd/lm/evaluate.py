"""Scoring performances with the motion LMs (issue 14, item 7): NLL per event (nats per token, the
first token predicted from BOS), bits per second of music (total bits over the seconds the tokens
span, so tokenisations compare, as Anticipatory Music Transformer reports), and the breakdown by field:
time (SHIFT), pitch (NOTE_ON/OFF), velocity and pedal tokens, each as nats per token of that field and
as its share of all the nats.

    pianograd lm eval [--model M] --midi DIR [--json OUT.json]

scores every MIDI file of DIR with the model (the shipped one by default) and the n-gram and GRU
trained on the same data (found beside the model: model.ngram, gru.safetensors). The shipped n-gram is
a recipe, ngram.json (its training config): the fitted table of every 5-gram of every transposition
is ~250 MB, so it is refitted from the same data on first use (about 20 s) and kept in the data cache.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from .. import _core as pg

PathLike = Union[str, Path]
MODELS = Path(__file__).resolve().parent / "models"
DEFAULT_MODEL = MODELS / "motion_lm.safetensors"
FIELDS = ("time", "pitch", "velocity", "pedal")


def _field_ids(tok: "pg.MotionTokenizer") -> np.ndarray:
    return tok.fields()


def token_scores(model, tok: "pg.MotionTokenizer", perf: "pg.Performance") -> Tuple[np.ndarray, np.ndarray, float]:
    """(nll per predicted token [n - 1], the predicted tokens, seconds spanned) of one performance."""
    t = tok.encode(perf, bos=True)
    if len(t) < 2:
        return np.zeros(0), np.zeros(0, dtype=np.int32), 0.0
    if isinstance(model, pg.NGramLM):  # only the last order - 1 tokens of a context matter
        k = model.order - 1
        nll = np.array([-model.log_prob(t[max(0, i - k):i], int(t[i])) for i in range(1, len(t))])
    else:
        nll = pg.token_nll(model, t).astype(np.float64)
    return nll, t[1:], tok.seconds(t)


def score(model, perfs: Sequence["pg.Performance"], tok: Optional["pg.MotionTokenizer"] = None) -> Dict[str, float]:
    """The figures of one model over performances (see the module doc)."""
    tok = tok or pg.MotionTokenizer()
    fids = _field_ids(tok)
    nats, tokens, seconds = 0.0, 0, 0.0
    by_field = {f: [0.0, 0] for f in FIELDS}
    for p in perfs:
        nll, targets, secs = token_scores(model, tok, p)
        nats += float(nll.sum())
        tokens += len(nll)
        seconds += secs
        for f in FIELDS:
            sel = fids[targets] == int(getattr(pg.TokenField, f))
            by_field[f][0] += float(nll[sel].sum())
            by_field[f][1] += int(sel.sum())
    out = {"nll_per_event": nats / max(tokens, 1), "bits_per_second": nats / math.log(2) / max(seconds, 1e-9),
           "tokens": tokens, "seconds": round(seconds, 3), "performances": len(perfs)}
    for f in FIELDS:
        s, n = by_field[f]
        out[f"nll_{f}"] = s / max(n, 1)
        out[f"share_{f}"] = s / max(nats, 1e-12)
    return out


def ngram_from_recipe(recipe: PathLike) -> Path:
    """The n-gram a recipe (an LM config with arch ngram) describes: fitted from its data on first use,
    then read from cfg.cache/lm/ngram_<hash>.ngram (the hash covers the config and the code version)."""
    from dataclasses import asdict

    from ..data.cache import hash_obj
    from .config import LMConfig
    from .data import performances
    from .train import fit_ngram

    cfg = LMConfig.load(recipe)
    if cfg.arch != "ngram":
        raise ValueError(f"{recipe}: an n-gram recipe must have arch ngram, got {cfg.arch!r}")
    d = {k: v for k, v in asdict(cfg).items() if k not in ("out", "cache", "threads", "time_budget_s")}
    path = Path(cfg.cache) / "lm" / f"ngram_{hash_obj('lm-ngram', d)[:16]}.ngram"
    if not path.is_file():
        print(f"fitting the n-gram of {recipe} (first use; cached as {path})")
        perfs, _ = performances(cfg, progress=False)
        path.parent.mkdir(parents=True, exist_ok=True)
        fit_ngram(cfg, pg.MotionTokenizer(), perfs["train"]).save(str(path))  # NGramLM.save is atomic
    return path


def baselines_beside(model_path: PathLike) -> Dict[str, PathLike]:
    """The n-gram and GRU trained on the same data, stored next to a transformer checkpoint (the n-gram
    as model.ngram, or as the recipe ngram.json)."""
    d = Path(model_path).parent
    found = {}
    for name, file in (("ngram", "model.ngram"), ("gru", "gru.safetensors")):
        if (d / file).is_file():
            found[name] = d / file
    if "ngram" not in found and (d / "ngram.json").is_file():
        found["ngram"] = ngram_from_recipe(d / "ngram.json")
    return {k: found[k] for k in ("ngram", "gru") if k in found}


def load_models(model: Optional[PathLike] = None) -> Dict[str, object]:
    from .train import load_any

    path = Path(model) if model else DEFAULT_MODEL
    if not path.is_file():
        raise FileNotFoundError(f"lm eval: no model at {path} (train one: pianograd train lm --config ...)")
    models = {"model": load_any(str(path))}
    for name, p in baselines_beside(path).items():
        models[name] = load_any(str(p))
    return models


def midi_folder(folder: PathLike) -> Tuple[List["pg.Performance"], List[str]]:
    """Every readable MIDI file with notes under a folder; the others are reported and skipped."""
    root = Path(folder)
    if not root.is_dir():
        raise FileNotFoundError(f"lm eval: {root} is not a folder")
    perfs, names = [], []
    for f in sorted(list(root.rglob("*.mid")) + list(root.rglob("*.midi"))):
        try:
            p = pg.read_midi(f)
        except OSError as e:
            print(f"skipped {f}: {e}")
            continue
        if p.notes:
            perfs.append(p)
            names.append(str(f.relative_to(root)))
        else:
            print(f"skipped {f}: no notes on the piano's keys")
    if not perfs:
        raise ValueError(f"lm eval: no MIDI file with notes under {root}")
    return perfs, names


def evaluate(models: Dict[str, object], perfs: Sequence["pg.Performance"]) -> Dict[str, Dict[str, float]]:
    tok = pg.MotionTokenizer()
    return {name: score(m, perfs, tok) for name, m in models.items()}


def table(results: Dict[str, Dict[str, float]]) -> str:
    """Markdown: one row per model."""
    head = "| model | NLL / event (nats) | bits / s | time | pitch | velocity | pedal | tokens |\n|---|---|---|---|---|---|---|---|\n"
    rows = []
    for name, r in results.items():
        rows.append(f"| {name} | {r['nll_per_event']:.3f} | {r['bits_per_second']:.1f} | "
                    + " | ".join(f"{r[f'nll_{f}']:.3f}" for f in FIELDS) + f" | {r['tokens']} |")
    return head + "\n".join(rows) + "\n"
