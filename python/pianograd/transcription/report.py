"""The evaluation report of `pianograd eval` (issue 5, item 5): per-excerpt and mean transcription metrics
from the C++ implementation (pg.transcription_metrics, mir_eval's definitions), written as

* ``metrics.json`` — {"title", "frame_rate", "items": [{"name", "note", "note_offset",
  "note_offset_velocity", "frame", "pedal", "pedal_onset"}], "mean": {kind: {"precision", "recall", "f1"}}}
  (pedal and pedal_onset pooled over items, the other kinds averaged);
* ``report.md`` — a Markdown table of F1 per excerpt and kind, with a mean row, and the roll images;
* ``<name>_roll.png`` per excerpt — the reference and the estimated piano roll on one plot.

Means are plain averages over excerpts (the Onsets and Frames / MAESTRO convention), not pooled counts.
Every file is written to a temporary name in the output folder and renamed into place, so a reader never
sees a half-written report and an interrupted run leaves the previous one intact.
"""
from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any, Dict, List, Sequence, Tuple, Union

from .. import _core as pg

PathLike = Union[str, Path]
KINDS = ("note", "note_offset", "note_offset_velocity", "frame")
KIND_TITLES = {"note": "note F1", "note_offset": "note+offset F1", "note_offset_velocity": "+velocity F1",
               "frame": "frame F1"}
REF_COLOR, EST_COLOR = "#1f77b4", "#d62728"


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix="." + path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _file_stem(name: str) -> str:
    """A file-name-safe form of an item name (excerpt ids may contain '/', spaces...)."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", str(name)).strip("._")
    return stem or "item"


def _plot_roll(path: Path, name: str, ref: Any, est: Any, metrics: Dict[str, Dict[str, float]]) -> None:
    f1 = " · ".join(f"{KIND_TITLES[k]} {metrics[k]['f1']:.3f}" for k in KINDS)
    plot_roll(path, f"{name}\n{f1}", ref, est)


def plot_roll(path: Path, title: str, ref: Any, est: Any, labels: Tuple[str, str] = ("reference", "estimate")) -> None:
    """Reference notes as full-height bars, estimated notes as half-height bars on top: where they agree
    the colours overlap. Bars span the sounding (pedal-extended) notes, which is what the metrics compare.
    Written atomically as PNG."""
    from matplotlib.figure import Figure  # no pyplot: no global state, safe off the main thread
    from matplotlib.patches import Patch

    ref_notes, est_notes = pg.sounding_notes(ref), pg.sounding_notes(est)
    ref_pedal, est_pedal = pg.pedal_segments(ref), pg.pedal_segments(est)
    keys = [n.key for n in ref_notes] + [n.key for n in est_notes]
    lo, hi = (min(keys) - 1, max(keys) + 1) if keys else (59, 61)
    pedal_y = lo - 2  # the sustain pedal's lane, below the lowest key
    if ref_pedal or est_pedal:
        lo = pedal_y - 1
    t_end = max([n.offset for n in ref_notes + est_notes] + [b for _, b in ref_pedal + est_pedal], default=1.0)
    fig = Figure(figsize=(min(24.0, max(8.0, 1.2 * t_end)), min(12.0, max(3.0, 0.12 * (hi - lo + 1) + 1.5))),
                 dpi=100)
    ax = fig.add_subplot(1, 1, 1)
    for notes, color, height in ((ref_notes, REF_COLOR, 0.9), (est_notes, EST_COLOR, 0.45)):
        for n in notes:
            ax.broken_barh([(n.onset, n.offset - n.onset)], (n.key - height / 2, height),
                           facecolors=color, alpha=0.55, edgecolors=color, linewidth=0.6)
    for segs, color, height in ((ref_pedal, REF_COLOR, 0.9), (est_pedal, EST_COLOR, 0.45)):
        for a, b in segs:
            ax.broken_barh([(a, b - a)], (pedal_y - height / 2, height), facecolors=color, alpha=0.35,
                           edgecolors=color, linewidth=0.6, hatch="//")
    if ref_pedal or est_pedal:
        ax.text(0.0, pedal_y, " pedal", va="center", ha="left", fontsize=7)
    ax.set_xlim(0.0, t_end * 1.02)
    ax.set_ylim(lo - 0.5, hi + 0.5)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("key (MIDI)")
    ax.grid(True, axis="x", alpha=0.3)
    ax.set_title(title, fontsize=9)
    ax.legend(handles=[Patch(color=REF_COLOR, alpha=0.55, label=f"{labels[0]} ({len(ref_notes)} notes)"),
                       Patch(color=EST_COLOR, alpha=0.55, label=f"{labels[1]} ({len(est_notes)} notes)")],
              loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
    fig.tight_layout()
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix="." + path.name + ".", suffix=".tmp")
    os.close(fd)
    try:
        fig.savefig(tmp, format="png")
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def pooled_prf(prfs: Sequence[Dict[str, float]]) -> Dict[str, float]:
    """Precision / recall / F1 of counts pooled over items ({n_ref, n_est, n_matched} each)."""
    matched = sum(m["n_matched"] for m in prfs)
    n_est, n_ref = sum(m["n_est"] for m in prfs), sum(m["n_ref"] for m in prfs)
    p, r = matched / max(n_est, 1), matched / max(n_ref, 1)
    return {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r > 0 else 0.0}


def _markdown(title: str, frame_rate: float, items: List[Dict[str, Any]], mean: Dict[str, Dict[str, float]],
              pngs: List[Tuple[str, str]]) -> str:
    head = ["item", *(KIND_TITLES[k] for k in KINDS), "n_ref", "n_est", "pedal events ref/est/matched"]
    lines = [f"# {title}", "",
             f"Notes match by key and onset (±50 ms), +offset (±max(50 ms, 20% of the duration)), +velocity "
             f"(mir_eval's rescaled velocity, ±0.1); frame F1 over (frame, key) cells at {frame_rate:g} frames/s. "
             "Offsets are the sounding (pedal-extended) ends. Means are over items; the mean row's counts are totals. "
             "Sustain pedal events (down segments) match like notes with offsets; their F1 is pooled over items: "
             f"**{mean['pedal']['f1']:.3f}** (by the press alone, onset ±50 ms: "
             f"{mean.get('pedal_onset', {}).get('f1', 0.0):.3f}).", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for it in items:
        pedal = it["pedal"]
        cells = [it["name"], *(f"{it[k]['f1']:.3f}" for k in KINDS), str(it["note"]["n_ref"]),
                 str(it["note"]["n_est"]), f"{pedal['n_ref']}/{pedal['n_est']}/{pedal['n_matched']}"]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    n_ref = sum(it["note"]["n_ref"] for it in items)
    n_est = sum(it["note"]["n_est"] for it in items)
    pr = [sum(it["pedal"][c] for it in items) for c in ("n_ref", "n_est", "n_matched")]
    lines.append("| **mean** | " + " | ".join(f"**{mean[k]['f1']:.3f}**" for k in KINDS) +
                 f" | {n_ref} | {n_est} | {pr[0]}/{pr[1]}/{pr[2]} |")
    lines.append("")
    for name, png in pngs:
        lines += [f"## {name}", "", f"![{name}: reference vs estimate]({png})", ""]
    return "\n".join(lines)


def write_eval_report(out_dir: PathLike, results: Sequence[Tuple[str, Any, Any]], frame_rate: float = 50.0,
                      title: str = "Transcription evaluation") -> Dict[str, Any]:
    """Scores each (name, reference, estimate) with pg.transcription_metrics at `frame_rate` and writes
    metrics.json, report.md and <name>_roll.png into out_dir (created if missing). Performances may be
    pg.Performance or anything it accepts. Returns the dict written to metrics.json."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    items: List[Dict[str, Any]] = []
    pngs: List[Tuple[str, str]] = []
    used: Dict[str, int] = {}
    for name, ref, est in results:
        ref, est = pg.Performance(ref), pg.Performance(est)
        m = pg.transcription_metrics(ref, est, frame_rate=frame_rate)
        items.append({"name": str(name), **m})
        base = stem = _file_stem(name)
        while stem in used:  # two names that sanitise alike must not overwrite each other's image
            used[base] += 1
            stem = f"{base}_{used[base]}"
        used[stem] = 1
        png = f"{stem}_roll.png"
        _plot_roll(out / png, str(name), ref, est, m)
        pngs.append((str(name), png))
    mean = {k: {s: (sum(it[k][s] for it in items) / len(items) if items else 0.0) for s in ("precision", "recall", "f1")}
            for k in KINDS}
    mean["pedal"] = pooled_prf([it["pedal"] for it in items])
    mean["pedal_onset"] = pooled_prf([it["pedal_onset"] for it in items])
    summary = {"title": title, "frame_rate": float(frame_rate), "n_items": len(items), "mean": mean, "items": items}
    _atomic_write(out / "metrics.json", (json.dumps(summary, indent=2) + "\n").encode())
    _atomic_write(out / "report.md", _markdown(title, frame_rate, items, mean, pngs).encode())
    return summary
