"""The shipped motion LM's evaluation report (issue 14): the transformer, the same-size GRU and the
n-gram trained on the same works, scored on the held-out test works of the config's split (NLL per
event, bits per second, per field, per work), the training curves, and a sampled 30 s continuation
checked for validity (every note-on closed, every key on the piano) and rendered by our piano.

    .venv/bin/python -m pianograd.lm.report --config configs/lm/shipped.json --out docs/experiments/lm

Reads the models from python/pianograd/lm/models/ (or --models DIR) and the training logs from the
config's out folder and its `_gru` sibling; writes report.md, results.json, curves.png and the sample's
MIDI and piano-roll PNG into --out.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Dict, List

import numpy as np

from .. import _core as pg
from ..data.cache import atomic_write_json
from .config import LMConfig
from .data import fingerprint, performances
from .evaluate import DEFAULT_MODEL, FIELDS, load_models, score, table, token_scores

KINDS = ("shift", "note_on", "note_off", "velocity", "pedal_on", "pedal_off")


def by_kind(model, perfs: List["pg.Performance"], tok: "pg.MotionTokenizer") -> Dict[str, float]:
    """NLL per token of each token kind (the pitch field split into note-on and note-off)."""
    kind = np.array([tok.kind(i).name if i >= 3 else "special" for i in range(tok.vocab_size)])
    sums: Dict[str, List[float]] = {k: [0.0, 0] for k in KINDS}
    for p in perfs:
        nll, targets, _ = token_scores(model, tok, p)
        ks = kind[targets]
        for k in KINDS:
            sel = ks == k
            sums[k][0] += float(nll[sel].sum())
            sums[k][1] += int(sel.sum())
    return {k: s / max(n, 1) for k, (s, n) in sums.items()}


def _log(path: Path) -> List[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.is_file() else []


def _curves(logs: Dict[str, List[dict]], out: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4))
    for (name, log), color in zip(logs.items(), ("tab:blue", "tab:green")):
        tr = [r for r in log if "loss" in r]
        va = [r for r in log if "valid_nll" in r]
        ax.plot([r["step"] for r in tr], [r["loss"] for r in tr], color=color, alpha=0.5, label=f"{name}: training loss")
        ax.plot([r["step"] for r in va], [r["valid_nll"] for r in va], "o-", color=color, label=f"{name}: validation NLL")
    ax.set(xlabel="step (batch 16 x 512 tokens)", ylabel="nats per token", ylim=(1.8, 4.0), title="motion LM training")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def _roll(perf: "pg.Performance", split_at: float, out: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(12, 4))
    for n in perf.notes:
        ax.plot([n.onset, n.offset], [n.key, n.key], lw=2.5, alpha=0.35 + 0.65 * n.velocity / 127,
                color="tab:blue" if n.onset < split_at else "tab:orange")
    for t, v in perf.pedal:
        ax.axvline(t, color="gray", lw=0.5, alpha=0.5 if v >= 0.5 else 0.2)
    ax.axvline(split_at, color="k", ls="--", lw=1)
    ax.set(xlabel="time (s)", ylabel="MIDI key", title="prompt (blue, a test work) and 30 s sampled continuation (orange)")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def _sample(models_dir: Path, test: List["pg.Performance"], out: Path) -> Dict[str, object]:
    from .generate import generate

    lm = pg.MotionLM.load(str(models_dir / "motion_lm.safetensors"))
    prompt = test[0].window(0.0, 8.0)
    t0 = time.perf_counter()
    perf = generate(lm, prompt, seconds=30.0, temperature=1.0, top_p=0.95, seed=0)
    secs = time.perf_counter() - t0
    perf.validate()  # throws on an unclosed or out-of-range note
    new = perf.notes[len(prompt.notes):]
    pg.write_midi(out / "sample_continuation.mid", perf)
    _roll(perf, prompt.duration, out / "sample_continuation.png")
    return {"prompt_notes": len(prompt.notes), "sampled_notes": len(new), "duration_s": round(perf.duration, 2),
            "keys": [min(n.key for n in new), max(n.key for n in new)] if new else [],
            "sampling_seconds": round(secs, 2), "valid": True}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", required=True)
    ap.add_argument("--models", default=str(DEFAULT_MODEL.parent))
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    cfg = LMConfig.load(args.config)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    models_dir = Path(args.models)
    (perfs, names) = performances(cfg, progress=False)
    models = load_models(models_dir / "motion_lm.safetensors")
    test = perfs["test"]
    tok = pg.MotionTokenizer()
    res = {name: score(m, test, tok) for name, m in models.items()}
    per_work = {}
    for p, n in zip(test, names["test"]):
        per_work.setdefault(n, []).append(p)
    works = {n: {name: score(m, ps, tok)["nll_per_event"] for name, m in models.items()} for n, ps in per_work.items()}
    kinds = {name: by_kind(m, test, tok) for name, m in models.items()}
    sample = _sample(models_dir, test, out)
    logs = {"transformer": _log(Path(cfg.out) / "log.jsonl"), "gru": _log(Path(cfg.out + "_gru") / "log.jsonl")}
    _curves(logs, out / "curves.png")
    params = {name: (m.parameter_count() if hasattr(m, "parameter_count") else None) for name, m in models.items()}
    result = {"config": args.config, "test_works": len(per_work), "test_performances": len(test),
              "train_performances": len(perfs["train"]), "train_fingerprint": fingerprint(perfs["train"]),
              "parameters": params, "results": res, "by_kind": kinds, "per_work": works, "sample": sample,
              "training_seconds": {k: (v[-1]["seconds"] if v else None) for k, v in logs.items()}}
    atomic_write_json(out / "results.json", result)
    m, ng, gru = res["model"], res.get("ngram"), res.get("gru")
    lines = [
        "# The motion LM on held-out works",
        "",
        f"Regenerate: `.venv/bin/python -m pianograd.lm.report --config {args.config} --out {args.out}`",
        "",
        f"Test split of `{args.config}`: {len(test)} performances of {len(per_work)} works never seen in training "
        f"({res['model']['tokens']} tokens, {res['model']['seconds'] / 60:.1f} min of music); "
        f"{len(perfs['train'])} training performances. Parameters: transformer {params['model']:,}"
        + (f", GRU {params['gru']:,}" if gru else "") + ".",
        "",
        table(res),
    ]
    if ng:
        lines.append(f"n-gram minus transformer (`model`): **{ng['nll_per_event'] - m['nll_per_event']:+.3f}** "
                     "nats/event (target ≥ +0.3).  ")
    if gru:
        lines.append(f"same-size GRU minus transformer: **{gru['nll_per_event'] - m['nll_per_event']:+.3f}** "
                     "nats/event (target ≥ +0.05).")
    lines += ["", "Per field: nats per token of that field (time = SHIFT, pitch = NOTE_ON/OFF, velocity, pedal); "
              "shares of all nats:", "",
              "| model | " + " | ".join(FIELDS) + " |", "|---|" + "---|" * len(FIELDS)]
    for name, r in res.items():
        lines.append(f"| {name} | " + " | ".join(f"{100 * r[f'share_{f}']:.0f} %" for f in FIELDS) + " |")
    lines += ["", "NLL per token of each kind (nats):", "", "| model | " + " | ".join(KINDS) + " |",
              "|---|" + "---|" * len(KINDS)]
    for name, r in kinds.items():
        lines.append(f"| {name} | " + " | ".join(f"{r[k]:.3f}" for k in KINDS) + " |")
    lines += ["", "## Per test work (NLL / event)", "", "| work | " + " | ".join(models) + " |",
              "|---|" + "---|" * len(models)]
    for n, w in sorted(works.items()):
        lines.append(f"| {n} | " + " | ".join(f"{w[k]:.3f}" for k in models) + " |")
    lines += ["", "## Training", "", "![training curves](curves.png)", "",
              "## A sampled continuation", "",
              f"The first 8 s of a test work as the prompt, 30 s sampled (temperature 1, top-p 0.95, seed 0) in "
              f"{sample['sampling_seconds']} s: {sample['sampled_notes']} new notes, keys {sample['keys']}, "
              f"valid (every note-on closed, every key on the piano). `sample_continuation.mid`; "
              "`pianograd generate --prompt sample_continuation.mid ... --wav out.wav` plays such a file.", "",
              "![sample](sample_continuation.png)", ""]
    (out / "report.md").write_text("\n".join(lines))
    print("\n".join(lines[:12]))
    print(f"wrote {out}/report.md, results.json, curves.png, sample_continuation.mid/png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
