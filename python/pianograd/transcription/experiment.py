"""The sample-efficiency experiment (issue 5 item 6, issue 15 item 6): note F1 on the test split for pair
budgets N (e.g. 0, 1, 4, 16, all) x {supervised only, + synthetic pairs, + synth loop} x seeds, as a
Markdown report with a plot; optionally also scored on a held-out instrument (the same test pieces played
by a piano no arm trains on).

Protocol (one command, `pianograd experiment`):
1. P: one model pre-trained on synthetic pairs only (our randomised piano; no real labels), shared by
   every "+ synthetic" and "+ synth loop" cell - it does not depend on N.
2. For each N, arm and seed, with the same optimiser settings:
   * supervised only - from scratch, the N real pairs only, for pretrain_steps + steps steps: the compute
     the other arms spent on P is spent here too (compute-matched; N = 0: nothing to learn from, F1 = 0);
   * + synthetic pairs - from P, `steps` steps of real pairs mixed with synthetic pairs;
   * + synth loop - from P, the same mix plus the synth loop on the unlabelled real training audio.
   The two arms from P get identical step counts and supervised batches, so the synth loop's effect is
   the difference between them, paired by seed. A seed sets the initialisation, the batches and which N
   training pieces keep their labels (TrainConfig.pair_seed).
3. Every model is scored on the same test excerpts with the C++ metrics.
Cells run in `jobs` worker processes, one engine thread each.
"""
from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Union

import numpy as np

from ..data import load_manifest
from ..data.cache import atomic_write_json
from ..experiment_plot import footer
from .config import TrainConfig
from .evaluate import evaluate
from .train import ensure_data, train

PathLike = Union[str, Path]
ARMS = ("supervised", "synthetic", "synth_loop")
ARM_TITLES = {"supervised": "supervised only", "synthetic": "+ synthetic pairs", "synth_loop": "+ synth loop"}
ALL = -1  # the budget "all": every training piece keeps its labels


def _arm_config(base: TrainConfig, arm: str, n: int, init: str, steps: int, pretrain_steps: int, seed: int,
                out: Path) -> TrainConfig:
    common = dict(n_pairs=n, out=str(out), seed=seed, pair_seed=seed, threads=1)
    if arm == "supervised":
        total = pretrain_steps + steps  # compute-matched: P's steps are spent here too
        return replace(base, real=True, synthetic=False, synth_loop=False, init="", steps=total,
                       warmup_steps=min(base.warmup_steps, total // 10), **common)
    warm = min(base.warmup_steps, steps // 10)
    return replace(base, real=n > 0, synthetic=True, synth_loop=arm == "synth_loop", init=init, steps=steps,
                   warmup_steps=warm, **common)


def _run_cell(cfg: dict, data: str, heldout: Optional[str], test_limit: int, title: str) -> dict:
    """One cell (in a worker process): train, then score on the test split (and the held-out piano)."""
    summary = train(TrainConfig.from_dict(cfg), quiet=True)
    out = Path(cfg["out"])
    ev = evaluate(summary["model"], data, "test", out=out / "eval", limit=test_limit, title=title)
    rec = {"metrics": ev["mean"], "steps": summary["steps"], "seconds": round(summary["seconds"], 1)}
    if heldout:
        rec["heldout"] = evaluate(summary["model"], heldout, "test", limit=test_limit)["mean"]
    return rec


def run_experiment(base: TrainConfig, out: PathLike, budgets: Sequence[int] = (0, 1, 4, 16, ALL),
                   pretrain_steps: int = 1000, steps: int = 200, test_limit: int = 0,
                   pretrained: Optional[str] = None, quiet: bool = False, seeds: Sequence[int] = (0,),
                   heldout: Optional[str] = None, jobs: int = 1) -> Dict[str, object]:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    manifest = ensure_data(base, quiet)
    n_train = len(manifest["splits"]["train"])
    budgets = sorted({n_train if n == ALL else n for n in budgets if n == ALL or n <= n_train})
    if heldout is not None:
        held = load_manifest(heldout)
        if held["splits"]["test"] != manifest["splits"]["test"]:
            raise ValueError(f"held-out data {heldout}: its test pieces differ from {base.data}'s; prepare it "
                             "with the same preset and seed (and another piano)")
    t0 = time.perf_counter()
    if pretrained:
        init = pretrained
    else:
        pre = replace(base, real=False, synthetic=True, synth_loop=False, n_pairs=0, steps=pretrain_steps,
                      out=str(out / "pretrain_synthetic"))
        init = train(pre, quiet)["model"]
    cells, results = [], []
    for n in budgets:
        for arm in ARMS:
            for seed in seeds:
                if arm == "supervised" and n == 0:
                    results.append({"n": n, "arm": arm, "seed": seed, "f1": None, "note": "no labelled data"})
                    continue
                cfg = _arm_config(base, arm, n, init, steps, pretrain_steps, seed, out / f"N{n}_{arm}_s{seed}")
                cells.append(((n, arm, seed), cfg.to_dict(), f"N = {n}, {ARM_TITLES[arm]}, seed {seed}"))

    def record(key, rec):
        n, arm, seed = key
        results.append({"n": n, "arm": arm, "seed": seed, "f1": rec["metrics"]["note"], **rec})
        if not quiet:
            extra = f", held out {rec['heldout']['note']:.3f}" if "heldout" in rec else ""
            print(f"N={n:3d} {ARM_TITLES[arm]:18s} seed {seed}: note F1 {rec['metrics']['note']:.3f}{extra}",
                  flush=True)

    if jobs <= 1:
        for key, cfg, title in cells:
            record(key, _run_cell(cfg, base.data, heldout, test_limit, title))
    else:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor, as_completed

        # spawn, not fork: a forked child would inherit the parent's engine thread pool mid-state
        with ProcessPoolExecutor(max_workers=jobs, mp_context=mp.get_context("spawn")) as ex:
            futs = {ex.submit(_run_cell, cfg, base.data, heldout, test_limit, title): key
                    for key, cfg, title in cells}
            for f in as_completed(futs):
                record(futs[f], f.result())
    results.sort(key=lambda r: (r["n"], ARMS.index(r["arm"]), r["seed"]))
    doc = {"config": base.to_dict(), "budgets": budgets, "n_train": n_train, "seeds": list(seeds),
           "pretrain_steps": pretrain_steps, "steps": steps, "pretrained": init, "heldout": heldout,
           "test_excerpts": test_limit or len([e for e in manifest["excerpts"] if e["split"] == "test"]),
           "results": results, "seconds": round(time.perf_counter() - t0, 1)}
    atomic_write_json(out / "experiment.json", doc)
    _plot(doc, out / "sample_efficiency.png")
    md = render_markdown(doc)
    tmp = out / ".report.md.tmp"
    tmp.write_text(md)
    tmp.replace(out / "report.md")
    return doc


def _values(doc: dict, n: int, arm: str, kind: str = "note", where: str = "metrics") -> Optional[List[float]]:
    """The cell's F1 over seeds (None: no cell, e.g. supervised at N = 0)."""
    vals = [r[where][kind] for r in doc["results"] if r["n"] == n and r["arm"] == arm and r.get("f1") is not None
            and where in r]
    return vals or None


def _cell(doc: dict, n: int, arm: str, kind: str = "note", where: str = "metrics") -> Optional[float]:
    v = _values(doc, n, arm, kind, where)
    return None if v is None else float(np.mean(v))


def _fmt(v: Optional[List[float]]) -> str:
    if v is None:
        return "—"
    if len(v) == 1:
        return f"{v[0]:.3f}"
    return f"{np.mean(v):.3f} ± {np.std(v, ddof=1):.3f}"


def _loop_gain(doc: dict, n: int, kind: str = "note", where: str = "metrics") -> Optional[List[float]]:
    """synth loop minus synthetic, paired by seed, in F1 points."""
    by = {}
    for r in doc["results"]:
        if r["n"] == n and r.get("f1") is not None and where in r and r["arm"] in ("synthetic", "synth_loop"):
            by.setdefault(r.get("seed", 0), {})[r["arm"]] = r[where][kind]
    d = [100 * (v["synth_loop"] - v["synthetic"]) for v in by.values() if len(v) == 2]
    return d or None


def _table(doc: dict, kind: str, where: str) -> List[str]:
    lines = ["| N real pairs | " + " | ".join(ARM_TITLES[a] for a in ARMS) + " | synth loop adds (points) |",
             "|---|" + "---|" * (len(ARMS) + 1)]
    for n in doc["budgets"]:
        g = _loop_gain(doc, n, kind, where)
        gain = "—" if g is None else (f"{g[0]:+.1f}" if len(g) == 1 else f"{np.mean(g):+.1f} ± {np.std(g, ddof=1):.1f}")
        label = f"{n} (all)" if n == doc.get("n_train") else str(n)
        lines.append(f"| {label} | " + " | ".join(_fmt(_values(doc, n, a, kind, where)) for a in ARMS) + f" | {gain} |")
    return lines


def render_markdown(doc: dict) -> str:
    seeds = doc.get("seeds", [0])
    spread = (f"mean ± standard deviation over {len(seeds)} seeds (each seed: its own initialisation, batches "
              "and choice of the N labelled pieces)") if len(seeds) > 1 else "one seed"
    lines = ["# Sample efficiency of transcription: pair budget N × training signal", "",
             f"Test split: {doc['test_excerpts']} excerpts (FluidSynth GM piano, pieces unseen in training). "
             f"Pre-training on synthetic pairs: {doc['pretrain_steps']} steps; the two right-hand arms then "
             f"train {doc['steps']} steps from it, and 'supervised only' trains {doc['pretrain_steps']} + "
             f"{doc['steps']} steps from scratch on the pairs alone (compute-matched). Note F1 = onset within "
             f"±50 ms and the right key (mir_eval convention); {spread}.", "", "Note F1:", ""]
    lines += _table(doc, "note", "metrics")
    lines += ["", "Note-with-offset F1:", ""] + _table(doc, "note_offset", "metrics")
    if doc.get("heldout"):
        lines += ["", f"Note F1 on the held-out instrument (`{doc['heldout']}`: the same test pieces played by a "
                  "piano no arm trains on or hears):", ""] + _table(doc, "note", "heldout")
    lines += ["", "Reading the table: the synth loop's own contribution is the last column (the two arms from P "
              "differ only by the loop, paired by seed)."]
    all_n = doc.get("n_train")
    if all_n in doc["budgets"] and 4 in doc["budgets"]:
        best = {a: _cell(doc, all_n, a) for a in ARMS}
        arm = max((a for a in best if best[a] is not None), key=lambda a: best[a], default=None)
        if arm is not None:
            share = {a: _cell(doc, 4, a) for a in ARMS}
            parts = [f"{ARM_TITLES[a]} {100 * v / best[arm]:.1f}%" for a, v in share.items() if v is not None]
            lines += ["", f"N = 4 against all {all_n} pairs (best all-pairs arm: {ARM_TITLES[arm]}, note F1 "
                      f"{best[arm]:.3f}): " + ", ".join(parts) + " of it."]
    lines += footer("note F1 against N", doc["seconds"], "pianograd experiment ...",
                    "per-cell logs, checkpoints and evaluation reports")
    return "\n".join(lines)


def _plot(doc: dict, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..experiment_plot import arms_against_budget, save

    fig, ax = plt.subplots(figsize=(6, 4))
    arms_against_budget(ax, doc["budgets"], ARMS, ARM_TITLES, lambda n, a: _values(doc, n, a),
                        "N real (audio, performance) pairs", "note F1 (test)")
    save(fig, path)


def load_report(path: PathLike) -> dict:
    return json.loads(Path(path).read_text())
