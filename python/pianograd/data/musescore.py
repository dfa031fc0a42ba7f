"""MuseScore 3 as a second engraver: whole corpus works as the pages a musician would print from it.

g trains only on Verovio's engraving. Users bring pages from other engravers, with their own spacing,
beams, stems and glyph shapes, and with what a printed score carries besides the music: titles, credits,
lyrics, instrument names, measure numbers. MuseScore 3 (Debian's `musescore3`, run headless) renders a
work's MusicXML to PNG pages, so g can be measured on an engraver it never saw (`pianograd eval omr
--musescore K`). The reference notes are the work's, timed by printed bars (omr.encode.printed_bar_starts)
as the Verovio pages are.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Tuple

import numpy as np

_PROGRAMS = ("mscore3", "musescore3", "mscore", "musescore")


def musescore_program() -> Optional[str]:
    """The MuseScore command on the PATH, or None."""
    return next((p for p in map(shutil.which, _PROGRAMS) if p), None)


@dataclass
class EngravedWork:
    pages: List[np.ndarray]                          # float32 greyscale, 1 = paper, in page order
    notes: List[Tuple[int, float, float, int]]       # pitch, onset, duration (quarter notes), part
    bars: int


def engrave_work(piece: str, dpi: int = 300, timeout_s: float = 180.0) -> EngravedWork:
    """Every page of a corpus work as MuseScore 3 engraves its MusicXML (lyrics kept: they are part of
    what a page shows), with the notes of the whole work. Raises RuntimeError when MuseScore is missing
    or fails."""
    from ..omr.recognize import load_grey

    prog = musescore_program()
    if prog is None:
        raise RuntimeError("MuseScore 3 is not installed (Debian: apt-get install musescore3)")
    if not 30 <= dpi <= 1200:
        raise ValueError(f"engrave_work: dpi must be in [30, 1200], got {dpi}")
    xml, back = _musicxml(piece)
    with tempfile.TemporaryDirectory(prefix="pg_mscore_") as d:
        src, out = Path(d) / "score.musicxml", Path(d) / "page.png"
        src.write_bytes(xml)
        # Headless: Qt's offscreen platform needs no display; MuseScore writes page-1.png, page-2.png, ...
        env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_RUNTIME_DIR": d}
        run = subprocess.run([prog, "-r", str(dpi), "-o", str(out), str(src)], env=env, capture_output=True,
                             timeout=timeout_s, stdin=subprocess.DEVNULL)
        files = sorted(Path(d).glob("page-*.png"), key=lambda p: int(p.stem.rsplit("-", 1)[1]))
        if run.returncode != 0 or not files:
            tail = (run.stderr or b"").decode(errors="replace").strip().splitlines()[-3:]
            raise RuntimeError(f"MuseScore could not engrave {piece} (exit {run.returncode}): {' | '.join(tail)}")
        pages = [load_grey(str(f)) for f in files]
    notes, n_bars = work_notes(piece, back)
    return EngravedWork(pages, notes, n_bars)


def _musicxml(piece: str):
    """The work as the MusicXML MuseScore is given, and that MusicXML read back (what MuseScore prints)."""
    from music21 import converter
    from music21.musicxml.m21ToXml import GeneralObjectExporter

    from .score import corpus_file

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        xml = GeneralObjectExporter(converter.parse(str(corpus_file(piece)))).parse()
        return xml, converter.parseData(xml.decode("utf-8"), format="musicxml")


def work_notes(piece: str, back=None) -> Tuple[List[Tuple[int, float, float, int]], int]:
    """The reference of a MuseScore-engraved work: its notes (pitch, onset, duration in quarters, part),
    timed by printed bars (omr.encode.printed_bar_starts), and its number of bars."""
    from music21 import stream

    from ..omr.encode import printed_bar_starts, staff_notes

    if back is None:
        back = _musicxml(piece)[1]
    n_bars = len(list(back.parts[0].getElementsByClass(stream.Measure)))
    starts = printed_bar_starts(back.parts, n_bars)
    notes = [(n.pitch, float(n.onset), float(n.duration), k)
             for k, part in enumerate(back.parts) for n in staff_notes(part, 0, n_bars - 1, starts)]
    return sorted(notes, key=lambda x: (x[1], x[0])), n_bars
