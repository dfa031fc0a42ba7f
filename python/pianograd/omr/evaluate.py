"""Scoring g: corpus symbol error rate (token edit distance, C++ pg.symbol_error_rate) and note F1 on
(pitch, onset in beats) and with duration (C++ pg.omr_note_f1), per staff type (clef), on a split of
the engraved data; a Markdown report with strips and their readings drawn as PNG.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np

from .data import OmrDataConfig, StripSet, build
from .recognize import read_strips
from .tokens import decode_ids, tokens_to_notes


def _notes(tokens: List[str]) -> List[dict]:
    return [{"pitch": n.pitch, "onset_beats": float(n.onset), "duration_beats": float(n.duration), "staff": 0}
            for n in tokens_to_notes(tokens, strict=False)]


def score(model, s: StripSet, limit: Optional[int] = None, beam: int = 0) -> Dict[str, object]:
    import pianograd as pg

    n = len(s) if limit is None else min(limit, len(s))
    hyp = read_strips(model, s.strips[:n], beam=beam)
    refs = [decode_ids(i) for i in s.ids[:n]]
    groups: Dict[str, List[int]] = {}
    for i, r in enumerate(refs):
        clef = next((t for t in r if t.startswith("clef:")), "clef:?")
        groups.setdefault(clef, []).append(i)
    # And by the kind of work (a piano work's staves hold chords and two voices; a chorale's, one line).
    from ..data.catalog import catalog

    kind = {p.id: p.category for p in catalog()}
    for i in range(n):
        cat = kind.get(s.meta[i].get("piece", ""), "") if i < len(s.meta) else ""
        if cat:
            groups.setdefault(f"works:{cat}", []).append(i)
    groups["all"] = list(range(n))
    out: Dict[str, object] = {"strips": n}
    for name, idx in sorted(groups.items()):
        ser = pg.symbol_error_rate([hyp[i] for i in idx], [refs[i] for i in idx])
        tp = {"onset": [0, 0, 0], "duration": [0, 0, 0]}
        for i in idx:
            r, e = _notes(refs[i]), _notes(hyp[i])
            for key, wd in (("onset", False), ("duration", True)):
                m = pg.omr_note_f1(r, e, with_duration=wd)
                tp[key][0] += m["matched"]
                tp[key][1] += m["n_ref"]
                tp[key][2] += m["n_est"]
        f1 = {}
        for key, (mt, nr, ne) in tp.items():
            p, rc = mt / max(ne, 1), mt / max(nr, 1)
            f1[key] = 2 * p * rc / max(p + rc, 1e-12)
        out[name] = {"ser": ser["ser"], "strips": len(idx), "note_f1": f1["onset"],
                     "note_f1_duration": f1["duration"]}
    out["examples"] = [{"ref": " ".join(refs[i]), "hyp": " ".join(hyp[i])} for i in range(min(n, 6))]
    return out


def evaluate(model_path: Optional[str], split: str = "test", font_set: str = "held_out",
             cfg: Optional[OmrDataConfig] = None, out: Optional[str] = None, limit: Optional[int] = None,
             beam: int = 0, progress: bool = True, pages: int = 0, musescore: int = 0) -> Dict[str, object]:
    """Strips of a split (SER, note F1 per staff type) and, with pages > 0, the first pages of that many
    piano works of the split read whole (note F1 on grand-staff systems); with musescore > 0, that many
    works of the split engraved whole by MuseScore 3 (score_musescore)."""
    from .model import load_model
    from .recognize import DEFAULT_MODEL

    cfg = cfg or OmrDataConfig()
    model = load_model(model_path or DEFAULT_MODEL)
    data = build(cfg, split, font_set, progress=progress)
    res = score(model, data, limit, beam)
    res.update({"split": split, "fonts": font_set, "model": str(model_path or DEFAULT_MODEL)})
    if pages:
        font = cfg.held_out_font if font_set == "held_out" else cfg.fonts[0]
        res["page_reading"] = score_pages(model, page_pieces(cfg, split)[:pages], font, beam=beam,
                                          progress=progress)
    if musescore:
        res["musescore_reading"] = score_musescore(model, page_pieces(cfg, split)[:musescore], beam=beam,
                                                   progress=progress)
    if out:
        write_report(Path(out), res, data, model)
    return res


def write_report(out: Path, res: Dict[str, object], data: StripSet, model) -> None:
    from PIL import Image, ImageDraw

    import pianograd as pg

    from ..data.cache import atomic_write_json, atomic_write_text

    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / "metrics.json", res)
    lines = [f"# OMR evaluation: {res['split']} split, {res['fonts']} fonts", "",
             f"Model `{res['model']}`, {res['strips']} staff strips.", "",
             "| strips (by clef, by kind of work) | strips | SER | note F1 (pitch+onset) | note F1 (+duration) |", "|---|---|---|---|---|"]
    for k, v in res.items():
        if isinstance(v, dict) and "ser" in v:
            lines.append(f"| {k} | {v['strips']} | {v['ser']:.2%} | {v['note_f1']:.3f} | {v['note_f1_duration']:.3f} |")
    pr = res.get("page_reading")
    if pr:
        lines += ["", f"Whole first pages (piano works, then four-staff chorales): note F1 {pr['note_f1_onset']:.3f} on "
                  f"(pitch, onset), {pr['note_f1_duration']:.3f} with duration.", "",
                  "| work | zoom | staves | systems | F1 | F1 +dur |", "|---|---|---|---|---|---|"]
        lines += [f"| {r['piece']} | {r['zoom']} | {r['staves']} | {r['systems']} | {r['f1_onset']:.3f} | "
                  f"{r['f1_duration']:.3f} |" for r in pr["pages"]]
    mr = res.get("musescore_reading")
    if mr:
        lines += ["", f"Whole works engraved by MuseScore 3 ({mr['dpi']} dpi, every page, titles and lyrics "
                  f"included), an engraver g never trained on: note F1 {mr['note_f1_onset']:.3f} on (pitch, "
                  f"onset), {mr['note_f1_duration']:.3f} with duration.", "",
                  "| work | pages | staves | bars | F1 | F1 +dur |", "|---|---|---|---|---|---|"]
        lines += [f"| {r['piece']} | {r['pages']} | {r['staves']} | {r['bars']} | {r['f1_onset']:.3f} | "
                  f"{r['f1_duration']:.3f} |" for r in mr["works"]]
    lines += ["", "## Readings", ""]
    hyp = read_strips(model, data.strips[:6])
    for i, ex in enumerate(res["examples"]):
        strip = data.strips[i]
        canvas = Image.new("L", (strip.shape[1], strip.shape[0] + 30), 255)
        canvas.paste(Image.fromarray(strip), (0, 0))
        d = ImageDraw.Draw(canvas)
        d.text((2, strip.shape[0] + 2), " ".join(hyp[i])[: strip.shape[1] // 6], fill=0)
        name = f"strip_{i}.png"
        pg.write_png(str(out / name), np.asarray(canvas, dtype=np.uint8))
        lines += [f"![strip {i}]({name})", "", f"- truth: `{ex['ref']}`", f"- read:  `{ex['hyp']}`", ""]
    atomic_write_text(out / "report.md", "\n".join(lines) + "\n")


def page_pieces(cfg: OmrDataConfig, split: str = "test", categories=("keyboard", "song", "chorale")) -> List[str]:
    """Multi-staff works of a split, piano works first (a grand staff per system), then chorales (four
    staves per system)."""
    from ..data.catalog import catalog
    from ..data.splits import split_of

    rank = {c: k for k, c in enumerate(categories)}
    return [p.id for p in sorted(catalog(), key=lambda p: (rank.get(p.category, 99), p.id))
            if p.category in categories and split_of(p.group, cfg.split_seed, cfg.f_valid, cfg.f_test) == split]


class NoteTally:
    """Note F1 of page readings against engraved notes, per reading and pooled over readings: on (pitch,
    onset in beats) and with duration (C++ pg.omr_note_f1). The reading's pickup is added back, as the
    reference counts from the first bar line."""

    def __init__(self) -> None:
        self.tot = {"onset": [0, 0, 0], "duration": [0, 0, 0]}

    def add(self, ref, notes, pickup: float) -> Dict[str, float]:
        """ref: (pitch, onset, duration, staff) tuples; notes: OmrNotes. Returns {f1_onset, f1_duration}."""
        import pianograd as pg

        est = [{"pitch": n.pitch, "onset_beats": n.onset_beats + pickup, "duration_beats": n.duration_beats,
                "staff": n.staff} for n in notes]
        refs = [{"pitch": p, "onset_beats": o, "duration_beats": d, "staff": s} for p, o, d, s in ref]
        row = {}
        for key, wd in (("onset", False), ("duration", True)):
            m = pg.omr_note_f1(refs, est, with_duration=wd)
            row[f"f1_{key}"] = m["f1"]
            for i, c in enumerate(("matched", "n_ref", "n_est")):
                self.tot[key][i] += m[c]
        return row

    def pooled(self) -> Dict[str, float]:
        out = {}
        for key, (mt, nr, ne) in self.tot.items():
            p, rc = mt / max(ne, 1), mt / max(nr, 1)
            out[f"note_f1_{key}"] = 2 * p * rc / max(p + rc, 1e-12)
        return out


def score_pages(model, pieces: List[str], font: str, zooms=(1.4, 2.2), beam: int = 0,
                progress: bool = True) -> Dict[str, object]:
    """First pages of whole works engraved by Verovio (automatic system breaks, grand staves), read
    with the page pipeline (staves, systems, pickup), scored on notes (pitch, onset in beats)."""
    from ..data.engrave import render_page
    from .recognize import recognize

    rows = []
    tally = NoteTally()
    for piece in pieces:
        for zoom in zooms:
            page = render_page(piece, font=font, zoom=zoom)
            r = recognize(page.grey, model=model, beam=beam)
            row = {"piece": piece, "zoom": zoom, "staves": len(r.staves), "systems": len(r.systems),
                   **tally.add(page.notes, r.notes, r.pickup_beats)}
            rows.append(row)
            if progress:
                print(f"  page {piece} @{zoom}: {row['staves']} staves, F1 {row['f1_onset']:.3f}", flush=True)
    return {"pages": rows, **tally.pooled()}


def score_musescore(model, pieces: List[str], dpi: int = 300, beam: int = 0, progress: bool = True) -> Dict[str, object]:
    """Whole works as MuseScore 3 engraves them (pianograd.data.musescore: every page, with titles,
    lyrics, instrument names), read page after page as `pianograd omr` reads them, scored on notes (pitch,
    onset in beats; + duration) against the work's notes. An engraver g never trained on."""
    from ..data.musescore import engrave_work
    from .recognize import read_pages

    rows = []
    tally = NoteTally()
    for piece in pieces:
        work = engrave_work(piece, dpi=dpi)
        notes, staves, _, pickup = read_pages(work.pages, model=model, beam=beam)
        row = {"piece": piece, "pages": len(work.pages), "staves": staves, "bars": work.bars,
               **tally.add(work.notes, notes, pickup)}
        rows.append(row)
        if progress:
            print(f"  MuseScore {piece}: {row['pages']} pages, {staves} staves, F1 {row['f1_onset']:.3f}", flush=True)
    return {"works": rows, "dpi": dpi, **tally.pooled()}
