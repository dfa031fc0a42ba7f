"""Recording-condition augmentation for training audio (issue 15, item 4): rooms, microphone colouring,
background noise and level, drawn afresh for every segment so h does not learn one studio's sound.

Labels are untouched: a room's tail rings past a key's release as it does in any real recording, and h
must still mark the release where the damper fell. The chain, in recording order:

* room: a synthetic impulse response - the direct sound, a handful of sparse early reflections (walls
  3-40 ms away), and a diffuse tail of decaying noise whose reverberation time shrinks with frequency
  (air and wall absorption damp highs first; Kuttruff, *Room Acoustics*, ch. 5), mixed at a random
  direct-to-reverberant ratio;
* colour: a microphone and preamp's response - a low cut, a shelf and one to three peaking bands (the
  biquads of R. Bristow-Johnson's *Audio EQ Cookbook*), applied with scipy's second-order sections;
* noise: coloured noise (spectral slope 1/f^beta, beta 0 = hiss .. 2 = rumble) at a random SNR;
* level: a gain in dB; a result that would clip is scaled back under full scale, as an engineer would.

Everything is float32 numpy on the data-loading thread (scipy's FFT and filters release the GIL).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, Dict, Optional, Tuple

import numpy as np

Range = Tuple[float, float]


@dataclass(frozen=True)
class AugmentConfig:
    probability: float = 0.0         # share of training segments that are augmented at all (0 = off)
    room: float = 0.6                # given augmented: chance of a room response
    rt60_s: Range = (0.2, 1.0)       # mid-frequency reverberation time
    drr_db: Range = (-2.0, 12.0)     # direct-to-reverberant energy ratio
    colour: float = 0.7              # chance of microphone colouring
    colour_db: float = 6.0           # largest shelf / peak gain, either sign
    noise: float = 0.5               # chance of background noise
    snr_db: Range = (20.0, 50.0)     # signal (RMS) to noise
    gain_db: Range = (-12.0, 6.0)    # level change (always applied to an augmented segment)

    def to_dict(self) -> dict:
        return asdict(self)

    @staticmethod
    def from_dict(d: Dict[str, Any]) -> "AugmentConfig":
        known = {f.name: f for f in fields(AugmentConfig)}
        bad = set(d) - set(known)
        if bad:
            raise ValueError(f"augment config: unknown keys {sorted(bad)}; known: {sorted(known)}")
        kw = {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}
        cfg = AugmentConfig(**kw)
        for k in ("probability", "room", "colour", "noise"):
            v = getattr(cfg, k)
            if not 0.0 <= v <= 1.0:
                raise ValueError(f"augment config: {k} is a probability, got {v}")
        for k in ("rt60_s", "drr_db", "snr_db", "gain_db"):
            lo, hi = getattr(cfg, k)
            if not lo <= hi:
                raise ValueError(f"augment config: {k} must be (low, high), got {(lo, hi)}")
        if cfg.rt60_s[0] <= 0:
            raise ValueError(f"augment config: rt60_s must be positive, got {cfg.rt60_s}")
        return cfg


# ---------------------------------------------------------------------------------------------------
# the pieces


def room_impulse_response(sample_rate: float, rng: np.random.Generator, rt60_s: float,
                          drr_db: float) -> np.ndarray:
    """A mono room response: 1 at t = 0 (the direct sound), early reflections, and a diffuse tail whose
    energy is drr_db below the direct sound's. Its length is 1.2 x the longest band's decay to -60 dB."""
    from scipy.signal import butter, sosfilt

    sr = float(sample_rate)
    # reverberation time per band relative to rt60_s: lows ring longer, highs die sooner
    edges = (250.0, 1000.0, 4000.0)
    factors = (1.3, 1.0, 0.75, 0.5)
    n = int(1.2 * rt60_s * max(factors) * sr) + 1
    t = np.arange(n) / sr
    noise = rng.standard_normal(n)
    tail = np.zeros(n)
    bands = [butter(4, edges[0], "lowpass", fs=sr, output="sos")]
    bands += [butter(2, (lo, hi), "bandpass", fs=sr, output="sos") for lo, hi in zip(edges[:-1], edges[1:])]
    bands += [butter(4, edges[-1], "highpass", fs=sr, output="sos")] if edges[-1] < 0.45 * sr else []
    for sos, f in zip(bands, factors):
        tail += sosfilt(sos, noise) * np.exp(-6.908 * t / (rt60_s * f))  # 6.908 = ln(1000): -60 dB
    onset = int(0.004 * sr)  # the tail builds up after the first reflections
    tail[:onset] = 0.0
    ramp = min(int(0.01 * sr), max(0, n - onset))
    tail[onset:onset + ramp] *= np.linspace(0.0, 1.0, ramp)
    h = np.zeros(n)
    for _ in range(int(rng.integers(4, 11))):
        d = int(rng.uniform(0.003, 0.04) * sr)
        if d < n:
            h[d] += rng.choice((-1.0, 1.0)) * rng.uniform(0.1, 0.5) * np.exp(-6.908 * d / sr / rt60_s)
    e_tail = float(np.sum(tail ** 2) + np.sum(h ** 2))
    if e_tail > 0:
        scale = np.sqrt(10.0 ** (-drr_db / 10.0) / e_tail)
        tail *= scale
        h *= scale
    h += tail
    h[0] = 1.0
    return h.astype(np.float32)


def _biquad(kind: str, f0: float, sr: float, gain_db: float = 0.0, q: float = 0.707) -> np.ndarray:
    """One RBJ cookbook biquad as a scipy second-order section [b0 b1 b2 1 a1 a2]."""
    a = 10.0 ** (gain_db / 40.0)
    w = 2.0 * np.pi * f0 / sr
    cw, alpha = np.cos(w), np.sin(w) / (2.0 * q)
    if kind == "peak":
        b = (1 + alpha * a, -2 * cw, 1 - alpha * a)
        den = (1 + alpha / a, -2 * cw, 1 - alpha / a)
    elif kind == "highpass":
        b = ((1 + cw) / 2, -(1 + cw), (1 + cw) / 2)
        den = (1 + alpha, -2 * cw, 1 - alpha)
    elif kind in ("lowshelf", "highshelf"):
        s = 1.0 if kind == "lowshelf" else -1.0
        k = 2.0 * np.sqrt(a) * alpha
        b = (a * ((a + 1) - s * (a - 1) * cw + k), s * 2 * a * ((a - 1) - s * (a + 1) * cw),
             a * ((a + 1) - s * (a - 1) * cw - k))
        den = ((a + 1) + s * (a - 1) * cw + k, -s * 2 * ((a - 1) + s * (a + 1) * cw),
               (a + 1) + s * (a - 1) * cw - k)
    else:
        raise ValueError(f"biquad: unknown kind {kind!r}")
    return np.array([*b, *den]) / den[0]


def colouring_filter(sample_rate: float, rng: np.random.Generator, max_db: float) -> np.ndarray:
    """A random microphone/preamp response as second-order sections: a low cut (20-120 Hz), a low or high
    shelf and 1-3 peaking bands (200 Hz - 6 kHz, Q 0.5-2), each within +-max_db."""
    sr = float(sample_rate)
    top = 0.45 * sr
    sos = [_biquad("highpass", rng.uniform(20.0, 120.0), sr)]
    shelf = "lowshelf" if rng.random() < 0.5 else "highshelf"
    f_shelf = rng.uniform(150.0, 400.0) if shelf == "lowshelf" else min(rng.uniform(3000.0, 6000.0), top)
    sos.append(_biquad(shelf, f_shelf, sr, rng.uniform(-max_db, max_db)))
    for _ in range(int(rng.integers(1, 4))):
        f0 = min(float(np.exp(rng.uniform(np.log(200.0), np.log(6000.0)))), top)
        sos.append(_biquad("peak", f0, sr, rng.uniform(-max_db, max_db), rng.uniform(0.5, 2.0)))
    return np.stack(sos)


def coloured_noise(n: int, rng: np.random.Generator, beta: float) -> np.ndarray:
    """n samples of noise with power spectrum ~ 1/f^beta, unit RMS."""
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.arange(spec.size, dtype=np.float64)
    f[0] = 1.0
    spec *= f ** (-beta / 2.0)
    spec[0] = 0.0
    x = np.fft.irfft(spec, n)
    rms = float(np.sqrt(np.mean(x ** 2)))
    return x / rms if rms > 0 else x


# ---------------------------------------------------------------------------------------------------


class Augmenter:
    """Draws a fresh recording condition per call; its generator `rng` is part of a trainer's exactly
    resumable state."""

    def __init__(self, cfg: AugmentConfig, sample_rate: float, rng: Optional[np.random.Generator] = None) -> None:
        self.cfg = cfg
        self.sample_rate = float(sample_rate)
        self.rng = rng if rng is not None else np.random.default_rng(0)

    def draw(self) -> bool:
        """Whether the next segment is augmented (probability cfg.probability)."""
        return self.cfg.probability > 0 and self.rng.random() < self.cfg.probability

    def __call__(self, audio: np.ndarray) -> np.ndarray:
        from scipy.signal import fftconvolve, sosfilt

        cfg, rng = self.cfg, self.rng
        x = np.asarray(audio, dtype=np.float64)
        if x.ndim != 1:
            raise ValueError(f"augment: need mono audio [N], got shape {x.shape}")
        if not np.all(np.isfinite(x)):
            raise ValueError("augment: audio has NaN or Inf samples")
        n = x.size
        if n == 0:
            return np.zeros(0, np.float32)
        if rng.random() < cfg.room:
            h = room_impulse_response(self.sample_rate, rng, rng.uniform(*cfg.rt60_s), rng.uniform(*cfg.drr_db))
            x = fftconvolve(x, h)[:n]
        if rng.random() < cfg.colour:
            x = sosfilt(colouring_filter(self.sample_rate, rng, cfg.colour_db), x)
        if rng.random() < cfg.noise:
            rms = float(np.sqrt(np.mean(x ** 2)))
            if rms > 0:
                snr = rng.uniform(*cfg.snr_db)
                x = x + coloured_noise(n, rng, rng.uniform(0.0, 2.0)) * rms * 10.0 ** (-snr / 20.0)
        x = x * 10.0 ** (rng.uniform(*cfg.gain_db) / 20.0)
        peak = float(np.max(np.abs(x)))
        if peak > 0.99:
            x *= 0.99 / peak
        return x.astype(np.float32)
