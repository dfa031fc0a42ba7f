"""Score images (V) from the music21 corpus: each staff engraved by Verovio, a few bars per system,
rasterised by resvg, with the staff's tokens and notes in beats as ground truth.

A staff is exported to MusicXML once and parsed back, so the ground truth is read from exactly what
Verovio engraves (music21 splits inexpressible durations into tied notes on export); Verovio then
renders any bar range of it as one system (``select measureRange``), which is how the engraver
repeats clef and key signature at a system's start (pianograd.omr.encode.segment_tokens).
"""
from __future__ import annotations

import io
import random
import re
import warnings
from dataclasses import dataclass
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from ..omr.encode import MeasureTokens, printed_bar_starts, segment_tokens, staff_measures, staff_notes
from ..omr.tokens import TokenError, encode_ids

FONTS = ("Leipzig", "Bravura", "Gootville", "Leland", "Petaluma")


@dataclass
class Staff:
    """One engravable staff of a corpus piece."""
    piece: str
    index: int                # part index in the score
    xml: str                  # MusicXML of this staff alone
    bars: List[MeasureTokens]
    part: object              # the music21 part parsed back from `xml`


@dataclass
class Segment:
    piece: str
    staff: int
    first: int                # bar positions, 0-based inclusive
    last: int
    tokens: List[str]
    notes: List[Tuple[int, float, float]]   # pitch, onset and duration in quarter notes


def piece_staves(piece: str) -> Iterator[Staff]:
    """Every staff of a corpus piece that exports to MusicXML and parses back; bars the encoding cannot
    hold (inexpressible durations, microtones, unknown clefs) are marked in `bars` and skipped later."""
    from music21 import converter

    from .score import corpus_file

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        score = converter.parse(str(corpus_file(piece)))
        parts = list(score.parts) if hasattr(score, "parts") and len(score.parts) else [score]
        for k, part in enumerate(parts):
            staff = staff_from_part(piece, k, part)
            if staff is not None:
                yield staff


def _round_trip(music) -> Optional[Tuple[str, list]]:
    """MusicXML of a music21 part or score (lyrics dropped) and its parts parsed back from it, so labels
    are read from exactly what Verovio will engrave; None where export or parsing fails."""
    from music21 import converter
    from music21.exceptions21 import Music21Exception
    from music21.musicxml.m21ToXml import GeneralObjectExporter

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for n in music.recurse().notes:
            n.lyrics = []  # lyric lines are text, not notes; they would only add height
        try:
            xml = GeneralObjectExporter(music).parse().decode("utf-8")
            back = converter.parseData(xml, format="musicxml")
        except Music21Exception:  # durations the exporter refuses
            return None
    return xml, (list(back.parts) if hasattr(back, "parts") and len(back.parts) else [back])


def staff_from_part(piece: str, index: int, part) -> Optional[Staff]:
    """One music21 part as an engravable staff; None where the export or the encoding fails."""
    got = _round_trip(part)
    if got is None:
        return None
    xml, parts = got
    try:
        return Staff(piece, index, xml, staff_measures(parts[0]), parts[0])
    except TokenError:  # a staff with no bars
        return None


def staff_segments(staff: Staff, rng: random.Random, min_bars: int = 2, max_bars: int = 4) -> List[Segment]:
    """The staff cut into consecutive systems of min_bars..max_bars bars."""
    out = []
    i, n = 0, len(staff.bars)
    while i < n:
        j = min(n, i + rng.randint(min_bars, max_bars)) - 1
        try:
            toks = segment_tokens(staff.bars, i, j)
            encode_ids(toks)
        except TokenError:  # a bar the encoding cannot hold: this system is left out
            i = j + 1
            continue
        notes = [(x.pitch, float(x.onset), float(x.duration)) for x in staff_notes(staff.part, i, j)]
        if notes or len(toks) > 3:
            out.append(Segment(staff.piece, staff.index, i, j, toks, notes))
        i = j + 1
    return out


@dataclass
class System:
    """Several staves engraved together (a braced grand staff, a choir's four): `engraved` holds the
    whole score's MusicXML for Verovio, `staves` each staff's labels parsed back from that same export."""
    piece: str
    engraved: Staff
    staves: List[Staff]


def score_system(piece: str, score) -> Optional[System]:
    """A music21 score as one engravable system; None where export or encoding fails, or the staves'
    bars do not line up."""
    got = _round_trip(score)
    if got is None:
        return None
    xml, parts = got
    try:
        staves = [Staff(piece, k, xml, staff_measures(p), p) for k, p in enumerate(parts)]
    except TokenError:
        return None
    if not staves or any(not s.bars for s in staves) or len({len(s.bars) for s in staves}) != 1:
        return None
    return System(piece, Staff(piece, -1, xml, staves[0].bars, None), staves)


def piece_system(piece: str) -> Optional[System]:
    """A corpus piece's whole score as one system (all its staves, its brace or bracket)."""
    from music21 import converter

    from .score import corpus_file

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        score = converter.parse(str(corpus_file(piece)))
    if not hasattr(score, "parts") or len(score.parts) < 2:
        return None
    return score_system(piece, score)


@dataclass
class EngraveStyle:
    font: str = "Leipzig"
    scale: int = 40                 # Verovio's scale (%): staff space = 9 px at 100
    spacing_linear: float = 0.25
    spacing_non_linear: float = 0.6
    zoom: float = 1.0               # raster pixels per SVG unit

    @staticmethod
    def sample(rng: random.Random, fonts: Sequence[str] = FONTS) -> "EngraveStyle":
        # Staff spaces of 6..20 px span a 100-300 dpi scan of a 1.6-1.8 mm staff space.
        return EngraveStyle(font=rng.choice(list(fonts)), scale=40,
                            spacing_linear=rng.uniform(0.18, 0.32), spacing_non_linear=rng.uniform(0.5, 0.7),
                            zoom=rng.uniform(0.65, 2.2))


class Engraver:
    """A Verovio toolkit holding one staff at a time."""

    def __init__(self) -> None:
        import verovio

        verovio.enableLog(verovio.LOG_OFF)
        self.tk = verovio.toolkit()
        self._loaded: Optional[int] = None

    def render(self, staff: Staff, first: int, last: int, style: EngraveStyle) -> np.ndarray:
        """Grey image (float32, 1 = paper) of bars first..last as one system."""
        import resvg_py
        from PIL import Image

        self.tk.setOptions({"font": style.font, "scale": style.scale, "breaks": "none",
                            "adjustPageHeight": True, "adjustPageWidth": True, "header": "none",
                            "footer": "none", "pageMarginLeft": 60, "pageMarginRight": 60,
                            "pageMarginTop": 80, "pageMarginBottom": 80,
                            "spacingLinear": style.spacing_linear, "spacingNonLinear": style.spacing_non_linear})
        if self._loaded != id(staff):
            if not self.tk.loadData(staff.xml):
                raise ValueError(f"Verovio could not load staff {staff.index} of {staff.piece}")
            self._loaded = id(staff)
        self.tk.select({"measureRange": f"{first + 1}-{last + 1}"})
        self.tk.redoLayout()
        svg = self.tk.renderToSVG(1)
        png = resvg_py.svg_to_bytes(svg_string=svg, background="#ffffff", zoom=style.zoom)
        img = Image.open(io.BytesIO(bytes(png))).convert("L")
        return np.asarray(img, dtype=np.float32) / 255.0


@dataclass
class Page:
    grey: np.ndarray                         # float32, 1 = paper
    bars: int                                # bars engraved on this page (the first ones of the piece)
    staves_per_system: int
    notes: List[Tuple[int, float, float, int]]  # pitch, onset, duration (quarter notes), staff in system


def render_page(piece: str, parts: Optional[Sequence[int]] = None, font: str = "Leipzig", zoom: float = 1.0,
                page_width: int = 2100, page_height: int = 2970) -> Page:
    """The first page of a corpus piece as Verovio lays it out (A4 proportions, automatic system breaks),
    with the notes of the bars it holds. `parts` picks staves (e.g. [0, 1] for a piano's two staves)."""
    import resvg_py
    import verovio
    from PIL import Image
    from music21 import converter, stream
    from music21.musicxml.m21ToXml import GeneralObjectExporter

    from .score import corpus_file

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        score = converter.parse(str(corpus_file(piece)))
        if parts is None:  # the score as it is: staff groups (a piano's brace) survive
            sc = score
        else:
            sc = stream.Score()
            for i in parts:
                sc.insert(0, score.parts[i])
        for n in sc.recurse().notes:
            n.lyrics = []
        xml = GeneralObjectExporter(sc).parse().decode("utf-8")
        back = converter.parseData(xml, format="musicxml")
    verovio.enableLog(verovio.LOG_OFF)
    tk = verovio.toolkit()
    tk.setOptions({"font": font, "pageWidth": page_width, "pageHeight": page_height, "scale": 40,
                   "header": "none", "footer": "none", "breaks": "auto", "adjustPageHeight": False})
    if not tk.loadData(xml):
        raise ValueError(f"Verovio could not load {piece}")
    svg = tk.renderToSVG(1)
    # Measures are <g class="measure"> once per bar (all staves inside).
    n_bars = len(re.findall(r'<g [^>]*class="measure[" ]', svg))
    png = resvg_py.svg_to_bytes(svg_string=svg, background="#ffffff", zoom=zoom)
    grey = np.asarray(Image.open(io.BytesIO(bytes(png))).convert("L"), dtype=np.float32) / 255.0
    notes = []
    starts = printed_bar_starts(back.parts, n_bars)  # the page's timeline as printed (no unprinted padding)
    for k, part in enumerate(back.parts):
        for n in staff_notes(part, 0, n_bars - 1, starts):
            notes.append((n.pitch, float(n.onset), float(n.duration), k))
    return Page(grey, n_bars, len(back.parts), sorted(notes, key=lambda x: (x[1], x[0])))
