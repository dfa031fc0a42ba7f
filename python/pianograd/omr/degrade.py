"""Scan-like degradations of a rendered score image (grey, 1 = paper), each drawn with a probability.

Own code over SciPy and Pillow (no augmentation library in our dependency set does paper and scan
effects without pulling in OpenCV): skew, scan warp, uneven lighting, paper texture, blur, noise,
JPEG artefacts and binarisation — the ways a printed page differs from a clean rendering.
"""
from __future__ import annotations

import io

import numpy as np


def degrade(grey: np.ndarray, rng: np.random.Generator, strength: float = 1.0) -> np.ndarray:
    from PIL import Image
    from scipy import ndimage

    g = np.asarray(grey, dtype=np.float32).copy()
    h, w = g.shape
    p = min(max(strength, 0.0), 1.0)
    if rng.random() < 0.5 * p:  # skew: a page never lies perfectly straight on the glass
        g = ndimage.rotate(g, float(rng.uniform(-0.7, 0.7)), reshape=False, order=1, mode="constant", cval=1.0)
    if rng.random() < 0.3 * p:  # a warp: the page bows near the spine
        amp, period = float(rng.uniform(0.3, 1.5)), float(rng.uniform(0.5, 2.0)) * w
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        yy += amp * np.sin(2 * np.pi * xx / period + rng.uniform(0, 2 * np.pi))
        g = ndimage.map_coordinates(g, [yy, xx], order=1, mode="constant", cval=1.0)
    if rng.random() < 0.5 * p:  # uneven lighting: a linear falloff across the page
        a = float(rng.uniform(0.0, 0.35))
        ramp = np.linspace(0, 1, w, dtype=np.float32)[None, :] if rng.random() < 0.5 else \
            np.linspace(0, 1, h, dtype=np.float32)[:, None]
        g = g * (1.0 - a * ramp)
    if rng.random() < 0.4 * p:  # paper texture: low-frequency stains
        tex = ndimage.gaussian_filter(rng.standard_normal((h, w)).astype(np.float32), sigma=float(rng.uniform(3, 12)))
        tex /= max(float(np.abs(tex).max()), 1e-6)
        g = g - float(rng.uniform(0.03, 0.15)) * np.abs(tex)
    if rng.random() < 0.5 * p:
        g = ndimage.gaussian_filter(g, sigma=float(rng.uniform(0.3, 0.9)))
    if rng.random() < 0.5 * p:
        g = g + rng.normal(0.0, float(rng.uniform(0.01, 0.08)), size=g.shape).astype(np.float32)
    if rng.random() < 0.2 * p:  # dust and toner specks
        m = rng.random(g.shape) < float(rng.uniform(0.0005, 0.004))
        g[m] = rng.choice(np.array([0.0, 1.0], dtype=np.float32), size=int(m.sum()))
    g = np.clip(g, 0.0, 1.0)
    if rng.random() < 0.4 * p:
        buf = io.BytesIO()
        Image.fromarray((g * 255).astype(np.uint8), mode="L").save(buf, format="JPEG",
                                                                    quality=int(rng.integers(20, 90)))
        g = np.asarray(Image.open(io.BytesIO(buf.getvalue())), dtype=np.float32) / 255.0
    if rng.random() < 0.15 * p:  # a fax or bilevel scan
        g = (g > float(rng.uniform(0.55, 0.85))).astype(np.float32)
    return g
