"""Page reading on an engraver g never saw, beyond the test split's one piano work: the piano and song works
of a split (grand staves, a voice over a piano, pickups, repeats, later pages without a time signature)
engraved whole by MuseScore 3 and read page after page as `pianograd omr` reads them. Prints note F1
(pitch + onset in beats) per work and pooled, and writes them as JSON with --json.

The training split's works are the default: the test split holds one piano work only, too few to tell a
change to the page reader from luck. g learned those works' notes from Verovio's engraving, never from
MuseScore's, so what this measures is mostly the page reader (staves, systems, bars, timeline) and
g's tolerance of another engraver, not memory of the pages.

    PYTHONPATH=build/python .venv/bin/python scripts/omr_musescore_pages.py [--split train] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "build" / "python"))


def main(argv=None) -> int:
    from pianograd.omr.data import OmrDataConfig
    from pianograd.omr.evaluate import page_pieces, score_musescore
    from pianograd.omr.model import load_model
    from pianograd.omr.recognize import DEFAULT_MODEL

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", default="train", choices=["train", "valid", "test"])
    ap.add_argument("--categories", default="keyboard,song", help="catalog categories, comma-separated")
    ap.add_argument("--model", default=str(DEFAULT_MODEL))
    ap.add_argument("--dpi", type=int, default=300)
    ap.add_argument("--json", default=None, help="write the figures here")
    a = ap.parse_args(argv)
    pieces = page_pieces(OmrDataConfig(), a.split, categories=tuple(a.categories.split(",")))
    if not pieces:
        print(f"no {a.categories} works in the {a.split} split")
        return 1
    res = score_musescore(load_model(a.model), pieces, dpi=a.dpi)
    works = res["works"]
    print(f"{len(works)} works, {sum(w['pages'] for w in works)} pages: pooled note F1 {res['note_f1_onset']:.3f} "
          f"(+ duration {res['note_f1_duration']:.3f}), mean per work "
          f"{sum(w['f1_onset'] for w in works) / len(works):.3f}")
    if a.json:
        Path(a.json).write_text(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
