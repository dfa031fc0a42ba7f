"""The sample-efficiency experiment (issue 5, item 6): note F1 on the test split for pair budgets
N ∈ {0, 4, 16, 64} × {supervised only, + synthetic pairs, + synth loop}, as a Markdown report with a plot.

Protocol (one command, `pianograd experiment`):
1. P: one model pre-trained on synthetic pairs only (our randomised piano; no real labels), shared by
   every "+ synthetic" and "+ synth loop" cell — it does not depend on N.
2. For each N and arm, `steps` fine-tuning steps with the same optimiser settings:
   * supervised only — from scratch, the N real pairs only (N = 0: nothing to learn from; F1 = 0);
   * + synthetic pairs — from P, real pairs mixed with synthetic pairs;
   * + synth loop — from P, the same mix plus the synth loop on the unlabelled real training audio.
   The two arms from P get identical step counts and supervised batches, so the synth loop's effect is
   the difference between them.
3. Every model is scored on the same test excerpts with the C++ metrics.
"""
from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Union

from ..data.cache import atomic_write_json
from .config import TrainConfig
from .evaluate import evaluate
from .train import ensure_data, train

PathLike = Union[str, Path]
ARMS = ("supervised", "synthetic", "synth_loop")
ARM_TITLES = {"supervised": "supervised only", "synthetic": "+ synthetic pairs", "synth_loop": "+ synth loop"}


def _arm_config(base: TrainConfig, arm: str, n: int, init: str, steps: int, out: Path) -> TrainConfig:
    common = dict(n_pairs=n, steps=steps, out=str(out), warmup_steps=min(base.warmup_steps, steps // 10))
    if arm == "supervised":
        return replace(base, real=True, synthetic=False, synth_loop=False, init="", **common)
    if arm == "synthetic":
        return replace(base, real=n > 0, synthetic=True, synth_loop=False, init=init, **common)
    return replace(base, real=n > 0, synthetic=True, synth_loop=True, init=init, **common)


def run_experiment(base: TrainConfig, out: PathLike, budgets: Sequence[int] = (0, 4, 16, 64),
                   pretrain_steps: int = 1000, steps: int = 200, test_limit: int = 0,
                   pretrained: Optional[str] = None, quiet: bool = False) -> Dict[str, object]:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    manifest = ensure_data(base, quiet)
    n_train = len(manifest["splits"]["train"])
    budgets = [n for n in budgets if n <= n_train]
    t0 = time.perf_counter()
    if pretrained:
        init = pretrained
    else:
        pre = replace(base, real=False, synthetic=True, synth_loop=False, n_pairs=0, steps=pretrain_steps,
                      out=str(out / "pretrain_synthetic"))
        init = train(pre, quiet)["model"]
    results: List[dict] = []
    for n in budgets:
        for arm in ARMS:
            cell = out / f"N{n}_{arm}"
            if arm == "supervised" and n == 0:
                results.append({"n": n, "arm": arm, "f1": None, "note": "no labelled data"})
                continue
            summary = train(_arm_config(base, arm, n, init, steps, cell), quiet)
            ev = evaluate(summary["model"], base.data, "test", out=cell / "eval", limit=test_limit,
                          title=f"N = {n}, {ARM_TITLES[arm]}")
            results.append({"n": n, "arm": arm, "f1": ev["mean"]["note"], "metrics": ev["mean"],
                            "steps": summary["steps"], "seconds": round(summary["seconds"], 1)})
            if not quiet:
                print(f"N={n:3d} {ARM_TITLES[arm]:18s} note F1 {ev['mean']['note']:.3f}", flush=True)
    doc = {"config": base.to_dict(), "budgets": budgets, "pretrain_steps": pretrain_steps, "steps": steps,
           "pretrained": init, "test_excerpts": test_limit or len([e for e in manifest["excerpts"]
                                                                  if e["split"] == "test"]),
           "results": results, "seconds": round(time.perf_counter() - t0, 1)}
    atomic_write_json(out / "experiment.json", doc)
    _plot(doc, out / "sample_efficiency.png")
    md = render_markdown(doc)
    tmp = out / ".report.md.tmp"
    tmp.write_text(md)
    tmp.replace(out / "report.md")
    return doc


def _cell(doc: dict, n: int, arm: str, kind: str = "note") -> Optional[float]:
    for r in doc["results"]:
        if r["n"] == n and r["arm"] == arm:
            if r.get("f1") is None:
                return None
            return r["metrics"][kind]
    return None


def render_markdown(doc: dict) -> str:
    def fmt(v: Optional[float]) -> str:
        return "—" if v is None else f"{v:.3f}"

    lines = ["# Sample efficiency of transcription: pair budget N × training signal", "",
             f"Test split: {doc['test_excerpts']} excerpts (FluidSynth GM piano, pieces unseen in training). "
             f"Pre-training on synthetic pairs: {doc['pretrain_steps']} steps; each cell then trains "
             f"{doc['steps']} steps. Note F1 = onset within ±50 ms and the right key (mir_eval convention).", "",
             "| N real pairs | " + " | ".join(ARM_TITLES[a] for a in ARMS) + " |",
             "|---|" + "---|" * len(ARMS)]
    for n in doc["budgets"]:
        lines.append(f"| {n} | " + " | ".join(fmt(_cell(doc, n, a)) for a in ARMS) + " |")
    lines += ["", "Note-with-offset F1:", "", "| N | " + " | ".join(ARM_TITLES[a] for a in ARMS) + " |",
              "|---|" + "---|" * len(ARMS)]
    for n in doc["budgets"]:
        lines.append(f"| {n} | " + " | ".join(fmt(_cell(doc, n, a, "note_offset")) for a in ARMS) + " |")
    deltas = []
    for n in doc["budgets"]:
        a, b = _cell(doc, n, "synthetic"), _cell(doc, n, "synth_loop")
        if a is not None and b is not None:
            deltas.append(f"N = {n}: {100 * (b - a):+.1f}")
    lines += ["", "Reading the table: every cell gets the same number of training steps, but the two right-hand "
              "arms start from the synthetic pre-training P, so 'supervised only' has seen far less "
              "computation; it shows what N pairs alone give in that budget. The synth loop's own "
              "contribution is the difference between the two right-hand columns (note F1 points): "
              + ", ".join(deltas) + "."]
    lines += ["", "![note F1 against N](sample_efficiency.png)", "",
              f"Total time {doc['seconds']:.0f} s. Regenerate with the command in the README "
              "(`pianograd experiment ...`); per-cell logs, checkpoints and evaluation reports are in the "
              "N*_* folders beside this file.", ""]
    return "\n".join(lines)


def _plot(doc: dict, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    xs = doc["budgets"]
    for arm in ARMS:
        pts = [(n, _cell(doc, n, arm)) for n in xs]
        pts = [(n, v) for n, v in pts if v is not None]
        if pts:
            ax.plot([max(n, 0.5) for n, _ in pts], [v for _, v in pts], marker="o", label=ARM_TITLES[arm])
    ax.set_xscale("symlog", linthresh=1)
    ax.set_xticks([max(n, 0) for n in xs])
    ax.set_xticklabels([str(n) for n in xs])
    ax.set_xlabel("N real (audio, performance) pairs")
    ax.set_ylabel("note F1 (test)")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    tmp = path.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    tmp.replace(path)


def load_report(path: PathLike) -> dict:
    return json.loads(Path(path).read_text())
