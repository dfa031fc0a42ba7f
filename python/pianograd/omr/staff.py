"""Staff detection and the model's view of a staff: a strip 12 staff spaces tall around the five lines.

Normalising by the staff space (not by the image's size or dpi) is what lets one model read a 100 dpi
scan and a 300 dpi rendering alike: the strip is always 64 px for 12 spaces (5.3 px per space), with
4 spaces above and below the staff for ledger lines.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional

import numpy as np

HEIGHT = 64          # model input height, px
SPACES = 12.0        # staff spaces in the strip
SPACE_PX = HEIGHT / SPACES


@dataclass(frozen=True)
class StaffBox:
    lines: tuple        # the five line rows (float, image px)
    x0: int
    x1: int

    @property
    def space(self) -> float:
        return (self.lines[4] - self.lines[0]) / 4.0

    @property
    def center(self) -> float:
        return (self.lines[0] + self.lines[4]) / 2.0


def normalise(grey: np.ndarray) -> np.ndarray:
    """Contrast-stretched grey (1 = paper, 0 = ink): scans come in every exposure."""
    g = np.asarray(grey, dtype=np.float32)
    lo, hi = np.percentile(g, 0.5), np.percentile(g, 99.5)
    if hi - lo < 1e-3:
        return np.ones_like(g)
    return np.clip((g - lo) / (hi - lo), 0.0, 1.0)


def skew_angle(grey: np.ndarray, max_deg: float = 2.0, step_deg: float = 0.1) -> float:
    """The page's skew in degrees: the shear that makes the row-darkness profile sharpest (staff
    lines collapse onto single rows exactly when they are horizontal)."""
    g = normalise(grey)
    f = max(1, int(np.ceil(max(g.shape) / 1200)))  # a coarse view is enough for the angle
    dark = 1.0 - g[::f, ::f]
    h, w = dark.shape
    ys, xs = np.nonzero(dark > 0.25)
    if ys.size < 16:
        return 0.0
    wts = dark[ys, xs]
    best, best_a = -1.0, 0.0
    for a in np.arange(-max_deg, max_deg + 1e-9, step_deg):
        rows = np.round(ys - xs * np.tan(np.radians(a))).astype(np.int64)
        rows -= rows.min()
        prof = np.bincount(rows, weights=wts)
        score = float((prof ** 2).sum())
        if score > best:
            best, best_a = score, float(a)
    return best_a


def deskew(grey: np.ndarray) -> np.ndarray:
    """The image turned so its staff lines are horizontal (paper fills the corners)."""
    from scipy import ndimage

    a = skew_angle(grey)
    if abs(a) < 0.05:
        return np.asarray(grey, dtype=np.float32)
    return ndimage.rotate(np.asarray(grey, dtype=np.float32), a, reshape=False, order=1, mode="constant", cval=1.0)


def _line_rows(dark: np.ndarray) -> List[float]:
    """Rows (sub-pixel centres) whose mean darkness marks a staff line: a line crosses most of the
    staff's width, notes and text never do. Darkness, not a threshold, because a thin line drawn
    between two pixel rows is only half dark in each."""
    frac = dark.mean(axis=1)
    if frac.max() <= 0.05:
        return []
    hot = frac >= 0.4 * frac.max()
    rows, i = [], 0
    while i < len(hot):
        if hot[i]:
            j = i
            while j + 1 < len(hot) and hot[j + 1]:
                j += 1
            w = frac[i:j + 1]
            rows.append(float((np.arange(i, j + 1) * w).sum() / w.sum()))
            i = j + 1
        else:
            i += 1
    return rows


def find_staves(grey: np.ndarray) -> List[StaffBox]:
    """Five-line staves, top to bottom. Lines are grouped in fives of near-equal spacing; a photo of
    no music, a blank page or text yields an empty list."""
    g = normalise(grey)
    ink = g < 0.75
    h, w = ink.shape
    if h < 8 or w < 8:
        return []
    # A band of columns in the middle: margins, braces and bar numbers do not reach it.
    c0, c1 = int(w * 0.1), max(int(w * 0.9), int(w * 0.1) + 1)
    # A horizontal opening keeps only long horizontal ink: staff lines (and the odd flat beam),
    # not noteheads, stems or text, whose mass would otherwise raise rows between the lines.
    from scipy import ndimage

    band = ink[:, c0:c1]
    run = int(min(max(band.shape[1] // 20, 12), 60))
    long_ink = ndimage.binary_opening(band, structure=np.ones((1, run), dtype=bool))
    rows = _line_rows(long_ink.astype(np.float32))
    staves: List[StaffBox] = []
    i = 0
    while i + 4 < len(rows):
        five = rows[i:i + 5]
        gaps = np.diff(five)
        if gaps.min() >= 2.0 and gaps.max() <= 1.35 * gaps.min():
            x0, x1 = _extent(ink, five)
            if x1 - x0 >= 4 * np.mean(gaps):
                staves.append(StaffBox(tuple(five), x0, x1))
                i += 5
                continue
        i += 1
    return staves


def _extent(ink: np.ndarray, lines) -> tuple:
    """Columns the staff lines span: where at least three of the five line rows are dark."""
    rows = [int(round(y)) for y in lines]
    band = np.stack([ink[max(r - 1, 0):r + 2].any(axis=0) for r in rows]).sum(axis=0) >= 3
    cols = np.flatnonzero(band)
    if cols.size == 0:
        return 0, 0
    return int(cols[0]), int(cols[-1]) + 1


def staff_strip(grey: np.ndarray, box: StaffBox, jitter: Optional[np.random.Generator] = None) -> np.ndarray:
    """The staff resampled to HEIGHT rows (uint8, 255 = paper); width follows at the same scale.
    `jitter` (training) moves and scales the window by a fraction of a space, as detection would."""
    from PIL import Image

    sp, c = box.space, box.center
    scale_j, shift_j = 1.0, 0.0
    if jitter is not None:
        scale_j = float(jitter.uniform(0.92, 1.08))
        shift_j = float(jitter.uniform(-0.4, 0.4)) * sp
    half = SPACES / 2 * sp * scale_j
    top, bot = c + shift_j - half, c + shift_j + half
    x0, x1 = box.x0 - 1.0 * sp, box.x1 + 0.5 * sp
    k = HEIGHT / (bot - top)
    out_w = max(8, int(round((x1 - x0) * k)))
    t, b, l, r = int(np.floor(top)), int(np.ceil(bot)), int(np.floor(x0)), int(np.ceil(x1))
    g8 = np.clip(np.asarray(grey) * 255.0, 0, 255).astype(np.uint8)
    h, w = g8.shape
    win = np.full((b - t, r - l), 255, dtype=np.uint8)  # outside the image is paper
    ys, ye, xs, xe = max(t, 0), min(b, h), max(l, 0), min(r, w)
    if ys < ye and xs < xe:
        win[ys - t:ye - t, xs - l:xe - l] = g8[ys:ye, xs:xe]
    # Pillow's resize filters with a support widened by the reduction, so small notation does not alias.
    strip = Image.fromarray(win, mode="L").resize((out_w, HEIGHT), Image.Resampling.BILINEAR)
    return np.asarray(strip, dtype=np.uint8)
