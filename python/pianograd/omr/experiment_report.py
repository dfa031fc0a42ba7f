"""The Markdown report and plot of g's sample-efficiency experiment (pianograd.omr.experiment)."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import numpy as np

from ..experiment_plot import footer
from .experiment import ARM_TITLES, ARMS


def values(doc: dict, n: int, arm: str, key: str = "ser") -> Optional[List[float]]:
    """The cell's figure over seeds (None: no cell, e.g. works only at N = 0)."""
    v = [r[key] for r in doc["results"] if r["n"] == n and r["arm"] == arm and r.get(key) is not None]
    return v or None


def _fmt(v: Optional[List[float]], pct: bool) -> str:
    if v is None:
        return "—"
    k = 100.0 if pct else 1.0
    unit = " %" if pct else ""
    if len(v) == 1:
        return f"{k * v[0]:.1f}{unit}" if pct else f"{v[0]:.3f}"
    m, s = k * float(np.mean(v)), k * float(np.std(v, ddof=1))
    return f"{m:.1f} ± {s:.1f}{unit}" if pct else f"{m:.3f} ± {s:.3f}"


def gain(doc: dict, n: int, arm: str, key: str = "ser") -> Optional[List[float]]:
    """An arm from P minus "+ synthetic pairs", paired by seed, in points (for SER, negative is a gain)."""
    by: dict = {}
    for r in doc["results"]:
        if r["n"] == n and r.get(key) is not None and r["arm"] in ("synthetic", arm):
            by.setdefault(r["seed"], {})[r["arm"]] = r[key]
    d = [100 * (v[arm] - v["synthetic"]) for v in by.values() if len(v) == 2]
    return d or None


GAINS = {"self_train": "self-training adds (points)", "audio": "score-audio pairs add (points)"}


def _table(doc: dict, key: str) -> List[str]:
    pct = key == "ser"
    arms = doc.get("arms", list(ARMS))
    gains = [a for a in GAINS if a in arms]
    lines = ["| N works | " + " | ".join(ARM_TITLES[a] for a in arms) + "".join(f" | {GAINS[a]}" for a in gains) + " |",
             "|---|" + "---|" * (len(arms) + len(gains))]
    for n in doc["budgets"]:
        cols = [_fmt(values(doc, n, a, key), pct) for a in arms]
        for a in gains:
            g = gain(doc, n, a, key)
            cols.append("—" if g is None else (f"{g[0]:+.1f}" if len(g) == 1 else
                                               f"{np.mean(g):+.1f} ± {np.std(g, ddof=1):.1f}"))
        label = f"{n} (all)" if n == doc["n_works"] else str(n)
        lines.append(f"| {label} | " + " | ".join(cols) + " |")
    return lines


def _pseudo_line(doc: dict, arm: str, what: str) -> List[str]:
    rows = [r for r in doc["results"] if r["arm"] == arm and "pseudo" in r]
    if not rows:
        return []
    parts = []
    for n in doc["budgets"]:
        rs = [r for r in rows if r["n"] == n]
        if rs:
            extra = ""
            if "audio_read" in rs[0]:
                extra = (f" of {np.mean([r['audio_read'] for r in rs]):.0f} read confidently enough to check, "
                         f"{np.mean([r['audio_corrected'] for r in rs]):.1f} with an accidental corrected")
            parts.append(f"N = {n}: {np.mean([r['pseudo'] for r in rs]):.0f} strips{extra}, "
                         f"{100 * np.mean([r['pseudo_exact'] for r in rs]):.0f} % of them exactly right")
    return ["", f"{what} (last round, mean over seeds): " + "; ".join(parts) + "."]


def render_markdown(doc: dict) -> str:
    seeds = doc["seeds"]
    spread = (f"mean ± standard deviation over {len(seeds)} seeds (each seed: its own initialisation, batches "
              "and choice of the N labelled works)") if len(seeds) > 1 else "one seed"
    c = doc["config"]
    lines = ["# Sample efficiency of g (OMR): labelled works N × training signal", "",
             f"Test: {doc['test_strips']} staves of the test split's works (unseen in training), engraved in "
             f"{doc['held_out_font']}, a font no arm trains on. Training split: {doc['n_works']} works. Model: "
             f"channels {c['channels']}, hidden {c['hidden']}, batch {c['batch']}. Pre-training P on synthetic "
             f"pairs only: {doc['pretrain_steps']} steps; the two right-hand arms train {doc['steps']} steps "
             f"from P, and 'works only' trains {doc['pretrain_steps']} + {doc['steps']} steps from scratch on "
             f"the N works' staves (compute-matched). Greedy CTC decoding; {spread}.", "",
             "Symbol error rate (lower is better):", ""]
    lines += _table(doc, "ser")
    lines += ["", "Note F1 (pitch and onset in beats):", ""] + _table(doc, "note_f1")
    lines += _pseudo_line(doc, "self_train", "Pseudo-labels kept by self-training")
    lines += _pseudo_line(doc, "audio", "Readings of the score-audio pairs that their audio confirmed")
    skipped = sorted({r["note"] for r in doc["results"] if r.get("ser") is None and "note" in r})
    lines += ["", "Reading the table: the right-hand columns compare an arm from P with '+ synthetic pairs', "
              "paired by seed. Self-training adds every other training work's images, unlabelled; score-audio "
              f"pairs add {doc.get('audio_works', '')} other works' images with a recording of each instead of "
              "labels. For SER a negative number is a gain."
              + (" Empty cells: " + "; ".join(skipped) + "." if skipped else "")]
    cell_s = sum(r.get("seconds", 0.0) for r in doc["results"])
    lines += ["", f"The cells took {cell_s / 60:.0f} min of one core each in all (training and reading the test); "
              "cells finished by an earlier run of the same command are reused, not run again."]
    lines += footer("SER and note F1 against N", doc["seconds"], "pianograd experiment omr ...",
                    "per-cell logs, checkpoints and results")
    return "\n".join(lines)


def plot(doc: dict, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..experiment_plot import arms_against_budget, save

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    arms = doc.get("arms", list(ARMS))
    for ax, key, label in ((axes[0], "ser", "symbol error rate"), (axes[1], "note_f1", "note F1")):
        arms_against_budget(ax, doc["budgets"], arms, ARM_TITLES, lambda n, a: values(doc, n, a, key),
                            "N works (labelled, or with audio)", f"{label} (test, held-out font)")
    save(fig, path)
