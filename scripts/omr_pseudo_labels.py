"""How good are g's pseudo-labels? Signal (c) keeps a reading of an unlabelled staff when g is sure of it
(CTC NLL per token) and it is well-formed; signal (b) keeps it when h's transcription of the work's
recording confirms its notes and its bars are as long as the metre says (pianograd.omr.audio_pairs, as
the trainer's signal (b) applies it). This reads the training split's staves of K works with
a model and prints, per filter, how many readings it keeps and how many of those are exactly the label
(the labels are used here to score the filters only). By default the test split's works in the held-out
font: the shipped model learned the training works' labels, so its readings of them say little.

    PYTHONPATH=build/python .venv/bin/python scripts/omr_pseudo_labels.py [--split train --works 40] [--model M]
"""
from __future__ import annotations

import argparse
import collections
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "build" / "python"))


def main(argv=None) -> int:
    from pianograd.data.score import load_score
    from pianograd.omr.audio_pairs import audio_pseudo_labels, work_audio_notes
    from pianograd.omr.data import build
    from pianograd.omr.model import load_model
    from pianograd.omr.recognize import DEFAULT_MODEL
    from pianograd.omr.self_train import readings, well_formed
    from pianograd.omr.train import OmrTrainConfig
    from pianograd.progress_report import progress_bar

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default="configs/omr/experiment.json", help="the data of this OMR config")
    ap.add_argument("--model", default=None, help="OMR model (default: the shipped one)")
    ap.add_argument("--split", default="test", choices=["train", "valid", "test"])
    ap.add_argument("--fonts", default="held_out", choices=["held_out", "train"])
    ap.add_argument("--works", type=int, default=0, help="the first K works of the split (0: all)")
    ap.add_argument("--json", default=None, help="also write the table here")
    a = ap.parse_args(argv)

    cfg = OmrTrainConfig.from_dict(json.loads(Path(a.config).read_text()))
    data = build(cfg.data, a.split, a.fonts, progress=False)
    by_work = collections.defaultdict(list)
    for i, m in enumerate(data.meta):
        by_work[m["piece"]].append(i)
    works = list(by_work)[: a.works or None]  # the split's order interleaves the categories
    net = load_model(a.model or DEFAULT_MODEL)
    from pianograd.omr.tokens import decode_ids

    filters = {"confidence (c): NLL <= 0.05, well-formed": [],
               "audio (b): NLL <= 0.5, well-formed, every note heard": [],
               "audio (b): NLL <= 0.5, well-formed, 90 % heard": [],
               "audio (b) and confidence (c) together": []}
    total = 0
    for w in progress_bar(works, desc="works"):
        idx = by_work[w]
        total += len(idx)
        got = readings(net, [data.strips[i] for i in idx])
        refs = [decode_ids(data.ids[i]) for i in idx]
        toks = [decode_ids(r[0]) if r is not None else None for r in got]
        nll = [r[1] if r is not None else np.inf for r in got]
        heard = {w: work_audio_notes(w)}
        bars = {w: list(load_score(w).bars)}
        metas = [data.meta[i] for i in idx]
        loose = [t if t is not None and v <= 0.5 else None for t, v in zip(toks, nll)]
        sure = [t if t is not None and v <= 0.05 and well_formed(t) else None for t, v in zip(toks, nll)]
        metre = lambda got: [t if t is not None and well_formed(t) else None for t in got]  # noqa: E731
        heard_all = metre(audio_pseudo_labels(loose, metas, heard, bars, 1.0))
        heard_most = metre(audio_pseudo_labels(loose, metas, heard, bars, 0.9))
        both = [h if s is not None else None for h, s in zip(heard_all, sure)]
        for name, kept in zip(filters, (sure, heard_all, heard_most, both)):
            filters[name] += [(k == r, k != t, k != t and k == r) for k, t, r in zip(kept, toks, refs) if k is not None]
    rows = []
    print(f"{a.split} split, {a.fonts} fonts: {len(works)} works, {total} staves; model {a.model or DEFAULT_MODEL}")
    print(f"{'filter':<52} {'kept':>6} {'exact':>7} {'corrected by the audio (right)':>31}")
    for name, kept in filters.items():
        n = len(kept)
        exact = sum(e for e, _, _ in kept) / max(n, 1)
        changed, right = sum(c for _, c, _ in kept), sum(r for _, _, r in kept)
        rows.append({"filter": name, "kept": n, "exact": exact, "corrected": changed, "corrected_right": right})
        print(f"{name:<52} {n:>6} {exact:>7.1%} {f'{changed} ({right})':>31}")
    if a.json:
        Path(a.json).write_text(json.dumps({"works": len(works), "staves": total, "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
