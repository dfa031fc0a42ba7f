"""The sample-efficiency experiment of g (issue 13 item 10): SER and note F1 of test staves, engraved in a
font no arm trains on, for pair budgets N x training signals x seeds, as a Markdown report with a plot.
`pianograd experiment omr --config configs/omr/experiment.json --out R`.

A pair here is a work's engraved staves with their labels (image and M). The signals of issue 13:
* (a) synthetic pairs - random piano staves and grand staves from the engraver (omr.piano_staves); they
  are not works of the corpus, so they cost no pair;
* the N labelled works' staves;
* (c) self-training - the other training works' staves, unlabelled, read by g itself; its confident,
  well-formed readings become their labels (omr.self_train).

Protocol, as for transcription (pianograd.transcription.experiment):
1. P: one model pre-trained on synthetic pairs only (no work labelled), shared by the two arms from P.
2. For each N, arm and seed, with the same optimiser settings:
   * works only - from scratch on the N works' staves, pretrain_steps + steps steps (compute-matched);
   * + synthetic pairs - from P, `steps` steps of the N works' staves mixed with the synthetic ones;
   * + self-training - from P, the same mix plus pseudo-labels on the unlabelled works' staves, re-read
     every self_train_every steps from the start (a fresh sample of self_train_pool strips each round);
   * + score-audio pairs - signal (b): from P, the same mix plus audio_works more works whose images
     come with a recording instead of labels; g's readings of them that h's transcription of the
     recording confirms become their labels (omr.audio_pairs), re-read on the same schedule.
   The arms from P differ from "+ synthetic pairs" by one thing each, paired by seed. A seed sets the
   initialisation, the batches and which works keep their labels or come with audio (pair_seed).
3. Every model reads the same test staves (greedy CTC), scored with the C++ SER and note F1.
Cells run in `jobs` worker processes, one engine thread each.
"""
from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Union

import numpy as np

from ..data.cache import atomic_write_json
from .train import OmrTrainConfig

PathLike = Union[str, Path]
ARMS = ("works", "synthetic", "self_train", "audio")
ARM_TITLES = {"works": "works only", "synthetic": "+ synthetic pairs", "self_train": "+ self-training",
              "audio": "+ score-audio pairs"}
ALL = -1  # the budget "all": every training work keeps its labels


def arm_config(base: OmrTrainConfig, arm: str, n: int, n_works: int, init: str, steps: int,
               pretrain_steps: int, seed: int) -> OmrTrainConfig:
    """The training config of one cell (n = n_works: every work labelled)."""
    common = dict(n_labelled=0 if n >= n_works else n, real=n > 0, seed=seed, pair_seed=seed, threads=1)
    if arm == "works":
        total = pretrain_steps + steps  # compute-matched: P's steps are spent here too
        return replace(base, synthetic=False, init="", steps=total, self_train_from=0,
                       warmup_steps=min(base.warmup_steps, total // 10), **common)
    st = dict(self_train_from=0)
    if arm in ("self_train", "audio"):
        every = max(1, min(base.self_train_every, steps // 2))
        st = dict(self_train_from=every, self_train_every=every,
                  pseudo_source="audio" if arm == "audio" else "images")
    return replace(base, synthetic=True, init=init, steps=steps, warmup_steps=min(base.warmup_steps, steps // 10),
                   **st, **common)


def _train(cfg: dict, out: str) -> dict:
    from .train import Trainer

    return Trainer(OmrTrainConfig.from_dict(cfg), Path(out), progress=False).run()


def _run_cell(cfg: dict, out: str, test_limit: int) -> dict:
    """One cell (in a worker process): train, then read the test staves in the held-out font. A cell
    that finished before with the same config and test is not run again (arms can be added later)."""
    from .data import build
    from .evaluate import score
    from .model import load_model

    done = Path(out) / "result.json"
    key = {"config": cfg, "test_limit": test_limit}
    if done.is_file():
        prev = json.loads(done.read_text())
        if prev.get("key") == key:
            return prev["result"]
    t0 = time.perf_counter()
    res = _train(cfg, out)
    c = OmrTrainConfig.from_dict(cfg)
    test = build(c.data, "test", "held_out", progress=False)
    s = score(load_model(Path(out) / "model.safetensors"), test, test_limit or None)
    groups = {k: v for k, v in s.items() if isinstance(v, dict)}
    rec = {"ser": s["all"]["ser"], "note_f1": s["all"]["note_f1"], "groups": groups, "steps": res["steps"],
           "seconds": round(time.perf_counter() - t0, 1)}
    rounds = [r for r in _log(out) if "pseudo" in r]
    if rounds:
        rec["pseudo"], rec["pseudo_exact"] = rounds[-1]["pseudo"], rounds[-1]["pseudo_exact"]
        if "audio_corrected" in rounds[-1]:
            rec["audio_read"], rec["audio_corrected"] = rounds[-1]["audio_read"], rounds[-1]["audio_corrected"]
    atomic_write_json(done, {"key": key, "result": rec})
    return rec


def _log(out: str) -> List[dict]:
    p = Path(out) / "log.jsonl"
    return [json.loads(x) for x in p.read_text().splitlines()] if p.is_file() else []


def run_experiment(base: OmrTrainConfig, out: PathLike, budgets: Sequence[int] = (0, 4, 16, ALL),
                   pretrain_steps: int = 4000, steps: int = 500, test_limit: int = 0,
                   pretrained: Optional[str] = None, quiet: bool = False, seeds: Sequence[int] = (0, 1, 2),
                   jobs: int = 1, arms: Sequence[str] = ARMS) -> Dict[str, object]:
    """The table's cells (see the module's docstring); `arms` picks its columns. The audio arm renders
    and transcribes each of its works once (cached under data/cache/omr_audio)."""
    from .data import build, concat, build_piano, build_systems

    if not (base.data.piano_staves or base.data.piano_systems):
        raise ValueError("experiment omr: P pre-trains on synthetic pairs only; the config's data makes none "
                         "(set data.piano_staves or data.piano_systems)")
    bad = [a for a in arms if a not in ARMS]
    if bad:  # before P's minutes of training, not after
        raise ValueError(f"experiment omr: unknown arms {bad}; known: {list(ARMS)}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    # The works of the training split (the data every cell loads; engraved and cached once, here).
    train = build(base.data, "train", progress=not quiet)
    if base.data.corpus_systems:
        train = concat(train, build_systems(base.data, not quiet))
    build(base.data, "valid", progress=not quiet)
    test_strips = len(build(base.data, "test", "held_out", progress=not quiet))
    build_piano(base.data, not quiet)
    n_works = len({m["piece"] for m in train.meta})
    budgets = sorted({n_works if n == ALL else min(n, n_works) for n in budgets})
    if pretrained:
        init = str(pretrained)
    else:
        pre = replace(base, real=False, synthetic=True, steps=pretrain_steps, init="", self_train_from=0,
                      seed=base.seed)
        _train(pre.to_dict(), str(out / "pretrain_synthetic"))
        init = str(out / "pretrain_synthetic" / "model.safetensors")
    cells, results = [], []
    for n in budgets:
        for arm in [a for a in ARMS if a in arms]:
            for seed in seeds:
                skip = ("no labelled work" if arm == "works" and n == 0 else
                        "no unlabelled work" if arm in ("self_train", "audio") and n == n_works else None)
                if skip:
                    results.append({"n": n, "arm": arm, "seed": seed, "ser": None, "note": skip})
                    continue
                cfg = arm_config(base, arm, n, n_works, init, steps, pretrain_steps, seed)
                cells.append(((n, arm, seed), cfg.to_dict(), str(out / f"N{n}_{arm}_s{seed}")))

    def record(key, rec):
        n, arm, seed = key
        results.append({"n": n, "arm": arm, "seed": seed, **rec})
        if not quiet:
            extra = f", {rec['pseudo']} pseudo-labels ({rec['pseudo_exact']:.0%} exact)" if "pseudo" in rec else ""
            print(f"N={n:3d} {ARM_TITLES[arm]:18s} seed {seed}: SER {rec['ser']:.3f}, note F1 "
                  f"{rec['note_f1']:.3f}{extra}", flush=True)

    if jobs <= 1:
        for key, cfg, path in cells:
            record(key, _run_cell(cfg, path, test_limit))
    else:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor, as_completed

        # spawn, not fork: a forked child would inherit the parent's engine thread pool mid-state.
        # The longest cells (from scratch) first, so the pool does not end on one of them alone.
        cells.sort(key=lambda c: -c[1]["steps"])
        with ProcessPoolExecutor(max_workers=jobs, mp_context=mp.get_context("spawn")) as ex:
            futs = {ex.submit(_run_cell, cfg, path, test_limit): key for key, cfg, path in cells}
            for f in as_completed(futs):
                record(futs[f], f.result())
    results.sort(key=lambda r: (r["n"], ARMS.index(r["arm"]), r["seed"]))
    doc = {"config": base.to_dict(), "budgets": budgets, "n_works": n_works, "seeds": list(seeds),
           "arms": [a for a in ARMS if a in arms], "audio_works": base.audio_works,
           "pretrain_steps": pretrain_steps, "steps": steps, "pretrained": init,
           "test_strips": min(test_limit, test_strips) if test_limit else test_strips,
           "held_out_font": base.data.held_out_font, "results": results,
           "seconds": round(time.perf_counter() - t0, 1)}
    from .experiment_report import plot, render_markdown

    atomic_write_json(out / "experiment.json", doc)
    plot(doc, out / "sample_efficiency.png")
    tmp = out / ".report.md.tmp"
    tmp.write_text(render_markdown(doc))
    tmp.replace(out / "report.md")
    return doc
