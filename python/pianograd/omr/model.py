"""OMR model g: a CRNN over a staff strip, trained with CTC (pianograd.ctc_loss).

    strip [B,1,64,W] -> 4 conv blocks (3x3, ReLU; one 2x2 max-pool, then three height-only stride-2
    convs) -> [B, C, 4, W/2] -> per column a linear map to `hidden` -> bidirectional GRU -> linear
    to the token vocabulary (index 0 = CTC blank) -> [B, W/2, V]

Width is pooled by 2 only: CTC needs a frame per token and a blank between repeats, and a dense
system (sixteenths, chords) has a token every 2-3 px at 5.3 px per staff space. Pooling by 4 left a
quarter of the training systems too narrow for their tokens, and the test systems with more than 0.5
tokens per frame read at 11% SER against 3% for sparse ones.
"""
from __future__ import annotations

from typing import List, Sequence, Tuple

import numpy as np

import pianograd as pg
from pianograd import nn

from .tokens import vocabulary


class OmrNet(nn.Module):
    def __init__(self, channels: Sequence[int] = (32, 64, 96, 128), hidden: int = 192,
                 vocab_size: int = 0, seed: int = 0) -> None:
        super().__init__()
        self.channels = tuple(int(c) for c in channels)
        self.hidden = int(hidden)
        self.vocab_size = int(vocab_size or len(vocabulary()))
        c1, c2, c3, c4 = self.channels
        self.conv1 = nn.Conv2d(1, c1, 3, padding=1)
        self.conv2 = nn.Conv2d(c1, c2, 3, padding=1)
        self.conv3 = nn.Conv2d(c2, c3, 3, padding=1)
        self.conv4 = nn.Conv2d(c3, c4, 3, padding=1)
        self.proj = nn.Linear(c4 * 4, self.hidden)
        self.norm = nn.LayerNorm(self.hidden)
        self.gru_f = nn.GRU(self.hidden, self.hidden)
        self.gru_b = nn.GRU(self.hidden, self.hidden)
        self.out = nn.Linear(2 * self.hidden, self.vocab_size)

    def config(self) -> dict:
        return {"channels": list(self.channels), "hidden": self.hidden, "vocab_size": self.vocab_size}

    def forward(self, x):  # x [B,1,64,W], ink = 1
        h = pg.conv2d(x, self.conv1.weight, self.conv1.bias, stride=1, padding=1, activation="relu")
        h = pg.max_pool2d(h, 2)
        # Height only from here: pitch is read vertically, the time axis keeps its resolution.
        h = pg.conv2d(h, self.conv2.weight, self.conv2.bias, stride=(2, 1), padding=1, activation="relu")
        h = pg.conv2d(h, self.conv3.weight, self.conv3.bias, stride=(2, 1), padding=1, activation="relu")
        h = pg.conv2d(h, self.conv4.weight, self.conv4.bias, stride=(2, 1), padding=1, activation="relu")
        b, c, hh, w = h.shape
        f = h.permute([0, 3, 1, 2]).reshape([b, w, c * hh])
        f = self.norm(self.proj(f)).relu()
        fwd, _ = self.gru_f(f)
        rev = pg.tensor(np.arange(w - 1, -1, -1, dtype=np.int64))
        bwd, _ = self.gru_b(f.index_select(1, rev))
        bwd = bwd.index_select(1, rev)
        return self.out(pg.concat([fwd, bwd], 2))  # [B, T, V] logits


FRAME_PX = 2  # strip columns per output frame (the one 2x2 pool)


def frames(width: int) -> int:
    """Output frames for a strip `width` px wide (one 2x2 pool)."""
    return width // FRAME_PX


def batch_strips(strips: Sequence[np.ndarray], pad_to: int = 8) -> Tuple[np.ndarray, List[int]]:
    """Strips (uint8, 255 = paper) -> [B,1,64,W] float32 ink in [0,1], right-padded with paper."""
    w = max(s.shape[1] for s in strips)
    w = ((w + pad_to - 1) // pad_to) * pad_to
    x = np.zeros((len(strips), 1, strips[0].shape[0], w), dtype=np.float32)
    for i, s in enumerate(strips):
        x[i, 0, :, :s.shape[1]] = 1.0 - s.astype(np.float32) / 255.0
    return x, [frames(s.shape[1]) for s in strips]


def load_model(path) -> OmrNet:
    import json

    tensors, meta = pg.load_safetensors(str(path), True)
    cfg = json.loads(meta.get("omr_config", "{}"))
    net = OmrNet(cfg.get("channels", (32, 64, 96, 128)), cfg.get("hidden", 192), cfg.get("vocab_size", 0))
    net.load_state_dict(tensors)
    net.eval()
    return net


def save_model(net: OmrNet, path, extra: dict = None) -> None:
    import json

    meta = {"omr_config": json.dumps(net.config()), "vocab": json.dumps(list(vocabulary()))}
    meta.update({k: json.dumps(v) for k, v in (extra or {}).items()})
    net.save(str(path), meta)
