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
LEFT_SPACES = 1.0    # the strip starts this many spaces left of the staff lines (a clef's overhang)
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


def flatten_light(grey: np.ndarray) -> np.ndarray:
    """Paper made uniformly white: each pixel divided by the local paper level, a max filter wider
    than any notation (uneven lighting and stains are smooth; ink is not)."""
    from scipy import ndimage

    g = np.asarray(grey, dtype=np.float32)
    k = int(max(15, min(g.shape) // 12))
    bg = ndimage.maximum_filter(ndimage.maximum_filter(g, size=(k, 1)), size=(1, k))
    bg = ndimage.uniform_filter(bg, size=k)  # the max filter's blocks, smoothed
    return np.clip(g / np.maximum(bg, 1e-3), 0.0, 1.0)


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
    """Rows (sub-pixel centres) where the row-mean darkness peaks: a staff line crosses most of the
    staff's width, notes and text never do. Peaks, not a threshold, so lines that blur or a coarse
    scan smear into each other stay apart; darkness, not ink counts, so a thin line drawn between two
    pixel rows (half dark in each) still counts."""
    from scipy.signal import find_peaks

    prof = dark.mean(axis=1).astype(np.float64)
    if prof.size < 3 or prof.max() <= 0.02:
        return []
    # A line must stand out absolutely (dark along much of the width) and above the page's own level
    # (noise, a photo's texture), not only relative to the strongest row.
    floor = max(0.2 * prof.max(), 0.12, float(np.median(prof)) + 0.08)
    peaks, _ = find_peaks(prof, height=floor, distance=2)
    rows = []
    for p in peaks:  # a parabola through the peak and its neighbours places the line between rows
        if 0 < p < prof.size - 1:
            a, b, c = prof[p - 1], prof[p], prof[p + 1]
            den = a - 2 * b + c
            rows.append(float(p + (0.5 * (a - c) / den if den < 0 else 0.0)))
        else:
            rows.append(float(p))
    return rows


def find_staves(grey: np.ndarray) -> List[StaffBox]:
    """Five-line staves, top to bottom. Lines are grouped in fives of near-equal spacing; a photo of
    no music, a blank page or text yields an empty list."""
    g = normalise(flatten_light(grey))
    ink = g < 0.75
    h, w = ink.shape
    if h < 8 or w < 8:
        return []
    # A band of columns in the middle: margins, braces and bar numbers do not reach it.
    c0, c1 = int(w * 0.1), max(int(w * 0.9), int(w * 0.1) + 1)
    # A horizontal opening keeps only long horizontal ink: staff lines (and the odd flat beam),
    # not noteheads, stems or text, whose mass would otherwise raise rows between the lines.
    from scipy import ndimage

    dark = 1.0 - g[:, c0:c1]
    run = int(min(max(dark.shape[1] // 20, 12), 60))
    # Closing first bridges the gaps a binarised or noisy scan leaves in a line; the opening (a
    # running minimum over `run` px) then removes whatever is shorter than that.
    dark = ndimage.grey_closing(dark, size=(1, 3))
    long_dark = ndimage.grey_opening(dark, size=(1, run))
    rows = _line_rows(long_dark)
    prof = long_dark.mean(axis=1)
    staves: List[StaffBox] = []
    for five in _fives(rows, prof):
        x0, x1 = _extent(ink, five)
        if x1 - x0 >= 4 * (five[4] - five[0]) / 4:
            staves.append(StaffBox(tuple(five), x0, x1))
    staves.sort(key=lambda b: b.lines[0])
    return staves


def neighbour_limits(staves: List[StaffBox], i: int) -> tuple:
    """Rows halfway between staff i and the staves above and below it (or unbounded)."""
    top = (staves[i - 1].lines[4] + staves[i].lines[0]) / 2 if i > 0 else -np.inf
    bot = (staves[i].lines[4] + staves[i + 1].lines[0]) / 2 if i + 1 < len(staves) else np.inf
    return (max(top, -1e9), min(bot, 1e9))


def _fives(rows: List[float], prof: np.ndarray) -> List[List[float]]:
    """Five equally spaced line peaks, allowing stray peaks (a flat beam, a blurred line's shoulder)
    between them: every pair of peaks proposes a first line and a spacing, the other three must be
    found near their places. Candidates are taken best first (strongest lines) without sharing a peak;
    one with a strong line a space beyond either end is part of something larger and scores less, one
    with strong lines between its own is lines of several staves and is dropped."""
    n = len(rows)
    r = np.asarray(rows)
    height = np.array([prof[int(round(x))] for x in rows]) if n else np.zeros(0)

    def near(target: float, tol: float) -> int:
        k = int(np.argmin(np.abs(r - target)))
        return k if abs(r[k] - target) <= tol else -1

    cands = []
    for i in range(n):
        for j in range(i + 1, min(n, i + 12)):
            # j as the second line, or as the fifth (the span averages out rounding at small spacings)
            for sp, known in ((r[j] - r[i], {1: j}), ((r[j] - r[i]) / 4.0, {4: j})):
                if sp < 2.5:
                    continue
                tol = max(1.0, 0.2 * sp)
                idx = [i]
                for k in (1, 2, 3, 4):
                    m = known.get(k, near(r[i] + k * sp, tol))
                    if m < 0 or m in idx:
                        break
                    idx.append(m)
                if len(idx) == 5:
                    cands.append(_scored(idx, r, height, tol, near))
    cands = [c for c in cands if c is not None]
    used: set = set()
    fives = []
    for score, idx in sorted(cands, key=lambda c: -c[0]):
        lo, hi = r[idx[0]], r[idx[4]]
        if used.intersection(idx) or any(not (hi < a or lo > b) for a, b in
                                         ((f[0], f[4]) for f in fives)):
            continue
        used.update(idx)
        fives.append([float(x) for x in r[idx]])
    return fives


def _scored(idx: List[int], r: np.ndarray, height: np.ndarray, tol: float, near):
    """(score, idx) of a five-line candidate, or None when it is not a staff."""
    ys = r[idx]
    fit_sp = float(np.polyfit(np.arange(5), ys, 1)[0])
    if np.abs(np.diff(ys) - fit_sp).max() > tol:
        return None
    inside = [m for m in range(idx[0] + 1, idx[4]) if m not in idx]
    if sum(height[m] >= 0.5 * height[idx].mean() for m in inside) >= 2:
        return None  # strong lines between: five lines of different staves, equally spaced
    score = float(height[idx].sum())
    for out in (ys[0] - fit_sp, ys[4] + fit_sp):
        m = near(out, tol)
        if m >= 0 and height[m] >= 0.5 * height[idx].mean():
            score *= 0.5
    return score, idx


def _extent(ink: np.ndarray, lines) -> tuple:
    """Columns the staff lines span: where at least three of the five line rows are dark."""
    rows = [int(round(y)) for y in lines]
    band = np.stack([ink[max(r - 1, 0):r + 2].any(axis=0) for r in rows]).sum(axis=0) >= 3
    cols = np.flatnonzero(band)
    if cols.size == 0:
        return 0, 0
    return int(cols[0]), int(cols[-1]) + 1


def staff_strip(grey: np.ndarray, box: StaffBox, jitter: Optional[np.random.Generator] = None,
                limits: Optional[tuple] = None) -> np.ndarray:
    """The staff resampled to HEIGHT rows (uint8, 255 = paper); width follows at the same scale.
    `jitter` (training) moves and scales the window by a fraction of a space, as detection would.
    `limits` (top, bottom image rows) whitens what lies beyond: on a page, halfway to the next staff,
    so a neighbour's lines and notes (a grand staff is often closer than 6 spaces) are not read."""
    from PIL import Image

    sp, c = box.space, box.center
    scale_j, shift_j = 1.0, 0.0
    if jitter is not None:
        scale_j = float(jitter.uniform(0.92, 1.08))
        shift_j = float(jitter.uniform(-0.4, 0.4)) * sp
    half = SPACES / 2 * sp * scale_j
    top, bot = c + shift_j - half, c + shift_j + half
    x0, x1 = box.x0 - LEFT_SPACES * sp, box.x1 + 0.5 * sp
    k = HEIGHT / (bot - top)
    out_w = max(8, int(round((x1 - x0) * k)))
    t, b, l, r = int(np.floor(top)), int(np.ceil(bot)), int(np.floor(x0)), int(np.ceil(x1))
    g8 = np.clip(np.asarray(grey) * 255.0, 0, 255).astype(np.uint8)
    h, w = g8.shape
    win = np.full((b - t, r - l), 255, dtype=np.uint8)  # outside the image is paper
    ys, ye, xs, xe = max(t, 0), min(b, h), max(l, 0), min(r, w)
    if ys < ye and xs < xe:
        win[ys - t:ye - t, xs - l:xe - l] = g8[ys:ye, xs:xe]
    # Left of where the lines begin a page has braces, brackets and the system's opening barline, which
    # a single engraved staff never shows: paper there, as in the strips the model learned from.
    win[:, :max(0, int(np.ceil(box.x0 + 0.3 * sp)) - l)] = 255
    if limits is not None:
        lo, hi = int(np.floor(limits[0])) - t, int(np.ceil(limits[1])) - t
        win[:max(lo, 0)] = 255
        win[max(hi, 0):] = 255
    # Pillow's resize filters with a support widened by the reduction, so small notation does not alias.
    strip = Image.fromarray(win, mode="L").resize((out_w, HEIGHT), Image.Resampling.BILINEAR)
    return np.asarray(strip, dtype=np.uint8)


def page_x(box: StaffBox, strip_px: float) -> float:
    """Image column of a column of the unjittered strip of `box` (staff_strip): the strip starts at the
    image column LEFT_SPACES spaces left of the staff lines and has HEIGHT / (SPACES spaces) px per
    image px."""
    return float(np.floor(box.x0 - LEFT_SPACES * box.space) + strip_px * SPACES * box.space / HEIGHT)
