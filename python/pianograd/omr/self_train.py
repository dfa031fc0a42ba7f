"""Signal (c) of issue 13: unlabelled score images teach g through its own confident readings.

A reading is kept as a pseudo-label only when (1) CTC gives the greedy token sequence a low negative
log-likelihood per token (the model is sure), and (2) it is musically well-formed: the tokens decode
strictly (every pitch has a duration, ties land) and every inner bar is as long as the time signature
in force says. The second test rejects confident nonsense that confidence alone would keep.
"""
from __future__ import annotations

from fractions import Fraction
from typing import List, Optional, Sequence, Tuple

import numpy as np

from .model import batch_strips
from .tokens import TokenError, decode_ids, tokens_to_notes


def well_formed(tokens: Sequence[str]) -> bool:
    bars: List[Fraction] = []
    try:
        notes = tokens_to_notes(tokens, strict=True, bars=bars)
    except TokenError:
        return False
    if not notes:
        return False
    ts = next((t for t in tokens if t.startswith("time:")), None)
    if ts is None or len(bars) < 3:
        return True  # no metre to check against (a system opening mid-piece shows none)
    num, den = ts[5:].split("/")
    full = Fraction(int(num) * 4, int(den))
    starts = [Fraction(0)] + bars[:-1]
    # Inner bars only: the first may be an upbeat, the last may be cut by the system's end.
    return all(b - a == full for a, b in zip(starts[1:-1], bars[1:-1]))


def readings(net, strips: Sequence[np.ndarray], batch: int = 16) -> List[Optional[Tuple[List[int], float]]]:
    """g's greedy reading of each strip and its CTC negative log-likelihood per token (None where the
    reading is empty or too long for the strip's frames)."""
    import pianograd as pg

    out: List[Optional[Tuple[List[int], float]]] = [None] * len(strips)
    order = sorted(range(len(strips)), key=lambda i: strips[i].shape[1])
    net.eval()
    with pg.no_grad():
        for k in range(0, len(order), batch):
            idx = order[k:k + batch]
            x, lens = batch_strips([strips[i] for i in idx])
            logits = net(pg.tensor(x))
            il = np.array(lens, np.int64)
            hyp = [list(map(int, h)) for h in pg.ctc_greedy_decode(logits, pg.tensor(il), 0)]
            keep = [r for r, h in enumerate(hyp) if h and 2 * len(h) + 1 <= lens[r]]
            if not keep:
                continue
            tl = np.array([len(hyp[r]) for r in keep], np.int64)
            tg = np.zeros((len(keep), int(tl.max())), np.int64)
            for j, r in enumerate(keep):
                tg[j, :tl[j]] = hyp[r]
            sub = pg.index_select(logits, 0, pg.tensor(np.array(keep, np.int64)))
            nll = pg.ctc_loss(sub, pg.tensor(tg), pg.tensor(il[keep]), pg.tensor(tl), blank=0,
                              reduction="none").numpy() / tl
            for j, r in enumerate(keep):
                out[idx[r]] = (hyp[r], float(nll[j]))
    net.train()
    return out


def pseudo_labels(net, strips: Sequence[np.ndarray], max_nll_per_token: float,
                  batch: int = 16) -> List[Optional[List[int]]]:
    """Token ids for each strip that passes both tests, else None."""
    return [r[0] if r is not None and r[1] <= max_nll_per_token and well_formed(decode_ids(r[0])) else None
            for r in readings(net, strips, batch)]
