"""Reading a score image: staves found on the page, grouped into systems, each staff read by g, notes
placed in beats across systems, and a Performance our piano can play.

``pg.omr(image)`` is `recognize`; `pianograd omr` (pianograd.omr.cli) writes MIDI, JSON, MusicXML, WAV.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Callable, List, Optional, Sequence, Tuple, Union

import numpy as np

from .staff import StaffBox, deskew, find_staves, neighbour_limits, normalise, page_x, staff_strip
from .system_timing import StaffPositions, anchor_bars, system_length
from .tokens import decode_ids, tokens_to_notes

# resolve(): in a development build this file is a symlink to the source tree, where the model lives
DEFAULT_MODEL = Path(__file__).resolve().with_name("models") / "omr.safetensors"


@dataclass
class OmrNote:
    pitch: int
    onset_beats: float      # quarter notes; 0 = the first beat of the first full bar
    duration_beats: float
    staff: int              # 0 = top staff of its system
    system: int

    def to_dict(self) -> dict:
        return {"pitch": self.pitch, "onset_beats": self.onset_beats, "duration_beats": self.duration_beats,
                "staff": self.staff, "system": self.system}


@dataclass
class OmrResult:
    notes: List[OmrNote]
    staves: List[StaffBox]
    systems: List[List[int]]           # staff indices per system, top to bottom
    tokens: List[List[str]]            # per staff
    pickup_beats: float = 0.0
    length_beats: float = 0.0          # from the first full bar to the end of the last system
    warnings: List[str] = field(default_factory=list)
    metre: Optional[Tuple[Fraction, Fraction]] = None  # bar and beat unit (quarters) in force at the end

    def to_performance(self, tempo_bpm: float = 120.0, velocity: int = 72):
        """Notes in seconds: a quarter note lasts 60/tempo_bpm s; the first full bar starts at 0 s
        (a pickup's notes come before it, so the performance is shifted to start at 0 when one exists)."""
        import pianograd as pg

        if not tempo_bpm > 0:
            raise ValueError(f"omr: tempo must be > 0 BPM, got {tempo_bpm}")
        q = 60.0 / tempo_bpm
        shift = max(0.0, -min((n.onset_beats for n in self.notes), default=0.0))
        return pg.Performance([(n.pitch, (n.onset_beats + shift) * q, (n.onset_beats + shift + n.duration_beats) * q,
                                velocity) for n in self.notes if 21 <= n.pitch <= 108])


def load_grey(image: Union[str, Path, np.ndarray]) -> np.ndarray:
    """A grey float image (1 = paper) from a path (PNG/JPEG through pg.read_image; PDF's first page when
    PyMuPDF is installed) or an array ([H,W] or [H,W,C], uint8 or float in [0,1])."""
    import pianograd as pg

    if isinstance(image, (str, Path)):
        p = Path(image)
        if p.suffix.lower() == ".pdf":
            return _pdf_page(p)
        return np.asarray(pg.read_image(str(p), grey=True), dtype=np.float32)
    a = np.asarray(image)
    if a.size > 100_000_000 * 4:
        raise ValueError(f"omr: image of shape {a.shape} is over 100 megapixels")
    if not np.issubdtype(a.dtype, np.number) or (a.dtype.kind == "f" and not np.isfinite(a).all()):
        raise ValueError(f"omr: image must hold finite numbers, got dtype {a.dtype}")
    if a.ndim == 3 and a.shape[2] in (1, 2, 3, 4):  # grey, grey+alpha, RGB, RGBA: as pg.read_image gives
        a = a.astype(np.float32) / (255.0 if a.dtype == np.uint8 else 1.0)
        c = a.shape[2]
        g = a[..., :3] @ np.array([0.299, 0.587, 0.114], dtype=np.float32) if c >= 3 else a[..., 0]
        if c in (2, 4):  # alpha over white paper
            g = g * a[..., -1] + (1.0 - a[..., -1])
        return g
    if a.ndim != 2:
        raise ValueError(f"omr: an image must be [H,W] or [H,W,C] with C in 1..4, got shape {a.shape}")
    if a.size > 100_000_000:
        raise ValueError(f"omr: image of {a.shape[1]}x{a.shape[0]} px is over 100 megapixels")
    return a.astype(np.float32) / (255.0 if a.dtype == np.uint8 else 1.0)


def _pdf_page(path: Path) -> np.ndarray:
    try:
        import fitz  # PyMuPDF
    except ImportError:
        raise ValueError(f"omr: reading {path} needs PyMuPDF (pip install pymupdf); or pass a PNG/JPEG") from None
    with fitz.open(str(path)) as doc:
        pix = doc[0].get_pixmap(dpi=200, colorspace=fitz.csGRAY)
        return np.frombuffer(pix.samples, dtype=np.uint8).reshape(pix.height, pix.width).astype(np.float32) / 255.0


def group_systems(grey: np.ndarray, staves: Sequence[StaffBox]) -> List[List[int]]:
    """Staves joined by a barline or brace that crosses the gap between them form one system (a piano
    grand staff, a choir score); a gap nothing crosses starts a new system."""
    if not staves:
        return []
    ink = normalise(grey) < 0.6
    systems = [[0]]
    for i in range(1, len(staves)):
        a, b = staves[i - 1], staves[i]
        y0, y1 = int(np.ceil(a.lines[4])) + 1, int(np.floor(b.lines[0])) - 1
        x0, x1 = max(a.x0, b.x0) - int(2 * a.space), min(a.x1, b.x1) + 1
        joined = False
        if y1 > y0 and x1 > x0:
            gap = ink[y0:y1, max(x0, 0):x1]
            joined = bool((gap.mean(axis=0) >= 0.9).any())
        if joined:
            systems[-1].append(i)
        else:
            systems.append([i])
    return systems


def read_strips(model, strips: Sequence[np.ndarray], beam: int = 0,
                prior: Optional[Callable[[List[int], int], float]] = None, prior_weight: float = 0.0,
                batch: int = 8, frames: Optional[List[Optional[List[int]]]] = None) -> List[List[str]]:
    """Token sequences for staff strips: greedy CTC decoding, or prefix beam search (beam > 1) with an
    optional token-level log-prior (the hook for a language model over tokens). `frames`, with greedy
    decoding, receives per strip the output frame (2 px of the strip each) where each token was
    emitted: where on the staff g saw it."""
    import pianograd as pg

    from .model import batch_strips

    out: List[Optional[List[str]]] = [None] * len(strips)
    where: List[Optional[List[int]]] = [None] * len(strips)
    order = sorted(range(len(strips)), key=lambda i: strips[i].shape[1])
    with pg.no_grad():
        for k in range(0, len(order), batch):
            idx = order[k:k + batch]
            x, lens = batch_strips([strips[i] for i in idx])
            logits = model(pg.tensor(x))
            if beam > 1:
                lp = logits.numpy()
                for r, i in enumerate(idx):
                    best = pg.ctc_beam_decode(pg.tensor(np.ascontiguousarray(lp[r])), lens[r], beam=beam, blank=0,
                                              prior=prior, prior_weight=prior_weight)
                    out[i] = decode_ids(best[0][0]) if best else []
            else:
                ids = pg.ctc_greedy_decode(logits, pg.tensor(np.array(lens, np.int64)), 0)
                best = logits.numpy().argmax(-1) if frames is not None else None
                for r, i in enumerate(idx):
                    out[i] = decode_ids([int(t) for t in ids[r]])
                    if best is not None:
                        path = best[r, :lens[r]]
                        at = [f for f in range(len(path)) if path[f] != 0 and (f == 0 or path[f] != path[f - 1])]
                        where[i] = at if len(at) == len(out[i]) else None
    if frames is not None:
        frames[:] = where
    return [o or [] for o in out]


def recognize(image, model=None, beam: int = 0, prior=None, prior_weight: float = 0.0,
              metre: Optional[Tuple[Fraction, Fraction]] = None, continued: bool = False) -> OmrResult:
    """Notes of a score image (path or array). A page with no staff gives an empty result. `continued`
    reads the page as a later page of a score: its first bar is a whole bar, not a pickup; `metre` (bar
    and beat unit in quarters, the previous page's result.metre) holds until a time signature is read."""
    from .model import load_model

    grey = deskew(load_grey(image))
    if grey.shape[0] < 16 or grey.shape[1] < 16:
        return OmrResult([], [], [], [], warnings=[f"image of {grey.shape[1]}x{grey.shape[0]} px holds no staff"],
                         metre=metre)
    staves = find_staves(grey)
    if not staves:  # a blank page, a photo, text: nothing to read, and no model needed to say so
        return OmrResult([], [], [], [], warnings=["no five-line staff found"], metre=metre)
    net = model if model is not None else _default_model()
    if isinstance(net, (str, Path)):
        net = load_model(net)
    systems = group_systems(grey, staves)
    strips = [staff_strip(grey, b, limits=neighbour_limits(staves, i)) for i, b in enumerate(staves)]
    at: List[Optional[List[int]]] = []
    tokens = read_strips(net, strips, beam, prior, prior_weight, frames=at if beam <= 1 else None)
    notes: List[OmrNote] = []
    t0 = Fraction(0)
    pickup = Fraction(0)
    # The bar length the time signature in force gives, and its beat unit (a quarter in x/4, an eighth in
    # x/8). A page that continues a score keeps the metre of the page before: later pages rarely
    # repeat the time signature, and without it a tie between two staves' readings has no arbiter.
    bar, unit = metre if metre is not None else (None, None)
    first = not continued
    for si, members in enumerate(systems):
        readings, staff_notes, places = [], [], []
        for k, staff in enumerate(members):
            marks: List[Fraction] = []
            units: List[Tuple[Fraction, int]] = []
            bar_tokens: List[int] = []
            staff_notes.append(tokens_to_notes(tokens[staff], strict=False, bars=marks, units=units,
                                               bar_tokens=bar_tokens))
            readings.append(marks)
            places.append(_positions(staves[staff], at[staff] if at else None, units, bar_tokens))
            ts = next((t for t in tokens[staff] if t.startswith("time:")), None)
            if ts is not None:
                num, den = ts[5:].split("/")
                bar, unit = Fraction(int(num) * 4, int(den)), Fraction(4, int(den))
            if first and si == 0 and k == 0:
                pickup = _pickup(tokens[staff], marks)
        # The score's first bar may be a pickup of any length; every later bar holds whole beat units.
        free = first and si == 0
        anchored = anchor_bars(staff_notes, readings, bar, unit, free_first=free, positions=places,
                               space=float(np.median([staves[s].space for s in members])))
        if anchored is not None:
            staff_notes, length = anchored
        else:
            length = system_length(readings, bar, unit, free_first=free)
        for k, ns in enumerate(staff_notes):
            notes += [OmrNote(n.pitch, float(t0 + n.onset), float(n.duration), k, si) for n in ns]
        t0 += length
    if pickup:
        for n in notes:
            n.onset_beats -= float(pickup)
    notes.sort(key=lambda n: (n.onset_beats, n.pitch))
    return OmrResult(notes, staves, systems, tokens, float(pickup), float(t0 - pickup),
                     metre=(bar, unit) if bar is not None else None)


def read_pages(images: Sequence, model=None, beam: int = 0) -> Tuple[List[OmrNote], int, List[str], float]:
    """Pages in order (paths or arrays): each page's notes follow the previous page's last system.
    Returns the notes (the first full bar at 0 beats, a pickup before it), the staves found, warnings, and
    the first page's pickup in beats."""
    notes: List[OmrNote] = []
    t0, warnings, staves, first_pickup = 0.0, [], 0, 0.0
    metre = None
    for k, img in enumerate(images):
        r = recognize(img, model=model, beam=beam, metre=metre, continued=k > 0)
        metre = r.metre or metre
        if not r.staves:
            warnings.append(f"{img if isinstance(img, (str, Path)) else f'page {k + 1}'}: no staff found")
        staves += len(r.staves)
        if k == 0:
            first_pickup = r.pickup_beats
        base = t0 + (r.pickup_beats if k else 0.0)
        for n in r.notes:
            notes.append(OmrNote(n.pitch, n.onset_beats + base, n.duration_beats, n.staff, n.system))
        t0 = base + r.length_beats
    return notes, staves, warnings, first_pickup


def _positions(box: StaffBox, frames: Optional[List[int]], units: List[Tuple[Fraction, int]],
               bar_tokens: List[int]) -> Optional[StaffPositions]:
    """Page x of a staff's units and barlines: the centre of the output frame g emitted each one's first
    token at, mapped back from the strip to the page."""
    if frames is None:
        return None
    from .model import FRAME_PX

    def x(i: int) -> float:
        return page_x(box, FRAME_PX * frames[i] + FRAME_PX / 2)

    return StaffPositions([(t, x(i)) for t, i in units], [x(i) for i in bar_tokens])


def _pickup(tokens: Sequence[str], marks: Sequence[Fraction]) -> Fraction:
    """The first bar's length when it is shorter than the time signature's bar (an upbeat)."""
    ts = next((t for t in tokens if t.startswith("time:")), None)
    if ts is None or len(marks) < 2:
        return Fraction(0)
    num, den = ts[5:].split("/")
    full = Fraction(int(num) * 4, int(den))
    return marks[0] if 0 < marks[0] < full else Fraction(0)


_MODEL_CACHE: dict = {}


def _default_model():
    from .model import load_model

    if not DEFAULT_MODEL.exists():
        raise FileNotFoundError(f"omr: no shipped model at {DEFAULT_MODEL}; train one with "
                                "`python -m pianograd.omr.train` and pass model=PATH")
    key = DEFAULT_MODEL.stat().st_mtime_ns
    if key not in _MODEL_CACHE:
        _MODEL_CACHE.clear()
        _MODEL_CACHE[key] = load_model(DEFAULT_MODEL)
    return _MODEL_CACHE[key]
