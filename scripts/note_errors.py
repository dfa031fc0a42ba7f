#!/usr/bin/env python3
"""Sorts a transcriber's note errors on a split into kinds (issue 15, item 1): which reference notes it
misses and which notes it invents, and why, so capacity goes where the errors are.

    .venv/bin/python scripts/note_errors.py --model runs/refine_wide_more/model.safetensors \
        --data data/cache/full-s0 --split valid

Notes match as pg.note_metrics matches them (same key, onsets within 50 ms, one to one, closest first).
Each unmatched reference note, and each unmatched estimate, goes into the first kind that fits:
missed — a same-key estimate 50-200 ms away (timing), a same-key estimate that began earlier and still
sounds (a re-strike merged into it), or nothing (absent); invented — a same-key reference onset 50-200 ms
away (timing), a same-key reference note that sounds through it (a held note split), a reference onset
within 50 ms a harmonic interval below (12, 19, 24, 28 keys) or an octave / fifth away (a harmonic ghost),
or none of these. The model decodes with the thresholds stored beside it, as `pianograd eval` does.
"""
from __future__ import annotations

import argparse
import collections
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "build" / "python"))

GHOST_STEPS = (12, 19, 24, 28, -12, 7)  # estimate key - reference key


def match(ref, est, tol=0.05):
    """Indices of matched (ref, est) pairs: per key, closest onsets first, each note used once."""
    pairs = sorted((abs(e[0] - r[0]), i, j) for i, r in enumerate(ref) for j, e in enumerate(est)
                   if r[2] == e[2] and abs(e[0] - r[0]) <= tol)
    used_r, used_e = set(), set()
    for _, i, j in pairs:
        if i not in used_r and j not in used_e:
            used_r.add(i)
            used_e.add(j)
    return used_r, used_e


def classify(ref, est):
    """Counter of error kinds for one excerpt; notes are (onset, offset, key) tuples."""
    out = collections.Counter()
    used_r, used_e = match(ref, est)
    for i, (on, off, key) in enumerate(ref):
        if i in used_r:
            continue
        if any(e[2] == key and abs(e[0] - on) <= 0.2 for j, e in enumerate(est) if j not in used_e):
            out["missed: onset 50-200 ms off"] += 1
        elif any(e[2] == key and e[0] < on < e[1] + 0.02 for e in est):
            out["missed: a re-strike merged into an earlier note"] += 1
        else:
            out["missed: absent"] += 1
    for j, (on, off, key) in enumerate(est):
        if j in used_e:
            continue
        if any(r[2] == key and abs(r[0] - on) <= 0.2 for r in ref):
            out["invented: onset 50-200 ms off"] += 1
        elif any(r[2] == key and r[0] < on < r[1] for r in ref):
            out["invented: a held note split"] += 1
        elif any(abs(r[0] - on) <= 0.05 and key - r[2] in GHOST_STEPS for r in ref):
            out["invented: a harmonic ghost"] += 1
        else:
            out["invented: other"] += 1
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=None, help="checkpoint (default: the shipped model)")
    ap.add_argument("--data", default="data/cache/full-s0")
    ap.add_argument("--split", default="valid", choices=["train", "valid", "test"])
    args = ap.parse_args(argv)

    from pianograd.data import load_manifest
    from pianograd.transcription.evaluate import DEFAULT_MODEL, load_model, transcribe_split
    from pianograd.transcription.tune import decode_options

    model = load_model(args.model)
    triples = transcribe_split(model, load_manifest(args.data), args.split,
                               **decode_options(args.model or DEFAULT_MODEL))
    total, n_ref, n_est = collections.Counter(), 0, 0
    for _, ref, est in triples:
        r = [(n.onset, n.offset, n.key) for n in ref.notes]
        e = [(n.onset, n.offset, n.key) for n in est.notes]
        n_ref, n_est = n_ref + len(r), n_est + len(e)
        total += classify(r, e)
    print(f"{args.data} / {args.split}: {len(triples)} excerpts, {n_ref} reference notes, {n_est} estimated")
    print("| error | notes | share of the reference notes |\n|---|---|---|")
    for kind in sorted(total):
        print(f"| {kind} | {total[kind]} | {100 * total[kind] / max(n_ref, 1):.1f} % |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
