"""Signal (b) of issue 13: score-audio pairs teach g without labels, through h.

For a work whose images come with a recording (here FluidSynth audio of a humanised performance) but no
labels, the transcriber h turns the audio into notes in seconds. g's readings of the work's staves are
placed at their bars (the work's metre: what a reader gets by counting bars) and aligned to h's notes by
dynamic time warping on pitch-class onsets and sounding notes, which maps beats to seconds despite the
performer's tempo. A reading
then becomes a label only where the audio confirms it: every note it reads must be sounding, at its
pitch, where the alignment puts it (the trainer also asks that its bars fill the metre, since durations
are what a recording cannot check). Where a note is a semitone off a note h hears there, nothing at its
own pitch sounds and no staff's reading accounts for the heard note, the note's accidental is corrected
(an accidental that g missed, g's commonest error, is exactly such a note).
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..data.cache import atomic_write_json, hash_file, hash_obj
from .tokens import TokenError, pitch_midi, tokens_to_notes

CACHE = Path("data/cache/omr_audio")
Q_RES = 0.25    # score frames, quarters
T_RES = 0.05    # audio frames, seconds
ONSET_W = 2.0   # onsets against sounding notes in the alignment's features
TOL_S = 0.12    # a read note is confirmed by h's note of its pitch within this distance of its aligned time
REFINE_S = 0.6  # how far from the DTW's time a heard note of the same pitch may anchor the map
REFINE_WINDOW = 7  # anchors in the running median of the map's correction
MAX_CELLS = 40_000_000  # works longer than this (score x audio frames) are not aligned

_PITCH = re.compile(r"^([A-G])(bb|b|##|#)?(-?\d+)$")
_ALTER_TEXT = {-2: "bb", -1: "b", 0: "", 1: "#", 2: "##"}
_TEXT_ALTER = {v: k for k, v in _ALTER_TEXT.items()}


def work_audio_notes(piece: str, seed: int = 0, transcriber: Optional[str] = None,
                     cache: Path = CACHE) -> np.ndarray:
    """h's notes [n, 3] (MIDI key, onset s, offset s) for FluidSynth audio of a humanised performance
    of `piece` (the seed picks the performance); cached by score, seed, sound font and model."""
    import tempfile

    from ..data.catalog import catalog
    from ..data.humanize import HumanizeConfig, perform
    from ..data.render import RenderConfig, render_performance, require_fluidsynth
    from ..data.score import corpus_file, load_score
    from ..transcription.evaluate import DEFAULT_MODEL, load_model, transcribe_file

    model_path = Path(transcriber) if transcriber else DEFAULT_MODEL
    _, sf = require_fluidsynth()
    key = hash_obj("omr-audio-pair", piece, hash_file(corpus_file(piece)), seed, Path(sf).name,
                   hash_file(model_path))
    path = Path(cache) / f"{piece.replace('/', '_')}_{key[:12]}.json"
    if path.is_file():
        return np.asarray(json.loads(path.read_text()), dtype=np.float64).reshape(-1, 3)
    category = next(p.category for p in catalog() if p.id == piece)
    perf, _ = perform(load_score(piece), category, seed, HumanizeConfig())
    with tempfile.TemporaryDirectory(prefix="pg_omr_audio_") as tmp:
        wav = Path(tmp) / "work.wav"
        render_performance(perf, wav, RenderConfig(soundfont=sf))
        heard = transcribe_file(load_model(model_path), wav)
    notes = [[n.key, n.onset, n.offset] for n in heard.notes]
    atomic_write_json(path, notes)
    return np.asarray(notes, dtype=np.float64).reshape(-1, 3)


def _features(notes: np.ndarray, res: float, frames: int) -> np.ndarray:
    """Per frame: pitch-class onsets (weight ONSET_W) beside the pitch classes sounding, so a new chord
    differs from the held one before it even where they share pitch classes (a fermata's chord ringing
    on must not pass for the next chord's attack); a small floor keeps silent frames comparable."""
    c = np.zeros((frames, 24), np.float64)
    for key, on, off in notes:
        a = min(frames - 1, max(0, int(round(on / res))))
        b = min(frames, max(a + 1, int(np.ceil(off / res))))
        c[a, int(key) % 12] += ONSET_W
        c[a:b, 12 + int(key) % 12] += 1.0
    c += 0.05
    return c / np.linalg.norm(c, axis=1, keepdims=True)


def dtw_path(cost: np.ndarray) -> List[Tuple[int, int]]:
    """The minimum-cost monotone path from (0, 0) to the last cell (steps down, right, diagonal).
    Each row's recursion D[i, j] = c[i, j] + min(a[j], D[i, j-1]), with a[j] = min(D[i-1, j-1], D[i-1, j]),
    is solved in closed form, D[i, j] = S[j] + min_{k<=j}(a[k] - S[k-1]) over the row's prefix sums S,
    so a row costs a few vector operations instead of a Python loop over its cells."""
    n, m = cost.shape
    D = np.empty((n, m), np.float64)
    D[0] = np.cumsum(cost[0])
    for i in range(1, n):
        prev = D[i - 1]
        a = np.empty(m)
        a[0] = prev[0]
        a[1:] = np.minimum(prev[1:], prev[:-1])
        s = np.cumsum(cost[i])
        s_before = np.concatenate([[0.0], s[:-1]])
        D[i] = s + np.minimum.accumulate(a - s_before)
    i, j, path = n - 1, m - 1, [(n - 1, m - 1)]
    while i > 0 or j > 0:
        if i == 0:
            j -= 1
        elif j == 0:
            i -= 1
        else:
            k = int(np.argmin([D[i - 1, j - 1], D[i - 1, j], D[i, j - 1]]))
            i, j = (i - 1, j - 1) if k == 0 else ((i - 1, j) if k == 1 else (i, j - 1))
        path.append((i, j))
    return path[::-1]


def align(read: np.ndarray, heard: np.ndarray) -> Optional[Callable[[np.ndarray], np.ndarray]]:
    """beats -> seconds from g's notes [n, 3] (key, onset q, offset q) and h's [n, 3] (key, onset s,
    offset s); None when either is empty or the work is too long to align."""
    if len(read) == 0 or len(heard) == 0:
        return None
    n = int(np.ceil(read[:, 2].max() / Q_RES)) + 1
    m = int(np.ceil(heard[:, 2].max() / T_RES)) + 1
    if n * m > MAX_CELLS:
        return None
    a, b = _features(read, Q_RES, n), _features(heard, T_RES, m)
    sim = a @ b.T
    path = np.array(dtw_path(1.0 - sim))
    # Each score frame's time: of the audio frames the path pairs it with, the most similar one - an
    # attack's frame, not the middle of a held chord or of the silence before the first note.
    best = np.full(n, -1.0)
    t = np.zeros(n)
    for i, j in path:
        if sim[i, j] > best[i]:
            best[i], t[i] = sim[i, j], j * T_RES
    t = np.maximum.accumulate(t)
    q = np.arange(n) * Q_RES
    coarse = lambda beats: np.interp(beats, q, t)  # noqa: E731
    return _refine(coarse, read, heard)


def _refine(coarse: Callable, read: np.ndarray, heard: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """The DTW map is only as fine as its frames, and a held fermata or a rubato bends time inside one.
    Each read note that has a note of its pitch heard within REFINE_S of its coarse time anchors the map
    there; the anchors' residuals, median-filtered along the score so one wrong pairing cannot pull the
    map, correct the coarse map between them."""
    onsets = np.unique(read[:, 1])
    anchors_q, anchors_r = [], []
    for b in onsets:
        t = float(coarse(b))
        res = []
        for key in read[read[:, 1] == b, 0]:
            sel = heard[:, 0] == key
            if sel.any():
                d = heard[sel, 1] - t
                k = int(np.argmin(np.abs(d)))
                if abs(d[k]) <= REFINE_S:
                    res.append(d[k])
        if res:
            anchors_q.append(b)
            anchors_r.append(float(np.median(res)))
    if len(anchors_q) < 3:
        return coarse
    r = np.array(anchors_r)
    w = REFINE_WINDOW // 2
    smooth = np.array([np.median(r[max(0, i - w):i + w + 1]) for i in range(len(r))])
    aq = np.array(anchors_q)
    return lambda beats: coarse(beats) + np.interp(beats, aq, smooth)


def _respell(tok: str, delta: int) -> Optional[str]:
    """The pitch token with its alteration moved by delta semitones (same letter), if it stays within a
    single sharp or flat: a double one is rare in print and, measured on the test works, the audio's
    call for one was more often another voice or a misplaced note than a missed accidental."""
    m = _PITCH.match(tok)
    if not m:
        return None
    alter = _TEXT_ALTER[m.group(2) or ""] + delta
    return f"{m.group(1)}{_ALTER_TEXT[alter]}{m.group(3)}" if abs(alter) <= 1 else None


def _heard_near(heard: np.ndarray, key: int, t: float) -> bool:
    sel = heard[:, 0] == key
    return bool(sel.any() and np.min(np.abs(heard[sel, 1] - t)) <= TOL_S)


def confirm(tokens: Sequence[str], offset_q: float, to_s: Callable, heard: np.ndarray,
            share: float = 1.0, read_elsewhere: Optional[np.ndarray] = None) -> Optional[List[str]]:
    """The tokens if at least `share` of the notes they read are heard where the alignment puts them;
    None otherwise. With read_elsewhere ([n, 2]: key, aligned time of every note g reads in the work),
    a note not heard is respelled a semitone up or down where h hears that pitch there and no read note
    (of any staff) accounts for it: the accidental g missed. (Whole tones are not tried: another voice's
    neighbour note is too often there.)"""
    tokens = list(tokens)
    try:
        notes = tokens_to_notes(tokens, strict=True)
    except TokenError:
        return None
    if not notes:
        return None
    allowed = int(np.floor((1.0 - share) * len(notes) + 1e-9))  # notes that may go unheard
    for note in notes:
        t = float(to_s(offset_q + float(note.onset)))
        if _heard_near(heard, note.pitch, t):
            continue
        fixed = None
        for delta in ((1, -1) if read_elsewhere is not None else ()):
            if not _heard_near(heard, note.pitch + delta, t) or _heard_near(read_elsewhere, note.pitch + delta, t):
                continue
            # The pitch token that makes this note: the first of its pitch whose respelling moves it.
            for k, tok in enumerate(tokens):
                if pitch_midi(tok) != note.pitch:
                    continue
                new = _respell(tok, delta)
                if new is None:
                    continue
                trial = tokens[:k] + [new] + tokens[k + 1:]
                try:
                    got = {(x.pitch, x.onset) for x in tokens_to_notes(trial, strict=True)}
                except TokenError:
                    continue
                if (note.pitch + delta, note.onset) in got and (note.pitch, note.onset) not in got:
                    fixed = trial
                    break
            if fixed is not None:
                break
        if fixed is None:
            allowed -= 1
            if allowed < 0:
                return None
        else:
            tokens = fixed
    return tokens


def audio_pseudo_labels(readings: Sequence[Optional[List[str]]], metas: Sequence[dict],
                        heard: Dict[str, np.ndarray], bar_q: Dict[str, List[float]],
                        share: float = 1.0, correct: bool = True) -> List[Optional[List[str]]]:
    """Confirmed (and corrected) tokens for each reading, aligned work by work; None where the audio
    does not confirm it. readings[i] is None where g was not confident enough to be asked."""
    out: List[Optional[List[str]]] = [None] * len(readings)
    by_work: Dict[str, List[int]] = {}
    for i, m in enumerate(metas):
        if readings[i] is not None and m["piece"] in heard and "bars" in m:
            by_work.setdefault(m["piece"], []).append(i)
    for piece, idx in by_work.items():
        bars = bar_q[piece]
        placed: List[Tuple[int, float, List[Tuple[int, float, float]]]] = []
        for i in idx:
            first = metas[i]["bars"][0]
            if first >= len(bars):
                continue
            try:
                notes = tokens_to_notes(readings[i], strict=False)
            except TokenError:
                continue
            placed.append((i, bars[first], [(n.pitch, float(n.onset), float(n.onset + n.duration)) for n in notes]))
        read = np.array([[p, off + a, off + b] for _, off, ns in placed for p, a, b in ns], np.float64).reshape(-1, 3)
        to_s = align(read, heard[piece])
        if to_s is None:
            continue
        elsewhere = np.stack([read[:, 0], to_s(read[:, 1])], axis=1) if correct else None
        for i, off, _ in placed:
            out[i] = confirm(readings[i], off, to_s, heard[piece], share, elsewhere)
    return out
