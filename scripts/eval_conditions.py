#!/usr/bin/env python3
"""Scores transcribers on the test split of several renderings of the same pieces (pianos) and under the
room condition, and prints one Markdown table (and, with --json, writes every number).

    .venv/bin/python scripts/eval_conditions.py --model shipped=python/pianograd/transcription/models/transcriber.safetensors \
        --model pianos=runs/pianos/model.safetensors \
        --data "GM grand=data/cache/full-s0" --data "honky-tonk (held out)=data/cache/full-honkytonk" \
        --room "GM grand in a room (held out)=data/cache/full-s0"

Each model decodes with the thresholds stored beside it (M.decode.json), as `pianograd eval` does.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "build" / "python"))

KINDS = ("note", "note_offset", "note_offset_velocity", "frame", "pedal")


def _pairs(items, what):
    out = []
    for s in items or []:
        if "=" not in s:
            raise SystemExit(f"--{what} wants LABEL=PATH, got {s!r}")
        k, v = s.split("=", 1)
        out.append((k, v))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", action="append", required=True, help="LABEL=checkpoint")
    ap.add_argument("--data", action="append", help="LABEL=prepared folder (test split, as rendered)")
    ap.add_argument("--room", action="append", help="LABEL=prepared folder heard under the room condition")
    ap.add_argument("--condition-seed", type=int, default=1000)
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--json", default=None, help="write all results here")
    a = ap.parse_args(argv)

    from pianograd.transcription.evaluate import ROOM_CONDITION, evaluate

    rows = [(lab, path, None) for lab, path in _pairs(a.data, "data")]
    rows += [(lab, path, ROOM_CONDITION) for lab, path in _pairs(a.room, "room")]
    models = _pairs(a.model, "model")
    results = {}
    for mlab, mpath in models:
        for dlab, dpath, cond in rows:
            res = evaluate(mpath, dpath, "test", limit=a.limit, condition=cond, condition_seed=a.condition_seed)
            results[(mlab, dlab)] = res["mean"]
            print(f"  {mlab} on {dlab}: " + ", ".join(f"{k} {v:.3f}" for k, v in res["mean"].items()),
                  file=sys.stderr, flush=True)
    print("| test split | model | note F1 | + offset | + velocity | frame | pedal events |")
    print("|---|---|---|---|---|---|---|")
    for dlab, _, _ in rows:
        for mlab, _ in models:
            m = results[(mlab, dlab)]
            print(f"| {dlab} | {mlab} | " + " | ".join(f"{m[k]:.3f}" if k in m else "-" for k in KINDS) + " |")
    if a.json:
        from pianograd.data.cache import atomic_write_json
        atomic_write_json(Path(a.json), {f"{m} | {d}": v for (m, d), v in results.items()})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
